"""``tumorboard dce fit`` / ``dce map``: the contract, and one-line errors on bad input."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from tumorboard.cli.main import main
from tumorboard.dce.aif import InputFunction, parker_aif, portal_venous_input
from tumorboard.dce.fit import simulate
from tumorboard.imaging.dicom_dynamic import write_dicom_dynamic
from tumorboard.imaging.nifti import read_nifti, write_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.phantoms.liver_dce import (
    LESIONS,
    Visit,
    frame_times_s,
    liver_dce_case,
    write_visit,
)

T = np.arange(0, 240, 4.0)
CP = parker_aif(T, 10.0) / 0.55
CV = portal_venous_input(T, CP)
TRUTH = {"ktrans_per_min": [0.1, 0.3, 0.6], "ve": [0.2, 0.3, 0.5], "vp": [0.02, 0.05, 0.1]}
CONTRACT_COLUMNS = ["curve", "ktrans_per_min", "ve", "vp", "kep_per_min", "r2", "converged"]


def _write_csv(path: Path, columns: dict[str, np.ndarray]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(columns))
        for row in zip(*columns.values(), strict=True):
            writer.writerow([f"{float(v):.10g}" for v in row])
    return path


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def fit_files(tmp_path):
    curves = simulate(T, InputFunction(T, CP), "extended-tofts", TRUTH)
    curve_path = _write_csv(
        tmp_path / "curves.csv",
        {"time_s": T, "lesion_a": curves[0], "lesion_b": curves[1], "liver": curves[2]},
    )
    aif_path = _write_csv(tmp_path / "aif.csv", {"time_s": T, "cp_mM": CP, "cv_mM": CV})
    return curve_path, aif_path


def _no_partial_files(folder: Path) -> bool:
    return not any(".partial-" in p.name for p in folder.iterdir())


def test_fit_contract_extended_tofts(fit_files, tmp_path, capsys):
    curves, aif = fit_files
    out = tmp_path / "params.csv"
    rc = main(
        [
            "dce",
            "fit",
            "--curves",
            str(curves),
            "--aif",
            str(aif),
            "--model",
            "extended-tofts",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    rows = _read_csv(out)
    assert list(rows[0]) == CONTRACT_COLUMNS
    assert [r["curve"] for r in rows] == ["lesion_a", "lesion_b", "liver"]
    for i, row in enumerate(rows):
        assert row["converged"] == "true"
        for name in ("ktrans_per_min", "ve", "vp"):
            assert float(row[name]) == pytest.approx(TRUTH[name][i], rel=1e-3, abs=1e-4)
        assert float(row["r2"]) > 0.9999
    # an existing output needs --force
    rc = main(
        [
            "dce",
            "fit",
            "--curves",
            str(curves),
            "--aif",
            str(aif),
            "--model",
            "tofts",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1 and "exists" in err and err.count("\n") == 1
    rc = main(
        [
            "dce",
            "fit",
            "--curves",
            str(curves),
            "--aif",
            str(aif),
            "--model",
            "tofts",
            "--force",
            "--out",
            str(out),
        ]
    )
    assert rc == 0 and list(_read_csv(out)[0]) == [
        "curve",
        "ktrans_per_min",
        "ve",
        "kep_per_min",
        "r2",
        "converged",
    ]


@pytest.mark.parametrize(
    ("model", "columns"),
    [
        ("patlak", ["ktrans_per_min", "vp"]),
        ("2cxm", ["fp_ml_per_100ml_per_min", "ps_per_min", "ve", "vp"]),
        ("2cum", ["fp_ml_per_100ml_per_min", "ps_per_min", "vp"]),
        (
            "dual-input",
            [
                "fp_ml_per_100ml_per_min",
                "arterial_fraction",
                "distribution_volume",
                "mean_transit_time_s",
            ],
        ),
    ],
)
def test_fit_every_model_writes_its_columns(fit_files, tmp_path, model, columns):
    curves, aif = fit_files
    out = tmp_path / f"{model}.csv"
    assert (
        main(
            [
                "dce",
                "fit",
                "--curves",
                str(curves),
                "--aif",
                str(aif),
                "--model",
                model,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    rows = _read_csv(out)
    assert list(rows[0]) == ["curve", *columns, "r2", "converged"]
    assert len(rows) == 3


def test_fit_dual_input_with_haematocrit_and_delay(tmp_path):
    truth = {
        "fp_ml_per_100ml_per_min": [120.0],
        "arterial_fraction": [0.8],
        "distribution_volume": [0.3],
    }
    curve = simulate(T, InputFunction(T, CP, CV), "dual-input", truth, delay_s=3.0)[0]
    curves = _write_csv(tmp_path / "c.csv", {"time_s": T, "met": curve})
    # the AIF file holds whole blood: --hct converts it back to plasma
    aif = _write_csv(tmp_path / "a.csv", {"time_s": T, "cp_mM": CP * 0.55, "cv_mM": CV * 0.55})
    out = tmp_path / "p.csv"
    assert (
        main(
            [
                "dce",
                "fit",
                "--curves",
                str(curves),
                "--aif",
                str(aif),
                "--model",
                "dual-input",
                "--hct",
                "0.45",
                "--fit-delay",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    row = _read_csv(out)[0]
    assert float(row["arterial_fraction"]) == pytest.approx(0.8, abs=0.01)
    assert float(row["fp_ml_per_100ml_per_min"]) == pytest.approx(120.0, rel=0.02)
    assert float(row["delay_s"]) == pytest.approx(3.0, abs=0.5)


def _bad_curve_cases(tmp_path):
    good = simulate(T, InputFunction(T, CP), "tofts", {"ktrans_per_min": 0.2, "ve": 0.3})[0]
    bad_time = T.copy()
    bad_time[5], bad_time[6] = bad_time[6], bad_time[5]
    with_nan = good.copy()
    with_nan[7] = np.nan
    spike = good.copy()
    spike[20] = -0.5  # one clearly negative sample in an otherwise clean curve
    noisy = good + np.random.default_rng(5).normal(0.0, 0.02, good.size)
    return {
        "non-monotonic": ({"time_s": bad_time, "c1": good}, "column time_s"),
        "length": ({"time_s": T[:-1], "c1": good[:-1]}, "column time_s has 59 values"),
        "nan": ({"time_s": T, "c1": good, "c2": with_nan}, "column c2"),
        "negative": ({"time_s": T, "c1": -good - 0.1}, "column c1 row 33: negative concentration"),
        "negative-sample": (
            {"time_s": T, "c1": noisy, "c2": spike},
            "column c2 row 22: negative concentration",
        ),
    }


@pytest.mark.parametrize("case", ["non-monotonic", "length", "nan", "negative", "negative-sample"])
def test_fit_rejects_bad_curves(tmp_path, capsys, case):
    columns, message = _bad_curve_cases(tmp_path)[case]
    curves = _write_csv(tmp_path / "curves.csv", columns)
    aif = _write_csv(tmp_path / "aif.csv", {"time_s": T, "cp_mM": CP})
    out = tmp_path / "params.csv"
    rc = main(
        [
            "dce",
            "fit",
            "--curves",
            str(curves),
            "--aif",
            str(aif),
            "--model",
            "tofts",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err and "curves.csv" in err
    assert not out.exists() and _no_partial_files(tmp_path)


def test_fit_accepts_noise_below_zero(tmp_path):
    """Baseline noise scatters below zero: that is data, not an error."""
    good = simulate(T, InputFunction(T, CP), "tofts", {"ktrans_per_min": 0.2, "ve": 0.3})[0]
    noisy = good + np.random.default_rng(7).normal(0.0, 0.03, good.size)
    assert noisy.min() < 0
    curves = _write_csv(tmp_path / "curves.csv", {"time_s": T, "c1": noisy})
    aif = _write_csv(tmp_path / "aif.csv", {"time_s": T, "cp_mM": CP})
    out = tmp_path / "params.csv"
    assert (
        main(
            [
                "dce",
                "fit",
                "--curves",
                str(curves),
                "--aif",
                str(aif),
                "--model",
                "tofts",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert float(_read_csv(out)[0]["ktrans_per_min"]) == pytest.approx(0.2, rel=0.15)


@pytest.mark.parametrize(
    ("aif_columns", "model", "message"),
    [
        ({"time_s": T, "cp_mM": -CP}, "tofts", "column cp_mM: negative"),
        ({"time_s": T, "cp_mM": np.where(T == 40.0, np.nan, CP)}, "tofts", "column cp_mM"),
        ({"time_s": T, "cp_mM": CP}, "dual-input", "missing column cv_mM"),
        ({"time_s": T, "cp_mM": CP}, "toft", "unknown model 'toft'"),
        ({"time": T, "cp_mM": CP}, "tofts", "missing column time_s"),
    ],
)
def test_fit_rejects_bad_aif_and_model(tmp_path, capsys, aif_columns, model, message):
    good = simulate(T, InputFunction(T, CP), "tofts", {"ktrans_per_min": 0.2, "ve": 0.3})[0]
    curves = _write_csv(tmp_path / "curves.csv", {"time_s": T, "c1": good})
    aif = _write_csv(tmp_path / "aif.csv", aif_columns)
    out = tmp_path / "params.csv"
    rc = main(
        [
            "dce",
            "fit",
            "--curves",
            str(curves),
            "--aif",
            str(aif),
            "--model",
            model,
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and message in err
    assert not out.exists() and _no_partial_files(tmp_path)


# ------------------------------------------------------------------ dce map
@pytest.fixture(scope="module")
def liver_case():
    return liver_dce_case("baseline")


#: Two slices of the phantom through all four lesions keep the map tests fast.
CROP_SLICES = (13, 15)


def _crop(volume: Volume) -> Volume:
    """The slices :data:`CROP_SLICES` of the phantom, placed where they were."""
    start, stop = CROP_SLICES
    array = volume.array[..., start:stop, :, :]
    origin = volume.index_to_lps(np.array([start, 0, 0], dtype=float))
    return Volume(
        array,
        volume.spacing_mm,
        (float(origin[0]), float(origin[1]), float(origin[2])),
        volume.direction,
        volume.unit,
        volume.times_s if array.ndim == 4 else None,
    )


def _times_option(case) -> list[str]:
    """The phantom samples the first pass every 4 s, then every 25 s: NIfTI needs the times."""
    return ["--times-s", ",".join(f"{t:g}" for t in case.dynamic.times_s)]


@pytest.fixture
def liver_files(liver_case, tmp_path):
    paths = {}
    for name in ("dynamic", "t1_ms", "liver", "aorta", "portal_vein", "lesions"):
        volume = _crop(getattr(liver_case, name))
        paths[name] = write_nifti(
            volume,
            tmp_path / f"{name}.nii.gz",
            dtype=np.float32 if name in ("dynamic", "t1_ms") else None,
        )
    return paths


def test_map_nifti_dual_input_writes_maps_and_lesion_table(liver_case, liver_files, tmp_path):
    out = tmp_path / "maps"
    rc = main(
        [
            "dce",
            "map",
            "--dynamic",
            str(liver_files["dynamic"]),
            "--t1",
            str(liver_files["t1_ms"]),
            "--flip-deg",
            "15",
            "--tr-ms",
            "4",
            "--aif",
            str(liver_files["aorta"]),
            "--portal",
            str(liver_files["portal_vein"]),
            "--model",
            "dual-input",
            "--mask",
            str(liver_files["liver"]),
            "--lesions",
            str(liver_files["lesions"]),
            *_times_option(liver_case),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    names = {p.name for p in out.iterdir()}
    assert names == {
        "fp_ml_per_100ml_per_min.nii.gz",
        "arterial_fraction.nii.gz",
        "distribution_volume.nii.gz",
        "mean_transit_time_s.nii.gz",
        "r2.nii.gz",
        "failed.nii.gz",
        "iaugc60_mM_s.nii.gz",
        "lesions.csv",
    }
    iaugc60 = read_nifti(out / "iaugc60_mM_s.nii.gz")
    liver = read_nifti(liver_files["liver"]).array > 0
    assert iaugc60.unit == "mM s"
    assert np.all(iaugc60.array[liver] > 0) and np.all(np.isnan(iaugc60.array[~liver]))
    fraction = read_nifti(out / "arterial_fraction.nii.gz")
    assert fraction.same_geometry(_crop(liver_case.liver))
    rows = _read_csv(out / "lesions.csv")
    assert [int(r["lesion"]) for r in rows] == [1, 2, 3, 4]
    for row, truth in zip(rows, liver_case.truth, strict=True):
        assert float(row["arterial_fraction_median"]) == pytest.approx(
            truth.baseline["arterial_fraction"], abs=0.1
        )


def test_map_dicom_dynamic_with_population_aif(liver_case, tmp_path):
    folder = tmp_path / "dicom"
    write_dicom_dynamic(_crop(liver_case.dynamic), folder, flip_deg=15.0, tr_ms=4.0)
    out = tmp_path / "maps"
    rc = main(
        [
            "dce",
            "map",
            "--dynamic",
            str(folder),
            "--t1-ms",
            "800",
            "--aif",
            "parker",
            "--model",
            "extended-tofts",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    ktrans = read_nifti(out / "ktrans_per_min.nii.gz")
    shape = _crop(liver_case.dynamic).spatial_shape
    assert ktrans.spatial_shape == shape
    rows = _read_csv(out / "lesions.csv")
    assert len(rows) == 1 and int(rows[0]["n_voxels"]) == int(np.prod(shape))


def test_map_concentration_input(tmp_path):
    truth = {"ktrans_per_min": np.linspace(0.05, 0.5, 6), "ve": np.full(6, 0.3)}
    curves = simulate(T, InputFunction(T, CP), "tofts", truth)
    volume = Volume(
        curves.T.reshape(T.size, 1, 2, 3).astype(np.float32), (5.0, 2.0, 2.0), times_s=T, unit="mM"
    )
    dynamic = write_nifti(volume, tmp_path / "conc.nii.gz")
    aif = _write_csv(tmp_path / "aif.csv", {"time_s": T, "cp_mM": CP})
    out = tmp_path / "maps"
    assert (
        main(
            [
                "dce",
                "map",
                "--dynamic",
                str(dynamic),
                "--concentration",
                "--aif",
                str(aif),
                "--model",
                "tofts",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    ktrans = read_nifti(out / "ktrans_per_min.nii.gz").array.reshape(-1)
    np.testing.assert_allclose(ktrans, truth["ktrans_per_min"], rtol=1e-3)


def test_map_missing_flip_angle_or_tr(liver_case, liver_files, tmp_path, capsys):
    out = tmp_path / "maps"
    rc = main(
        [
            "dce",
            "map",
            "--dynamic",
            str(liver_files["dynamic"]),
            "--t1-ms",
            "800",
            "--tr-ms",
            "4",
            "--aif",
            "parker",
            "--model",
            "tofts",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1 and "flip angle" in err and err.count("\n") == 1
    folder = tmp_path / "dicom"
    write_dicom_dynamic(_crop(liver_case.dynamic), folder, flip_deg=15.0, tr_ms=None)
    rc = main(
        [
            "dce",
            "map",
            "--dynamic",
            str(folder),
            "--t1-ms",
            "800",
            "--aif",
            "parker",
            "--model",
            "tofts",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1 and "repetition time" in err and err.count("\n") == 1
    assert not out.exists() and _no_partial_files(tmp_path)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--times-s", ",".join(["0"] * frame_times_s().size)], "strictly increasing"),
        (["--times-s", "0,1,2"], "--times-s has 3 values"),
        (["--model", "toft"], "unknown model"),
        (["--aif", "aif_missing.csv"], "file not found"),
    ],
)
def test_map_bad_options(liver_files, tmp_path, capsys, extra, message):
    args = [
        "dce",
        "map",
        "--dynamic",
        str(liver_files["dynamic"]),
        "--t1-ms",
        "800",
        "--flip-deg",
        "15",
        "--tr-ms",
        "4",
        "--aif",
        "parker",
        "--model",
        "tofts",
        "--out",
        str(tmp_path / "maps"),
    ]
    for i in range(0, len(extra), 2):
        if extra[i] in args:
            args[args.index(extra[i]) + 1] = extra[i + 1]
        else:
            args += extra[i : i + 2]
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == 1 and message in err and err.count("\n") == 1
    assert not (tmp_path / "maps").exists()


def test_map_with_vfa_t1_matches_the_t1_map(liver_case, liver_files, tmp_path, capsys):
    from tumorboard.dce.t1_mapping import spgr_signal

    flips = [2.0, 5.0, 10.0, 15.0, 25.0]
    t1_ms = _crop(liver_case.t1_ms)
    vfa = spgr_signal(
        3000.0, t1_ms.array[None] / 1000.0, np.array(flips)[:, None, None, None], 0.004
    )
    vfa_volume = Volume(
        vfa.astype(np.float32),
        t1_ms.spacing_mm,
        t1_ms.origin_mm,
        t1_ms.direction,
        "a.u.",
        times_s=np.arange(len(flips), dtype=float),
    )
    vfa_path = write_nifti(vfa_volume, tmp_path / "vfa.nii.gz")
    common = [
        "dce",
        "map",
        "--dynamic",
        str(liver_files["dynamic"]),
        "--flip-deg",
        "15",
        "--tr-ms",
        "4",
        "--aif",
        str(liver_files["aorta"]),
        "--model",
        "extended-tofts",
        "--mask",
        str(liver_files["liver"]),
    ]
    assert main([*common, "--t1", str(liver_files["t1_ms"]), "--out", str(tmp_path / "a")]) == 0
    assert (
        main(
            [
                *common,
                "--vfa",
                str(vfa_path),
                "--vfa-flip-deg",
                ",".join(map(str, flips)),
                "--vfa-tr-ms",
                "4",
                "--out",
                str(tmp_path / "b"),
            ]
        )
        == 0
    )
    a = read_nifti(tmp_path / "a" / "ktrans_per_min.nii.gz").array
    b = read_nifti(tmp_path / "b" / "ktrans_per_min.nii.gz").array
    np.testing.assert_allclose(b, a, rtol=1e-3, equal_nan=True)
    capsys.readouterr()
    rc = main([*common, "--vfa", str(vfa_path), "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert rc == 1 and "--vfa needs --vfa-flip-deg" in err
    rc = main([*common, "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert rc == 1 and "pre-contrast T1" in err and not (tmp_path / "c").exists()


def test_map_empty_mask_is_an_error(liver_files, tmp_path, capsys):
    empty = read_nifti(liver_files["liver"])
    empty_path = write_nifti(
        empty.with_array(np.zeros(empty.shape, np.uint8)), tmp_path / "empty.nii.gz"
    )
    rc = main(
        [
            "dce",
            "map",
            "--dynamic",
            str(liver_files["dynamic"]),
            "--t1-ms",
            "800",
            "--flip-deg",
            "15",
            "--tr-ms",
            "4",
            "--aif",
            "parker",
            "--model",
            "tofts",
            "--mask",
            str(empty_path),
            "--out",
            str(tmp_path / "maps"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1 and "selects no voxel" in err and not (tmp_path / "maps").exists()


def test_map_dicom_dynamic_with_dicom_seg_lesions(liver_case, tmp_path):
    """LABELS may be a DICOM SEG drawn on the dynamic series (first frame's images)."""
    from tumorboard.imaging.label_maps import write_dicom_seg

    dynamic = _crop(liver_case.dynamic)
    files = write_dicom_dynamic(dynamic, tmp_path / "dicom", flip_deg=15.0, tr_ms=4.0)
    first_frame = files[: dynamic.spatial_shape[0]]
    labels = _crop(liver_case.lesions)
    seg = write_dicom_seg(
        labels.with_array(labels.array.astype(np.uint16)),
        first_frame,
        tmp_path / "lesions_seg.dcm",
        {int(v): f"lesion {int(v)}" for v in np.unique(labels.array) if v},
    )
    out = tmp_path / "maps"
    rc = main(
        [
            "dce",
            "map",
            "--dynamic",
            str(tmp_path / "dicom"),
            "--t1-ms",
            "800",
            "--aif",
            "parker",
            "--model",
            "tofts",
            "--lesions",
            str(seg),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    rows = _read_csv(out / "lesions.csv")
    expected = {int(v): int((labels.array == v).sum()) for v in np.unique(labels.array) if v}
    assert {int(r["lesion"]): int(r["n_voxels"]) for r in rows} == expected


def test_map_lesions_on_another_grid_is_a_one_line_error(liver_files, tmp_path, capsys):
    labels = read_nifti(liver_files["lesions"])
    other = write_nifti(
        Volume(
            labels.array[:, :40, :].astype(np.uint8),
            labels.spacing_mm,
            labels.origin_mm,
            labels.direction,
            labels.unit,
        ),
        tmp_path / "other.nii.gz",
    )
    rc = main(
        [
            "dce",
            "map",
            "--dynamic",
            str(liver_files["dynamic"]),
            "--t1-ms",
            "800",
            "--flip-deg",
            "15",
            "--tr-ms",
            "4",
            "--aif",
            "parker",
            "--model",
            "tofts",
            "--lesions",
            str(other),
            "--out",
            str(tmp_path / "maps"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "other.nii.gz" in err
    assert not (tmp_path / "maps").exists() and _no_partial_files(tmp_path)


def test_map_t1_in_seconds_is_caught_or_read_by_its_unit(liver_files, tmp_path, capsys):
    t1 = read_nifti(liver_files["t1_ms"])
    seconds = t1.with_array((t1.array / 1000.0).astype(np.float32), unit="1")
    wrong = write_nifti(seconds, tmp_path / "t1_s.nii.gz")
    common = [
        "dce",
        "map",
        "--dynamic",
        str(liver_files["dynamic"]),
        "--flip-deg",
        "15",
        "--tr-ms",
        "4",
        "--aif",
        "parker",
        "--model",
        "tofts",
    ]
    rc = main([*common, "--t1", str(wrong), "--out", str(tmp_path / "a")])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "t1_s.nii.gz" in err and "in ms" in err
    assert not (tmp_path / "a").exists()
    labelled = write_nifti(seconds.with_array(seconds.array, unit="s"), tmp_path / "t1_unit.nii.gz")
    assert main([*common, "--t1", str(labelled), "--out", str(tmp_path / "b")]) == 0
    assert main([*common, "--t1", str(liver_files["t1_ms"]), "--out", str(tmp_path / "c")]) == 0
    np.testing.assert_allclose(
        read_nifti(tmp_path / "b" / "ktrans_per_min.nii.gz").array,
        read_nifti(tmp_path / "c" / "ktrans_per_min.nii.gz").array,
        rtol=1e-4,
        equal_nan=True,
    )


def test_fit_times_rounded_in_one_file_still_match(tmp_path):
    t = np.arange(0, 240, 4.0 / 3.0)  # 1.333... s frames
    cp = parker_aif(t, 10.0) / 0.55
    curve = simulate(t, InputFunction(t, cp), "tofts", {"ktrans_per_min": 0.25, "ve": 0.3})[0]
    with open(tmp_path / "curves.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time_s", "met"])
        writer.writerows([f"{a:.3f}", f"{b:.8g}"] for a, b in zip(t, curve, strict=True))
    aif = _write_csv(tmp_path / "aif.csv", {"time_s": t, "cp_mM": cp})
    out = tmp_path / "p.csv"
    assert (
        main(
            [
                "dce",
                "fit",
                "--curves",
                str(tmp_path / "curves.csv"),
                "--aif",
                str(aif),
                "--model",
                "tofts",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert float(_read_csv(out)[0]["ktrans_per_min"]) == pytest.approx(0.25, rel=1e-3)


def test_fit_times_that_really_differ_are_refused(tmp_path, capsys):
    good = simulate(T, InputFunction(T, CP), "tofts", {"ktrans_per_min": 0.2, "ve": 0.3})[0]
    curves = _write_csv(tmp_path / "curves.csv", {"time_s": T + 0.5, "c1": good})
    aif = _write_csv(tmp_path / "aif.csv", {"time_s": T, "cp_mM": CP})
    rc = main(
        [
            "dce",
            "fit",
            "--curves",
            str(curves),
            "--aif",
            str(aif),
            "--model",
            "tofts",
            "--out",
            str(tmp_path / "p.csv"),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1
    assert "column time_s differs from AIF" in err and "row 2" in err
    assert not (tmp_path / "p.csv").exists()


#: file, model, tissue column, AIF column, checks (reference, PARAMS column, atol, rtol)
OSIPI_CLI_CASES = [
    (
        "dce_DRO_data_tofts.csv",
        "tofts",
        "C",
        "ca",
        [("Ktrans", "ktrans_per_min", 0.005, 0.1), ("ve", "ve", 0.05, 0.0)],
    ),
    (
        "dce_DRO_data_extended_tofts.csv",
        "extended-tofts",
        "C",
        "ca",
        [
            ("Ktrans", "ktrans_per_min", 0.005, 0.1),
            ("ve", "ve", 0.05, 0.0),
            ("vp", "vp", 0.025, 0.0),
        ],
    ),
    (
        "2cxm_sd_0.001_delay_0.csv",
        "2cxm",
        "C_t",
        "cp_aif",
        [
            ("fp", "fp_ml_per_100ml_per_min", 5.0, 0.1),
            ("ps", "ps_per_min", 0.005, 0.1),
            ("ve", "ve", 0.05, 0.0),
            ("vp", "vp", 0.025, 0.0),
        ],
    ),
    (
        "2cum_sd_0.0025_delay_0.csv",
        "2cum",
        "C_t",
        "cp_aif",
        [
            ("fp", "fp_ml_per_100ml_per_min", 5.0, 0.1),
            ("ps", "ps_per_min", 0.005, 0.1),
            ("vp", "vp", 0.025, 0.0),
        ],
    ),
    (
        "patlak_sd_0.02_delay_0.csv",
        "patlak",
        "C_t",
        "cp_aif",
        [("ps", "ktrans_per_min", 0.005, 0.1), ("vp", "vp", 0.025, 0.0)],
    ),
]


@pytest.mark.parametrize("case", OSIPI_CLI_CASES, ids=[c[0] for c in OSIPI_CLI_CASES])
def test_fit_cli_passes_the_osipi_cases(reference_dir, tmp_path, case):
    """The contract end to end: OSIPI curves written as CURVES.csv/AIF.csv, PARAMS.csv read."""
    name, model, tissue, aif_column, checks = case
    with open(reference_dir / "dce" / "osipi" / "DCEmodels" / name, encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    groups: dict[tuple[str, str], list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault((row["t"], row[aif_column]), []).append(row)
    n_checked = 0
    for g, ((t_cell, aif_cell), members) in enumerate(groups.items()):
        t = np.array(t_cell.split(), float)
        curves = {m["label"]: np.array(m[tissue].split(), float) for m in members}
        curve_path = _write_csv(tmp_path / f"curves{g}.csv", {"time_s": t, **curves})
        aif_path = _write_csv(
            tmp_path / f"aif{g}.csv", {"time_s": t, "cp_mM": np.array(aif_cell.split(), float)}
        )
        out = tmp_path / f"params{g}.csv"
        assert (
            main(
                [
                    "dce",
                    "fit",
                    "--curves",
                    str(curve_path),
                    "--aif",
                    str(aif_path),
                    "--model",
                    model,
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        fitted = {r["curve"]: r for r in _read_csv(out)}
        for member in members:
            row = fitted[member["label"]]
            assert row["converged"] == "true"
            for reference, column, atol, rtol in checks:
                expected = float(member[reference])
                assert abs(float(row[column]) - expected) <= atol + rtol * abs(expected), (
                    member["label"],
                    column,
                )
            n_checked += 1
    assert n_checked == len(rows) >= 9


@pytest.mark.parametrize("hct", ["45", "-0.1", "nan"])
def test_fit_rejects_a_haematocrit_that_is_not_a_fraction(fit_files, tmp_path, capsys, hct):
    curves, aif = fit_files
    out = tmp_path / "p.csv"
    rc = main(
        [
            "dce",
            "fit",
            "--curves",
            str(curves),
            "--aif",
            str(aif),
            "--model",
            "tofts",
            "--hct",
            hct,
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "--hct: haematocrit must be a fraction" in err
    assert not out.exists() and _no_partial_files(tmp_path)


def test_map_short_series_skips_iaugc60_and_says_so(tmp_path, capsys):
    t = np.arange(0, 52, 4.0)  # ends ~40 s after the bolus
    cp = parker_aif(t, 10.0) / 0.55
    curves = simulate(t, InputFunction(t, cp), "tofts", {"ktrans_per_min": [0.2, 0.3], "ve": 0.3})
    volume = Volume(
        curves.T.reshape(t.size, 1, 1, 2).astype(np.float32), (5.0, 2.0, 2.0), times_s=t, unit="mM"
    )
    dynamic = write_nifti(volume, tmp_path / "conc.nii.gz")
    aif = _write_csv(tmp_path / "aif.csv", {"time_s": t, "cp_mM": cp})
    out = tmp_path / "maps"
    assert (
        main(
            [
                "dce",
                "map",
                "--dynamic",
                str(dynamic),
                "--concentration",
                "--aif",
                str(aif),
                "--model",
                "tofts",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "IAUGC60 not computed" in capsys.readouterr().out
    assert not (out / "iaugc60_mM_s.nii.gz").exists() and (out / "lesions.csv").exists()


# ------------------------------------------------- dce map on the written reference phantom
@pytest.fixture(scope="module")
def written_visit(tmp_path_factory):
    """The baseline visit as the reference patient stores it (DICOM dynamic, VFA, masks)."""
    folder = tmp_path_factory.mktemp("dce") / Visit.BASELINE.folder
    write_visit(liver_dce_case(Visit.BASELINE), folder)
    return folder


def _truth(folder: Path) -> dict:
    import json

    return json.loads((folder / "truth.json").read_text())


def test_map_phantom_dicom_dual_input_with_vfa_recovers_the_truth(written_visit, tmp_path, capsys):
    folder = written_visit
    truth = _truth(folder)
    acquisition = truth["acquisition"]
    out = tmp_path / "maps"
    rc = main(
        [
            "dce",
            "map",
            "--dynamic",
            str(folder / "dicom"),
            "--vfa",
            str(folder / "vfa.nii.gz"),
            "--vfa-flip-deg",
            ",".join(f"{a:g}" for a in acquisition["vfa_flip_deg"]),
            "--vfa-tr-ms",
            f"{acquisition['vfa_tr_ms']:g}",
            "--aif",
            str(folder / "aorta.nii.gz"),
            "--portal",
            str(folder / "portal_vein.nii.gz"),
            "--hct",
            f"{acquisition['hct']:g}",
            "--model",
            "dual-input",
            "--mask",
            str(folder / "liver.nii.gz"),
            "--lesions",
            str(folder / "lesions.nii.gz"),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    assert "0 failed" in capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == {
        "fp_ml_per_100ml_per_min.nii.gz",
        "arterial_fraction.nii.gz",
        "distribution_volume.nii.gz",
        "mean_transit_time_s.nii.gz",
        "r2.nii.gz",
        "failed.nii.gz",
        "iaugc60_mM_s.nii.gz",
        "lesions.csv",
    }
    liver = read_nifti(folder / "liver.nii.gz")
    fraction = read_nifti(out / "arterial_fraction.nii.gz")
    assert fraction.same_geometry(liver)
    # the parenchyma is portal-dominant, the metastases arterial-dominant
    parenchyma = (liver.array > 0) & (read_nifti(folder / "lesions.nii.gz").array == 0)
    assert np.nanmedian(fraction.array[parenchyma]) == pytest.approx(
        truth["liver"]["arterial_fraction"], abs=0.05
    )
    rows = _read_csv(out / "lesions.csv")
    assert [int(r["lesion"]) for r in rows] == [lesion.label for lesion in LESIONS]
    for row, lesion in zip(rows, truth["lesions"], strict=True):
        expected = lesion["parameters"]
        assert int(row["n_voxels"]) == lesion["n_voxels"]
        assert float(row["fp_ml_per_100ml_per_min_median"]) == pytest.approx(
            expected["fp_ml_per_100ml_per_min"], rel=0.10
        )
        assert float(row["arterial_fraction_median"]) == pytest.approx(
            expected["arterial_fraction"], abs=0.05
        )
        assert float(row["distribution_volume_median"]) == pytest.approx(
            expected["distribution_volume"], abs=0.05
        )


def test_map_phantom_dicom_extended_tofts_ktrans_matches_the_truth(written_visit, tmp_path):
    folder = written_visit
    truth = _truth(folder)
    out = tmp_path / "maps"
    rc = main(
        [
            "dce",
            "map",
            "--dynamic",
            str(folder / "dicom"),
            "--t1",
            str(folder / "t1_ms.nii.gz"),
            "--aif",
            str(folder / "aorta.nii.gz"),
            "--model",
            "extended-tofts",
            "--mask",
            str(folder / "liver.nii.gz"),
            "--lesions",
            str(folder / "lesions.nii.gz"),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    assert (out / "ktrans_per_min.nii.gz").is_file() and (out / "vp.nii.gz").is_file()
    rows = _read_csv(out / "lesions.csv")
    for row, lesion in zip(rows, truth["lesions"], strict=True):
        assert float(row["ktrans_per_min_median"]) == pytest.approx(
            lesion["parameters"]["ktrans_per_min"], rel=0.10
        )
