"""A small multi-series study written with the project's DICOM writer, for import tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.diffusion_dicom import diffusion_b_value_elements
from tumorboard.imaging.volume import Volume

PATIENT_NAME = "Hostile^Name=HYPERLINK"
BIRTH_DATE = "19640312"

#: Series of the study: (folder, kind expected, number of files).
EXPECTED_SERIES = {
    "dwi_b50": ("wbdwi", 4),
    "dwi_b900": ("wbdwi", 4),
    "localiser": ("localiser", 4),
    "pet": ("pet", 4),
    "ct": ("ct", 4),
    "dce": ("dce", 12),
}


def _volume(slices: int = 4) -> Volume:
    array = np.arange(slices * 8 * 8, dtype=np.float32).reshape(slices, 8, 8) % 100 + 10
    return Volume(array=array, spacing_mm=(5.0, 2.0, 2.0), origin_mm=(0.0, 0.0, 0.0))


def study_attributes(patient_id: str = "NET-001", study_uid: str = "1.2.826.0.1.99.1") -> dict:
    """Patient and study attributes shared by every series of the study."""
    return {
        "patient_name": PATIENT_NAME,
        "patient_id": patient_id,
        "patient_birth_date": BIRTH_DATE,
        "patient_sex": "F",
        "study_date": "20240108",
        "study_instance_uid": study_uid,
        "study_description": "restaging",
    }


def write_study(root: Path, study: dict | None = None, seed: str = "a") -> Path:
    """Write the study's six series under ``root`` (one folder per series)."""
    study = study or study_attributes()
    volume = _volume()
    for number, b_value in ((1, 50.0), (2, 900.0)):
        write_dicom_series(
            volume,
            root / f"dwi_b{b_value:g}",
            modality="MR",
            series_description=f"WB DWI b{b_value:g}",
            series_number=number,
            study=study,
            extra=diffusion_b_value_elements(b_value, "standard"),
            seed=seed,
        )
    write_dicom_series(
        volume,
        root / "localiser",
        modality="MR",
        series_description="3-plane loc",
        series_number=3,
        study=study,
        extra={"ImageType": ["ORIGINAL", "PRIMARY", "LOCALIZER"]},
        seed=seed,
    )
    tracer = Dataset()
    tracer.Radiopharmaceutical = "Ga68-DOTATATE"
    write_dicom_series(
        volume,
        root / "pet",
        modality="PT",
        series_description="PET AC",
        series_number=4,
        study=study,
        extra={"RadiopharmaceuticalInformationSequence": [tracer], "Units": "BQML"},
        seed=seed,
    )
    write_dicom_series(
        volume,
        root / "ct",
        modality="CT",
        series_description="CT",
        series_number=5,
        study=study,
        dtype="int16",
        seed=seed,
    )
    dynamic = Volume(
        array=np.concatenate([_volume(4).array] * 3),
        spacing_mm=(5.0, 2.0, 2.0),
        origin_mm=(0.0, 0.0, 0.0),
    )
    write_dicom_series(
        dynamic,
        root / "dce",
        modality="MR",
        series_description="DCE liver",
        series_number=6,
        study=study,
        per_slice=lambda k: {
            "TemporalPositionIdentifier": k // 4 + 1,
            "ImagePositionPatient": [0.0, 0.0, 5.0 * (k % 4)],
        },
        extra={"NumberOfTemporalPositions": 3},
        seed=seed,
    )
    return root
