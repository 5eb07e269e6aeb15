"""Hand-written reader of raw DICOM Part-10 headers.

One concept: turn a file into its top-level header elements and the location
of its pixel value, without decoding anything that is not asked for.
:func:`read_header` returns a :class:`ParsedHeader`: the header (a
:class:`RawHeader` or a pydicom :class:`~pydicom.dataset.Dataset`), the
transfer syntax, byte order and where the pixel value starts and how long it
claims to be. :func:`element_of`, :func:`element_text`,
:func:`element_numbers` and :func:`decode_numbers` read single values from
either kind of header.

Why hand-written: pydicom's generic reader costs about 0.7 ms per file, which
alone made ingest of a whole-body series several times slower than dcm2niix
(measured by ``benchmarks/bench_dicom_ingest.py``). Part-10 files in Explicit
or Implicit VR Little Endian (what scanners and PACS send) are therefore split
into their top-level elements by a small walker that keeps the value bytes
undecoded (:class:`RawHeader`); undefined-length sequences are skipped by
walking their items. The pydicom :class:`~pydicom.dataset.Dataset` is built
from the raw elements only when it is first needed
(:meth:`RawHeader.to_dataset`). Anything unusual (no preamble, other transfer
syntaxes, malformed undefined-length elements, headers over
:data:`FAST_HEADER_BYTES`) is read by pydicom instead.

Failures raise :class:`~tumorboard.errors.DicomError` naming the file and the
reason, never an attribute value.
"""

from __future__ import annotations

import functools
import math
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_partial
from pydicom.tag import BaseTag
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from tumorboard.errors import DicomError
from tumorboard.imaging.input_limits import open_regular_file

#: Bytes read by the fast header walker; longer headers go through pydicom.
FAST_HEADER_BYTES = 65536

_PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00009, 0x7FE00008})
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_DEFLATED = "1.2.840.10008.1.2.1.99"
_EXPLICIT = struct.Struct("<HH2sH")
_IMPLICIT = struct.Struct("<HHL")
_UINT32 = struct.Struct("<L")

#: (VR or None, value) of one element: raw bytes while undecoded, else pydicom's value.
Element = tuple[str | None, Any]


@dataclass(frozen=True, eq=False)
class RawHeader:
    """Top-level elements of a header, split but not decoded.

    Attributes
    ----------
    data : bytes
        The file's bytes up to the pixel data.
    index : dict
        Tag to ``(VR or None, value offset, value length)`` in ``data``.
    meta_index : dict
        The same for the file meta group (0002,xxxx).
    implicit : bool
        Whether the data set is Implicit VR (VR is then None in ``index``).
    """

    data: bytes
    index: dict[int, tuple[str | None, int, int]]
    meta_index: dict[int, tuple[str | None, int, int]]
    implicit: bool

    def element(self, tag: int) -> Element | None:
        """``(VR, value bytes)`` of a top-level element, or None."""
        entry = self.index.get(tag)
        if entry is None:
            return None
        vr, offset, length = entry
        return vr, self.data[offset : offset + length]

    def to_dataset(self) -> Dataset:
        """Build the pydicom Dataset (values stay raw until accessed, as pydicom's reader does)."""
        dataset = Dataset(self._raw_elements(self.index, self.implicit))
        dataset.file_meta = FileMetaDataset(Dataset(self._raw_elements(self.meta_index, False)))
        dataset.set_original_encoding(self.implicit, True)
        return dataset

    def _raw_elements(
        self, index: dict[int, tuple[str | None, int, int]], implicit: bool
    ) -> dict[BaseTag, DataElement | RawDataElement]:
        elements: dict[BaseTag, DataElement | RawDataElement] = {}
        for tag_int, (vr, offset, length) in index.items():
            tag = BaseTag(tag_int)
            elements[tag] = RawDataElement(
                tag, vr, length, self.data[offset : offset + length], offset, implicit, True
            )
        return elements


def element_of(header: Dataset | RawHeader, tag: int) -> Element | None:
    """``(VR, value)`` of a top-level element of a header; raw bytes while undecoded."""
    if isinstance(header, RawHeader):
        return header.element(tag)
    item = header.get_item(tag)
    if item is None:
        return None
    if isinstance(item, RawDataElement):
        return item.VR, item.value
    return item.VR, item.value


@dataclass(frozen=True)
class ParsedHeader:
    """A file's header and where its pixel value is.

    Attributes
    ----------
    header : pydicom.Dataset or RawHeader
        The header up to (not including) the pixel data.
    syntax : str
        TransferSyntaxUID ("" when the file has no meta group).
    little_endian : bool
        Byte order of the data set.
    pixel_tag : int or None
        Tag of the pixel element (Pixel Data, Float or Double Float Pixel
        Data); None when the file has none.
    pixel_length : int
        Length the pixel element claims (``0xFFFFFFFF`` when undefined).
    value_offset : int
        Byte offset of the pixel value in the file (end of the header when
        there are no pixels).
    """

    header: Dataset | RawHeader
    syntax: str
    little_endian: bool
    pixel_tag: int | None
    pixel_length: int
    value_offset: int


def read_header(
    path: Path,
    size: int,
    what: str,
    caught: list[warnings.WarningMessage],
    data: bytes | None = None,
) -> ParsedHeader:
    """Parse a file's header: by the fast walker when it can, else by pydicom.

    Parameters
    ----------
    path : Path
        The file.
    size : int
        Its size in bytes (to tell a truncated file from a long header).
    what : str
        Prefix of messages, e.g. ``"DICOM folder X: file"``.
    caught : list of warnings.WarningMessage
        Where the caller records warnings; pydicom's "End of file" warning
        there means the file is truncated.
    data : bytes, optional
        The whole file, when the caller has read it already (the importer
        reads each file once, to parse, hash and store it); then the fast
        walker does not open the file again.

    Raises
    ------
    DicomError
        If the file is not DICOM or is truncated.
    """
    return _fast_header(path, size, what, data) or _pydicom_header(path, what, caught)


def _fast_header(
    path: Path, size: int, what: str, whole: bytes | None = None
) -> ParsedHeader | None:
    """Split a Part-10 Explicit/Implicit VR Little Endian header; None to let pydicom read it."""
    if whole is not None:
        data = whole[:FAST_HEADER_BYTES]
    else:
        with open_regular_file(path, what=what, error=DicomError) as handle:
            data = handle.read(FAST_HEADER_BYTES)
    end = len(data)
    if end < 144 or data[128:132] != b"DICM":
        return None
    pointer = 132
    syntax = ""
    meta_index: dict[int, tuple[str | None, int, int]] = {}
    unpack_explicit = _EXPLICIT.unpack_from
    unpack_long = _UINT32.unpack_from
    while pointer + 8 <= end:
        group, element, vr, length = unpack_explicit(data, pointer)
        if group != 0x0002:
            break
        value_offset = pointer + 8
        if vr in _LONG_VRS:
            length = unpack_long(data, pointer + 8)[0]
            value_offset = pointer + 12
        if length == 0xFFFFFFFF or value_offset + length > end:
            return None
        meta_index[0x00020000 | element] = (vr.decode("latin-1"), value_offset, length)
        if element == 0x0010:
            syntax = data[value_offset : value_offset + length].rstrip(b"\x00 ").decode("latin-1")
        pointer = value_offset + length
    if syntax == ExplicitVRLittleEndian:
        implicit = False
    elif syntax == ImplicitVRLittleEndian:
        implicit = True
    else:
        return None
    index: dict[int, tuple[str | None, int, int]] = {}
    unpack_implicit = _IMPLICIT.unpack_from
    while True:
        if pointer + 8 > end:
            if end < size:
                return None  # the header continues past what was read
            if pointer == end:
                header = RawHeader(data, index, meta_index, implicit)
                return ParsedHeader(header, syntax, True, None, 0, pointer)
            raise DicomError(f"{what} {path} is truncated (the header ends early)")
        vr_text: str | None
        if implicit:
            group, element, length = unpack_implicit(data, pointer)
            vr_text = None
            value_offset = pointer + 8
        else:
            group, element, vr, length = unpack_explicit(data, pointer)
            vr_text = vr.decode("latin-1")
            value_offset = pointer + 8
            if vr in _LONG_VRS:
                if pointer + 12 > end:
                    return None
                length = unpack_long(data, pointer + 8)[0]
                value_offset = pointer + 12
        tag = (group << 16) | element
        if tag in _PIXEL_TAGS:
            header = RawHeader(data[:pointer], index, meta_index, implicit)
            return ParsedHeader(header, syntax, True, tag, length, value_offset)
        if length == 0xFFFFFFFF:
            if vr_text not in ("SQ", None):
                return None
            delimiter = _sequence_end(data, value_offset, implicit)
            if delimiter is None:
                return None  # malformed or longer than what was read: let pydicom judge
            length = delimiter - value_offset
            index[tag] = (vr_text, value_offset, length)
            pointer = delimiter + 8
            continue
        if value_offset + length > end:
            if end < size:
                return None
            raise DicomError(f"{what} {path} is truncated (the header ends early)")
        index[tag] = (vr_text, value_offset, length)
        pointer = value_offset + length


def _sequence_end(data: bytes, pointer: int, implicit: bool, depth: int = 0) -> int | None:
    """Offset of the Sequence Delimitation Item closing an undefined-length sequence.

    Items are skipped by their length, or - when undefined - by walking their
    elements (recursively for nested sequences) to the Item Delimitation Item.
    Returns None when the bytes end first or anything looks malformed.
    """
    end = len(data)
    if depth > 16:
        return None
    while pointer + 8 <= end:
        group, element, length = _IMPLICIT.unpack_from(data, pointer)
        if group != 0xFFFE:
            return None
        if element == 0xE0DD:
            return pointer
        if element != 0xE000:
            return None
        pointer += 8
        if length != 0xFFFFFFFF:
            pointer += length
            continue
        found = _item_end(data, pointer, implicit, depth + 1)
        if found is None:
            return None
        pointer = found + 8
    return None


def _item_end(data: bytes, pointer: int, implicit: bool, depth: int) -> int | None:
    """Offset of the Item Delimitation Item closing an undefined-length item."""
    end = len(data)
    while pointer + 8 <= end:
        if implicit or data[pointer : pointer + 2] == b"\xfe\xff":
            group, element, length = _IMPLICIT.unpack_from(data, pointer)
            vr = None
            value_offset = pointer + 8
        else:
            group, element, vr, length = _EXPLICIT.unpack_from(data, pointer)
            value_offset = pointer + 8
            if vr in _LONG_VRS:
                if pointer + 12 > end:
                    return None
                length = _UINT32.unpack_from(data, pointer + 8)[0]
                value_offset = pointer + 12
        if group == 0xFFFE and element == 0xE00D:
            return pointer
        if length == 0xFFFFFFFF:
            if vr not in (b"SQ", None):
                return None
            found = _sequence_end(data, value_offset, implicit, depth + 1)
            if found is None:
                return None
            pointer = found + 8
            continue
        pointer = value_offset + length
    return None


def _pydicom_header(path: Path, what: str, caught: list[warnings.WarningMessage]) -> ParsedHeader:
    """Parse a header with pydicom (any transfer syntax, with or without preamble)."""
    with open_regular_file(path, what=what, error=DicomError) as handle:
        stopped: list[bool] = []
        last = [-1, 0]  # previous top-level tag and how often it was seen in a row

        def at_pixels(tag: BaseTag, vr: str | None, length: int) -> bool:
            if int(tag) in _PIXEL_TAGS:
                stopped.append(True)
                return True
            # Top-level tags ascend (PS3.5 7.1); pydicom peeks at the first one twice.
            # Refusing a repeat stops a file of zeros (or any loop) from being read
            # to its end element by element.
            last[1] = last[1] + 1 if int(tag) == last[0] else 1
            if int(tag) < last[0] or last[1] > 2:
                raise DicomError(
                    f"{what} {path} is malformed or not DICOM (data element tags do not "
                    f"ascend at {BaseTag(tag)})"
                )
            last[0] = int(tag)
            return False

        head = handle.read(FAST_HEADER_BYTES)
        handle.seek(0)
        if _starts_with_command_group(head):
            raise DicomError(
                f"{what} {path} is not a DICOM file (its data set starts with group 0000, "
                "e.g. a file of zeros)"
            )
        try:
            dataset: Dataset = read_partial(handle, at_pixels)
        except InvalidDicomError:
            handle.seek(0)
            dataset = _read_without_preamble(handle, at_pixels, what, path)
        if any("End of file" in str(w.message) for w in caught):
            raise DicomError(f"{what} {path} is truncated (the header ends early)")
        header_end = handle.tell()
        syntax = str(dataset.file_meta.get("TransferSyntaxUID", "")) if dataset.file_meta else ""
        if getattr(dataset, "preamble", None) is not None and not syntax:
            raise DicomError(
                f"{what} {path} is truncated or malformed (its file meta group has no "
                "TransferSyntaxUID)"
            )
        if len(dataset) == 0:
            raise DicomError(f"{what} {path} is truncated (no data elements after the file meta)")
        little = dataset.original_encoding[1] is not False
        if not stopped:
            return ParsedHeader(dataset, syntax, little, None, 0, header_end)
        if syntax == _DEFLATED:  # offsets are in the inflated stream, not in the file
            return ParsedHeader(dataset, syntax, little, 0x7FE00010, 0xFFFFFFFF, header_end)
        implicit = bool(dataset.original_encoding[0])
        tag, length, value_offset = _element_header(handle, implicit, little, path, what)
    return ParsedHeader(dataset, syntax, little, tag, length, value_offset)


def _starts_with_command_group(head: bytes) -> bool:
    """Whether the data set (after preamble and file meta, if any) begins with group 0000.

    pydicom reads a leading command group (0000,xxxx) element by element
    without a stop callback, so a file of zeros would be read to its end;
    stored DICOM files never begin their data set with it.
    """
    pointer = 132 if head[128:132] == b"DICM" else 0
    while pointer + 8 <= len(head):
        group = head[pointer : pointer + 2]
        if group == b"\x00\x00":
            return True
        if group != b"\x02\x00":
            return False
        vr = head[pointer + 4 : pointer + 6]
        if vr in _LONG_VRS:
            if pointer + 12 > len(head):
                return False
            pointer += 12 + _UINT32.unpack_from(head, pointer + 8)[0]
        elif vr.isalpha():
            pointer += 8 + struct.unpack_from("<H", head, pointer + 6)[0]
        else:  # implicit VR meta (malformed but seen)
            pointer += 8 + _UINT32.unpack_from(head, pointer + 4)[0]
    return False


def _read_without_preamble(handle: Any, stop: Any, what: str, path: Path) -> Dataset:
    """Parse a file that lacks the 128-byte preamble; accept it only if it looks like DICOM."""
    not_dicom = DicomError(
        f"{what} {path} is not a DICOM file (no DICM preamble and not parseable)"
    )
    head = handle.read(8)
    handle.seek(0)
    if len(head) < 8:
        raise not_dicom
    try:
        dataset = read_partial(handle, stop, force=True)
    except Exception:
        raise not_dicom from None
    if 0x00080016 not in dataset and 0x00080018 not in dataset:
        raise not_dicom
    return dataset


def _element_header(
    handle: Any, implicit: bool, little: bool, path: Path, what: str
) -> tuple[int, int, int]:
    """Read the pixel element's tag and length at the handle; return them and the value offset."""
    order = "<" if little else ">"
    start = handle.tell()
    head = handle.read(12)
    if len(head) < 8:
        raise DicomError(f"{what} {path} is truncated: the pixel data element is cut off")
    group, element = struct.unpack(order + "HH", head[:4])
    tag = (group << 16) | element
    if implicit:
        return tag, int(struct.unpack(order + "L", head[4:8])[0]), start + 8
    if head[4:6] in _LONG_VRS:
        if len(head) < 12:
            raise DicomError(f"{what} {path} is truncated: the pixel data element is cut off")
        return tag, int(struct.unpack(order + "L", head[8:12])[0]), start + 12
    return tag, int(struct.unpack(order + "H", head[6:8])[0]), start + 8


# --------------------------------------------------------------------------- decoding
def element_text(header: Dataset | RawHeader, tag: int) -> str | None:
    """A text attribute without padding, or None when absent or empty."""
    # a RawHeader directly: the importer reads 15 attributes of every file
    found = header.element(tag) if type(header) is RawHeader else element_of(header, tag)
    if found is None or found[1] is None:
        return None
    value = found[1]
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    text = text.strip(" \x00")
    return text or None


def element_numbers(
    header: Dataset | RawHeader,
    tag: int,
    keyword: str,
    count: int,
    little: bool,
    what: str,
    path: Path | None,
) -> list[float] | None:
    """A numeric attribute (US/SS/UL/SL/DS/IS/FL/FD) as ``count`` finite floats, or None."""
    # a RawHeader directly: the importer reads a dozen numbers of every file
    found = header.element(tag) if type(header) is RawHeader else element_of(header, tag)
    if found is None:
        return None
    vr, value = found
    try:
        if isinstance(value, bytes):
            use = vr if vr not in (None, "UN") else dictionary_VR(tag)
            parts = _decode_numbers(use, value, little)
        elif value is None or value == "":
            return None
        elif isinstance(value, (str, int, float)):
            parts = [float(value)]
        else:
            parts = [float(v) for v in value]
    except (TypeError, ValueError, OverflowError, KeyError, struct.error) as exc:
        raise DicomError(f"{what} {path}: malformed {keyword} ({failure_reason(exc)})") from None
    if not parts:
        return None
    if len(parts) != count or not all(map(math.isfinite, parts)):
        raise DicomError(
            f"{what} {path}: {keyword} must be {count} finite numbers, got {len(parts)}"
        )
    return parts


_BINARY_FORMATS = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "FL": "f", "FD": "d"}


def decode_numbers(vr: str | None, value: bytes, little: bool = True) -> list[float]:
    """Decode the raw bytes of a numeric element by its VR (text for DS/IS, binary otherwise).

    Parameters
    ----------
    vr : str or None
        The element's VR; text is assumed when unknown.
    value : bytes
        The undecoded value.
    little : bool
        Byte order of binary values.

    Returns
    -------
    list of float
        The values (empty when the value is empty).
    """
    return _decode_numbers(vr, value, little)


def _decode_numbers(vr: str | None, value: bytes, little: bool) -> list[float]:
    code = _BINARY_FORMATS.get(vr or "")
    if code is not None:
        count = len(value) // _BINARY_SIZES[code]
        if count == 0:
            return []
        return [float(v) for v in _binary_struct(code, count, little).unpack(value)]
    text = value.decode("latin-1").strip(" \x00")
    if not text:
        return []
    return list(map(float, text.split("\\")))


_BINARY_SIZES = {code: struct.calcsize(code) for code in _BINARY_FORMATS.values()}


@functools.lru_cache(maxsize=256)
def _binary_struct(code: str, count: int, little: bool) -> struct.Struct:
    """The compiled format of ``count`` binary values (a handful recur: Rows, Columns, ...)."""
    return struct.Struct(("<" if little else ">") + code * count)


def failure_reason(exc: BaseException) -> str:
    """Exception type and message (one line, at most 160 characters) for error messages."""
    text = " ".join(str(exc).split())[:160]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


__all__ = [
    "FAST_HEADER_BYTES",
    "Element",
    "ParsedHeader",
    "RawHeader",
    "decode_numbers",
    "element_numbers",
    "element_of",
    "element_text",
    "failure_reason",
    "read_header",
]
