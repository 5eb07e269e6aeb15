"""An equivalent of the QIBA FDG-PET/CT DRO, built from its facts, inside the acceptance bounds.

The object is built from ``shared/reference/pet/qiba_dro`` (header values and
the user guide's geometry facts) and written with the project's own DICOM
writer; the SUV pipeline then reads it back and the six report-form ROIs are
measured. What the facts do not fix is chosen here and said so:

* sphere and pattern positions (anywhere, as long as the ROIs can be placed);
* the smallest sphere (10 mm, as in the NEMA IEC body phantom) has a cold
  wall (NEMA spheres have one; the DRO's darkest rim voxel of ROI 1 is 0.64).
  Its thickness, :data:`SMALL_SPHERE_WALL_MM`, is set so that the rim voxel is
  0.64: ROI 1's minimum is therefore matched by construction, not tested;
  ROI 1's max, mean and SD, and all other ROIs, are genuine checks.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset

from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.volume import Volume
from tumorboard.pet.series_io import read_pet_series

SHAPE = (110, 256, 256)
SPACING_MM = (2.0, 1.953125, 1.953125)
SLICE_40 = 39  # file 000040, zero-based index
HOT_VOXEL = (SLICE_40, 128, 76)
COLD_VOXEL = (SLICE_40, 128, 180)
HOT_STORED, COLD_STORED = 32767, -877
ROI_RADIUS_MM = 12.5
SMALL_SPHERE_RADIUS_MM = 5.0
SMALL_SPHERE_WALL_MM = 0.84
LARGE_SPHERE_RADIUS_MM = 18.5
CHECKER_MM = 40.0
#: Sub-samples per voxel axis for partial-volume rendering of the small sphere.
SUBSAMPLES = 12


def _facts(reference_dir: Path) -> dict[str, str]:
    path = reference_dir / "pet" / "qiba_dro" / "qiba_dro_header_facts.csv"
    with open(path, encoding="utf-8") as handle:
        return {
            r["attribute"]: r["value"]
            for r in csv.DictReader(handle)
            if r["dro"] == "female_20130529"
        }


def _bounds(reference_dir: Path) -> list[dict[str, str]]:
    path = reference_dir / "pet" / "qiba_dro" / "qiba_dro_acceptance_bounds.csv"
    with open(path, encoding="utf-8") as handle:
        return [
            r
            for r in csv.DictReader(handle)
            if r["dro"] == "female_20130529" and r["reported_decimals"] == "2+"
        ]


def _centres(axis_len: int, spacing: float) -> np.ndarray:
    return (np.arange(axis_len) + 0.5) * spacing  # voxel centres, origin at the volume corner


def _build_suv() -> tuple[np.ndarray, dict[int, tuple[float, float, float]]]:
    """Design SUV image and the ROI centres (mm from the corner, z/y/x)."""
    nz, ny, nx = SHAPE
    dz, dy, dx = SPACING_MM
    z, y, x = _centres(nz, dz), _centres(ny, dy), _centres(nx, dx)
    suv = np.ones(SHAPE)
    z40 = z[SLICE_40]
    # Largest sphere (37 mm) on slice 40, upper left.
    large = (z40, y[64], x[64])
    inside = (
        (z[:, None, None] - large[0]) ** 2
        + (y[None, :, None] - large[1]) ** 2
        + (x[None, None, :] - large[2]) ** 2
    ) <= LARGE_SPHERE_RADIUS_MM**2
    suv[inside] = 4.0
    # Smallest sphere (10 mm, cold wall) on slice 40, upper right, partial-volume rendered.
    small = (z40, y[64], x[192])
    offsets = (np.arange(SUBSAMPLES) + 0.5) / SUBSAMPLES - 0.5
    reach = 6
    for k in range(SLICE_40 - 5, SLICE_40 + 6):
        for j in range(64 - reach, 64 + reach + 1):
            for i in range(192 - reach, 192 + reach + 1):
                pz = z[k] + offsets[:, None, None] * dz
                py = y[j] + offsets[None, :, None] * dy
                px = x[i] + offsets[None, None, :] * dx
                r = np.sqrt((pz - small[0]) ** 2 + (py - small[1]) ** 2 + (px - small[2]) ** 2)
                value = np.where(
                    r <= SMALL_SPHERE_RADIUS_MM,
                    4.0,
                    np.where(r <= SMALL_SPHERE_RADIUS_MM + SMALL_SPHERE_WALL_MM, 0.0, 1.0),
                )
                suv[k, j, i] = value.mean()
    # 2D checkerboard (slices 30-49) around a corner at a voxel edge, lower left.
    corner_2d = (z40, 200 * dy, 100 * dx)
    yy = np.floor((y - corner_2d[1]) / CHECKER_MM).astype(int)
    xx = np.floor((x - corner_2d[2]) / CHECKER_MM).astype(int)
    band_y = np.abs(y - corner_2d[1]) < CHECKER_MM
    band_x = np.abs(x - corner_2d[2]) < CHECKER_MM
    pattern_2d = np.where((yy[:, None] + xx[None, :]) % 2 == 0, 0.9, 0.1)
    region = band_y[:, None] & band_x[None, :]
    for k in range(30, 50):
        suv[k][region] = pattern_2d[region]
    # 3D checkerboard around a voxel corner (slices 70-89), lower right.
    corner_3d = (80 * dz, 200 * dy, 190 * dx)
    zz = np.floor((z - corner_3d[0]) / CHECKER_MM).astype(int)
    yy = np.floor((y - corner_3d[1]) / CHECKER_MM).astype(int)
    xx = np.floor((x - corner_3d[2]) / CHECKER_MM).astype(int)
    band = (
        (np.abs(z - corner_3d[0]) < CHECKER_MM)[:, None, None]
        & (np.abs(y - corner_3d[1]) < CHECKER_MM)[None, :, None]
        & (np.abs(x - corner_3d[2]) < CHECKER_MM)[None, None, :]
    )
    pattern_3d = np.where(
        (zz[:, None, None] + yy[None, :, None] + xx[None, None, :]) % 2 == 0, 0.9, 0.1
    )
    suv[band] = pattern_3d[band]
    centres = {
        1: small,
        2: large,
        3: (z40, y[HOT_VOXEL[1]], x[HOT_VOXEL[2]]),
        4: (z40, y[COLD_VOXEL[1]], x[COLD_VOXEL[2]]),
        5: corner_2d,
        6: corner_3d,
    }
    return suv, centres


@pytest.fixture(scope="module")
def qiba_suv(
    tmp_path_factory: pytest.TempPathFactory, reference_dir: Path
) -> tuple[np.ndarray, dict[int, tuple[float, float, float]], float]:
    facts = _facts(reference_dir)
    slope = float(facts["RescaleSlope_slice40"])
    factor = float(facts["SUVbw factor (g/Bq)"])
    design, centres = _build_suv()
    stored = np.rint(design / (factor * slope))
    stored[HOT_VOXEL] = HOT_STORED
    stored[COLD_VOXEL] = COLD_STORED
    volume = Volume(
        stored * slope, SPACING_MM, (SPACING_MM[2] / 2, SPACING_MM[1] / 2, SPACING_MM[0] / 2)
    )
    item = Dataset()
    item.RadiopharmaceuticalStartTime = facts["RadiopharmaceuticalStartTime"].split()[0]
    item.RadionuclideTotalDose = facts["RadionuclideTotalDose_Bq"]
    item.RadionuclideHalfLife = facts["RadionuclideHalfLife_s"]
    series_date, series_time = (v.strip() for v in facts["SeriesDate/SeriesTime"].split("/"))
    folder = tmp_path_factory.mktemp("qiba_dro")
    write_dicom_series(
        volume,
        folder,
        modality="PT",
        series_description="QIBA DRO equivalent",
        series_number=1,
        dtype="int16",
        rescale=(slope, 0.0),
        study={
            "patient_sex": facts["PatientSex"],
            "patient_weight_kg": float(facts["PatientWeight_kg"]),
            "patient_size_m": float(facts["PatientSize_m"]),
        },
        extra={
            "Units": facts["Units"],
            "DecayCorrection": facts["DecayCorrection"],
            "CorrectedImage": ["DECY", "ATTN", "SCAT", "DTIM", "NORM"],
            "SeriesDate": series_date,
            "SeriesTime": series_time,
            "AcquisitionDate": series_date,
            "AcquisitionTime": facts["AcquisitionTime"],
            "RadiopharmaceuticalInformationSequence": [item],
        },
    )
    series = read_pet_series(folder)
    scale = series.conversion.suvbw_scale_g_per_bq
    assert scale is not None
    return np.asarray(series.suvbw.array, dtype=np.float64), centres, scale


def _roi_values(suv: np.ndarray, roi: int, centre: tuple[float, float, float]) -> np.ndarray:
    nz, ny, nx = SHAPE
    dz, dy, dx = SPACING_MM
    z, y, x = _centres(nz, dz), _centres(ny, dy), _centres(nx, dx)
    if roi == 6:
        inside = (
            (z[:, None, None] - centre[0]) ** 2
            + (y[None, :, None] - centre[1]) ** 2
            + (x[None, None, :] - centre[2]) ** 2
        ) <= ROI_RADIUS_MM**2
        return suv[inside]
    k = int(np.argmin(np.abs(z - centre[0])))
    inside_2d = (y[:, None] - centre[1]) ** 2 + (x[None, :] - centre[2]) ** 2 <= ROI_RADIUS_MM**2
    return suv[k][inside_2d]


def test_scale_factor_matches_dro_facts(
    qiba_suv: tuple[np.ndarray, dict, float], reference_dir: Path
) -> None:
    expected = float(_facts(reference_dir)["SUVbw factor (g/Bq)"])
    assert qiba_suv[2] == pytest.approx(expected, rel=1e-9)


def test_test_voxels(qiba_suv: tuple[np.ndarray, dict, float]) -> None:
    suv = qiba_suv[0]
    assert round(suv[HOT_VOXEL], 2) == 4.11
    assert round(suv[COLD_VOXEL], 2) == -0.11


def test_all_rois_inside_acceptance_bounds(
    qiba_suv: tuple[np.ndarray, dict, float], reference_dir: Path
) -> None:
    suv, centres, _ = qiba_suv
    bounds = _bounds(reference_dir)
    assert len(bounds) == 6
    for row in bounds:
        roi = int(row["roi"])
        values = _roi_values(suv, roi, centres[roi])
        measured = {
            "max": values.max(),
            "min": values.min(),
            "mean": values.mean(),
            "sd": values.std(ddof=1),
        }
        for name, value in measured.items():
            low, high = float(row[f"{name}_lo"]), float(row[f"{name}_hi"])
            assert low <= round(value, 3) <= high, (roi, name, value, low, high)
