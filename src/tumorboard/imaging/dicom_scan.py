"""Find the DICOM image series in a folder, reading headers only.

:func:`scan_dicom_folder` walks a folder recursively, parses every file's
header up to (not including) the pixel data and groups the files by
SeriesInstanceUID; enhanced (multi-frame) images are split into one slice per
frame from their functional groups. Where the pixel data is stored uncompressed it records the
byte offset of the pixel value, so that :mod:`tumorboard.imaging.dicom_volume`
can later read the pixels with one ``pread`` and :func:`numpy.frombuffer`
instead of a second parse. A file whose pixel value is shorter than the header
promises is reported as truncated here, before any pixel is read.

Speed: pydicom's generic reader costs about 0.7 ms per file, which alone made
ingest of a whole-body series several times slower than dcm2niix. Part-10
files in Explicit or Implicit VR Little Endian (what scanners and PACS send)
are therefore split into their top-level elements by a small hand-written
walker (:class:`RawHeader`) that keeps the value bytes undecoded; the pydicom
:class:`~pydicom.dataset.Dataset` is built from them only when
:attr:`DicomSlice.dataset` is first used. Anything unusual (no preamble, other
transfer syntaxes, undefined-length elements, headers over 64 KiB) is read by
pydicom.

Every failure on a file becomes a :class:`~tumorboard.errors.DicomError`
naming the file and the reason; patient attributes are never decoded for
messages, and pydicom's warnings (which may quote attribute values) are
silenced while reading.
"""

from __future__ import annotations

import math
import os
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_partial
from pydicom.tag import BaseTag
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from tumorboard.errors import DicomError, TumorboardError

#: Transfer syntaxes whose pixel data we read directly (native, not encapsulated).
NATIVE_TRANSFER_SYNTAXES = frozenset(
    {str(ImplicitVRLittleEndian), str(ExplicitVRLittleEndian), str(ExplicitVRBigEndian)}
)
#: Bytes read by the fast header walker; longer headers go through pydicom.
FAST_HEADER_BYTES = 65536

_PIXEL_TAGS = frozenset({0x7FE00010, 0x7FE00009, 0x7FE00008})
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_SKIP_NAMES = frozenset({"dicomdir"})
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


@dataclass(frozen=True, eq=False)
class DicomSlice:
    """One DICOM file's header and the fields a series reader needs.

    Attributes
    ----------
    path : Path
        The file.
    header : pydicom.Dataset or RawHeader
        The header without pixel data; use :attr:`dataset` or :meth:`element`.
    series_instance_uid : str
        SeriesInstanceUID (0020,000E); ``""`` when absent (non-image objects only).
    has_pixels : bool
        Whether the file holds pixel data (an image).
    image_position_mm : ndarray, shape (3,), or None
        ImagePositionPatient, LPS millimetres.
    image_orientation : ndarray, shape (6,), or None
        ImageOrientationPatient: row cosine then column cosine.
    pixel_spacing_mm : tuple of float, or None
        PixelSpacing ``(between rows, between columns)``, i.e. ``(y, x)``.
    rows, columns : int
        Matrix size (0 for non-images).
    number_of_frames : int
        NumberOfFrames (1 for classic single-frame images).
    instance_number : int or None
        InstanceNumber.
    rescale_slope, rescale_intercept : float
        RescaleSlope/RescaleIntercept (1 and 0 when absent).
    acquisition_time : str or None
        AcquisitionTime as written (``HHMMSS.FFFFFF``).
    transfer_syntax_uid : str
        The file's transfer syntax ("" when the file has no meta group).
    pixel_offset : int or None
        Byte offset of the pixel value in the file when it can be read
        directly (native transfer syntax, one frame, full-width samples).
    pixel_dtype : str or None
        NumPy dtype (with byte order) of the directly readable pixel value.
    frame_index : int or None
        For one frame of an enhanced (multi-frame) image: its index in the
        file; position, orientation, spacing and rescale are then the frame's
        own, from the functional groups.
    """

    path: Path
    header: Dataset | RawHeader
    series_instance_uid: str
    has_pixels: bool
    image_position_mm: NDArray[np.float64] | None = None
    image_orientation: NDArray[np.float64] | None = None
    pixel_spacing_mm: tuple[float, float] | None = None
    rows: int = 0
    columns: int = 0
    number_of_frames: int = 1
    instance_number: int | None = None
    rescale_slope: float = 1.0
    rescale_intercept: float = 0.0
    acquisition_time: str | None = None
    transfer_syntax_uid: str = ""
    pixel_offset: int | None = None
    pixel_dtype: str | None = None
    frame_index: int | None = None

    @cached_property
    def dataset(self) -> Dataset:
        """The header as a pydicom Dataset (built on first use)."""
        if isinstance(self.header, RawHeader):
            return self.header.to_dataset()
        return self.header

    def element(self, tag: int) -> Element | None:
        """``(VR, value)`` of a top-level element without decoding it when possible.

        The value is the raw bytes while the element is undecoded (VR may then
        be None for Implicit VR files), otherwise pydicom's decoded value.
        """
        return element_of(self.header, tag)

    def tags(self) -> list[int]:
        """The top-level tags of the header."""
        if isinstance(self.header, RawHeader):
            return list(self.header.index)
        return [int(tag) for tag in self.header.keys()]


@dataclass(frozen=True, eq=False)
class DicomSeries:
    """The files of one SeriesInstanceUID.

    Attributes
    ----------
    series_instance_uid : str
        The shared SeriesInstanceUID.
    modality : str
        Modality of the first file (e.g. ``"MR"``).
    series_description : str
        SeriesDescription of the first file.
    series_number : int or None
        SeriesNumber of the first file.
    slices : tuple of DicomSlice
        The files, in path order.
    """

    series_instance_uid: str
    modality: str
    series_description: str
    series_number: int | None
    slices: tuple[DicomSlice, ...]

    @property
    def is_image(self) -> bool:
        """Whether every file of the series holds pixel data."""
        return bool(self.slices) and all(s.has_pixels for s in self.slices)

    @property
    def label(self) -> str:
        """How the series is named in messages: number and description, never patient data."""
        number = "?" if self.series_number is None else str(self.series_number)
        description = self.series_description or "no description"
        return f"series {number} ({description})"


def scan_dicom_folder(
    folder: str | os.PathLike[str], *, what: str = "DICOM folder"
) -> list[DicomSeries]:
    """Read the headers of all DICOM files below ``folder`` and group them by series.

    Parameters
    ----------
    folder : path-like
        Folder searched recursively; hidden files/folders and ``DICOMDIR`` are skipped.
    what : str
        How the folder is named in messages.

    Returns
    -------
    list of DicomSeries
        All series (image and non-image), ordered by series number then UID.

    Raises
    ------
    DicomError
        If the folder is missing or holds no image, or any file is not DICOM,
        is truncated or cannot be parsed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DicomError(f"{what} {folder}: not a folder")
    paths = sorted(_walk(folder))
    if not paths:
        raise DicomError(f"{what} {folder}: holds no files")
    prefix = f"{what} {folder}: file"
    groups: dict[str, list[DicomSlice]] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for path in paths:
            item = _guarded_read(path, prefix, caught)
            members = groups.setdefault(item.series_instance_uid, [])
            if item.number_of_frames > 1:
                members.extend(expand_frames(item, what=prefix))
            else:
                members.append(item)
    series = [_make_series(uid, members) for uid, members in groups.items()]
    if not any(s.is_image for s in series):
        raise DicomError(f"{what} {folder}: holds no DICOM image (no file has pixel data)")
    series.sort(
        key=lambda s: (s.series_number is None, s.series_number or 0, s.series_instance_uid)
    )
    return series


def read_slice_header(path: str | os.PathLike[str], *, what: str = "file") -> DicomSlice:
    """Parse one file's header into a :class:`DicomSlice`.

    Parameters
    ----------
    path : path-like
        The DICOM file.
    what : str
        Prefix of messages, e.g. ``"DICOM folder X: file"``.

    Raises
    ------
    DicomError
        If the file is not DICOM, is truncated or has malformed image attributes.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        return _guarded_read(Path(path), what, caught)


def _guarded_read(path: Path, what: str, caught: list[warnings.WarningMessage]) -> DicomSlice:
    del caught[:]
    try:
        return _read_slice_header(path, what, caught)
    except TumorboardError:
        raise
    except Exception as exc:  # pydicom raises many types on malformed files
        raise DicomError(f"{what} {path} cannot be read ({_reason(exc)})") from None


def expand_frames(item: DicomSlice, *, what: str = "file") -> list[DicomSlice]:
    """Split an enhanced (multi-frame) image into one :class:`DicomSlice` per frame.

    Each frame takes its ImagePositionPatient, ImageOrientationPatient,
    PixelSpacing and rescale from its per-frame functional group, or the
    shared one. Multi-frame objects without plane positions in functional
    groups (e.g. RT dose grids) are returned unexpanded.

    Raises
    ------
    DicomError
        If the functional groups are malformed or do not match NumberOfFrames.
    """
    if item.number_of_frames <= 1 or element_of(item.header, _PER_FRAME) is None:
        return [item]
    where = f"{what} {item.path}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return _expand_frames(item, where)
        except TumorboardError:
            raise
        except Exception as exc:  # malformed sequences raise many types
            raise DicomError(f"{where}: malformed functional groups ({_reason(exc)})") from None


_PER_FRAME = 0x52009230
_SHARED = 0x52009229


def _expand_frames(item: DicomSlice, where: str) -> list[DicomSlice]:
    dataset = item.dataset
    per_frame_element = dataset.get(_PER_FRAME)
    per_frame: list[Dataset] = (
        list(per_frame_element.value) if per_frame_element is not None else []
    )
    if len(per_frame) != item.number_of_frames:
        raise DicomError(
            f"{where}: {len(per_frame)} per-frame functional groups for "
            f"{item.number_of_frames} frames"
        )
    shared_element = dataset.get(_SHARED)
    shared = (
        shared_element.value[0] if shared_element is not None and shared_element.value else None
    )

    def lookup(group: Dataset, sequence: str, keyword: str) -> Any:
        for source in (group, shared):
            if source is None:
                continue
            items = source.get(sequence)
            if items and keyword in items[0]:
                return items[0].get(keyword)
        return None

    frames = []
    for index, group in enumerate(per_frame):
        position = lookup(group, "PlanePositionSequence", "ImagePositionPatient")
        if position is None:
            return [item]  # not a stack of planes (e.g. a dose grid): leave it whole
        orientation = lookup(group, "PlaneOrientationSequence", "ImageOrientationPatient")
        spacing = lookup(group, "PixelMeasuresSequence", "PixelSpacing")
        slope = lookup(group, "PixelValueTransformationSequence", "RescaleSlope")
        intercept = lookup(group, "PixelValueTransformationSequence", "RescaleIntercept")
        position_mm = _float_list(position, 3, "ImagePositionPatient", where)
        frames.append(
            replace(
                item,
                header=dataset,  # one decoded Dataset shared by all frames
                frame_index=index,
                image_position_mm=np.array(position_mm),
                image_orientation=(
                    item.image_orientation
                    if orientation is None
                    else np.array(_float_list(orientation, 6, "ImageOrientationPatient", where))
                ),
                pixel_spacing_mm=(
                    item.pixel_spacing_mm if spacing is None else _pair(spacing, where)
                ),
                rescale_slope=item.rescale_slope if slope is None else float(slope),
                rescale_intercept=item.rescale_intercept if intercept is None else float(intercept),
            )
        )
    return frames


def _pair(value: Any, where: str) -> tuple[float, float]:
    first, second = _float_list(value, 2, "PixelSpacing", where)
    if first <= 0 or second <= 0:
        raise DicomError(f"{where}: PixelSpacing must be positive, got ({first:g}, {second:g})")
    return (first, second)


def _float_list(value: Any, count: int, keyword: str, where: str) -> list[float]:
    values = [float(v) for v in (value if not isinstance(value, (str, float, int)) else [value])]
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise DicomError(f"{where}: {keyword} must be {count} finite numbers, got {len(values)}")
    return values


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


# --------------------------------------------------------------------------- per file
@dataclass(frozen=True)
class _Parsed:
    header: Dataset | RawHeader
    syntax: str
    little_endian: bool
    pixel_tag: int | None
    pixel_length: int
    value_offset: int


def _read_slice_header(path: Path, what: str, caught: list[warnings.WarningMessage]) -> DicomSlice:
    size = path.stat().st_size
    parsed = _fast_header(path, size, what) or _pydicom_header(path, what, caught)
    header = parsed.header
    has_pixels = parsed.pixel_tag is not None
    if not has_pixels:
        sop_class = _image_storage_name(parsed)
        if sop_class:
            raise DicomError(
                f"{what} {path} is truncated or has no pixel data ({sop_class} without Pixel Data)"
            )
    series_uid = _text(header, 0x0020000E) or ""
    fields: dict[str, Any] = {
        "path": path,
        "header": header,
        "series_instance_uid": series_uid,
        "has_pixels": has_pixels,
        "transfer_syntax_uid": parsed.syntax,
    }
    if not has_pixels:
        return DicomSlice(**fields)
    if not series_uid:
        raise DicomError(f"{what} {path} is an image without SeriesInstanceUID")
    little = parsed.little_endian

    def number(tag: int, keyword: str, count: int) -> list[float] | None:
        return _numbers(header, tag, keyword, count, little, what, path)

    rows = _required_int(number(0x00280010, "Rows", 1), "Rows", what, path)
    columns = _required_int(number(0x00280011, "Columns", 1), "Columns", what, path)
    frames = _first_int(number(0x00280008, "NumberOfFrames", 1), 1)
    samples = _first_int(number(0x00280002, "SamplesPerPixel", 1), 1)
    bits = _first_int(number(0x00280100, "BitsAllocated", 1), 0)
    bits_stored = _first_int(number(0x00280101, "BitsStored", 1), bits)
    signed = _first_int(number(0x00280103, "PixelRepresentation", 1), 0) == 1
    if rows <= 0 or columns <= 0:
        raise DicomError(f"{what} {path}: Rows/Columns must be positive, got {rows}x{columns}")
    spacing = number(0x00280030, "PixelSpacing", 2)
    if spacing is not None and min(spacing) <= 0:
        raise DicomError(f"{what} {path}: PixelSpacing must be positive, got {_fmt(spacing)}")
    slope = number(0x00281053, "RescaleSlope", 1)
    intercept = number(0x00281052, "RescaleIntercept", 1)
    instance = number(0x00200013, "InstanceNumber", 1)
    position = number(0x00200032, "ImagePositionPatient", 3)
    orientation = number(0x00200037, "ImageOrientationPatient", 6)
    fields.update(
        rows=rows,
        columns=columns,
        number_of_frames=frames,
        image_position_mm=None if position is None else np.array(position),
        image_orientation=None if orientation is None else np.array(orientation),
        pixel_spacing_mm=None if spacing is None else (spacing[0], spacing[1]),
        instance_number=None if instance is None else int(instance[0]),
        rescale_slope=1.0 if slope is None else slope[0],
        rescale_intercept=0.0 if intercept is None else intercept[0],
        acquisition_time=_text(header, 0x00080032),
    )
    if parsed.syntax in NATIVE_TRANSFER_SYNTAXES or not parsed.syntax:
        if parsed.pixel_length != 0xFFFFFFFF:
            _check_native_pixels(parsed, fields, size, bits, bits_stored, samples, signed, what)
    return DicomSlice(**fields)


def _image_storage_name(parsed: _Parsed) -> str | None:
    """The SOP class name when the file claims to be an image (an "... Image Storage")."""
    header = parsed.header
    if isinstance(header, RawHeader):
        entry = header.meta_index.get(0x00020002)
        value: Any = header.data[entry[1] : entry[1] + entry[2]] if entry else None
    else:
        meta = getattr(header, "file_meta", None)
        value = meta.get("MediaStorageSOPClassUID") if meta else None
    if not value:
        found = element_of(header, 0x00080016)
        value = found[1] if found else None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not value:
        return None
    name = UID(str(value).strip(" \x00")).name
    return name if "Image Storage" in name else None


def _check_native_pixels(
    parsed: _Parsed,
    fields: dict[str, Any],
    size: int,
    bits: int,
    bits_stored: int,
    samples: int,
    signed: bool,
    what: str,
) -> None:
    """Detect truncated pixel data; record where directly readable pixels start."""
    path = fields["path"]
    expected = fields["rows"] * fields["columns"] * fields["number_of_frames"] * samples
    expected = expected * max(bits, 1) // 8
    available = max(0, size - parsed.value_offset)
    if parsed.pixel_length > available:
        raise DicomError(
            f"{what} {path} is truncated: pixel data has {available} bytes, "
            f"expected {parsed.pixel_length}"
        )
    if samples == 1 and bits in (8, 16, 32) and parsed.pixel_length < expected:
        raise DicomError(
            f"{what} {path} is truncated: pixel data has {parsed.pixel_length} bytes, "
            f"expected {expected}"
        )
    if (
        parsed.pixel_tag == 0x7FE00010
        and samples == 1
        and bits in (8, 16, 32)
        and bits_stored == bits
    ):
        order = "<" if parsed.little_endian else ">"
        kind = "i" if signed else "u"
        fields["pixel_offset"] = parsed.value_offset
        fields["pixel_dtype"] = f"{order}{kind}{bits // 8}"


def _fast_header(path: Path, size: int, what: str) -> _Parsed | None:
    """Split a Part-10 Explicit/Implicit VR Little Endian header; None to let pydicom read it."""
    with open(path, "rb") as handle:
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
                return _Parsed(header, syntax, True, None, 0, pointer)
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
            return _Parsed(header, syntax, True, tag, length, value_offset)
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


def _pydicom_header(path: Path, what: str, caught: list[warnings.WarningMessage]) -> _Parsed:
    """Parse a header with pydicom (any transfer syntax, with or without preamble)."""
    with open(path, "rb") as handle:
        stopped: list[bool] = []

        def at_pixels(tag: BaseTag, vr: str | None, length: int) -> bool:
            if int(tag) in _PIXEL_TAGS:
                stopped.append(True)
                return True
            return False

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
            return _Parsed(dataset, syntax, little, None, 0, header_end)
        if syntax == _DEFLATED:  # offsets are in the inflated stream, not in the file
            return _Parsed(dataset, syntax, little, 0x7FE00010, 0xFFFFFFFF, header_end)
        implicit = bool(dataset.original_encoding[0])
        tag, length, value_offset = _element_header(handle, implicit, little, path, what)
    return _Parsed(dataset, syntax, little, tag, length, value_offset)


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
def _text(header: Dataset | RawHeader, tag: int) -> str | None:
    found = element_of(header, tag)
    if found is None or found[1] is None:
        return None
    value = found[1]
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    text = text.strip(" \x00")
    return text or None


def _numbers(
    header: Dataset | RawHeader,
    tag: int,
    keyword: str,
    count: int,
    little: bool,
    what: str,
    path: Path | None,
) -> list[float] | None:
    """A numeric attribute (US/SS/UL/SL/DS/IS/FL/FD) as ``count`` finite floats, or None."""
    found = element_of(header, tag)
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
        raise DicomError(f"{what} {path}: malformed {keyword} ({_reason(exc)})") from None
    if not parts:
        return None
    if len(parts) != count or not all(math.isfinite(v) for v in parts):
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
        size = struct.calcsize(code)
        count = len(value) // size
        if count == 0:
            return []
        return [float(v) for v in struct.unpack(("<" if little else ">") + code * count, value)]
    text = value.decode("latin-1").strip(" \x00")
    if not text:
        return []
    return [float(part) for part in text.split("\\")]


def _required_int(values: list[float] | None, keyword: str, what: str, path: Path) -> int:
    if values is None:
        raise DicomError(f"{what} {path}: image lacks {keyword}")
    return int(values[0])


def _first_int(values: list[float] | None, default: int) -> int:
    return default if values is None else int(values[0])


def _make_series(uid: str, members: list[DicomSlice]) -> DicomSeries:
    header = members[0].header
    try:
        numbers = _numbers(header, 0x00200011, "SeriesNumber", 1, True, "series", None)
        number = None if numbers is None else int(numbers[0])
    except DicomError:
        number = None
    return DicomSeries(
        series_instance_uid=uid,
        modality=_text(header, 0x00080060) or "",
        series_description=_text(header, 0x0008103E) or "",
        series_number=number,
        slices=tuple(members),
    )


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith(".") or name.lower() in _SKIP_NAMES:
                continue
            yield Path(root) / name


def _fmt(values: Any) -> str:
    return "(" + ", ".join(f"{float(v):.4g}" for v in values) + ")"


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:160]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


__all__ = [
    "FAST_HEADER_BYTES",
    "NATIVE_TRANSFER_SYNTAXES",
    "DicomSeries",
    "DicomSlice",
    "Element",
    "RawHeader",
    "decode_numbers",
    "element_of",
    "expand_frames",
    "read_slice_header",
    "scan_dicom_folder",
]
