"""Radiomics inputs: an image and its lesion labels, from the formats clinics use.

Image: a NIfTI file or a folder with one DICOM image series (a PET series is
converted to SUVbw from its header, since the ``pet`` preset bins SUV). Labels: a NIfTI
label map, a DICOM SEG (read by :mod:`tumorboard.imaging.label_maps`) or an
RTSTRUCT (rasterised by :mod:`tumorboard.imaging.rtstruct`). Format knowledge
stays in :mod:`tumorboard.imaging`; this module only chooses the reader and
records the acquisition parameters.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom

from tumorboard.errors import DicomError, EmptyResultError, InputError
from tumorboard.imaging.nifti import read_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.radiomics.acquisition import AcquisitionParameters, acquisition_from_header

_NIFTI_SUFFIXES = (".nii", ".nii.gz")


@dataclass(frozen=True, eq=False)
class RadiomicsInputs:
    """An image, its label map on the same grid, and how the image was acquired.

    Attributes
    ----------
    image : Volume
        The 3-D image.
    labels : Volume
        Integer label map (0 = background), same grid as ``image``.
    acquisition : AcquisitionParameters
        Acquisition record of the image.
    label_names : dict of int to str
        Names of the labels when the source has them (RTSTRUCT ROI names).
    sul_per_suvbw : float or None
        Lean body mass / weight of a PET DICOM series (for SULpeak), else None.
    """

    image: Volume
    labels: Volume
    acquisition: AcquisitionParameters
    label_names: dict[int, str]
    sul_per_suvbw: float | None = None


def load_radiomics_inputs(
    image_path: str | os.PathLike[str],
    labels_path: str | os.PathLike[str],
    *,
    roi_names: Sequence[str] | None = None,
) -> RadiomicsInputs:
    """Read an image and its lesion labels.

    Parameters
    ----------
    image_path : path-like
        NIfTI file or folder with one DICOM image series.
    labels_path : path-like
        NIfTI label map, DICOM SEG file or RTSTRUCT file.
    roi_names : sequence of str, optional
        RTSTRUCT only: the ROIs to use (default all), labelled 1, 2, ... in this order.

    Raises
    ------
    InputError
        If a path is missing or of an unknown kind, or the labels are not
        non-negative integers.
    EmptyResultError
        If the label map holds no lesion.
    DicomError
        If a DICOM input is unusable.
    GeometryError
        If the labels are not on the image's grid.
    """
    image, acquisition, sul_ratio = _read_image(Path(image_path))
    labels, names = _read_labels(Path(labels_path), image, roi_names)
    what = f"label map {Path(labels_path).name}"
    image.require_same_geometry(labels, what, "the image")
    _check_labels(labels, what)
    return RadiomicsInputs(
        image=image,
        labels=labels,
        acquisition=acquisition,
        label_names=names,
        sul_per_suvbw=sul_ratio,
    )


def _check_labels(labels: Volume, what: str) -> None:
    """Labels must be non-negative integers with at least one lesion voxel."""
    values = np.asarray(labels.array)
    if values.dtype != bool and (
        not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(values != np.round(values))
    ):
        raise InputError(f"{what}: labels must be non-negative integers (0 = background)")
    if not np.any(values):
        raise EmptyResultError(f"{what}: no lesion, every voxel is 0 (empty label map)")


def _is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(_NIFTI_SUFFIXES)


def _read_image(path: Path) -> tuple[Volume, AcquisitionParameters, float | None]:
    if path.is_dir():
        from tumorboard.imaging.dicom_scan import scan_dicom_folder
        from tumorboard.imaging.dicom_volume import series_to_volume

        series = [s for s in scan_dicom_folder(path, what="image folder") if s.is_image]
        if len(series) != 1:
            listing = ", ".join(s.label for s in series)
            raise DicomError(
                f"image folder {path}: expected one image series, found {len(series)}: {listing}"
            )
        where = f"image folder {path.name}: {series[0].label}"
        header = series[0].slices[0].dataset
        sul_ratio = None
        if series[0].modality.upper() == "PT":
            volume, sul_ratio = _suv_volume(series[0], where)
            unit = "SUVbw"
        else:
            volume = series_to_volume(series[0].slices, what=where)
            unit = _unit(header)
        acquisition = acquisition_from_header(header, volume.spacing_mm, unit)
        return volume, acquisition, sul_ratio
    if not path.exists():
        raise InputError(f"image {path}: file not found")
    if not _is_nifti(path):
        raise InputError(f"image {path}: expected a NIfTI file (.nii, .nii.gz) or a DICOM folder")
    volume = read_nifti(path, what="image")
    if volume.array.ndim != 3:
        raise InputError(f"image {path}: expected a 3-D image, got shape {volume.shape}")
    dz, dy, dx = volume.spacing_mm
    acquisition = AcquisitionParameters(
        modality="", spacing_z_mm=dz, spacing_y_mm=dy, spacing_x_mm=dx, unit=volume.unit
    )
    return volume, acquisition, None


def _suv_volume(series: Any, where: str) -> tuple[Volume, float | None]:
    """A PET series in SUVbw (the ``pet`` preset's bins are in SUV) and its SUL ratio."""
    from tumorboard.pet.series_io import pet_series

    try:
        pet = pet_series(series, weight_kg=None, where=where)
    except DicomError as exc:
        raise DicomError(f"{exc} (radiomics of PET needs SUV; or give an SUV NIfTI)") from None
    try:
        ratio: float | None = pet.conversion.sul_per_suvbw()
    except InputError:
        ratio = None  # no height or sex: SULpeak is left out
    return pet.suvbw, ratio


def _unit(header: Any) -> str:
    modality = str(header.get("Modality", ""))
    if modality == "CT":
        return "HU"
    return str(header.get("Units", "") or "")


def _read_labels(
    path: Path, image: Volume, roi_names: Sequence[str] | None
) -> tuple[Volume, dict[int, str]]:
    if not path.exists():
        raise InputError(f"label map {path}: file not found")
    if _is_nifti(path):
        if roi_names:
            raise InputError("--roi applies to RTSTRUCT labels only")
        return read_nifti(path, what="label map"), {}
    if path.is_dir():
        raise InputError(f"label map {path}: expected a file (NIfTI, DICOM SEG or RTSTRUCT)")
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as exc:  # pydicom raises many types for corrupt files
        raise InputError(
            f"label map {path.name}: neither NIfTI nor readable DICOM "
            f"({' '.join(str(exc).split())})"
        ) from None
    modality = str(header.get("Modality", ""))
    if modality == "RTSTRUCT":
        from tumorboard.imaging.rtstruct import read_rtstruct, rtstruct_label_map

        rois = read_rtstruct(path, image, roi_names=roi_names)
        return rtstruct_label_map(rois), {i: roi.name for i, roi in enumerate(rois, start=1)}
    if modality == "SEG":
        if roi_names:
            raise InputError("--roi applies to RTSTRUCT labels only")
        from tumorboard.imaging.label_maps import read_label_map

        labels = read_label_map(
            path, reference=image, what=f"label map {path}", reference_name="the image"
        )
        return labels, {}
    raise InputError(
        f"label map {path.name}: DICOM Modality {modality!r} is not a label source "
        "(expected SEG or RTSTRUCT)"
    )
