"""WB-DWI exams with known truth, written as DICOM for ``tumorboard run`` tests.

One cuboid lesion in a dark background, mono-exponential signal
S(b) = S0 exp(-b ADC) at b = 50 and 900 s/mm^2, no noise. Truth comes from
the generating parameters only:

* tumour volume = lesion voxels x voxel volume (5 x 2 x 2 mm = 0.02 ml);
* the lesion is bright on the computed b = 1000 image (S0 1000 -> 449) and
  the background is not (S0 100, ADC 3000 -> 5.0), against the default
  threshold of 100;
* the median tumour ADC is the lesion's ADC (it varies by +/-4.5 % across
  the lesion's columns, symmetrically about that value).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.diffusion_dicom import diffusion_b_value_elements
from tumorboard.imaging.volume import Volume

SHAPE = (12, 24, 24)
SPACING_MM = (5.0, 2.0, 2.0)
VOXEL_ML = 5.0 * 2.0 * 2.0 / 1000.0
B_VALUES = (50.0, 900.0)

#: Each exam: date, lesion slices (z0, z1) x rows x columns, lesion ADC (um^2/s).
EXAMS = {
    "baseline": ("20240108", (2, 8), (6, 16), (6, 16), 800.0),  # 6 x 10 x 10 = 600 voxels
    "week12": ("20240401", (2, 5), (6, 16), (6, 16), 1200.0),  # 3 x 10 x 10 = 300 voxels
    "week24": ("20240701", (2, 8), (6, 16), (6, 16), 700.0),  # 600 voxels
}


def lesion_voxels(exam: str) -> int:
    """Voxels of the lesion (from the generating box)."""
    _, (z0, z1), (y0, y1), (x0, x1), _ = EXAMS[exam]
    return (z1 - z0) * (y1 - y0) * (x1 - x0)


def _number(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


#: A bright normal structure (kidney-like: S0 1000, ADC 1000 um^2/s), when asked for.
NORMAL_BOX = ((2, 6), (18, 22), (18, 22))  # 4 x 4 x 4 = 64 voxels


def write_exam(
    root: Path, exam: str, patient_id: str = "DWI-001", *, normal_structure: bool = False
) -> Path:
    """Write one exam's two b-value series under ``root/exam``."""
    date, (z0, z1), (y0, y1), (x0, x1), adc = EXAMS[exam]
    s0 = np.full(SHAPE, 100.0)
    adc_mm2 = np.full(SHAPE, 3000e-6)
    if normal_structure:
        (a0, a1), (b0, b1), (c0, c1) = NORMAL_BOX
        s0[a0:a1, b0:b1, c0:c1] = 1000.0
        adc_mm2[a0:a1, b0:b1, c0:c1] = 1000e-6 * (1.0 + 0.01 * (np.arange(c1 - c0) - 1.5))
    s0[z0:z1, y0:y1, x0:x1] = 1000.0
    # +/-4.5 % across the columns, symmetric about the lesion ADC (the median)
    steps = np.arange(x1 - x0) - (x1 - x0 - 1) / 2.0
    adc_mm2[z0:z1, y0:y1, x0:x1] = adc * 1e-6 * (1.0 + 0.01 * steps)
    study = {
        "patient_name": "Test^Dwi",
        "patient_id": patient_id,
        "patient_birth_date": "19600101",
        "patient_sex": "F",
        "study_date": date,
        "study_time": "090000",
        "series_date": date,
        "study_instance_uid": f"1.2.826.0.1.99.7.{date}.{_number(patient_id)}",
        "study_description": "WB-DWI",
    }
    for number, b_value in enumerate(B_VALUES, start=1):
        signal = (s0 * np.exp(-b_value * adc_mm2)).astype(np.float32)
        volume = Volume(array=signal, spacing_mm=SPACING_MM, origin_mm=(0.0, 0.0, 0.0))
        write_dicom_series(
            volume,
            root / exam / f"b{b_value:g}",
            modality="MR",
            series_description=f"WB DWI b{b_value:g}",
            series_number=number,
            study=study,
            extra=diffusion_b_value_elements(b_value, "standard"),
            seed=f"{patient_id}-{exam}",
        )
    return root / exam


def write_exclusion_seg(exam_folder: Path, target: Path) -> Path:
    """A DICOM SEG of the normal structure, drawn on the exam's b = 50 series."""
    from tumorboard.imaging.label_maps import write_dicom_seg

    labels = np.zeros(SHAPE, dtype=np.uint8)
    (a0, a1), (b0, b1), (c0, c1) = NORMAL_BOX
    labels[a0:a1, b0:b1, c0:c1] = 1
    grid = Volume(array=labels, spacing_mm=SPACING_MM, origin_mm=(0.0, 0.0, 0.0))
    sources = sorted((exam_folder / "b50").iterdir())
    target.mkdir(parents=True, exist_ok=True)
    return write_dicom_seg(
        grid,
        sources,
        target / "exclusion.dcm",
        {1: "kidney"},
        series_description="tumorboard exclusion: normal bright structures",
    )
