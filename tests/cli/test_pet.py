"""``tumorboard pet suv`` and ``tumorboard pet register``: contract and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from tumorboard.cli.main import main
from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.nifti import read_nifti, write_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.pet.registration import RigidTransform, target_registration_error_mm
from tumorboard.phantoms.pet_case import build_pet_case, write_pet_case
from tumorboard.phantoms.pituitary_case import build_pituitary_case, write_pituitary_case

CONTRACT_KEYS = {
    "suvbw_scale_g_per_bq",
    "sul_scale_g_per_bq",
    "decayed_dose_bq",
    "scan_datetime",
    "radionuclide_half_life_s",
    "suvbw_max",
}
LESION_KEYS = {"label", "suvbw_max", "suvbw_mean", "sul_peak", "mtv_ml", "tlg"}
TRE_LIMIT_MM = 2.0


@pytest.fixture(scope="module")
def pet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli_pet")
    write_pet_case(build_pet_case(), folder, timepoints=("dotatate_baseline", "fdg_baseline"))
    return folder


@pytest.fixture(scope="module")
def pituitary_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli_pituitary")
    write_pituitary_case(build_pituitary_case(), folder)
    return folder


def _small_series(
    folder: Path,
    *,
    units: str = "BQML",
    corrected: tuple[str, ...] = ("NORM", "ATTN", "DECY"),
    weight: float | None = 70.0,
    radiopharm: dict[str, str] | None = None,
    series_number: int = 7,
) -> Path:
    """A 4-slice PET series with editable header facts."""
    item = Dataset()
    facts = {
        "RadionuclideTotalDose": "370000000",
        "RadionuclideHalfLife": "6586.2",
        "RadiopharmaceuticalStartDateTime": "20250101100000",
    }
    if radiopharm is not None:
        facts = radiopharm
    for key, value in facts.items():
        setattr(item, key, value)
    study: dict[str, Any] = {"patient_sex": "M", "patient_size_m": 1.75}
    if weight is not None:
        study["patient_weight_kg"] = weight
    volume = Volume(np.full((4, 8, 8), 1000.0), (4.0, 4.0, 4.0))
    write_dicom_series(
        volume,
        folder,
        modality="PT",
        series_description="small PET",
        series_number=series_number,
        study=study,
        extra={
            "Units": units,
            "DecayCorrection": "START",
            "CorrectedImage": list(corrected),
            "SeriesDate": "20250101",
            "SeriesTime": "110000",
            "AcquisitionDate": "20250101",
            "AcquisitionTime": "110000",
            "RadiopharmaceuticalInformationSequence": [item],
        },
    )
    return folder


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = main(argv)
    return status, capsys.readouterr().err


def test_suv_contract(pet_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "suv"
    status, err = _run(
        [
            "pet",
            "suv",
            str(pet_dir / "dotatate_baseline"),
            "--lesions",
            str(pet_dir / "lesions.nii.gz"),
            "--liver",
            str(pet_dir / "liver.nii.gz"),
            "--spleen",
            str(pet_dir / "spleen.nii.gz"),
            "--out",
            str(out),
        ],
        capsys,
    )
    assert status == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert CONTRACT_KEYS <= summary.keys()
    truth = json.loads((pet_dir / "truth.json").read_text())["timepoints"]["dotatate_baseline"]
    assert summary["suvbw_scale_g_per_bq"] == pytest.approx(truth["suvbw_scale_g_per_bq"], rel=1e-6)
    assert summary["radionuclide_half_life_s"] == pytest.approx(4062.6)
    assert {"sul_mean", "sul_sd"} <= summary["liver"].keys()
    assert summary["liver"]["sul_mean"] == pytest.approx(7.0 * summary["sul_per_suvbw"], rel=0.05)
    lesions = summary["lesions"]
    assert [row["label"] for row in lesions] == [1, 2, 3, 4, 5]
    for row in lesions:
        assert LESION_KEYS | {"krenning", "tumour_to_liver"} <= row.keys()
    assert lesions[0]["krenning"] == 4 and lesions[4]["krenning"] == 2
    bsa_cm2 = 0.007184 * 68.0**0.425 * 166.0**0.725 * 1e4
    assert summary["suvbsa_scale_cm2_per_bq"] == pytest.approx(
        summary["suvbw_scale_g_per_bq"] * bsa_cm2 / 68_000, rel=1e-6
    )
    suv = read_nifti(out / "suvbw.nii.gz")
    assert float(suv.array.max()) == pytest.approx(summary["suvbw_max"], rel=1e-6)


def test_suv_liver_center_and_sul_formula(
    pet_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "suv"
    status, err = _run(
        [
            "pet",
            "suv",
            str(pet_dir / "fdg_baseline"),
            "--lesions",
            str(pet_dir / "lesions.nii.gz"),
            "--liver-center=-60,5,-615",
            "--sul",
            "james128",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert status == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sul_formula"] == "james128"
    assert "krenning" not in summary["lesions"][0]
    assert summary["lesions"][0]["tumour_to_liver"] > 0
    assert summary["liver"]["suvbw_mean"] == pytest.approx(2.2, rel=0.05)


def test_negative_centres_parse_without_equals_sign(
    pet_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--liver-center -60,5,-615`` (the common form) works like ``--liver-center=...``."""
    out = tmp_path / "suv"
    status, err = _run(
        [
            "pet",
            "suv",
            str(pet_dir / "fdg_baseline"),
            "--liver-center",
            "-60,5,-615",
            "--blood-pool-center",
            "-60.0, 5, -6.15e2",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert status == 0, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["liver"]["center_lps_mm"] == [-60.0, 5.0, -615.0]
    blood = summary["blood_pool"]
    assert blood["center_lps_mm"] == [-60.0, 5.0, -615.0]
    assert {"sul_mean", "sul_sd", "percist_threshold_sul"} <= blood.keys()
    assert blood["percist_threshold_sul"] == pytest.approx(
        2.0 * blood["sul_mean"] + 2.0 * blood["sul_sd"], rel=1e-6
    )
    assert blood["suvbw_mean"] == pytest.approx(2.2, rel=0.05)  # placed in the liver here


def test_negative_number_is_not_taken_for_an_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["pet", "suv", "x", "--liver-center", "-out", "--out", "y"])
    assert stop.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_blood_pool_centre_outside_image(
    pet_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "suv"
    _expect_failure(
        [
            "pet",
            "suv",
            str(pet_dir / "fdg_baseline"),
            "--blood-pool-center",
            "0,0,900",
            "--out",
            str(out),
        ],
        out,
        "--blood-pool-center (0, 0, 900) mm LPS is outside the PET image",
        capsys,
    )


def test_series_level_attribute_differing_between_slices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _small_series(tmp_path / "pet")
    odd = sorted(folder.glob("*"))[2]
    dataset = pydicom.dcmread(odd)
    dataset.PatientWeight = "93"
    dataset.save_as(odd)
    out = tmp_path / "suv"
    _expect_failure(
        ["pet", "suv", str(folder), "--out", str(out)],
        out,
        "PatientWeight differs between slices of one series",
        capsys,
    )


def _expect_failure(
    argv: list[str], out: Path, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = _run(argv, capsys)
    assert status == 1
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}.partial-*"))


def test_liver_center_outside_image(
    pet_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "suv"
    _expect_failure(
        [
            "pet",
            "suv",
            str(pet_dir / "fdg_baseline"),
            "--liver-center",
            "0,0,900",
            "--out",
            str(out),
        ],
        out,
        "--liver-center (0, 0, 900) mm LPS is outside the PET image",
        capsys,
    )


def test_mixed_series(pet_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mixed = tmp_path / "mixed"
    shutil.copytree(pet_dir / "fdg_baseline", mixed / "a")
    _small_series(mixed / "b")
    out = tmp_path / "suv"
    _expect_failure(["pet", "suv", str(mixed), "--out", str(out)], out, "mixed series", capsys)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"corrected": ("NORM", "DECY")}, "not attenuation corrected"),
        ({"units": "PROPCPS"}, "'PROPCPS' is not supported"),
        ({"weight": None}, "--weight-kg"),
        (
            {
                "radiopharm": {
                    "RadionuclideHalfLife": "6586.2",
                    "RadiopharmaceuticalStartDateTime": "20250101100000",
                }
            },
            "RadionuclideTotalDose",
        ),
        (
            {
                "radiopharm": {
                    "RadionuclideTotalDose": "370000000",
                    "RadiopharmaceuticalStartDateTime": "20250101100000",
                }
            },
            "RadionuclideHalfLife",
        ),
        (
            {
                "radiopharm": {
                    "RadionuclideTotalDose": "370000000",
                    "RadionuclideHalfLife": "6586.2",
                }
            },
            "injection time is missing",
        ),
    ],
)
def test_bad_headers(
    kwargs: dict[str, Any], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    series = _small_series(tmp_path / "series", **kwargs)
    out = tmp_path / "suv"
    _expect_failure(["pet", "suv", str(series), "--out", str(out)], out, message, capsys)


def test_weight_from_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    series = _small_series(tmp_path / "series", weight=None)
    out = tmp_path / "suv"
    status, err = _run(["pet", "suv", str(series), "--weight-kg", "70", "--out", str(out)], capsys)
    assert status == 0, err
    summary = json.loads((out / "summary.json").read_text())
    expected = 70_000 / (370e6 * np.exp(-np.log(2) * 3600 / 6586.2))
    assert summary["suvbw_scale_g_per_bq"] == pytest.approx(expected, rel=1e-6)
    assert summary["suvbw_max"] == pytest.approx(1000 * expected, rel=1e-5)


def test_existing_output_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    series = _small_series(tmp_path / "series")
    out = tmp_path / "suv"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    status, err = _run(["pet", "suv", str(series), "--out", str(out)], capsys)
    assert status == 1 and "--force" in err
    assert (out / "keep.txt").read_text() == "user data"
    status, err = _run(["pet", "suv", str(series), "--force", "--out", str(out)], capsys)
    assert status == 0, err
    assert (out / "summary.json").is_file() and not (out / "keep.txt").exists()


def test_register_writes_outputs(
    pituitary_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reg"
    status, err = _run(
        [
            "pet",
            "register",
            "--moving",
            str(pituitary_dir / "pet"),
            "--fixed",
            str(pituitary_dir / "mri"),
            "--out",
            str(out),
        ],
        capsys,
    )
    assert status == 0, err
    for name in ("transform.tfm", "transform.json", "resampled.nii.gz", "fused.png"):
        assert (out / name).is_file(), name
    result = json.loads((out / "transform.json").read_text())
    truth = json.loads((pituitary_dir / "truth.json").read_text())
    targets = np.array([[x, y, z] for x in (-20, 20) for y in (-20, 20) for z in (-20, 20)], float)
    tre = target_registration_error_mm(
        RigidTransform(np.array(result["matrix"])),
        RigidTransform(np.array(truth["mri_to_pet_matrix"])),
        targets,
    )
    assert tre.max() < TRE_LIMIT_MM
    assert result["moving_unit"] == "SUVbw"
    resampled = read_nifti(out / "resampled.nii.gz")
    assert resampled.spatial_shape == (104, 136, 112)


def test_register_bad_input(
    pituitary_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reg"
    _expect_failure(
        [
            "pet",
            "register",
            "--moving",
            str(tmp_path / "missing"),
            "--fixed",
            str(pituitary_dir / "mri"),
            "--out",
            str(out),
        ],
        out,
        "neither a NIfTI file nor a DICOM folder",
        capsys,
    )


def test_pet_without_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pet"]) == 2
    err = capsys.readouterr().err
    assert "usage: tumorboard pet" in err and "suv" in err and "register" in err


def test_lesion_labels_on_another_grid(
    pet_dir: Path, pituitary_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "suv"
    _expect_failure(
        [
            "pet",
            "suv",
            str(pet_dir / "fdg_baseline"),
            "--lesions",
            str(pituitary_dir / "mri_labels.nii.gz"),
            "--out",
            str(out),
        ],
        out,
        "lesion labels",
        capsys,
    )


@pytest.mark.parametrize(
    ("scale", "message"),
    [(0.0, "holds no lesion (all voxels are 0)"), (0.5, "must be integer label values")],
)
def test_bad_lesion_labels_name_the_file(
    pet_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], scale: float, message: str
) -> None:
    labels = read_nifti(pet_dir / "lesions.nii.gz")
    bad = tmp_path / "bad_labels.nii.gz"
    write_nifti(labels.with_array(np.asarray(labels.array).astype(np.float32) * scale), bad)
    out = tmp_path / "suv"
    argv = ["pet", "suv", str(pet_dir / "fdg_baseline"), "--lesions", str(bad), "--out", str(out)]
    status, err = _run(argv, capsys)
    assert status == 1 and err.count("\n") == 1, err
    assert f"--lesions {bad}: lesion label" in err and message in err, err
    assert not out.exists() and not list(out.parent.glob(f".{out.name}.partial-*"))


@pytest.mark.parametrize("option", ["--liver", "--spleen"])
def test_empty_reference_mask_names_the_option_and_file(
    pet_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    labels = read_nifti(pet_dir / "liver.nii.gz")
    empty = tmp_path / "empty.nii.gz"
    write_nifti(labels.with_array(np.zeros(labels.shape, np.uint8)), empty)
    out = tmp_path / "suv"
    _expect_failure(
        ["pet", "suv", str(pet_dir / "fdg_baseline"), option, str(empty), "--out", str(out)],
        out,
        f"{option} {empty}: {option[2:]} mask is empty",
        capsys,
    )
