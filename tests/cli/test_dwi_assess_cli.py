"""Contract and bad-input tests of ``tumorboard dwi assess``."""

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tumorboard.cli.main import main
from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.diffusion_dicom import diffusion_b_value_elements
from tumorboard.imaging.nifti import write_nifti
from tumorboard.imaging.volume import Volume

B_VALUES = (50.0, 600.0, 900.0)
SPACING = (5.0, 3.0, 3.0)
SUMMARY_KEYS = {
    "total_diffusion_volume_ml",
    "adc_um2_per_s",
    "b_values_s_per_mm2",
    "computed_b_s_per_mm2",
    "threshold",
    "components",
}
ADC_KEYS = {
    "mean",
    "median",
    "sd",
    "p05",
    "p10",
    "p25",
    "p75",
    "p90",
    "p95",
    "skewness",
    "kurtosis",
}
OUTPUT_FILES = {
    "summary.json",
    "adc.nii.gz",
    "computed_b.nii.gz",
    "tumour_mask.nii.gz",
    "classes.nii.gz",
    "components.csv",
    "histogram.csv",
    "mip.png",
    "histogram.png",
}


def make_case(rng, tumour_adc=700.0, radius=5):
    """A small body with one tumour ball (bright at high b) and one bright organ (label 4)."""
    shape = (16, 48, 48)
    zz, yy, xx = np.indices(shape)
    body = ((yy - 24) / 20) ** 2 + ((xx - 24) / 20) ** 2 <= 1
    tumour = (zz - 8) ** 2 + (yy - 20) ** 2 + (xx - 18) ** 2 <= radius**2
    organ = (zz - 8) ** 2 + (yy - 30) ** 2 + (xx - 32) ** 2 <= 9
    s0 = np.where(body, 250.0, 0.0)
    adc = np.where(body, 1500.0, 0.0)
    s0[tumour] = 250 * np.exp(tumour_adc / 1000)
    adc[tumour] = tumour_adc
    s0[organ], adc[organ] = 700.0, 800.0
    images = {}
    for b in B_VALUES:
        clean = s0 * np.exp(-b * adc * 1e-6)
        noisy = np.hypot(clean + rng.normal(0, 2, shape), rng.normal(0, 2, shape))
        images[b] = Volume(noisy.astype(np.float32), SPACING, (-70.0, -70.0, -40.0))
    labels = Volume(np.where(organ, 4, 0).astype(np.uint8), SPACING, (-70.0, -70.0, -40.0))
    return images, labels, tumour


@pytest.fixture
def nifti_case(tmp_path, rng):
    images, labels, tumour = make_case(rng)
    paths = {}
    for b, volume in images.items():
        paths[b] = write_nifti(volume, tmp_path / f"b{b:g}.nii.gz")
    write_nifti(labels, tmp_path / "organs.nii.gz")
    return tmp_path, paths, tumour


def image_args(paths, skip=()):
    args = []
    for b, path in paths.items():
        if b not in skip:
            args += ["--image", f"{b:g}={path}"]
    return args


def run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code, err, pattern, out_dir: Path):
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert pattern in lines[0]
    assert "Traceback" not in err
    assert not out_dir.exists()
    assert not list(out_dir.parent.glob(f".{out_dir.name}.partial-*"))


def test_nifti_inputs_write_the_contract_outputs(nifti_case, capsys):
    folder, paths, tumour = nifti_case
    out = folder / "exam1"
    code, stdout, err = run(
        [
            "dwi",
            "assess",
            *image_args(paths),
            "--exclude",
            folder / "organs.nii.gz",
            "--exclude-labels",
            "4",
            "--out",
            out,
        ],
        capsys,
    )
    assert code == 0, err
    assert OUTPUT_FILES <= {p.name for p in out.iterdir()}
    summary = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summary)
    assert ADC_KEYS <= set(summary["adc_um2_per_s"])
    # components: the curation table (kept and removed), with separate counts
    assert isinstance(summary["components"], list)
    assert summary["components_total"] == len(summary["components"])
    kept = [c for c in summary["components"] if c["kept"]]
    assert summary["components_kept"] == len(kept) == 1
    assert summary["settings"]["adc_fit_b_values_s_per_mm2"] == [50.0, 600.0, 900.0]
    assert summary["settings"]["min_component_ml"] == 0.5
    assert sum(c["volume_ml"] for c in kept) == pytest.approx(
        summary["total_diffusion_volume_ml"], abs=1e-3
    )
    assert summary["b_values_s_per_mm2"] == [50.0, 600.0, 900.0]
    assert summary["computed_b_s_per_mm2"] == 1000.0
    assert summary["threshold"] == 100.0
    voxel_ml = np.prod(SPACING) / 1000
    assert summary["total_diffusion_volume_ml"] == pytest.approx(tumour.sum() * voxel_ml, rel=0.03)
    assert summary["adc_um2_per_s"]["median"] == pytest.approx(700, rel=0.03)
    mask = np.asarray(nib.load(out / "tumour_mask.nii.gz").dataobj).transpose(2, 1, 0)
    np.testing.assert_array_equal(mask > 0, tumour)
    adc = np.asarray(nib.load(out / "adc.nii.gz").dataobj).transpose(2, 1, 0)
    assert np.median(adc[tumour]) == pytest.approx(700, rel=0.03)
    classes = np.asarray(nib.load(out / "classes.nii.gz").dataobj)
    assert set(np.unique(classes)) <= {0, 1, 2, 3}
    assert (classes > 0).sum() == tumour.sum()
    header = (out / "components.csv").read_text().splitlines()[0]
    assert header.startswith("component_id,voxels,volume_ml,centroid_x_mm")
    histogram = (out / "histogram.csv").read_text().splitlines()
    assert histogram[0] == "bin_lower_um2_per_s,bin_upper_um2_per_s,voxels,relative_frequency"
    assert sum(float(line.split(",")[3]) for line in histogram[1:]) == pytest.approx(1.0, abs=1e-4)


def test_reference_summary_gives_classes_and_changes(tmp_path, rng, capsys):
    before, labels, tumour = make_case(rng, tumour_adc=700.0)
    after, _, _ = make_case(rng, tumour_adc=1600.0, radius=4)
    write_nifti(labels, tmp_path / "organs.nii.gz")
    for name, images in (("before", before), ("after", after)):
        for b, volume in images.items():
            write_nifti(volume, tmp_path / f"{name}_b{b:g}.nii.gz")

    def args(name):
        images = [
            x for b in B_VALUES for x in ("--image", f"{b:g}={tmp_path / f'{name}_b{b:g}.nii.gz'}")
        ]
        return [*images, "--exclude", tmp_path / "organs.nii.gz"]

    assert (
        run(
            ["dwi", "assess", *args("before"), "--threshold", "150", "--out", tmp_path / "e1"],
            capsys,
        )[0]
        == 0
    )
    code, _, err = run(
        [
            "dwi",
            "assess",
            *args("after"),
            "--threshold",
            "150",
            "--reference",
            tmp_path / "e1" / "summary.json",
            "--out",
            tmp_path / "e2",
        ],
        capsys,
    )
    assert code == 0, err
    s1 = json.loads((tmp_path / "e1" / "summary.json").read_text())
    s2 = json.loads((tmp_path / "e2" / "summary.json").read_text())
    assert s2["yellow_lower_um2_per_s"] == pytest.approx(s1["adc_um2_per_s"]["p95"], rel=1e-3)
    assert set(s2["classes_ml"]) == {"green", "yellow", "red"}
    assert s2["classes_ml"]["green"] > 0.8 * s2["total_diffusion_volume_ml"]
    expected = (
        100
        * (s2["total_diffusion_volume_ml"] - s1["total_diffusion_volume_ml"])
        / s1["total_diffusion_volume_ml"]
    )
    assert s2["tdv_change_pct"] == pytest.approx(expected, abs=0.01)
    assert s2["adc_median_change_pct"] > 100


def test_min_b_and_weighted_fit_are_recorded(nifti_case, capsys):
    folder, paths, _ = nifti_case
    code, _, err = run(
        [
            "dwi",
            "assess",
            *image_args(paths),
            "--min-b",
            "200",
            "--weighted",
            "--out",
            folder / "o",
        ],
        capsys,
    )
    assert code == 0, err
    summary = json.loads((folder / "o" / "summary.json").read_text())
    assert summary["b_values_s_per_mm2"] == [50.0, 600.0, 900.0]
    assert summary["settings"]["adc_fit_b_values_s_per_mm2"] == [600.0, 900.0]
    assert summary["settings"]["adc_fit_weighted"] is True
    assert summary["adc_um2_per_s"]["median"] == pytest.approx(700, rel=0.05)


def test_noise_relative_threshold(nifti_case, capsys):
    folder, paths, tumour = nifti_case
    code, _, err = run(
        [
            "dwi",
            "assess",
            *image_args(paths),
            "--threshold",
            "30sd",
            "--exclude",
            folder / "organs.nii.gz",
            "--out",
            folder / "rel",
        ],
        capsys,
    )
    assert code == 0, err
    summary = json.loads((folder / "rel" / "summary.json").read_text())
    assert summary["threshold_mode"] == "noise-relative"
    assert summary["noise_sd"] == pytest.approx(2.0, rel=0.1)
    assert summary["threshold"] == pytest.approx(30 * summary["noise_sd"])


def write_dicom_case(folder, rng, vendor="standard"):
    images, _, tumour = make_case(rng)
    for i, (b, volume) in enumerate(images.items(), start=1):
        extra = diffusion_b_value_elements(b, vendor) if vendor else None
        write_dicom_series(
            volume,
            folder,
            modality="MR",
            series_description=f"DWI b{b:g}",
            series_number=i,
            extra=extra,
            file_prefix=f"b{b:g}_",
            study={"study_instance_uid": "1.2.826.0.1.3680043.8.498.1"},
        )
    return tumour


@pytest.mark.parametrize("vendor", ["standard", "siemens", "ge", "philips"])
def test_dicom_folder_with_vendor_b_values(tmp_path, rng, capsys, vendor):
    tumour = write_dicom_case(tmp_path / "dicom", rng, vendor)
    code, _, err = run(
        [
            "dwi",
            "assess",
            "--dicom",
            tmp_path / "dicom",
            "--out",
            tmp_path / "out",
            "--min-volume-ml",
            "0",
        ],
        capsys,
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    voxel_ml = np.prod(SPACING) / 1000
    # the bright organ is not excluded here, so it is counted too
    assert summary["total_diffusion_volume_ml"] >= tumour.sum() * voxel_ml * 0.97
    assert summary["b_values_s_per_mm2"] == [50.0, 600.0, 900.0]


def test_truncated_dicom_among_the_series(tmp_path, rng, capsys):
    write_dicom_case(tmp_path / "dicom", rng)
    victim = sorted((tmp_path / "dicom").rglob("*.dcm"))[5]
    victim.write_bytes(victim.read_bytes()[:600])
    code, _, err = run(
        ["dwi", "assess", "--dicom", tmp_path / "dicom", "--out", tmp_path / "out"], capsys
    )
    assert_one_line_error(code, err, victim.name, tmp_path / "out")


def test_non_dicom_file_among_the_series(tmp_path, rng, capsys):
    write_dicom_case(tmp_path / "dicom", rng)
    (tmp_path / "dicom" / "notes.txt").write_text("reader notes, not an image\n")
    code, _, err = run(
        ["dwi", "assess", "--dicom", tmp_path / "dicom", "--out", tmp_path / "out"], capsys
    )
    assert_one_line_error(code, err, "notes.txt", tmp_path / "out")


def test_missing_b_value_suggests_image_option(tmp_path, rng, capsys):
    write_dicom_case(tmp_path / "dicom", rng, vendor="")
    code, _, err = run(
        ["dwi", "assess", "--dicom", tmp_path / "dicom", "--out", tmp_path / "out"], capsys
    )
    assert_one_line_error(code, err, "--image B=PATH", tmp_path / "out")


def test_four_d_nifti_is_refused(nifti_case, capsys):
    folder, paths, _ = nifti_case
    image = nib.load(paths[600.0])
    data = np.asarray(image.dataobj)
    nib.save(nib.Nifti1Image(np.stack([data, data], -1), image.affine), folder / "b600_4d.nii.gz")
    code, _, err = run(
        [
            "dwi",
            "assess",
            *image_args(paths, skip=(600.0,)),
            "--image",
            f"600={folder / 'b600_4d.nii.gz'}",
            "--out",
            folder / "o",
        ],
        capsys,
    )
    assert_one_line_error(code, err, "b600_4d.nii.gz: expected a 3-D image", folder / "o")


def test_one_b_value_only(nifti_case, capsys):
    folder, paths, _ = nifti_case
    code, _, err = run(
        ["dwi", "assess", *image_args(paths, skip=(600.0, 900.0)), "--out", folder / "o"], capsys
    )
    assert_one_line_error(code, err, "only one b-value", folder / "o")


def test_images_of_different_shape_or_spacing(nifti_case, capsys):
    folder, paths, _ = nifti_case
    write_nifti(
        Volume(np.ones((16, 48, 40), np.float32), SPACING, (-70.0, -70.0, -40.0)),
        folder / "bad.nii.gz",
    )
    code, _, err = run(
        [
            "dwi",
            "assess",
            *image_args(paths, skip=(600.0,)),
            "--image",
            f"600={folder / 'bad.nii.gz'}",
            "--out",
            folder / "o",
        ],
        capsys,
    )
    assert_one_line_error(
        code, err, "bad.nii.gz has shape (16, 48, 40), expected (16, 48, 48)", folder / "o"
    )
    write_nifti(
        Volume(np.ones((16, 48, 48), np.float32), (5.0, 3.0, 2.5), (-70.0, -70.0, -40.0)),
        folder / "bad2.nii.gz",
    )
    code, _, err = run(
        [
            "dwi",
            "assess",
            *image_args(paths, skip=(600.0,)),
            "--image",
            f"600={folder / 'bad2.nii.gz'}",
            "--out",
            folder / "o",
        ],
        capsys,
    )
    assert_one_line_error(code, err, "b600 image", folder / "o")
    assert "bad2.nii.gz has spacing (5, 3, 2.5) mm, expected (5, 3, 3) mm" in err


@pytest.mark.parametrize(
    ("value", "message"), [(np.nan, "NaN or infinite"), (-5.0, "negative voxels")]
)
def test_nan_or_negative_signal(nifti_case, capsys, value, message):
    folder, paths, _ = nifti_case
    image = nib.load(paths[600.0])
    data = np.asarray(image.dataobj).copy()
    data[3, 4, 5] = value
    nib.save(nib.Nifti1Image(data, image.affine), folder / "b600_bad.nii.gz")
    code, _, err = run(
        [
            "dwi",
            "assess",
            *image_args(paths, skip=(600.0,)),
            "--image",
            f"600={folder / 'b600_bad.nii.gz'}",
            "--out",
            folder / "o",
        ],
        capsys,
    )
    assert_one_line_error(code, err, message, folder / "o")
    assert "b600_bad.nii.gz" in err


def write_modified_b600(folder, paths, name, change):
    image = nib.load(paths[600.0])
    data = np.asarray(image.dataobj).astype(np.float32)
    nib.save(nib.Nifti1Image(change(data), image.affine), folder / name)
    return [*image_args(paths, skip=(600.0,)), "--image", f"600={folder / name}"]


def test_signal_zero_inside_the_body_is_refused(nifti_case, capsys):
    folder, paths, _ = nifti_case
    args = write_modified_b600(folder, paths, "b600_hole.nii.gz", lambda d: np.where(d > 20, 0, d))
    code, _, err = run(["dwi", "assess", *args, "--out", folder / "o"], capsys)
    assert_one_line_error(code, err, "b600_hole.nii.gz is zero in", folder / "o")
    assert "diffusion signals must be > 0 inside the body" in err
    args = write_modified_b600(folder, paths, "b600_zero.nii.gz", np.zeros_like)
    code, _, err = run(["dwi", "assess", *args, "--out", folder / "o"], capsys)
    assert_one_line_error(code, err, "b600_zero.nii.gz has no positive voxel", folder / "o")
    args = write_modified_b600(folder, paths, "b600_neg.nii.gz", np.negative)
    code, _, err = run(["dwi", "assess", *args, "--out", folder / "o"], capsys)
    assert_one_line_error(code, err, "b600_neg.nii.gz has", folder / "o")
    assert "negative voxels" in err


def test_zeros_in_the_air_background_are_accepted(nifti_case, capsys):
    """Scanners write exact zeros around the body: those voxels are simply not fitted."""
    folder, paths, tumour = nifti_case
    args = write_modified_b600(folder, paths, "b600_air0.nii.gz", lambda d: np.where(d < 15, 0, d))
    code, _, err = run(
        ["dwi", "assess", *args, "--exclude", folder / "organs.nii.gz", "--out", folder / "o"],
        capsys,
    )
    assert code == 0, err
    summary = json.loads((folder / "o" / "summary.json").read_text())
    voxel_ml = np.prod(SPACING) / 1000
    assert summary["total_diffusion_volume_ml"] == pytest.approx(tumour.sum() * voxel_ml, rel=0.03)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--computed-b", "nan"], "--computed-b must be a finite number >= 0"),
        (["--computed-b", "-100"], "--computed-b must be a finite number >= 0"),
        (["--min-b", "-1"], "--min-b must be a finite number >= 0"),
        (["--adc-window", "nan,1000"], "--adc-window bounds must be finite"),
        (["--adc-window", "1000,500"], "min < max"),
        (["--min-volume-ml", "nan"], "--min-volume-ml must be a finite number"),
        (["--threshold", "abc"], "--threshold: expected a number"),
        (["--threshold", "-3"], "--threshold must be a positive number"),
    ],
)
def test_bad_options_are_refused_before_reading_images(tmp_path, capsys, option, message):
    # the images do not exist: the option must be refused first, with its own message
    missing = ["--image", f"50={tmp_path / 'no50.nii.gz'}", "--image", f"900={tmp_path / 'x'}"]
    code, _, err = run(["dwi", "assess", *missing, *option, "--out", tmp_path / "o"], capsys)
    assert_one_line_error(code, err, message, tmp_path / "o")


def test_single_voxel_tumour_gives_finite_statistics(tmp_path, rng, capsys):
    images, _, tumour = make_case(rng, radius=0)
    assert tumour.sum() == 1
    args = []
    for b, volume in images.items():
        args += ["--image", f"{b:g}={write_nifti(volume, tmp_path / f'b{b:g}.nii.gz')}"]
    code, _, err = run(
        [
            "dwi",
            "assess",
            *args,
            "--threshold",
            "150",
            "--min-volume-ml",
            "0",
            "--out",
            tmp_path / "o",
        ],
        capsys,
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    # the organ (label 4, not excluded) is the other component
    single = [c for c in summary["components"] if c["voxels"] == 1]
    assert len(single) == 1
    assert all(np.isfinite(v) for v in summary["adc_um2_per_s"].values())


def test_reference_p95_at_or_above_green_bound_leaves_no_yellow(nifti_case, capsys):
    folder, paths, _ = nifti_case
    reference = {
        "total_diffusion_volume_ml": 10.0,
        "adc_um2_per_s": {"median": 1200.0, "p95": 1600.0},
    }
    (folder / "ref.json").write_text(json.dumps(reference))
    code, _, err = run(
        [
            "dwi",
            "assess",
            *image_args(paths),
            "--exclude",
            folder / "organs.nii.gz",
            "--reference",
            folder / "ref.json",
            "--out",
            folder / "o",
        ],
        capsys,
    )
    assert code == 0, err
    summary = json.loads((folder / "o" / "summary.json").read_text())
    assert summary["yellow_lower_um2_per_s"] == 1600.0
    assert summary["classes_ml"]["yellow"] == 0.0
    assert summary["classes_ml"]["red"] == pytest.approx(summary["total_diffusion_volume_ml"])
    classes = np.asarray(nib.load(folder / "o" / "classes.nii.gz").dataobj)
    assert not (classes == 2).any()


def test_dicom_folder_with_one_b_value_only(tmp_path, rng, capsys):
    write_dicom_case(tmp_path / "dicom", rng)
    for path in (tmp_path / "dicom").rglob("*.dcm"):
        if not path.name.startswith("b50_"):
            path.unlink()
    code, _, err = run(
        ["dwi", "assess", "--dicom", tmp_path / "dicom", "--out", tmp_path / "out"], capsys
    )
    assert_one_line_error(code, err, "only one b-value", tmp_path / "out")
    assert "DICOM folder" in err


def test_exclusion_mask_of_another_geometry(nifti_case, capsys):
    folder, paths, _ = nifti_case
    write_nifti(Volume(np.zeros((10, 48, 48), np.uint8), SPACING), folder / "small_mask.nii.gz")
    code, _, err = run(
        [
            "dwi",
            "assess",
            *image_args(paths),
            "--exclude",
            folder / "small_mask.nii.gz",
            "--out",
            folder / "o",
        ],
        capsys,
    )
    assert_one_line_error(code, err, "exclusion mask", folder / "o")


def test_empty_segmentation(nifti_case, capsys):
    folder, paths, _ = nifti_case
    code, _, err = run(
        ["dwi", "assess", *image_args(paths), "--threshold", "1e6", "--out", folder / "o"], capsys
    )
    assert_one_line_error(code, err, "empty segmentation", folder / "o")


def test_existing_output_needs_force_and_is_kept_intact(nifti_case, capsys):
    folder, paths, _ = nifti_case
    out = folder / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier work")
    code, _, err = run(["dwi", "assess", *image_args(paths), "--out", out], capsys)
    assert code != 0 and "--force" in err and len(err.strip().splitlines()) == 1
    assert (out / "keep.txt").read_text() == "earlier work"
    # a failing run with --force must not destroy the earlier output either
    code, _, err = run(
        ["dwi", "assess", *image_args(paths), "--threshold", "1e6", "--force", "--out", out], capsys
    )
    assert code != 0 and (out / "keep.txt").exists()
    code, _, err = run(["dwi", "assess", *image_args(paths), "--force", "--out", out], capsys)
    assert code == 0, err
    assert not (out / "keep.txt").exists() and (out / "summary.json").exists()


def test_bad_image_argument_and_missing_file(nifti_case, capsys):
    folder, paths, _ = nifti_case
    code, _, err = run(
        ["dwi", "assess", "--image", "b50.nii.gz", "--image", "600=x", "--out", folder / "o"],
        capsys,
    )
    assert_one_line_error(code, err, "expected B=PATH", folder / "o")
    code, _, err = run(
        [
            "dwi",
            "assess",
            *image_args(paths, skip=(900.0,)),
            "--image",
            f"900={folder / 'nope.nii.gz'}",
            "--out",
            folder / "o",
        ],
        capsys,
    )
    assert_one_line_error(code, err, "file not found", folder / "o")
    code, _, err = run(
        [
            "dwi",
            "assess",
            *image_args(paths),
            "--reference",
            folder / "nope.json",
            "--out",
            folder / "o",
        ],
        capsys,
    )
    assert_one_line_error(code, err, "reference summary", folder / "o")


def test_usage_errors_are_one_line(capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["dwi", "assess", "--out", str(tmp_path / "o")])
    assert info.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_compare_writes_change_table_and_overlay(tmp_path, rng, capsys):
    for name, adc in (("e1", 700.0), ("e2", 1100.0)):
        images, _, _ = make_case(rng, tumour_adc=adc)
        args = ["--date", "2025-01-08" if name == "e1" else "2025-04-02"]
        for b, volume in images.items():
            path = write_nifti(volume, tmp_path / f"{name}_b{b:g}.nii.gz")
            args += ["--image", f"{b:g}={path}"]
        assert (
            run(["dwi", "assess", *args, "--threshold", "250", "--out", tmp_path / name], capsys)[0]
            == 0
        )
    code, out, err = run(
        [
            "dwi",
            "compare",
            "--exam",
            f"base={tmp_path / 'e1'}",
            "--exam",
            f"follow={tmp_path / 'e2'}",
            "--out",
            tmp_path / "cmp",
        ],
        capsys,
    )
    assert code == 0, err
    lines = (tmp_path / "cmp" / "comparison.csv").read_text().splitlines()
    assert lines[0].startswith("exam,total_diffusion_volume_ml,tdv_change_vs_first_pct")
    follow = dict(zip(lines[0].split(","), lines[2].split(","), strict=True))
    assert float(follow["adc_median_change_vs_first_pct"]) == pytest.approx(100 * 400 / 700, abs=5)
    assert (tmp_path / "cmp" / "histograms.png").stat().st_size > 1000
    code, _, err = run(
        [
            "dwi",
            "compare",
            "--exam",
            f"a={tmp_path / 'e1'}",
            "--exam",
            f"b={tmp_path / 'missing'}",
            "--out",
            tmp_path / "cmp2",
        ],
        capsys,
    )
    assert_one_line_error(code, err, "summary.json not found", tmp_path / "cmp2")


def test_dicom_seg_exclusion_removes_the_organ(tmp_path, rng, capsys):
    from tumorboard.imaging.label_maps import write_dicom_seg

    images, labels, tumour = make_case(rng)
    files = []
    for i, (b, volume) in enumerate(images.items(), start=1):
        files += write_dicom_series(
            volume,
            tmp_path / "dicom",
            modality="MR",
            series_description=f"DWI b{b:g}",
            series_number=i,
            extra=diffusion_b_value_elements(b, "standard"),
            file_prefix=f"b{b:g}_",
            study={"study_instance_uid": "1.2.826.0.1.3680043.8.498.2"},
        )
    # DICOM SEG numbers segments 1..n: the organ (label 4 of the NIfTI map) is segment 1
    organ = labels.with_array((labels.array == 4).astype(np.uint8))
    seg = write_dicom_seg(
        organ, files[: labels.shape[0]], tmp_path / "organs_seg.dcm", {1: "kidney"}
    )
    code, _, err = run(
        [
            "dwi",
            "assess",
            "--dicom",
            tmp_path / "dicom",
            "--exclude",
            seg,
            "--exclude-labels",
            "1",
            "--min-volume-ml",
            "0",
            "--out",
            tmp_path / "out",
        ],
        capsys,
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    voxel_ml = np.prod(SPACING) / 1000
    assert summary["total_diffusion_volume_ml"] == pytest.approx(tumour.sum() * voxel_ml, rel=0.03)
    assert summary["excluded_voxels"] > 0


def test_swapped_b_values_are_refused(nifti_case, capsys):
    folder, paths, _ = nifti_case
    swapped = ["--image", f"50={paths[900.0]}", "--image", f"900={paths[50.0]}"]
    code, _, err = run(["dwi", "assess", *swapped, "--out", folder / "o"], capsys)
    assert_one_line_error(code, err, "the signal rises with b in most of the body", folder / "o")
    assert "b50.nii.gz" in err
