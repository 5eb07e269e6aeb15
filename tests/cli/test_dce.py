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
from tumorboard.phantoms.liver_dce import liver_dce_case

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
    curve_path = _write_csv(tmp_path / "curves.csv", {
        "time_s": T, "lesion_a": curves[0], "lesion_b": curves[1], "liver": curves[2]})
    aif_path = _write_csv(tmp_path / "aif.csv", {"time_s": T, "cp_mM": CP, "cv_mM": CV})
    return curve_path, aif_path


def _no_partial_files(folder: Path) -> bool:
    return not any(".partial-" in p.name for p in folder.iterdir())


def test_fit_contract_extended_tofts(fit_files, tmp_path, capsys):
    curves, aif = fit_files
    out = tmp_path / "params.csv"
    rc = main(["dce", "fit", "--curves", str(curves), "--aif", str(aif),
               "--model", "extended-tofts", "--out", str(out)])
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
    rc = main(["dce", "fit", "--curves", str(curves), "--aif", str(aif),
               "--model", "tofts", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and "exists" in err and err.count("\n") == 1
    rc = main(["dce", "fit", "--curves", str(curves), "--aif", str(aif), "--model", "tofts",
               "--force", "--out", str(out)])
    assert rc == 0 and list(_read_csv(out)[0]) == [
        "curve", "ktrans_per_min", "ve", "kep_per_min", "r2", "converged"]


@pytest.mark.parametrize(
    ("model", "columns"),
    [
        ("patlak", ["ktrans_per_min", "vp"]),
        ("2cxm", ["fp_ml_per_100ml_per_min", "ps_per_min", "ve", "vp"]),
        ("2cum", ["fp_ml_per_100ml_per_min", "ps_per_min", "vp"]),
        ("dual-input", ["fp_ml_per_100ml_per_min", "arterial_fraction", "distribution_volume",
                        "mean_transit_time_s"]),
    ],
)
def test_fit_every_model_writes_its_columns(fit_files, tmp_path, model, columns):
    curves, aif = fit_files
    out = tmp_path / f"{model}.csv"
    assert main(["dce", "fit", "--curves", str(curves), "--aif", str(aif), "--model", model,
                 "--out", str(out)]) == 0
    rows = _read_csv(out)
    assert list(rows[0]) == ["curve", *columns, "r2", "converged"]
    assert len(rows) == 3


def test_fit_dual_input_with_haematocrit_and_delay(tmp_path):
    truth = {"fp_ml_per_100ml_per_min": [120.0], "arterial_fraction": [0.8],
             "distribution_volume": [0.3]}
    curve = simulate(T, InputFunction(T, CP, CV), "dual-input", truth, delay_s=3.0)[0]
    curves = _write_csv(tmp_path / "c.csv", {"time_s": T, "met": curve})
    # the AIF file holds whole blood: --hct converts it back to plasma
    aif = _write_csv(tmp_path / "a.csv", {"time_s": T, "cp_mM": CP * 0.55, "cv_mM": CV * 0.55})
    out = tmp_path / "p.csv"
    assert main(["dce", "fit", "--curves", str(curves), "--aif", str(aif), "--model",
                 "dual-input", "--hct", "0.45", "--fit-delay", "--out", str(out)]) == 0
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
    return {
        "non-monotonic": ({"time_s": bad_time, "c1": good}, "column time_s"),
        "length": ({"time_s": T[:-1], "c1": good[:-1]}, "column time_s has 59 values"),
        "nan": ({"time_s": T, "c1": good, "c2": with_nan}, "column c2"),
        "negative": ({"time_s": T, "c1": -good - 0.1}, "column c1 has negative"),
    }


@pytest.mark.parametrize("case", ["non-monotonic", "length", "nan", "negative"])
def test_fit_rejects_bad_curves(tmp_path, capsys, case):
    columns, message = _bad_curve_cases(tmp_path)[case]
    curves = _write_csv(tmp_path / "curves.csv", columns)
    aif = _write_csv(tmp_path / "aif.csv", {"time_s": T, "cp_mM": CP})
    out = tmp_path / "params.csv"
    rc = main(["dce", "fit", "--curves", str(curves), "--aif", str(aif), "--model", "tofts",
               "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err and "curves.csv" in err
    assert not out.exists() and _no_partial_files(tmp_path)


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
    rc = main(["dce", "fit", "--curves", str(curves), "--aif", str(aif), "--model", model,
               "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and message in err
    assert not out.exists() and _no_partial_files(tmp_path)


# ------------------------------------------------------------------ dce map
@pytest.fixture(scope="module")
def liver_case():
    return liver_dce_case("baseline")


def _crop(volume: Volume) -> Volume:
    """One slice of the phantom keeps the map tests fast."""
    array = volume.array[..., :1, :, :]
    return Volume(array, volume.spacing_mm, volume.origin_mm, volume.direction, volume.unit,
                  volume.times_s if array.ndim == 4 else None)


@pytest.fixture
def liver_files(liver_case, tmp_path):
    paths = {}
    for name in ("dynamic", "t1_ms", "liver", "aorta", "portal_vein", "lesions"):
        volume = _crop(getattr(liver_case, name))
        paths[name] = write_nifti(volume, tmp_path / f"{name}.nii.gz",
                                  dtype=np.float32 if name in ("dynamic", "t1_ms") else None)
    return paths


def test_map_nifti_dual_input_writes_maps_and_lesion_table(liver_case, liver_files, tmp_path):
    out = tmp_path / "maps"
    rc = main(["dce", "map", "--dynamic", str(liver_files["dynamic"]),
               "--t1", str(liver_files["t1_ms"]), "--flip-deg", "15", "--tr-ms", "4",
               "--aif", str(liver_files["aorta"]), "--portal", str(liver_files["portal_vein"]),
               "--model", "dual-input", "--mask", str(liver_files["liver"]),
               "--lesions", str(liver_files["lesions"]), "--out", str(out)])
    assert rc == 0
    names = {p.name for p in out.iterdir()}
    assert names == {"fp_ml_per_100ml_per_min.nii.gz", "arterial_fraction.nii.gz",
                     "distribution_volume.nii.gz", "mean_transit_time_s.nii.gz", "r2.nii.gz",
                     "failed.nii.gz", "lesions.csv"}
    fraction = read_nifti(out / "arterial_fraction.nii.gz")
    assert fraction.same_geometry(_crop(liver_case.liver))
    rows = _read_csv(out / "lesions.csv")
    assert [int(r["lesion"]) for r in rows] == [1, 2, 3]
    for row, truth in zip(rows, liver_case.truth, strict=True):
        assert float(row["arterial_fraction_median"]) == pytest.approx(
            truth.baseline["arterial_fraction"], abs=0.1)


def test_map_dicom_dynamic_with_population_aif(liver_case, tmp_path):
    folder = tmp_path / "dicom"
    write_dicom_dynamic(_crop(liver_case.dynamic), folder, flip_deg=15.0, tr_ms=4.0)
    out = tmp_path / "maps"
    rc = main(["dce", "map", "--dynamic", str(folder), "--t1-ms", "800", "--aif", "parker",
               "--model", "extended-tofts", "--out", str(out)])
    assert rc == 0
    ktrans = read_nifti(out / "ktrans_per_min.nii.gz")
    assert ktrans.spatial_shape == (1, 48, 48)
    rows = _read_csv(out / "lesions.csv")
    assert len(rows) == 1 and int(rows[0]["n_voxels"]) == 48 * 48


def test_map_concentration_input(tmp_path):
    truth = {"ktrans_per_min": np.linspace(0.05, 0.5, 6), "ve": np.full(6, 0.3)}
    curves = simulate(T, InputFunction(T, CP), "tofts", truth)
    volume = Volume(curves.T.reshape(T.size, 1, 2, 3).astype(np.float32), (5.0, 2.0, 2.0),
                    times_s=T, unit="mM")
    dynamic = write_nifti(volume, tmp_path / "conc.nii.gz")
    aif = _write_csv(tmp_path / "aif.csv", {"time_s": T, "cp_mM": CP})
    out = tmp_path / "maps"
    assert main(["dce", "map", "--dynamic", str(dynamic), "--concentration", "--aif", str(aif),
                 "--model", "tofts", "--out", str(out)]) == 0
    ktrans = read_nifti(out / "ktrans_per_min.nii.gz").array.reshape(-1)
    np.testing.assert_allclose(ktrans, truth["ktrans_per_min"], rtol=1e-3)


def test_map_missing_flip_angle_or_tr(liver_case, liver_files, tmp_path, capsys):
    out = tmp_path / "maps"
    rc = main(["dce", "map", "--dynamic", str(liver_files["dynamic"]), "--t1-ms", "800",
               "--tr-ms", "4", "--aif", "parker", "--model", "tofts", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and "flip angle" in err and err.count("\n") == 1
    folder = tmp_path / "dicom"
    write_dicom_dynamic(_crop(liver_case.dynamic), folder, flip_deg=15.0, tr_ms=None)
    rc = main(["dce", "map", "--dynamic", str(folder), "--t1-ms", "800", "--aif", "parker",
               "--model", "tofts", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and "repetition time" in err and err.count("\n") == 1
    assert not out.exists() and _no_partial_files(tmp_path)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--times-s", ",".join(["0"] * 60)], "strictly increasing"),
        (["--times-s", "0,1,2"], "--times-s has 3 values"),
        (["--model", "toft"], "unknown model"),
        (["--aif", "aif_missing.csv"], "file not found"),
    ],
)
def test_map_bad_options(liver_files, tmp_path, capsys, extra, message):
    args = ["dce", "map", "--dynamic", str(liver_files["dynamic"]), "--t1-ms", "800",
            "--flip-deg", "15", "--tr-ms", "4", "--aif", "parker", "--model", "tofts",
            "--out", str(tmp_path / "maps")]
    for i in range(0, len(extra), 2):
        if extra[i] in args:
            args[args.index(extra[i]) + 1] = extra[i + 1]
        else:
            args += extra[i:i + 2]
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == 1 and message in err and err.count("\n") == 1
    assert not (tmp_path / "maps").exists()


def test_map_with_vfa_t1_matches_the_t1_map(liver_case, liver_files, tmp_path, capsys):
    from tumorboard.dce.t1_mapping import spgr_signal

    flips = [2.0, 5.0, 10.0, 15.0, 25.0]
    t1_ms = _crop(liver_case.t1_ms)
    vfa = spgr_signal(3000.0, t1_ms.array[None] / 1000.0,
                      np.array(flips)[:, None, None, None], 0.004)
    vfa_volume = Volume(vfa.astype(np.float32), t1_ms.spacing_mm, t1_ms.origin_mm,
                        t1_ms.direction, "a.u.", times_s=np.arange(len(flips), dtype=float))
    vfa_path = write_nifti(vfa_volume, tmp_path / "vfa.nii.gz")
    common = ["dce", "map", "--dynamic", str(liver_files["dynamic"]), "--flip-deg", "15",
              "--tr-ms", "4", "--aif", str(liver_files["aorta"]), "--model", "extended-tofts",
              "--mask", str(liver_files["liver"])]
    assert main([*common, "--t1", str(liver_files["t1_ms"]), "--out", str(tmp_path / "a")]) == 0
    assert main([*common, "--vfa", str(vfa_path), "--vfa-flip-deg", ",".join(map(str, flips)),
                 "--vfa-tr-ms", "4", "--out", str(tmp_path / "b")]) == 0
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
    empty_path = write_nifti(empty.with_array(np.zeros(empty.shape, np.uint8)),
                             tmp_path / "empty.nii.gz")
    rc = main(["dce", "map", "--dynamic", str(liver_files["dynamic"]), "--t1-ms", "800",
               "--flip-deg", "15", "--tr-ms", "4", "--aif", "parker", "--model", "tofts",
               "--mask", str(empty_path), "--out", str(tmp_path / "maps")])
    err = capsys.readouterr().err
    assert rc == 1 and "selects no voxel" in err and not (tmp_path / "maps").exists()
