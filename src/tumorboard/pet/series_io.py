"""Load one PET DICOM series and its SUV scaling (imaging readers + header rules).

The thin seam between :mod:`tumorboard.imaging` (which finds, sorts and
rescales the slices) and :mod:`tumorboard.pet.suv_header` (which reads the
dose, times and units): faces call this, so no command re-implements it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tumorboard.errors import DicomError
from tumorboard.imaging.dicom_scan import DicomSeries, scan_dicom_folder
from tumorboard.imaging.dicom_volume import series_to_volume
from tumorboard.imaging.volume import Volume
from tumorboard.pet.suv_header import SuvConversion, suv_conversion


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
            f"{what} {folder}: expected one PET series, found {len(series)} mixed series: "
            f"{listing}"
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
    """
    only = series
    if only.modality.upper() != "PT":
        raise DicomError(f"{where}: Modality is {only.modality!r}, expected 'PT'")
    conversion = suv_conversion(
        [item.dataset for item in only.slices], weight_kg=weight_kg, where=where
    )
    activity = series_to_volume(only.slices, what=where)
    return PetSeries(activity=activity, conversion=conversion, label=only.label)


__all__ = ["PetSeries", "pet_series", "read_pet_series"]
