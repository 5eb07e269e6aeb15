"""``tumorboard measure --sr``: an invalid birth date, ``--deidentify``, and ``--sr`` = ``--out``.

Issue 15, items 5 and 11. The PET series carries a birth date written
``1964-03-12`` (not a valid DICOM DA), a patient name, id and accession number.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from tumorboard.cli.main import main
from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.nifti import write_nifti
from tumorboard.imaging.volume import Volume

IDENTIFIERS = ("778899", "DOE", "JANE", "1964", "ACC55501", "20240108", "8-Jan-2024")


@pytest.fixture
def pet_case(tmp_path: Path) -> tuple[Path, Path]:
    z, y, x = np.indices((12, 32, 32), dtype=float)
    lesion = (x - 16) ** 2 + (y - 16) ** 2 + ((z - 6) * 2) ** 2 <= 49
    activity = np.where(lesion, 40000.0, 5000.0).astype(np.float32)  # Bq/ml
    spacing = (2.0, 2.0, 2.0)
    drug = Dataset()
    drug.RadiopharmaceuticalStartTime = "080000"
    drug.RadionuclideTotalDose = "200000000"
    drug.RadionuclideHalfLife = "6586.2"
    with warnings.catch_warnings():  # pydicom warns about the invalid DA it is asked to write
        warnings.simplefilter("ignore")
        write_dicom_series(
            Volume(activity, spacing, unit="BQML"),
            tmp_path / "pet",
            modality="PT",
            series_description="pet MRN-778899",
            series_number=1,
            dtype="int16",
            study={
                "PatientID": "MRN-778899",
                "PatientName": "DOE^JANE",
                "PatientBirthDate": "1964-03-12",
                "AccessionNumber": "ACC55501",
                "StudyDate": "20240108",
                "StudyTime": "090000",
            },
            extra={
                "Units": "BQML",
                "DecayCorrection": "START",
                "CorrectedImage": ["ATTN", "DECY"],
                "SeriesDate": "20240108",
                "SeriesTime": "090000",
                "AcquisitionTime": "090000",
                "PatientWeight": "70",
                "PatientSex": "F",
                "PatientSize": "1.7",
                "RadiopharmaceuticalInformationSequence": [drug],
            },
        )
    labels = write_nifti(
        Volume(lesion.astype(np.uint8), spacing, unit="label"), tmp_path / "labels.nii.gz"
    )
    return tmp_path / "pet", labels


def measure(pet_case: tuple[Path, Path], out: Path, sr: Path, *extra: str) -> int:
    image, labels = pet_case
    args = ["measure", "--image", str(image), "--labels", str(labels), "--modality", "pet"]
    return main([*args, "--sr", str(sr), "--out", str(out), *extra])


def tracking_uids(dataset: Dataset) -> list[str]:
    found = []
    for item in getattr(dataset, "ContentSequence", []):
        if item.ValueType == "UIDREF" and item.ConceptNameCodeSequence[0].CodeValue == "112040":
            found.append(str(item.UID))
        found.extend(tracking_uids(item))
    return found


def numbers(dataset: Dataset) -> dict[str, float]:
    found = {}
    for item in getattr(dataset, "ContentSequence", []):
        if item.ValueType == "NUM":
            code = item.ConceptNameCodeSequence[0].CodeValue
            found[code] = float(item.MeasuredValueSequence[0].NumericValue)
        found.update(numbers(item))
    return found


def test_invalid_birth_date_is_left_out_not_printed(
    tmp_path: Path, pet_case: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out, sr = tmp_path / "m.csv", tmp_path / "sr.dcm"
    assert measure(pet_case, out, sr) == 0
    captured = capsys.readouterr()
    assert "1964" not in captured.err + captured.out and "JANE" not in captured.err
    report = pydicom.dcmread(sr)
    assert report.PatientID == "MRN-778899"  # not de-identified unless asked
    assert report["PatientBirthDate"].is_empty
    with open(out, encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    # the SR carries the PET reading (SULpeak, "Standardized Uptake Value" 126400)
    assert numbers(report)["126400"] == pytest.approx(float(row["sul_peak"]), abs=0.006)


def test_invalid_birth_date_in_a_size_reading(
    tmp_path: Path, pet_case: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The SR path that copied the header verbatim (diameters present) died with a traceback."""
    image, labels = pet_case
    sr, out = tmp_path / "sr.dcm", tmp_path / "m.csv"
    args = ["measure", "--image", str(image), "--labels", str(labels), "--modality", "ct"]
    assert main([*args, "--sr", str(sr), "--out", str(out)]) == 0
    assert "1964" not in capsys.readouterr().err
    report = pydicom.dcmread(sr)
    assert report["PatientBirthDate"].is_empty and report.PatientName == "DOE^JANE"
    with open(out, encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    long_axis = numbers(report)["103339001"]  # SCT "Long axis"
    assert long_axis == pytest.approx(float(row["longest_diameter_mm"]), abs=0.06)


def test_deidentified_sr_leaves_no_identifier(
    tmp_path: Path, pet_case: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from tumorboard.report.dicom_sr import tracking_uid

    reports = []
    for index, salt in enumerate(("s", "s", "other")):
        sr = tmp_path / f"sr{index}.dcm"
        extra = ("--deidentify", "--salt", salt, "--timepoint", "baseline 8-Jan-2024")
        assert measure(pet_case, tmp_path / f"m{index}.csv", sr, *extra) == 0
        raw = sr.read_bytes()
        report = pydicom.dcmread(sr)
        values = _values_outside_uids(report)
        for identifier in IDENTIFIERS:
            if identifier.isdigit():  # digits turn up by chance inside the random UIDs
                assert identifier not in values, identifier
            else:
                assert identifier.encode() not in raw, identifier
        reports.append(report)
    assert "1964" not in capsys.readouterr().err
    first = reports[0]
    assert first.PatientIdentityRemoved == "YES"
    assert [c.CodeValue for c in first.DeidentificationMethodCodeSequence] == ["113100"]
    assert first.PatientID.startswith("SUBJ-") and first.PatientID == reports[1].PatientID
    assert reports[2].PatientID != first.PatientID
    uids = [tracking_uids(report) for report in reports]
    assert uids[0] == uids[1] and uids[0] != uids[2] and len(uids[0]) == 1
    assert tracking_uid("MRN-778899", "L1") not in uids[0]
    source = pydicom.dcmread(next(pet_case[0].iterdir()), stop_before_pixels=True)
    assert first.StudyInstanceUID != source.StudyInstanceUID
    assert "baseline [date]" in str(first)


def test_sr_and_out_on_one_path_are_refused(
    tmp_path: Path, pet_case: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    same = tmp_path / "both.dcm"
    assert measure(pet_case, same, same) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "--sr" in error and "--out" in error
    assert not same.exists()
    spelled = tmp_path / "x" / ".." / "both.dcm"
    assert measure(pet_case, same, spelled) == 1
    assert not same.exists()


def test_deidentify_needs_sr(
    tmp_path: Path, pet_case: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    image, labels = pet_case
    args = ["measure", "--image", str(image), "--labels", str(labels), "--modality", "pet"]
    out = tmp_path / "m.csv"
    assert main([*args, "--deidentify", "--out", str(out)]) == 1
    assert "--sr" in capsys.readouterr().err and not out.exists()


def _values_outside_uids(dataset: Dataset) -> str:
    """Every value of the file (meta group, nested items, private and unknown elements
    as their bytes) except UIDs, which are random digits, as one text."""
    elements = [*dataset.file_meta.iterall(), *dataset.iterall()]
    return "\n".join(str(element.value) for element in elements if element.VR != "UI")
