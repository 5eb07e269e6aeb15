"""Diffusion b-values in DICOM headers, and reading a (multi-station) diffusion exam.

Where scanners put the b-value (s/mm^2), in the order :func:`b_value_of` looks:

* standard: DiffusionBValue (0018,9087), FD; in enhanced MR objects inside the
  per-frame or shared functional groups (MRDiffusionSequence);
* Siemens: (0019,100C) IS in the "SIEMENS MR HEADER" private block, then the
  ``B_value`` item of the CSA image header (0029,1010);
* GE: the first value of (0043,1039) IS in the "GEMS_PARM_01" block. GE adds a
  large offset to it on some software (e.g. ``1000000600`` for b600); like the
  GE conversion tools (dcm2niix) we take the value modulo 100000;
* Philips: (2001,1003) FL in the "Philips Imaging DD 001" block.

Private tags read without a private dictionary (Implicit VR files, VR ``UN``)
arrive as raw bytes; they are decoded as text (IS/DS) or as a little-endian
float (FL/FD) by their length.

:func:`read_diffusion_series` finds every image series with b-values in a
folder, makes one volume per (series, b-value) and stitches the stations of each
b-value into one whole-body volume. When a b-value was acquired with several
diffusion directions at the same positions, the direction images are combined
by their geometric mean, which is the trace-weighted image
``S0 * exp(-b * trace(D) / 3)``.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from tumorboard.errors import DicomError, GeometryError, InputError
from tumorboard.imaging.dicom_raw import element_text
from tumorboard.imaging.dicom_scan import (
    DicomSeries,
    DicomSlice,
    Element,
    RawHeader,
    decode_numbers,
    element_of,
    scan_dicom_folder,
)
from tumorboard.imaging.dicom_volume import check_stack_size, series_to_volume
from tumorboard.imaging.stitching import stitch_stations
from tumorboard.imaging.volume import Volume

#: GE stores b-values with a decimal offset (e.g. 10**9 + b); GE tools keep b modulo this.
GE_B_VALUE_MODULUS = 100000
#: b-values closer than this (s/mm^2) are the same b-value.
B_VALUE_TOLERANCE_S_PER_MM2 = 0.5
#: ImageType values of derived maps that carry b-values but are not diffusion-weighted images.
DERIVED_MAP_TYPES = frozenset({"ADC", "EADC", "FA", "CALC_BVALUE", "EXP"})

SIEMENS_CREATOR = "SIEMENS MR HEADER"
SIEMENS_CSA_CREATOR = "SIEMENS CSA HEADER"
GE_CREATOR = "GEMS_PARM_01"
PHILIPS_CREATOR = "Philips Imaging DD 001"

Vendor = Literal["standard", "siemens", "siemens_csa", "ge", "philips"]

_DIFFUSION_B_VALUE = 0x00189087
_MR_DIFFUSION_SEQUENCE = 0x00189117
_PER_FRAME = 0x52009230
_SHARED = 0x52009229


@dataclass(frozen=True, eq=False)
class DiffusionSeries:
    """The diffusion-weighted images of one exam, one stitched volume per b-value.

    Attributes
    ----------
    images : dict of float to Volume
        b-value (s/mm^2) to its image; all share one grid.
    b_values_s_per_mm2 : tuple of float
        The b-values, ascending.
    stations : int
        Number of stations (series) stitched per b-value.
    study_date : str, optional
        Exam date ``YYYY-MM-DD`` (StudyDate, else AcquisitionDate) for figure
        titles; never a patient attribute.
    """

    images: dict[float, Volume]
    b_values_s_per_mm2: tuple[float, ...]
    stations: int
    study_date: str | None = None

    def __post_init__(self) -> None:
        if not self.images:
            raise InputError("DiffusionSeries needs at least one b-value image")
        if tuple(sorted(self.images)) != tuple(self.b_values_s_per_mm2):
            raise InputError(
                f"b_values_s_per_mm2 {self.b_values_s_per_mm2} must be the sorted keys of images"
            )
        if self.stations < 1:
            raise InputError(f"stations must be at least 1, got {self.stations}")
        volumes = list(self.images.values())
        first_b = self.b_values_s_per_mm2[0]
        for b_value, volume in self.images.items():
            volumes[0].require_same_geometry(
                volume, f"b-value {b_value:g} image", f"the b{first_b:g} image"
            )


# --------------------------------------------------------------------------- reading tags
def b_value_of(source: Dataset | DicomSlice, *, frame: int = 0) -> float | None:
    """The diffusion b-value (s/mm^2) of an image, from the standard or a vendor tag.

    Parameters
    ----------
    source : pydicom.Dataset or DicomSlice
        The image header. A :class:`DicomSlice` is read from its undecoded
        header bytes, which is several times faster than through pydicom.
    frame : int
        Frame whose per-frame functional group is read in an enhanced MR object
        (a frame's :class:`DicomSlice` knows its own frame).

    Returns
    -------
    float or None
        The b-value, or None if no known tag carries one (or it is negative or
        not finite).
    """
    if isinstance(source, DicomSlice) and source.frame_index is not None:
        frame = source.frame_index
    header = source.header if isinstance(source, DicomSlice) else source
    tags = source.tags() if isinstance(source, DicomSlice) else [int(t) for t in source.keys()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        candidates: tuple[Callable[[], float | None], ...] = (
            lambda: _standard_b(header, tags, source, frame),
            lambda: _private_number(header, tags, 0x0019, SIEMENS_CREATOR, 0x0C, "IS"),
            lambda: _siemens_csa_b(header, tags),
            lambda: _ge_b(header, tags),
            lambda: _private_number(header, tags, 0x2001, PHILIPS_CREATOR, 0x03, "FL"),
        )
        for candidate in candidates:
            try:
                value = candidate()
            except (ValueError, TypeError, KeyError, IndexError, AttributeError, struct.error):
                value = None
            if value is not None and np.isfinite(value) and value >= 0:
                return float(value)
    return None


def _standard_b(
    header: Dataset | RawHeader, tags: list[int], source: Dataset | DicomSlice, frame: int
) -> float | None:
    found = element_of(header, _DIFFUSION_B_VALUE)
    if found is not None:
        return _first_number(found, "FD")
    if _PER_FRAME not in tags and _SHARED not in tags:
        return None
    dataset = source.dataset if isinstance(source, DicomSlice) else source
    for group_tag, index in ((_PER_FRAME, frame), (_SHARED, 0)):
        groups = dataset.get(group_tag)
        if groups is None or not groups.value or len(groups.value) <= index:
            continue
        diffusion = groups.value[index].get(_MR_DIFFUSION_SEQUENCE)
        if diffusion is not None and diffusion.value and _DIFFUSION_B_VALUE in diffusion.value[0]:
            element = diffusion.value[0][_DIFFUSION_B_VALUE]
            return _first_number((element.VR, element.value), "FD")
    return None


def _siemens_csa_b(header: Dataset | RawHeader, tags: list[int]) -> float | None:
    found = _private(header, tags, 0x0029, SIEMENS_CSA_CREATOR, 0x10)
    if found is None or not isinstance(found[1], bytes):
        return None
    items = read_csa_items(found[1]).get("B_value")
    return float(items[0]) if items else None


def _ge_b(header: Dataset | RawHeader, tags: list[int]) -> float | None:
    value = _private_number(header, tags, 0x0043, GE_CREATOR, 0x39, "IS")
    return None if value is None else float(int(round(value)) % GE_B_VALUE_MODULUS)


def _private_number(
    header: Dataset | RawHeader, tags: list[int], group: int, creator: str, offset: int, vr: str
) -> float | None:
    found = _private(header, tags, group, creator, offset)
    return None if found is None else _first_number(found, vr)


def _private(
    header: Dataset | RawHeader, tags: list[int], group: int, creator: str, offset: int
) -> Element | None:
    """Element ``offset`` of ``creator``'s block in ``group``.

    Falls back to the usual block 0x10 when the group records no private
    creator at all (some anonymisers drop them).
    """
    creator_tags = sorted(t for t in tags if t >> 16 == group and 0x10 <= (t & 0xFFFF) <= 0xFF)
    block = None
    for tag in creator_tags:
        found = element_of(header, tag)
        value = found[1] if found is not None else None
        if isinstance(value, bytes):
            value = value.decode("latin-1", "replace")
        if str(value).strip(" \x00") == creator:
            block = tag & 0xFF
            break
    if block is None:
        if creator_tags:
            return None  # the group's blocks belong to other creators
        block = 0x10
    return element_of(header, (group << 16) | (block << 8) | offset)


def _first_number(found: Element, expected_vr: str) -> float | None:
    """First numeric value of an element.

    Raw bytes are decoded by their VR, or by ``expected_vr`` when the file gives
    none or ``UN``/``OB``.
    """
    vr, value = found
    if value is None or value == "":
        return None
    if isinstance(value, bytes):
        use = expected_vr if vr in (None, "UN", "OB", "OW") else vr
        numbers = decode_numbers(use, value)
        return numbers[0] if numbers else None
    if isinstance(value, str):
        value = value.split("\\")[0].strip()
        return float(value) if value else None
    if isinstance(value, (int, float)):
        return float(value)
    values = list(value)
    return float(values[0]) if values else None


# --------------------------------------------------------------------------- writing tags
def diffusion_b_value_elements(b_s_per_mm2: float, vendor: Vendor) -> list[DataElement]:
    """DataElements that record a b-value the way one scanner family does.

    Parameters
    ----------
    b_s_per_mm2 : float
        The b-value.
    vendor : {"standard", "siemens", "siemens_csa", "ge", "philips"}
        ``"standard"`` writes DiffusionBValue (0018,9087); the others write the
        private creator and the private tag described in the module docstring
        (GE with its ``10**9`` offset, Siemens CSA as a CSA2 image header).

    Returns
    -------
    list of DataElement
        Ready for ``write_dicom_series(..., extra=...)``.
    """
    b_value = float(b_s_per_mm2)
    if not np.isfinite(b_value) or b_value < 0:
        raise InputError(f"b-value must be finite and >= 0, got {b_s_per_mm2!r}")
    if vendor == "standard":
        return [DataElement(_DIFFUSION_B_VALUE, "FD", b_value)]
    if vendor == "siemens":
        return [
            DataElement(0x00190010, "LO", SIEMENS_CREATOR),
            DataElement(0x0019100C, "IS", str(int(round(b_value)))),
        ]
    if vendor == "siemens_csa":
        return [
            DataElement(0x00290010, "LO", SIEMENS_CSA_CREATOR),
            DataElement(0x00291010, "OB", write_csa2_header({"B_value": int(round(b_value))})),
        ]
    if vendor == "ge":
        offset_b = 1_000_000_000 + int(round(b_value))
        return [
            DataElement(0x00430010, "LO", GE_CREATOR),
            DataElement(0x00431039, "IS", [str(offset_b), "8", "0", "0"]),
        ]
    if vendor == "philips":
        return [
            DataElement(0x20010010, "LO", PHILIPS_CREATOR),
            DataElement(0x20011003, "FL", b_value),
        ]
    raise InputError(
        f"vendor must be 'standard', 'siemens', 'siemens_csa', 'ge' or 'philips', got {vendor!r}"
    )


# --------------------------------------------------------------------------- Siemens CSA
_CSA_TAG = struct.Struct("<64si4s3i")
_CSA_ITEM = struct.Struct("<4i")
#: A corrupt CSA header would otherwise make the parser loop over garbage counts.
MAX_CSA_ITEMS = 1000


def read_csa_items(data: bytes) -> dict[str, list[str]]:
    """Parse a Siemens CSA1/CSA2 header into ``{tag name: [item text, ...]}``.

    The format is the one nibabel's ``nibabel.nicom.csareader`` reads; it is
    parsed here because importing that module warns (experimental DICOM
    support) and we need one scalar.

    Raises
    ------
    ValueError
        If the bytes are not a well-formed CSA header.
    """
    size = len(data)
    csa2 = data[:4] == b"SV10"
    pointer = 8 if csa2 else 0
    if size < pointer + 8:
        raise ValueError("CSA header too short")
    n_tags = struct.unpack_from("<I", data, pointer)[0]
    pointer += 8
    if not 0 < n_tags <= MAX_CSA_ITEMS:
        raise ValueError(f"CSA header claims {n_tags} tags")
    tags: dict[str, list[str]] = {}
    first_n_items = 0
    for tag_no in range(n_tags):
        if pointer + _CSA_TAG.size > size:
            raise ValueError("CSA header truncated in a tag")
        raw_name, _vm, _vr, _syngodt, n_items, _last = _CSA_TAG.unpack_from(data, pointer)
        pointer += _CSA_TAG.size
        if not 0 <= n_items <= MAX_CSA_ITEMS:
            raise ValueError(f"CSA tag claims {n_items} items")
        if tag_no == 1:
            first_n_items = n_items
        items: list[str] = []
        for _ in range(n_items):
            if pointer + _CSA_ITEM.size > size:
                raise ValueError("CSA header truncated in an item")
            x0, x1, _x2, _x3 = _CSA_ITEM.unpack_from(data, pointer)
            pointer += _CSA_ITEM.size
            item_len = x1 if csa2 else x0 - first_n_items
            if item_len < 0 or pointer + item_len > size:
                if csa2:
                    raise ValueError("CSA item runs past the end of the header")
                break
            text = data[pointer : pointer + item_len].split(b"\x00", 1)[0].decode("latin-1")
            if text.strip():
                items.append(text.strip())
            pointer += item_len + (-item_len % 4)
        tags[raw_name.split(b"\x00", 1)[0].decode("latin-1")] = items
    return tags


def write_csa2_header(values: Mapping[str, int | float | str]) -> bytes:
    """Build a CSA2 header with one text item per named tag (e.g. ``{"B_value": 600}``)."""
    chunks = [b"SV10", b"\x04\x03\x02\x01", struct.pack("<2I", len(values), 77)]
    for name, value in values.items():
        vr = b"IS" if isinstance(value, int) else b"FD" if isinstance(value, float) else b"LT"
        payload = str(value).encode("latin-1") + b"\x00"
        chunks.append(_CSA_TAG.pack(name.encode("latin-1"), 1, vr, 3, 1, 77))
        chunks.append(_CSA_ITEM.pack(len(payload), len(payload), 77, len(payload)))
        chunks.append(payload + b"\x00" * (-len(payload) % 4))
    return b"".join(chunks)


# --------------------------------------------------------------------------- whole exam
def read_diffusion_series(
    folder: str | os.PathLike[str], *, what: str = "DICOM folder"
) -> DiffusionSeries:
    """Read every diffusion-weighted series of a folder into one volume per b-value.

    Series whose slices carry no b-value (localisers, derived ADC maps, other
    sequences) are ignored. Each remaining series is split by b-value; the
    per-series volumes of one b-value are the stations of a whole-body exam and
    are stitched (:func:`~tumorboard.imaging.stitching.stitch_stations`).

    Parameters
    ----------
    folder : path-like
        Folder searched recursively.
    what : str
        How the folder is named in messages.

    Returns
    -------
    DiffusionSeries

    Raises
    ------
    DicomError
        If no image carries a b-value (the message suggests ``--image B=PATH``),
        a diffusion series has slices without a b-value, the stations of the
        b-values differ, or a series is inconsistent.
    GeometryError
        If stations cannot be stitched or the b-value volumes do not share a grid.
    """
    folder = Path(folder)
    label = f"{what} {folder}"
    diffusion: list[tuple[DicomSeries, dict[float, list[DicomSlice]]]] = []
    for series in scan_dicom_folder(folder, what=what):
        if not series.is_image or _is_derived_map(series):
            continue
        by_b: dict[float, list[DicomSlice]] = {}
        missing = 0
        for item in series.slices:
            b_value = b_value_of(item)
            if b_value is None:
                missing += 1
                continue
            by_b.setdefault(_b_key(b_value, by_b), []).append(item)
        if not by_b:
            continue
        if missing:
            raise DicomError(
                f"{label}: {series.label} has {missing} of {len(series.slices)} slices "
                "without a diffusion b-value"
            )
        diffusion.append((series, by_b))
    if not diffusion:
        raise DicomError(
            f"no diffusion b-value found in {label} (standard, Siemens, GE or Philips tags); "
            "give the images with --image B=PATH"
        )
    check_stack_size(
        (item for _, by_b in diffusion for members in by_b.values() for item in members),
        what=f"{label}: the diffusion series together",
    )
    stations: dict[float, list[Volume]] = {}
    for series, by_b in diffusion:
        for b_value, members in by_b.items():
            key = _b_key(b_value, stations)
            volume = series_to_volume(
                members, what=f"{label}: {series.label} b={b_value:g}", duplicates="geometric_mean"
            )
            stations.setdefault(key, []).append(volume)
    counts = {b: len(v) for b, v in stations.items()}
    if len(set(counts.values())) != 1:
        detail = ", ".join(f"b{b:g}: {n}" for b, n in sorted(counts.items()))
        raise DicomError(f"{label}: the b-values have different numbers of stations ({detail})")
    images = {
        b: stitch_stations(volumes, what=f"{label} b{b:g}")
        for b, volumes in sorted(stations.items())
    }
    b_values = tuple(sorted(images))
    reference = images[b_values[0]]
    for b_value in b_values[1:]:
        try:
            reference.require_same_geometry(
                images[b_value],
                f"{label}: b-value {b_value:g} image",
                f"the b{b_values[0]:g} image",
            )
        except GeometryError:
            raise
    return DiffusionSeries(
        images=images,
        b_values_s_per_mm2=b_values,
        stations=counts[b_values[0]],
        study_date=_exam_date(diffusion[0][0]),
    )


def _exam_date(series: DicomSeries) -> str | None:
    """StudyDate (else AcquisitionDate) of a series as ``YYYY-MM-DD``, if valid."""
    header = series.slices[0].header
    for tag in (0x00080020, 0x00080022):
        text = element_text(header, tag)
        if text and len(text) == 8 and text.isdigit():
            return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return None


def _b_key(b_value: float, existing: Mapping[float, Any] | Sequence[float]) -> float:
    """Snap ``b_value`` to an existing key within tolerance (scanners jitter b slightly)."""
    for key in existing:
        if abs(key - b_value) <= B_VALUE_TOLERANCE_S_PER_MM2:
            return key
    return float(b_value)


def _is_derived_map(series: DicomSeries) -> bool:
    try:
        found = series.slices[0].element(0x00080008)
        image_type = found[1] if found is not None else []
        if isinstance(image_type, bytes):
            image_type = image_type.decode("latin-1").strip(" \x00").split("\\")
        values = {
            str(v).upper()
            for v in (image_type if not isinstance(image_type, str) else [image_type])
        }
    except (TypeError, ValueError):
        return False
    return bool(values & DERIVED_MAP_TYPES)
