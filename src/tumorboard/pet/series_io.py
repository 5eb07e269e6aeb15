"""Load one PET DICOM series and its SUV scaling (imaging readers + header rules).

The thin seam between :mod:`tumorboard.imaging` (which finds, sorts and
rescales the slices) and :mod:`tumorboard.pet.suv_header` (which reads the
dose, times and units): faces call this, so no command re-implements it.

Speed: the slices are grouped by the raw, undecoded bytes of every
attribute the SUV factor depends on (per-slice and series-level, see
:data:`~tumorboard.pet.suv_header.SUV_HEADER_TAGS`), and a pydicom Dataset
is built only for one slice per group (a whole-body series has one group
per bed position or fewer). Slices whose series-level attributes differ
land in different groups, where :func:`~tumorboard.pet.suv_header.grouped_suv_conversion`
refuses them, so no check is lost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tumorboard.errors import DicomError
from tumorboard.imaging.dicom_scan import DicomSeries, DicomSlice, RawHeader, scan_dicom_folder
from tumorboard.imaging.dicom_volume import series_to_volume
from tumorboard.imaging.volume import Volume
from tumorboard.pet.body_size import LbmFormula
from tumorboard.pet.suv_header import SUV_HEADER_TAGS, SuvConversion, grouped_suv_conversion


@dataclass(frozen=True)
class PetSeries:
    """A PET series read from DICOM.

    Attributes
    ----------
    activity : Volume
        Rescaled pixel values (per-slice RescaleSlope applied), float32.
    conversion : SuvConversion
        Header-derived SUV scaling.
    label : str
        Series number and description (for messages and reports).
    """

    activity: Volume
    conversion: SuvConversion
    label: str

    @property
    def suvbw(self) -> Volume:
        """The series in SUVbw (a new array; ``activity`` is left unchanged)."""
        return self.conversion.suvbw(self.activity)

    def sul(self, formula: LbmFormula | str = LbmFormula.JANMAHASATIAN) -> Volume:
        """The series in SUL: SUVbw times lean body mass / weight (float32, unit ``SUL``).

        Raises
        ------
        InputError
            If the lean body mass is unknown (no height or sex in the header).
        """
        suvbw = self.suvbw
        ratio = self.conversion.sul_per_suvbw(formula)
        array = np.multiply(np.asarray(suvbw.array), ratio, dtype=np.float32)
        return suvbw.with_array(array, unit="SUL")


def read_pet_series(
    folder: str | os.PathLike[str], *, weight_kg: float | None = None, what: str = "PET folder"
) -> PetSeries:
    """Read the single PET series in ``folder`` and compute its SUV scaling.

    Parameters
    ----------
    folder : path-like
        Folder holding one PET image series (searched recursively).
    weight_kg : float, optional
        Body weight overriding/replacing PatientWeight.
    what : str
        How the folder is named in messages.

    Raises
    ------
    DicomError
        If the folder holds several image series (mixed series), a non-PET
        series, or headers that do not allow SUV conversion.
    """
    folder = Path(folder)
    series = [s for s in scan_dicom_folder(folder, what=what) if s.is_image]
    if len(series) != 1:
        listing = ", ".join(f"{s.label} [{s.modality}]" for s in series)
        raise DicomError(
            f"{what} {folder}: expected one PET series, found {len(series)} mixed series: {listing}"
        )
    return pet_series(series[0], weight_kg=weight_kg, where=f"{what} {folder}: {series[0].label}")


def pet_series(series: DicomSeries, *, weight_kg: float | None, where: str) -> PetSeries:
    """Stack an already scanned PET series and compute its SUV scaling.

    Parameters
    ----------
    series : DicomSeries
        One series from :func:`~tumorboard.imaging.dicom_scan.scan_dicom_folder`.
    weight_kg : float, optional
        Body weight overriding/replacing PatientWeight.
    where : str
        How the series is named in messages.

    Raises
    ------
    DicomError
        For a non-PET series, headers that do not allow SUV conversion, or
        series-level attributes (weight, radiopharmaceutical, series time, ...)
        that differ between slices.
    InputError
        For a missing or invalid body weight.
    """
    only = series
    if only.modality.upper() != "PT":
        raise DicomError(f"{where}: Modality is {only.modality!r}, expected 'PT'")
    representatives, members = group_by_suv_header(only.slices)
    conversion = grouped_suv_conversion(
        [item.dataset for item in representatives],
        members,
        _positions(only.slices),
        weight_kg=weight_kg,
        where=where,
    )
    activity = series_to_volume(only.slices, what=where)
    return PetSeries(activity=activity, conversion=conversion, label=only.label)


def group_by_suv_header(
    slices: tuple[DicomSlice, ...] | list[DicomSlice],
) -> tuple[list[DicomSlice], list[list[int]]]:
    """Group slices whose SUV-relevant attributes are byte-for-byte identical.

    Parameters
    ----------
    slices : sequence of DicomSlice
        The slices of one series, in series order.

    Returns
    -------
    representatives : list of DicomSlice
        The first slice of each group (the first group holds ``slices[0]``).
    members : list of list of int
        The indices of each group's slices in ``slices``.
    """
    tags = tuple(int(tag) for tag in SUV_HEADER_TAGS)
    groups: dict[tuple[Any, ...], list[int]] = {}
    first: dict[tuple[Any, ...], DicomSlice] = {}
    for index, item in enumerate(slices):
        header = item.header
        key: tuple[Any, ...]
        if isinstance(header, RawHeader):
            data, entries = header.data, header.index
            key = tuple(
                None if (e := entries.get(tag)) is None else data[e[1] : e[1] + e[2]]
                for tag in tags
            )
        else:
            key = tuple(_raw_value(item, tag) for tag in tags)
        if item.frame_index is not None:
            key = (*key, id(header))  # frames share a header; keep files apart
        group = groups.get(key)
        if group is None:
            groups[key] = [index]
            first[key] = item
        else:
            group.append(index)
    return list(first.values()), list(groups.values())


def _raw_value(item: DicomSlice, tag: int) -> Any:
    found = item.element(tag)
    if found is None:
        return None
    value = found[1]
    return value if isinstance(value, bytes) else repr(value)


def _positions(slices: tuple[DicomSlice, ...] | list[DicomSlice]) -> NDArray[np.float64]:
    positions = np.full((len(slices), 3), np.nan)
    for index, item in enumerate(slices):
        if item.image_position_mm is not None:
            positions[index] = item.image_position_mm
    return positions


__all__ = ["PetSeries", "group_by_suv_header", "pet_series", "read_pet_series"]
