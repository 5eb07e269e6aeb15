"""Find the DICOM image series in a folder, reading headers only.

One concept: folder to series. :func:`scan_dicom_folder` walks a folder
recursively, reads every file's header up to (not including) the pixel data
with :func:`read_slice_header` and groups the files by SeriesInstanceUID into
:class:`DicomSeries` of :class:`DicomSlice`; enhanced (multi-frame) images
are split into one slice per frame by
:func:`~tumorboard.imaging.dicom_multiframe.expand_frames`. Where the pixel
data is stored uncompressed a slice records the byte offset of the pixel
value, so that :mod:`tumorboard.imaging.dicom_volume` can later read the
pixels with one ``pread`` and :func:`numpy.frombuffer` instead of a second
parse. A file whose pixel value is shorter than the header promises is
reported as truncated here, before any pixel is read, and so is a file whose
Rows x Columns x NumberOfFrames x SamplesPerPixel exceeds the voxel limit of
:mod:`tumorboard.imaging.input_limits` (a few kilobytes of compressed data
may claim gigabytes). Only regular files are read: a FIFO, socket or device
(also through a symbolic link) is a one-line error like a non-DICOM file.

Speed: headers are split by the hand-written Part-10 walker of
:mod:`tumorboard.imaging.dicom_raw` (pydicom's generic reader made ingest
several times slower than dcm2niix; see ``benchmarks/bench_dicom_ingest.py``),
and the pydicom :class:`~pydicom.dataset.Dataset` is built only when
:attr:`DicomSlice.dataset` is first used.

Every failure on a file becomes a :class:`~tumorboard.errors.DicomError`
naming the file and the reason; patient attributes are never decoded for
messages, and pydicom's warnings (which may quote attribute values) are
silenced while reading.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from tumorboard.errors import DicomError, TumorboardError
from tumorboard.imaging.dicom_multiframe import expand_frames
from tumorboard.imaging.dicom_raw import (
    FAST_HEADER_BYTES,
    Element,
    ParsedHeader,
    RawHeader,
    decode_numbers,
    element_numbers,
    element_of,
    element_text,
    failure_reason,
    read_header,
)
from tumorboard.imaging.input_limits import check_regular_file, check_voxel_count, voxel_count

#: Transfer syntaxes whose pixel data we read directly (native, not encapsulated).
NATIVE_TRANSFER_SYNTAXES = frozenset(
    {str(ImplicitVRLittleEndian), str(ExplicitVRLittleEndian), str(ExplicitVRBigEndian)}
)

_SKIP_NAMES = frozenset({"dicomdir"})


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


def read_slice_header(
    path: str | os.PathLike[str], *, what: str = "file", data: bytes | None = None
) -> DicomSlice:
    """Parse one file's header into a :class:`DicomSlice`.

    Parameters
    ----------
    path : path-like
        The DICOM file.
    what : str
        Prefix of messages, e.g. ``"DICOM folder X: file"``.
    data : bytes, optional
        The file's whole content, when the caller has read it already from
        a regular file (the importer: one read per file to parse, hash and
        store it); the file is then not opened again.

    Raises
    ------
    DicomError
        If the file is not DICOM, is truncated or has malformed image attributes.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        file = path if isinstance(path, Path) else Path(path)  # the importer passes Paths
        return _guarded_read(file, what, caught, data)


def _guarded_read(
    path: Path, what: str, caught: list[warnings.WarningMessage], data: bytes | None = None
) -> DicomSlice:
    del caught[:]
    try:
        return _read_slice_header(path, what, caught, data)
    except TumorboardError:
        raise
    except Exception as exc:  # pydicom raises many types on malformed files
        raise DicomError(f"{what} {path} cannot be read ({failure_reason(exc)})") from None


def _read_slice_header(
    path: Path, what: str, caught: list[warnings.WarningMessage], data: bytes | None
) -> DicomSlice:
    if data is None:
        check_regular_file(path, what=what, error=DicomError)  # a FIFO never reaches open()
        size = path.stat().st_size
    else:
        size = len(data)
    parsed = read_header(path, size, what, caught, data)
    header = parsed.header
    has_pixels = parsed.pixel_tag is not None
    if not has_pixels:
        sop_class = _image_storage_name(parsed)
        if sop_class:
            raise DicomError(
                f"{what} {path} is truncated or has no pixel data ({sop_class} without Pixel Data)"
            )
    series_uid = element_text(header, 0x0020000E) or ""
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
        return element_numbers(header, tag, keyword, count, little, what, path)

    rows = _required_int(number(0x00280010, "Rows", 1), "Rows", what, path)
    columns = _required_int(number(0x00280011, "Columns", 1), "Columns", what, path)
    frames = _first_int(number(0x00280008, "NumberOfFrames", 1), 1)
    samples = _first_int(number(0x00280002, "SamplesPerPixel", 1), 1)
    bits = _first_int(number(0x00280100, "BitsAllocated", 1), 0)
    bits_stored = _first_int(number(0x00280101, "BitsStored", 1), bits)
    signed = _first_int(number(0x00280103, "PixelRepresentation", 1), 0) == 1
    if rows <= 0 or columns <= 0:
        raise DicomError(f"{what} {path}: Rows/Columns must be positive, got {rows}x{columns}")
    claimed = voxel_count([rows, columns, max(frames, 1), max(samples, 1)])
    check_voxel_count(claimed, what=f"{what} {path}", error=DicomError)  # before any decoding
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
        acquisition_time=element_text(header, 0x00080032),
    )
    if parsed.syntax in NATIVE_TRANSFER_SYNTAXES or not parsed.syntax:
        if parsed.pixel_length != 0xFFFFFFFF:
            _check_native_pixels(parsed, fields, size, bits, bits_stored, samples, signed, what)
    return DicomSlice(**fields)


def _image_storage_name(parsed: ParsedHeader) -> str | None:
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
    parsed: ParsedHeader,
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


def _required_int(values: list[float] | None, keyword: str, what: str, path: Path) -> int:
    if values is None:
        raise DicomError(f"{what} {path}: image lacks {keyword}")
    return int(values[0])


def _first_int(values: list[float] | None, default: int) -> int:
    return default if values is None else int(values[0])


def _make_series(uid: str, members: list[DicomSlice]) -> DicomSeries:
    header = members[0].header
    try:
        numbers = element_numbers(header, 0x00200011, "SeriesNumber", 1, True, "series", None)
        number = None if numbers is None else int(numbers[0])
    except DicomError:
        number = None
    return DicomSeries(
        series_instance_uid=uid,
        modality=element_text(header, 0x00080060) or "",
        series_description=element_text(header, 0x0008103E) or "",
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
