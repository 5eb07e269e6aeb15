"""``tumorboard radiomics``: CSV with IBSI codes; one-line errors; nothing half-written."""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from tumorboard.cli.main import main
from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.nifti import write_nifti
from tumorboard.imaging.volume import Volume

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "radiomics"))
from test_ibsi_phantoms import matches, reference_rows  # noqa: E402
from test_rtstruct import square, write_rtstruct  # noqa: E402

#: IBSI digital phantom: mesh volume 556 mm^3 (tolerance 4), joint maximum 3D averaged 0.503.
PHANTOM_VOLUME_MM3, PHANTOM_VOLUME_TOL = 556.0, 4.0
PHANTOM_JOINT_MAX_3D_AVG = 0.503


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_digital_phantom_csv(reference_dir: Path, tmp_path: Path) -> None:
    folder = reference_dir / "radiomics/ibsi/digital_phantom"
    out = tmp_path / "features.csv"
    code = main(
        [
            "radiomics",
            "--image",
            str(folder / "phantom.nii.gz"),
            "--labels",
            str(folder / "mask.nii.gz"),
            "--preset",
            "ibsi-phantom",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    rows = read_rows(out)
    by_key = {(r["ibsi_tag"], r["aggregation"]): r for r in rows}
    volume = by_key[("morph.vol", "")]
    assert volume["ibsi_feature_id"] == "RNU0" and volume["label"] == "1"
    assert abs(float(volume["value"]) - PHANTOM_VOLUME_MM3) <= PHANTOM_VOLUME_TOL
    joint = by_key[("cm.joint.max", "3D, averaged")]
    assert joint["ibsi_feature_id"] == "GYBY" and joint["aggregation_id"] == "ITBB"
    assert round(float(joint["value"]), 3) == PHANTOM_JOINT_MAX_3D_AVG
    assert rows[0]["acq_spacing_x_mm"] == "2.0" and rows[0]["acq_source"] == "nifti"
    assert rows[0]["preset"] == "ibsi-phantom"
    # all 482 IBSI-1 digital-phantom references, read back from the CLI's CSV
    references = reference_rows(reference_dir, "digital_phantom")
    assert len(references) == 482
    wrong = [
        ref["ibsi_tag"] + f"[{ref['aggregation']}]"
        for ref in references
        if not matches(
            float(by_key[(ref["ibsi_tag"], ref["aggregation"])]["value"]),
            float(ref["value"]),
            float(ref["tolerance"]),
        )
        or (
            by_key[(ref["ibsi_tag"], ref["aggregation"])]["ibsi_feature_id"]
            != ref["ibsi_feature_id"]
            and "repeats ID" not in ref["note"]  # ih.p10: the manual gives no ID of its own
        )
        or by_key[(ref["ibsi_tag"], ref["aggregation"])]["aggregation_id"] != ref["aggregation_id"]
    ]
    assert not wrong, wrong


def lesions(tmp_path: Path) -> tuple[Volume, Volume]:
    rng = np.random.default_rng(7)
    shape = (10, 32, 32)
    zz, yy, xx = np.indices(shape)
    labels = np.zeros(shape, dtype=np.int16)
    labels[(zz - 4) ** 2 + (yy - 10) ** 2 + (xx - 10) ** 2 <= 9] = 1
    labels[(zz - 5) ** 2 + (yy - 22) ** 2 + (xx - 22) ** 2 <= 16] = 2
    image = np.round(rng.normal(50, 10, shape) + 80 * labels)
    volume = Volume(image, spacing_mm=(3.0, 1.5, 1.5), origin_mm=(-24.0, -24.0, 10.0), unit="HU")
    return volume, volume.with_array(labels, unit="label")


def test_dicom_series_with_rtstruct(tmp_path: Path) -> None:
    image, _ = lesions(tmp_path)
    series = tmp_path / "ct"
    write_dicom_series(
        image,
        series,
        modality="CT",
        series_description="CT",
        series_number=2,
        dtype="int16",
        extra={"KVP": "120", "ConvolutionKernel": "B30f"},
    )
    z = image.origin_mm[2] + 3.0 * 4
    rs = write_rtstruct(
        tmp_path / "rs.dcm", {"lesion": [square(-24 + 7.5, -24 + 19.5, -24 + 6, -24 + 18, z)]}
    )
    out = tmp_path / "features.csv"
    code = main(
        [
            "radiomics",
            "--image",
            str(series),
            "--labels",
            str(rs),
            "--preset",
            "ibsi-a",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    rows = read_rows(out)
    assert {r["label"] for r in rows} == {"1"}
    first = rows[0]
    assert first["label_name"] == "lesion"
    assert first["acq_modality"] == "CT" and first["acq_kvp"] == "120.0"
    assert first["acq_convolution_kernel"] == "B30f" and first["acq_source"] == "dicom"
    assert int(first["voxel_count"]) == 9 * 9


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


def test_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image, labels = lesions(tmp_path)
    image_path = write_nifti(image, tmp_path / "image.nii.gz")
    labels_path = write_nifti(labels, tmp_path / "labels.nii.gz")
    other = write_nifti(
        Volume(labels.array[:, :, :30], spacing_mm=labels.spacing_mm), tmp_path / "other.nii.gz"
    )
    empty = write_nifti(
        labels.with_array(np.zeros(labels.spatial_shape, np.int16)), tmp_path / "empty.nii.gz"
    )
    fraction = write_nifti(labels.with_array(labels.array * 0.5), tmp_path / "fraction.nii.gz")
    shifted = write_nifti(
        Volume(labels.array, spacing_mm=labels.spacing_mm, origin_mm=(0.0, 0.0, 0.0)),
        tmp_path / "shifted.nii.gz",
    )
    coarse = write_nifti(
        Volume(labels.array, spacing_mm=(3.0, 2.0, 2.0), origin_mm=labels.origin_mm),
        tmp_path / "coarse.nii.gz",
    )
    far_rs = write_rtstruct(
        tmp_path / "far_rs.dcm", {"GTV": [square(300, 310, 300, 310, image.origin_mm[2])]}
    )
    text = tmp_path / "labels.txt"
    text.write_text("1 2 3", encoding="utf-8")
    out = tmp_path / "features.csv"
    cases = [
        (["--labels", str(other)], "label map other.nii.gz has shape"),
        (["--labels", str(shifted)], "label map shifted.nii.gz has origin"),
        (["--labels", str(coarse)], "label map coarse.nii.gz has spacing"),
        (["--labels", str(far_rs)], "RTSTRUCT far_rs.dcm ROI 'GTV': the contours enclose no voxel"),
        (["--labels", str(empty)], "label map empty.nii.gz: no lesion, every voxel is 0"),
        (["--labels", str(fraction)], "label map fraction.nii.gz: labels must be non-negative"),
        (["--labels", str(tmp_path / "absent.nii.gz")], "file not found"),
        (["--labels", str(text)], "neither NIfTI nor readable DICOM"),
    ]
    for extra, message in cases:
        args = [
            "radiomics",
            "--image",
            str(image_path),
            "--labels",
            str(labels_path),
            "--preset",
            "ibsi-a",
            "--out",
            str(out),
        ]
        args[args.index("--labels") + 1] = extra[1]
        code, err = run_cli(args, capsys)
        assert code == 1 and message in err and err.count("\n") == 1, err
        assert not out.exists()
        assert not list(tmp_path.glob(".features.csv*"))


def test_existing_output_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image, labels = lesions(tmp_path)
    image_path = write_nifti(image, tmp_path / "image.nii.gz")
    labels_path = write_nifti(labels, tmp_path / "labels.nii.gz")
    out = tmp_path / "features.csv"
    out.write_text("keep me", encoding="utf-8")
    args = [
        "radiomics",
        "--image",
        str(image_path),
        "--labels",
        str(labels_path),
        "--preset",
        "ibsi-a",
        "--out",
        str(out),
    ]
    code, err = run_cli(args, capsys)
    assert code == 1 and "exists" in err and out.read_text(encoding="utf-8") == "keep me"
    code, _ = run_cli([*args, "--force"], capsys)
    assert code == 0
    assert {r["label"] for r in read_rows(out)} == {"1", "2"}
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_unknown_preset_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(
            [
                "radiomics",
                "--image",
                "a.nii",
                "--labels",
                "b.nii",
                "--preset",
                "ct",
                "--out",
                "x.csv",
            ]
        )
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_dicom_series_with_seg(tmp_path: Path) -> None:
    from tumorboard.imaging.label_maps import write_dicom_seg

    image, labels = lesions(tmp_path)
    series = tmp_path / "ct"
    files = write_dicom_series(
        image, series, modality="CT", series_description="CT", series_number=3, dtype="int16"
    )
    seg = write_dicom_seg(labels, files, tmp_path / "seg.dcm", {1: "lesion 1", 2: "lesion 2"})
    out = tmp_path / "features.csv"
    code = main(
        [
            "radiomics",
            "--image",
            str(series),
            "--labels",
            str(seg),
            "--preset",
            "ibsi-c",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    rows = read_rows(out)
    counts = {r["label"]: int(r["voxel_count"]) for r in rows}
    assert counts == {
        "1": int(np.count_nonzero(labels.array == 1)),
        "2": int(np.count_nonzero(labels.array == 2)),
    }


def test_pet_dicom_series_is_read_in_suv(tmp_path: Path) -> None:
    """A PET DICOM series (Bq/ml on disk) is converted to SUVbw for the ``pet`` preset."""
    from tumorboard.phantoms import pet_case
    from tumorboard.radiomics import extract_lesion_features

    case = pet_case.build_pet_case()
    pet_case.write_pet_case(case, tmp_path, timepoints=("dotatate_baseline",))
    lesion3 = case.lesions.with_array((case.lesions.array == 3).astype(np.int16))
    labels = write_nifti(lesion3, tmp_path / "lesion3.nii.gz")
    out = tmp_path / "features.csv"
    args = ["radiomics", "--image", str(tmp_path / "dotatate_baseline"), "--labels", str(labels)]
    assert main([*args, "--preset", "pet", "--out", str(out)]) == 0
    rows = {r["ibsi_tag"]: r for r in read_rows(out) if not r["aggregation"]}
    assert rows["stat.mean"]["acq_unit"] == "SUVbw" and rows["stat.mean"]["acq_modality"] == "PT"
    (truth,) = extract_lesion_features(
        case.suv["dotatate_baseline"], lesion3, "pet", families=["statistics"], workers=1
    )
    # int16 storage with a rescale slope: SUV agrees to well under 1 %
    assert float(rows["stat.mean"]["value"]) == pytest.approx(truth.value("stat.mean"), rel=1e-2)
    assert float(rows["stat.max"]["value"]) == pytest.approx(truth.value("stat.max"), rel=1e-2)


def test_seg_of_another_series_or_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A DICOM SEG drawn on another series, or with no lesion voxel, is refused with its name."""
    from tumorboard.imaging.label_maps import write_dicom_seg

    names = {1: "a", 2: "b"}

    image, labels = lesions(tmp_path)
    files = write_dicom_series(
        image, tmp_path / "ct", modality="CT", series_description="CT", series_number=2
    )
    moved = Volume(image.array, spacing_mm=image.spacing_mm, origin_mm=(0.0, 0.0, 0.0))
    other_files = write_dicom_series(
        moved, tmp_path / "other", modality="CT", series_description="CT", series_number=3
    )
    moved_seg = write_dicom_seg(
        moved.with_array(labels.array, unit="label"), other_files, tmp_path / "moved.dcm", names
    )
    zeros = labels.with_array(np.zeros(labels.spatial_shape, dtype=np.int16))
    empty_seg = write_dicom_seg(zeros, files, tmp_path / "empty_seg.dcm", {1: "a"})
    out = tmp_path / "features.csv"
    for seg, message in (
        (moved_seg, "moved.dcm has origin"),
        (empty_seg, "empty_seg.dcm: no lesion, every voxel is 0"),
    ):
        args = ["radiomics", "--image", str(tmp_path / "ct"), "--labels", str(seg)]
        code, err = run_cli([*args, "--out", str(out)], capsys)
        assert code == 1 and message in err and err.count("\n") == 1, err
        assert not out.exists() and not list(tmp_path.glob(".features.csv*"))
