"""``tumorboard measure`` guesses nothing and writes no absurd number (issues 9 and 15).

Truth comes from the generating parameters: the PET activity is built from a
literal SUV (25) with the header's dose, weight and decay, and SUL from the
Janmahasatian formula written out here.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset

from tumorboard.cli.main import main
from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.nifti import write_nifti
from tumorboard.imaging.volume import Volume

SPACING = (2.0, 1.0, 1.0)
IDENTITY = ["--date", "2024-01-08", "--patient-id", "P1"]

# the synthetic PET series: 70 kg, 1.75 m man, 370 MBq F-18 at 10:00, scan at 11:00
WEIGHT_KG = 70.0
HEIGHT_M = 1.75
DOSE_BQ = 370e6
HALF_LIFE_S = 6586.2
DELAY_S = 3600.0
LESION_SUV = 25.0
BACKGROUND_SUV = 1.0
PET_SPACING = (4.0, 4.0, 4.0)


def _suv_per_bq_ml() -> float:
    decayed = DOSE_BQ * 2.0 ** (-DELAY_S / HALF_LIFE_S)
    return WEIGHT_KG * 1000.0 / decayed


def _janmahasatian_ratio() -> float:
    bmi = WEIGHT_KG / HEIGHT_M**2
    lbm = 9270.0 * WEIGHT_KG / (6680.0 + 216.0 * bmi)
    return lbm / WEIGHT_KG


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _labels_case(tmp_path: Path, n_lesions: int, image_value: float = 50.0) -> tuple[Path, Path]:
    labels = np.zeros((10, 40, 80), np.uint16)
    for index in range(n_lesions):
        labels[3:7, 5:20, 2 + 12 * index : 14 + 12 * index] = index + 1
    image = np.where(labels > 0, image_value, 0.0).astype(np.float32)
    image_path = write_nifti(Volume(image, SPACING, unit="HU"), tmp_path / "ct.nii.gz")
    label_path = write_nifti(Volume(labels, SPACING, unit="label"), tmp_path / "lab.nii.gz")
    return image_path, label_path


def pet_series(folder: Path) -> tuple[Path, Volume]:
    """A 12 x 16 x 16 PET DICOM series (Bq/ml) with one 5-voxel cube of SUV 25."""
    labels = np.zeros((12, 16, 16), np.uint8)
    labels[4:9, 5:10, 6:11] = 1
    suv = np.where(labels == 1, LESION_SUV, BACKGROUND_SUV)
    activity = suv / _suv_per_bq_ml()
    item = Dataset()
    item.RadionuclideTotalDose = str(int(DOSE_BQ))
    item.RadionuclideHalfLife = str(HALF_LIFE_S)
    item.RadiopharmaceuticalStartDateTime = "20250101100000"
    study: dict[str, Any] = {
        "patient_sex": "M",
        "patient_size_m": HEIGHT_M,
        "patient_weight_kg": WEIGHT_KG,
        "PatientID": "SYNTH-PET",
        "StudyDate": "20250101",
    }
    write_dicom_series(
        Volume(activity, PET_SPACING),
        folder,
        modality="PT",
        series_description="small PET",
        series_number=3,
        study=study,
        rescale="auto_per_slice",
        extra={
            "Units": "BQML",
            "DecayCorrection": "START",
            "CorrectedImage": ["NORM", "ATTN", "DECY"],
            "SeriesDate": "20250101",
            "SeriesTime": "110000",
            "AcquisitionDate": "20250101",
            "AcquisitionTime": "110000",
            "RadiopharmaceuticalInformationSequence": [item],
        },
    )
    return folder, Volume(labels, PET_SPACING, unit="label")


def test_nifti_without_date_or_patient_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Was: today's date and patient id 'patient' stamped silently."""
    image, labels = _labels_case(tmp_path, 2)
    out = tmp_path / "m.csv"
    base = ["measure", "--image", str(image), "--labels", str(labels), "--out", str(out)]
    assert main([*base, "--patient-id", "P1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--date is required" in err
    assert main([*base, "--date", "2024-01-08"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--patient-id is required" in err
    assert not out.exists()


def test_dicom_gives_date_and_patient(tmp_path: Path) -> None:
    image, labels = _labels_case(tmp_path, 2)
    from tumorboard.imaging.nifti import read_nifti

    folder = tmp_path / "ct"
    write_dicom_series(
        read_nifti(image),
        folder,
        modality="CT",
        series_description="ct",
        series_number=1,
        dtype="int16",
        rescale=(1.0, 0.0),
        study={"PatientID": "SYNTH-7", "StudyDate": "20230305"},
    )
    out = tmp_path / "m.csv"
    assert (
        main(["measure", "--image", str(folder), "--labels", str(labels), "--out", str(out)]) == 0
    )
    rows = read_rows(out)
    assert {r["date"] for r in rows} == {"2023-03-05"}
    assert {r["patient_id"] for r in rows} == {"SYNTH-7"}


def test_default_output_passes_assess(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Six measurable lesions in one organ: at most 2 targets (was: 6 targets, assess refused)."""
    image, labels = _labels_case(tmp_path, 6)
    out = tmp_path / "m.csv"
    argv = ["measure", "--image", str(image), "--labels", str(labels), *IDENTITY]
    organs = "1=liver,2=liver,3=liver,4=lung,5=lung,6=bone"
    assert main([*argv, "--organs", organs, "--out", str(out)]) == 0
    note = capsys.readouterr().err
    assert "no --role given" in note and note.count("\n") == 1
    roles = {r["lesion_id"]: r["role"] for r in read_rows(out)}
    targets = sorted(k for k, v in roles.items() if v == "target")
    # equal sizes: 2 liver (first two), 2 lung, 1 bone = 5 targets, the third liver lesion not
    assert len(targets) == 5 and roles["L3"] == "non-target" and roles["L6"] == "target"
    assessed = tmp_path / "assessed"
    assert main(["assess", str(out), "--criteria", "recist1.1", "--out", str(assessed)]) == 0
    # one organ only: two targets, four non-targets
    plain = tmp_path / "plain.csv"
    assert main([*argv, "--out", str(plain)]) == 0
    assert [r["role"] for r in read_rows(plain)].count("target") == 2
    assessed = tmp_path / "assessed_plain"
    assert main(["assess", str(plain), "--criteria", "recist1.1", "--out", str(assessed)]) == 0


def test_small_lesions_are_not_chosen_as_targets(tmp_path: Path) -> None:
    """A 9 mm lesion is not measurable (RECIST 1.1: 10 mm): non-target by default."""
    labels = np.zeros((10, 40, 40), np.uint16)
    labels[3:7, 5:15, 5:14] = 1  # 9 voxels of 1 mm wide: longest diameter ~ 13 mm diagonal
    labels[3:7, 25:28, 25:34] = 2  # 9 x 3 mm: longest ~ 9.5 mm
    image = np.where(labels > 0, 40.0, 0.0).astype(np.float32)
    image_path = write_nifti(Volume(image, SPACING), tmp_path / "ct.nii.gz")
    label_path = write_nifti(Volume(labels, SPACING), tmp_path / "lab.nii.gz")
    out = tmp_path / "m.csv"
    argv = ["measure", "--image", str(image_path), "--labels", str(label_path), *IDENTITY]
    assert main([*argv, "--out", str(out)]) == 0
    rows = {r["lesion_id"]: r for r in read_rows(out)}
    assert (
        float(rows["L2"]["longest_diameter_mm"]) < 10.0 <= float(rows["L1"]["longest_diameter_mm"])
    )
    assert rows["L1"]["role"] == "target" and rows["L2"]["role"] == "non-target"


def test_roles_per_label(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image, labels = _labels_case(tmp_path, 3)
    out = tmp_path / "m.csv"
    argv = ["measure", "--image", str(image), "--labels", str(labels), *IDENTITY, "--out", str(out)]
    assert main([*argv, "--role", "1=target,2=non-target,3=non-target"]) == 0
    assert [r["role"] for r in read_rows(out)] == ["target", "non-target", "non-target"]
    assert main([*argv, "--force", "--role", "non-target"]) == 0
    assert {r["role"] for r in read_rows(out)} == {"non-target"}
    capsys.readouterr()
    for roles, message in (
        ("1=target,2=non-target", "label 3 has no role"),
        ("1=target,2=non-target,3=target,4=target", "label 4 is not in the label map"),
        ("1=tumour,2=target,3=target", "expected LABEL=ROLE"),
    ):
        assert main([*argv, "--force", "--role", roles]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err


@pytest.mark.parametrize(
    ("value", "what"),
    [(math.nan, "voxel of nan"), (-math.inf, "voxel of -inf"), (1e300, "voxel of 1e+300")],
)
def test_non_finite_or_absurd_values_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: float, what: str
) -> None:
    """Was: nan, inf and 300-digit numbers written with exit 0 (issue 15, item 11)."""
    labels = np.zeros((6, 20, 20), np.uint16)
    labels[2:4, 4:16, 4:16] = 1
    image = np.where(labels > 0, 40.0, 0.0)
    image[3, 10, 10] = value
    image_path = write_nifti(Volume(image, SPACING), tmp_path / "ct.nii.gz", dtype="float64")
    label_path = write_nifti(Volume(labels, SPACING), tmp_path / "lab.nii.gz")
    out = tmp_path / "m.csv"
    argv = ["measure", "--image", str(image_path), "--labels", str(label_path), *IDENTITY]
    assert main([*argv, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and what in err and "label 1" in err
    assert not out.exists()


def test_largest_plausible_value_is_written(tmp_path: Path) -> None:
    """The refusal edge: 1e8 HU is written (absurd but finite and below 1e9), 1e9 is not."""
    labels = np.zeros((6, 20, 20), np.uint16)
    labels[2:4, 4:16, 4:16] = 1
    out = tmp_path / "m.csv"
    for value, code in ((1e8, 0), (1e9, 1)):
        image = np.where(labels > 0, value, 0.0)
        image_path = write_nifti(Volume(image, SPACING), tmp_path / "ct.nii.gz", dtype="float64")
        label_path = write_nifti(Volume(labels, SPACING), tmp_path / "lab.nii.gz")
        argv = ["measure", "--image", str(image_path), "--labels", str(label_path), *IDENTITY]
        assert main([*argv, "--force", "--out", str(out)]) == code


def test_pet_dicom_is_converted_by_the_header(tmp_path: Path) -> None:
    """Was: raw Bq/ml written as sul_peak (31,934 for an SUV-25 lesion)."""
    folder, labels = pet_series(tmp_path / "pet")
    label_path = write_nifti(labels, tmp_path / "lesions.nii.gz")
    out = tmp_path / "pet.csv"
    argv = ["measure", "--image", str(folder), "--labels", str(label_path), "--modality", "pet"]
    assert main([*argv, "--out", str(out)]) == 0
    [row] = read_rows(out)
    assert row["date"] == "2025-01-01" and row["patient_id"] == "SYNTH-PET"
    # the 12 mm sphere on the cube's centre lies inside the uniform SUV-25 cube
    assert float(row["suv_max"]) == pytest.approx(LESION_SUV, rel=1e-3)
    assert float(row["suv_mean"]) == pytest.approx(LESION_SUV, rel=1e-3)
    assert float(row["sul_peak"]) == pytest.approx(LESION_SUV * _janmahasatian_ratio(), rel=1e-3)
    assert row["role"] == "target" and row["longest_diameter_mm"] == ""
    assert main([*argv, "--unit", "sul", "--force", "--out", str(out)]) == 1


def test_pet_nifti_of_activity_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, labels = pet_series(tmp_path / "pet")
    from tumorboard.imaging.dicom_volume import read_series_volume

    activity = read_series_volume(folder, what="PET")
    image = write_nifti(activity.with_array(activity.array, unit=""), tmp_path / "bq.nii.gz")
    label_path = write_nifti(labels, tmp_path / "lesions.nii.gz")
    out = tmp_path / "pet.csv"
    argv = ["measure", "--image", str(image), "--labels", str(label_path), "--modality", "pet"]
    argv += [*IDENTITY, "--out", str(out)]
    assert main([*argv, "--unit", "sul"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unconverted activity" in err
    assert main([*argv, "--unit", "suvbw"]) == 1
    assert "--sul-per-suvbw" in capsys.readouterr().err
    assert not out.exists()


def test_one_owner_pet_suv_measure_radiomics_report_agree(tmp_path: Path) -> None:
    """SUVmax, SUVmean and SULpeak agree to 1e-6 across pet suv, measure, radiomics, report."""
    from tumorboard.imaging.nifti import read_nifti
    from tumorboard.pet.lesion_table import lesion_records
    from tumorboard.pet.series_io import read_pet_series

    folder, labels = pet_series(tmp_path / "pet")
    # a second, non-uniform lesion so that max, mean and peak differ
    label_array = np.asarray(labels.array).copy()
    label_array[1:3, 1:4, 1:4] = 2
    labels = labels.with_array(label_array)
    label_path = write_nifti(labels, tmp_path / "lesions.nii.gz")
    suv_dir = tmp_path / "suv"
    assert (
        main(["pet", "suv", str(folder), "--lesions", str(label_path), "--out", str(suv_dir)]) == 0
    )
    summary = json.loads((suv_dir / "summary.json").read_text())
    pet_suv = {row["label"]: row for row in summary["lesions"]}
    measured_csv = tmp_path / "measure.csv"
    argv = ["measure", "--image", str(folder), "--labels", str(label_path), "--modality", "pet"]
    assert main([*argv, "--out", str(measured_csv)]) == 0
    measured = {int(r["lesion_id"][1:]): r for r in read_rows(measured_csv)}
    series = read_pet_series(folder)
    report = {
        r.label: r
        for r in lesion_records(
            series.suvbw, labels, sul_per_suvbw=series.conversion.sul_per_suvbw()
        )
    }
    radiomics_csv = tmp_path / "features.csv"
    assert (
        main(
            ["radiomics", "--image", str(folder), "--labels", str(label_path), "--preset", "pet"]
            + ["--workers", "1", "--out", str(radiomics_csv)]
        )
        == 0
    )
    owner_rows = {
        (int(r["label"]), r["feature_name"]): r
        for r in read_rows(radiomics_csv)
        if r["grid"] == "original"
    }
    for label in (1, 2):
        for key, column, feature in (
            ("suvbw_max", "suv_max", "SUVbw max"),
            ("suvbw_mean", "suv_mean", "SUVbw mean"),
            ("sul_peak", "sul_peak", "SULpeak"),
        ):
            truth = getattr(report[label], key)
            assert pet_suv[label][key] == pytest.approx(truth, abs=1e-6)
            assert float(measured[label][column]) == pytest.approx(truth, abs=1e-6)
            assert float(owner_rows[(label, feature)]["value"]) == pytest.approx(truth, abs=1e-6)
    # the two lesions differ, so the comparison could fail
    assert report[1].suvbw_max != pytest.approx(report[2].suvbw_max, rel=0.1)
    # SUL map written by pet suv: its peak is the SULpeak of the summary
    sul = read_nifti(suv_dir / "sul.nii.gz")
    sul_csv = tmp_path / "sul.csv"
    argv = ["measure", "--image", str(suv_dir / "sul.nii.gz"), "--labels", str(label_path)]
    argv += ["--modality", "pet", "--unit", "sul", *IDENTITY, "--out", str(sul_csv)]
    assert main(argv) == 0
    for row in read_rows(sul_csv):
        label = int(row["lesion_id"][1:])
        assert float(row["sul_peak"]) == pytest.approx(report[label].sul_peak, rel=1e-6)
    assert float(np.max(sul.array)) == pytest.approx(LESION_SUV * _janmahasatian_ratio(), rel=1e-3)
    # mirp's values on the 4 mm resampled grid are labelled as such
    resampled = [r for r in read_rows(radiomics_csv) if r["ibsi_tag"] == "stat.max"]
    assert resampled and all(r["grid"] == "resampled 4 mm" for r in resampled)
