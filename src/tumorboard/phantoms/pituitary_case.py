"""Sellar-region reference case: volumetric MRI and a misaligned 11C-methionine PET.

The anatomy is defined analytically in the MRI frame (LPS mm, the sella at the
origin): scalp, skull, brain, ventricles, cerebellum, eyes, sphenoid sinus,
carotid siphons, the pituitary gland and a 7 mm focal remnant beside it. The
MRI is a contrast-enhanced T1-like volume at 1.5 mm; the PET is sampled on its
own 3 mm grid through a known rigid transform (the patient moved between the
scans), blurred by a 5 mm FWHM point-spread function and given seeded noise.
The remnant is isointense on MRI (nothing to see) but hot on methionine PET.

:attr:`PituitaryCase.truth_mri_to_pet` maps MRI points to PET points, the convention of
:func:`tumorboard.pet.registration.register_rigid` (MRI fixed, PET moving).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from scipy import ndimage

from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.nifti import write_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.phantoms.patients import PITUITARY_PATIENT

MRI_VOXEL_MM = 1.5
MRI_SHAPE_ZYX = (104, 136, 112)
PET_VOXEL_MM = 3.0
PET_SHAPE_ZYX = (56, 72, 64)
PET_FWHM_MM = 5.0
FINE_VOXEL_MM = 1.0
FINE_SHAPE_ZYX = (160, 210, 170)
PET_NOISE_FRACTION = 0.03
MRI_NOISE_SD = 15.0
#: Known misalignment (MRI -> PET): Euler angles (deg, about x, y, z) and translation (mm).
TRUE_ANGLES_DEG = (6.0, -4.0, 5.0)
TRUE_TRANSLATION_MM = (7.0, -5.0, 6.0)
REMNANT_CENTER_LPS = (5.0, -1.0, 1.0)
REMNANT_RADIUS_MM = 3.5
WEIGHT_KG = 72.0
HEIGHT_M = 1.70
HALF_LIFE_C11_S = 1221.84
INJECTED_DOSE_BQ = 400e6

LABELS = {
    1: "scalp",
    2: "skull",
    3: "brain",
    4: "ventricle",
    5: "cerebellum",
    6: "eye",
    7: "sinus",
    8: "carotid",
    9: "pituitary",
    10: "remnant",
}
#: Contrast-enhanced T1 intensity per label (arbitrary units).
MRI_INTENSITY = {
    0: 0.0,
    1: 700.0,
    2: 120.0,
    3: 520.0,
    4: 150.0,
    5: 480.0,
    6: 220.0,
    7: 20.0,
    8: 1100.0,
    9: 850.0,
    10: 820.0,
}
#: Methionine SUVbw per label.
PET_SUV = {0: 0.0, 1: 0.9, 2: 0.6, 3: 1.3, 4: 0.3, 5: 1.0, 6: 0.5, 7: 0.0, 8: 1.5, 9: 2.0, 10: 5.0}

# (label, centre LPS mm, semi-axes x/y/z mm, fill only inside label or None)
_SHAPES: tuple[tuple[int, tuple[float, float, float], tuple[float, float, float]], ...] = (
    (1, (0.0, 15.0, 20.0), (76.0, 96.0, 72.0)),
    (2, (0.0, 15.0, 20.0), (71.0, 91.0, 67.0)),
    (3, (0.0, 15.0, 22.0), (65.0, 85.0, 60.0)),
    (5, (0.0, 62.0, -22.0), (45.0, 24.0, 20.0)),
    (4, (-11.0, 12.0, 30.0), (6.0, 26.0, 11.0)),
    (4, (11.0, 12.0, 30.0), (6.0, 26.0, 11.0)),
    (7, (0.0, -14.0, -16.0), (14.0, 11.0, 10.0)),
    (6, (-32.0, -62.0, 2.0), (12.0, 12.0, 12.0)),
    (6, (32.0, -62.0, 2.0), (12.0, 12.0, 12.0)),
    (8, (-14.0, 2.0, -5.0), (3.0, 3.0, 16.0)),
    (8, (14.0, 2.0, -5.0), (3.0, 3.0, 16.0)),
    (9, (0.0, 0.0, 0.0), (6.0, 5.0, 4.0)),
    (10, REMNANT_CENTER_LPS, (REMNANT_RADIUS_MM,) * 3),
)


def label_at(points_lps: NDArray[np.float64]) -> NDArray[np.uint8]:
    """Anatomical label at LPS points ``(..., 3)`` of the MRI frame (later shapes win)."""
    labels = np.zeros(points_lps.shape[:-1], dtype=np.uint8)
    for label, centre, axes in _SHAPES:
        inside = np.sum(((points_lps - np.asarray(centre)) / np.asarray(axes)) ** 2, axis=-1) <= 1
        labels[inside] = label
    return labels


def label_volume(grid: Volume) -> NDArray[np.uint8]:
    """Labels at the voxel centres of an axis-aligned grid (separable ellipsoid test)."""
    if not np.allclose(grid.direction, np.eye(3)):
        raise ValueError("label_volume needs an axis-aligned grid")
    labels = np.zeros(grid.spatial_shape, dtype=np.uint8)
    coordinates = [
        grid.origin_mm[axis] + np.arange(n) * grid.spacing_mm[2 - axis]
        for axis, n in zip((2, 1, 0), grid.spatial_shape, strict=True)
    ]  # z, y, x coordinates along the array axes
    for label, centre, axes in _SHAPES:
        terms = [((coordinates[i] - centre[2 - i]) / axes[2 - i]) ** 2 for i in range(3)]
        keep = [np.nonzero(t <= 1)[0] for t in terms]
        if any(k.size == 0 for k in keep):
            continue
        box = tuple(slice(int(k[0]), int(k[-1]) + 1) for k in keep)
        tz, ty, tx = (t[b] for t, b in zip(terms, box, strict=True))
        inside = (tz[:, None, None] + ty[None, :, None] + tx[None, None, :]) <= 1
        labels[box][inside] = label
    return labels


def _grid(
    shape: tuple[int, int, int], voxel_mm: float, centre: tuple[float, float, float]
) -> Volume:
    nz, ny, nx = shape
    cx, cy, cz = centre
    origin = (
        cx - (nx - 1) * voxel_mm / 2,
        cy - (ny - 1) * voxel_mm / 2,
        cz - (nz - 1) * voxel_mm / 2,
    )
    return Volume(np.zeros(shape, np.float32), (voxel_mm,) * 3, origin)


def _points(grid: Volume, subsample: int = 1) -> NDArray[np.float64]:
    nz, ny, nx = grid.spatial_shape
    offsets = (np.arange(subsample) + 0.5) / subsample - 0.5
    axes = [np.add.outer(np.arange(n), offsets).ravel() for n in (nz, ny, nx)]
    zz, yy, xx = np.meshgrid(*axes, indexing="ij")
    return grid.index_to_lps(np.stack([zz, yy, xx], axis=-1))


@dataclass(frozen=True)
class PituitaryCase:
    """The sellar-region case in memory.

    Attributes
    ----------
    mri : Volume
        T1-like MRI (fixed image).
    mri_labels : Volume
        Anatomical labels (:data:`LABELS`) on the MRI grid.
    pet_suv : Volume
        Methionine PET in SUVbw on its own grid (moving image).
    truth_mri_to_pet : ndarray, shape (4, 4)
        Homogeneous matrix mapping MRI LPS points to PET LPS points.
    """

    mri: Volume
    mri_labels: Volume
    pet_suv: Volume
    truth_mri_to_pet: NDArray[np.float64]

    @property
    def expected_remnant_ratio(self) -> float:
        """Truth remnant-to-cerebellum SUV ratio before blurring."""
        return PET_SUV[10] / PET_SUV[5]


def true_transform() -> NDArray[np.float64]:
    """The known MRI-to-PET misalignment as a 4x4 homogeneous matrix (``q = R p + t``).

    ITK's Euler order: ``R = Rz @ Rx @ Ry`` for the angles
    :data:`TRUE_ANGLES_DEG` about x, y, z (right-handed, about the LPS origin),
    ``t`` = :data:`TRUE_TRANSLATION_MM`.

    Examples
    --------
    >>> matrix = true_transform()
    >>> bool(np.allclose(matrix[:3, :3] @ matrix[:3, :3].T, np.eye(3)))
    True
    """
    ax, ay, az = (math.radians(a) for a in TRUE_ANGLES_DEG)
    rx = np.array([[1, 0, 0], [0, math.cos(ax), -math.sin(ax)], [0, math.sin(ax), math.cos(ax)]])
    ry = np.array([[math.cos(ay), 0, math.sin(ay)], [0, 1, 0], [-math.sin(ay), 0, math.cos(ay)]])
    rz = np.array([[math.cos(az), -math.sin(az), 0], [math.sin(az), math.cos(az), 0], [0, 0, 1]])
    matrix = np.eye(4)
    matrix[:3, :3] = rz @ rx @ ry
    matrix[:3, 3] = TRUE_TRANSLATION_MM
    return matrix


def _apply_inverse(matrix: NDArray[np.float64], points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Map points ``(..., 3)`` through the inverse of a rigid homogeneous matrix."""
    rotation, translation = matrix[:3, :3], matrix[:3, 3]
    return np.asarray((points - translation) @ rotation)


def build_pituitary_case(seed: int = 20250311) -> PituitaryCase:
    """Build the MRI, its labels and the misaligned PET.

    Parameters
    ----------
    seed : int
        Seed of the noise generator.
    """
    rng = np.random.default_rng(seed)
    mri_grid = _grid(MRI_SHAPE_ZYX, MRI_VOXEL_MM, (0.0, 10.0, 10.0))
    labels = label_volume(mri_grid)
    intensity = np.zeros(256, np.float32)
    for label, value in MRI_INTENSITY.items():
        intensity[label] = value
    mri = intensity[labels]
    mri = ndimage.gaussian_filter(mri, 0.6)
    mri = np.abs(mri + rng.normal(0.0, MRI_NOISE_SD, mri.shape)).astype(np.float32)

    truth = true_transform()
    pet_grid = _grid(PET_SHAPE_ZYX, PET_VOXEL_MM, (3.0, 5.0, 10.0))
    subsample = 2
    pet_points = _points(pet_grid, subsample)
    anatomy_points = _apply_inverse(truth, pet_points)
    suv_table = np.zeros(256, np.float32)
    for label, value in PET_SUV.items():
        suv_table[label] = value
    # Sample the uptake of a 0.75 mm label grid (fine enough for 3 mm PET voxels
    # averaged over 2 x 2 x 2 sub-samples) at the moved positions.
    fine_grid = _grid(FINE_SHAPE_ZYX, FINE_VOXEL_MM, (0.0, 10.0, 10.0))
    uptake = suv_table[label_volume(fine_grid)]
    index = fine_grid.lps_to_index(anatomy_points).reshape(-1, 3).T
    fine = ndimage.map_coordinates(uptake, index, order=1, mode="constant", cval=0.0)
    nz, ny, nx = PET_SHAPE_ZYX
    pet = fine.reshape(nz, subsample, ny, subsample, nx, subsample).mean(axis=(1, 3, 5))
    sigma = PET_FWHM_MM / (2 * math.sqrt(2 * math.log(2))) / PET_VOXEL_MM
    pet = ndimage.gaussian_filter(pet, sigma, mode="constant")
    pet = np.clip(pet * (1 + PET_NOISE_FRACTION * rng.standard_normal(pet.shape)), 0, None)
    return PituitaryCase(
        mri=mri_grid.with_array(mri, unit="a.u."),
        mri_labels=mri_grid.with_array(labels, unit="label"),
        pet_suv=pet_grid.with_array(pet.astype(np.float32), unit="g/ml"),
        truth_mri_to_pet=truth,
    )


def write_pituitary_case(case: PituitaryCase, folder: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the MRI and PET as DICOM series, the labels as NIfTI and ``truth.json``.

    Returns
    -------
    dict of str to Path
        ``mri`` and ``pet`` series folders, ``labels`` NIfTI, ``truth`` JSON.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    scan = datetime.combine(PITUITARY_PATIENT.date_of("pet-methionine"), time(10, 20, 0))
    injection = scan - timedelta(minutes=20)
    study = {
        "patient_name": "TUMORBOARD^PITUITARY",
        "patient_id": PITUITARY_PATIENT.patient_id,
        "patient_sex": "F",
        "patient_weight_kg": WEIGHT_KG,
        "patient_size_m": HEIGHT_M,
        "study_date": scan.strftime("%Y%m%d"),
        "study_time": scan.strftime("%H%M%S"),
    }
    write_dicom_series(
        case.mri,
        folder / "mri",
        modality="MR",
        series_description="T1 MPRAGE post-contrast sella",
        series_number=501,
        study=dict(study, study_instance_uid="1.2.826.0.1.3680043.10.1234.501"),
        extra={"MRAcquisitionType": "3D", "EchoTime": 2.3, "RepetitionTime": 1900.0},
        seed="pituitary-mri",
        overwrite=True,
    )
    elapsed_s = (scan - injection).total_seconds()
    decayed = INJECTED_DOSE_BQ * math.exp(-math.log(2.0) * elapsed_s / HALF_LIFE_C11_S)
    scale_g_per_bq = WEIGHT_KG * 1000.0 / decayed
    item = Dataset()
    item.Radiopharmaceutical = "11C-methionine"
    item.RadiopharmaceuticalStartDateTime = injection.strftime("%Y%m%d%H%M%S.%f")
    item.RadionuclideTotalDose = f"{INJECTED_DOSE_BQ:.6g}"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = (
        "40565003",
        "SCT",
        "^11^Carbon",
    )
    item.RadionuclideCodeSequence = [code]  # no RadionuclideHalfLife: taken from the code
    activity = case.pet_suv.array.astype(np.float64) / scale_g_per_bq
    write_dicom_series(
        case.pet_suv.with_array(activity),
        folder / "pet",
        modality="PT",
        series_description="C11 methionine brain",
        series_number=502,
        study=dict(study, study_instance_uid="1.2.826.0.1.3680043.10.1234.502"),
        dtype="int16",
        rescale="auto_per_slice",
        extra={
            "Units": "BQML",
            "DecayCorrection": "START",
            "CorrectedImage": ["NORM", "ATTN", "SCAT", "DECY", "RAN"],
            "SeriesDate": scan.strftime("%Y%m%d"),
            "SeriesTime": scan.strftime("%H%M%S"),
            "AcquisitionDate": scan.strftime("%Y%m%d"),
            "AcquisitionTime": scan.strftime("%H%M%S"),
            "ActualFrameDuration": "600000",
            "RadiopharmaceuticalInformationSequence": [item],
        },
        seed="pituitary-pet",
        overwrite=True,
    )
    write_nifti(case.mri_labels, folder / "mri_labels.nii.gz")
    truth = {
        "labels": LABELS,
        "mri_to_pet_matrix": case.truth_mri_to_pet.tolist(),
        "angles_deg": list(TRUE_ANGLES_DEG),
        "translation_mm": list(TRUE_TRANSLATION_MM),
        "remnant_center_lps_mm": list(REMNANT_CENTER_LPS),
        "remnant_radius_mm": REMNANT_RADIUS_MM,
        "pet_suv": PET_SUV,
        "suvbw_scale_g_per_bq": scale_g_per_bq,
    }
    with open(folder / "truth.json", "w", encoding="utf-8") as handle:
        json.dump(truth, handle, indent=2)
        handle.write("\n")
    return {
        "mri": folder / "mri",
        "pet": folder / "pet",
        "labels": folder / "mri_labels.nii.gz",
        "truth": folder / "truth.json",
    }


def write_into_reference_patient(root: Path) -> None:
    """Builder hook for the cached reference patient: writes ``root/pituitary``."""
    write_pituitary_case(build_pituitary_case(), Path(root) / "pituitary")


__all__ = [
    "LABELS",
    "PituitaryCase",
    "build_pituitary_case",
    "label_at",
    "true_transform",
    "write_into_reference_patient",
    "write_pituitary_case",
]
