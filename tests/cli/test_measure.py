from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from tumorboard.cli.main import main
from tumorboard.imaging.nifti import write_nifti
from tumorboard.imaging.volume import Volume

SPACING = (2.0, 0.8, 0.8)
IDENTITY = ["--date", "2024-01-08", "--patient-id", "P1"]


@pytest.fixture
def case(tmp_path: Path) -> tuple[Path, Path]:
    z, y, x = np.indices((20, 64, 64), dtype=float)
    lesion = ((x - 20) * 0.8 / 10) ** 2 + ((y - 30) * 0.8 / 7) ** 2 + ((z - 10) * 2 / 8) ** 2 <= 1
    node = ((x - 48) * 0.8 / 9) ** 2 + ((y - 45) * 0.8 / 8) ** 2 + ((z - 10) * 2 / 6) ** 2 <= 1
    labels = np.zeros(lesion.shape, dtype=np.uint16)
    labels[lesion] = 1
    labels[node] = 2
    image = np.where(lesion, 60.0, np.where(node, 40.0, -100.0))
    image_path = write_nifti(
        Volume(image.astype(np.float32), SPACING, unit="HU"), tmp_path / "ct.nii.gz"
    )
    label_path = write_nifti(Volume(labels, SPACING, unit="label"), tmp_path / "labels.nii.gz")
    return image_path, label_path


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_measure_writes_assess_rows_and_round_trips(
    tmp_path: Path, case: tuple[Path, Path]
) -> None:
    image, labels = case
    out = tmp_path / "measurements.csv"
    code = main(
        [
            "measure",
            "--image",
            str(image),
            "--labels",
            str(labels),
            "--modality",
            "ct",
            "--date",
            "2024-01-08",
            "--patient-id",
            "P1",
            "--organs",
            "1=liver,2=lymph node",
            "--nodes",
            "2",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    rows = read_rows(out)
    assert [r["lesion_id"] for r in rows] == ["L1", "L2"]
    first, second = rows
    assert float(first["longest_diameter_mm"]) == pytest.approx(20.0, abs=0.8)
    assert float(first["short_axis_mm"]) == pytest.approx(14.0, abs=0.8)
    assert float(first["mean_hu"]) == 60.0
    truth_ml = 4 / 3 * math.pi * 10 * 7 * 8 / 1000
    assert float(first["volume_ml"]) == pytest.approx(truth_ml, rel=0.05)
    assert second["is_node"] == "true" and second["organ"] == "lymph node"
    assert float(second["short_axis_mm"]) == pytest.approx(16.0, abs=0.8)
    # the table is valid input for assess
    assert (
        main(["assess", str(out), "--criteria", "recist1.1", "--out", str(tmp_path / "assess")])
        == 0
    )
    assert (tmp_path / "assess" / "response.csv").is_file()


def test_measure_pet_nifti_needs_a_unit(
    tmp_path: Path, case: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A PET NIfTI has no dose or weight: its unit must be named (was: values written as is)."""
    image, labels = case
    out = tmp_path / "pet.csv"
    base = ["measure", "--image", str(image), "--labels", str(labels), "--modality", "pet"]
    base += ["--date", "2024-01-08", "--patient-id", "P1", "--out", str(out)]
    assert main(base) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs --unit suvbw or --unit sul" in err
    assert main([*base, "--unit", "sul"]) == 0
    row = read_rows(out)[0]
    # an SUL image: SULpeak of the uniform 60 lesion, no SUVbw columns
    assert float(row["sul_peak"]) == pytest.approx(60.0, abs=1e-6)
    assert row["suv_max"] == "" and not row["mean_hu"]
    assert row["date"] == "2024-01-08"


def test_geometry_mismatch_is_one_line_and_writes_nothing(
    tmp_path: Path, case: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    image, _ = case
    other = write_nifti(
        Volume(np.ones((20, 64, 60), dtype=np.uint16), SPACING), tmp_path / "other.nii.gz"
    )
    out = tmp_path / "m.csv"
    code = main(
        ["measure", "--image", str(image), "--labels", str(other), "--out", str(out), *IDENTITY]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "shape" in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".m.csv")]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--date", "08/01/2024"], "--date must be ISO"),
        (["--organs", "liver"], "--organs: expected"),
        (["--nodes", "a"], "--nodes: expected"),
    ],
)
def test_bad_options(
    tmp_path: Path,
    case: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    image, labels = case
    out = tmp_path / "m.csv"
    code = main(
        ["measure", "--image", str(image), "--labels", str(labels), "--out", str(out), *extra]
    )
    assert code == 1 and message in capsys.readouterr().err
    assert not out.exists()


def test_missing_files_and_existing_output(
    tmp_path: Path, case: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    image, labels = case
    code = main(
        [
            "measure",
            "--image",
            str(tmp_path / "nope.nii"),
            "--labels",
            str(labels),
            "--out",
            str(tmp_path / "m.csv"),
        ]
    )
    assert code == 1 and "file not found" in capsys.readouterr().err
    out = tmp_path / "exists.csv"
    out.write_text("keep")
    code = main(["measure", "--image", str(image), "--labels", str(labels), "--out", str(out)])
    assert code == 1 and "--force" in capsys.readouterr().err
    assert out.read_text() == "keep"


def test_measure_reads_a_dicom_series_and_writes_sr(
    tmp_path: Path, case: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    import pydicom

    from tumorboard.imaging.dicom_write import write_dicom_series
    from tumorboard.imaging.nifti import read_nifti
    from tumorboard.report.dicom_sr import tracking_uid

    image_path, label_path = case
    image = read_nifti(image_path)
    folder = tmp_path / "ct"
    write_dicom_series(
        image,
        folder,
        modality="CT",
        series_description="ct",
        series_number=1,
        dtype="int16",
        rescale=(1.0, 0.0),
        study={"PatientID": "SYNTH-2"},
    )
    reports = []
    for label in ("baseline", "week-8"):
        out = tmp_path / f"{label}.csv"
        sr = tmp_path / f"{label}.dcm"
        assert (
            main(
                [
                    "measure",
                    "--image",
                    str(folder),
                    "--labels",
                    str(label_path),
                    "--patient-id",
                    "SYNTH-2",
                    "--timepoint",
                    label,
                    "--date",
                    "2024-01-08",
                    "--sr",
                    str(sr),
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        first = read_rows(out)[0]
        assert float(first["mean_hu"]) == 60.0
        assert float(first["longest_diameter_mm"]) == pytest.approx(20.0, abs=0.8)
        reports.append(pydicom.dcmread(sr))
    for report in reports:
        assert report.PatientID == "SYNTH-2"
        text = str(report)
        assert tracking_uid("SYNTH-2", "L1") in text and tracking_uid("SYNTH-2", "L2") in text
    # --sr without a DICOM image: one-line error, nothing written
    out = tmp_path / "nifti.csv"
    assert (
        main(
            [
                "measure",
                "--image",
                str(image_path),
                "--labels",
                str(label_path),
                "--sr",
                str(tmp_path / "x.dcm"),
                "--out",
                str(out),
            ]
        )
        == 1
    )
    assert "--sr needs" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "x.dcm").exists()


def test_measure_adc_in_um2_per_s(tmp_path: Path, case: tuple[Path, Path]) -> None:
    from tumorboard.imaging.nifti import read_nifti

    _, labels = case
    label_map = read_nifti(labels)
    adc = np.where(label_map.array == 1, 0.9e-3, 1.8e-3)
    image = write_nifti(
        Volume(adc.astype(np.float32), SPACING, unit="mm2/s"), tmp_path / "adc.nii.gz"
    )
    out = tmp_path / "adc.csv"
    assert (
        main(
            [
                "measure",
                "--image",
                str(image),
                "--labels",
                str(labels),
                "--modality",
                "adc",
                *IDENTITY,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    first, second = read_rows(out)
    assert float(first["adc_mean_um2_per_s"]) == pytest.approx(900.0, abs=0.1)
    assert float(second["adc_median_um2_per_s"]) == pytest.approx(1800.0, abs=0.1)


def test_measured_pet_rows_feed_percist(tmp_path: Path, case: tuple[Path, Path]) -> None:
    """PET rows from ``measure`` are PET-only readings: PERCIST uses them, RECIST is NE."""
    _, labels = case
    z, y, x = np.indices((20, 64, 64), dtype=float)
    lesion = ((x - 20) * 0.8 / 10) ** 2 + ((y - 30) * 0.8 / 7) ** 2 + ((z - 10) * 2 / 8) ** 2 <= 1
    node = ((x - 48) * 0.8 / 9) ** 2 + ((y - 45) * 0.8 / 8) ** 2 + ((z - 10) * 2 / 6) ** 2 <= 1
    rows: list[dict[str, str]] = []
    for timepoint, date, scale in (("baseline", "2024-01-08", 1.0), ("week-12", "2024-04-01", 0.5)):
        sul = np.where(lesion, 10.0 * scale, np.where(node, 6.0 * scale, 1.0))
        image = write_nifti(
            Volume(sul.astype(np.float32), SPACING), tmp_path / f"{timepoint}.nii.gz"
        )
        out = tmp_path / f"{timepoint}.csv"
        args = ["measure", "--image", str(image), "--labels", str(labels), "--modality", "pet"]
        args += ["--timepoint", timepoint, "--date", date, "--organs", "1=liver,2=lymph node"]
        args += ["--patient-id", "patient", "--unit", "sul"]
        assert main([*args, "--out", str(out)]) == 0
        measured = read_rows(out)
        assert all(not r["longest_diameter_mm"] and not r["short_axis_mm"] for r in measured)
        assert all(r["sul_peak"] and r["volume_ml"] for r in measured)
        rows += measured
        liver = {key: "" for key in measured[0]}
        liver.update(
            patient_id="patient",
            timepoint=timepoint,
            date=date,
            modality="pet",
            lesion_id="liver-reference",
            organ="liver",
            sul_peak="2.0",
        )
        rows.append(liver)
    table = tmp_path / "pet_table.csv"
    with open(table, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = tmp_path / "assessed"
    assert (
        main(["assess", str(table), "--criteria", "percist,recist1.1", "--out", str(result)]) == 0
    )
    response = {
        r["criteria"]: r for r in read_rows(result / "response.csv") if r["timepoint"] == "week-12"
    }
    assert response["percist"]["overall_response"] == "PMR"
    assert float(response["percist"]["change_from_baseline_pct"]) == pytest.approx(-50.0, abs=0.5)
    assert response["recist1.1"]["overall_response"] == "NE"
