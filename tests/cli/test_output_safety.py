"""Every command's ``--out`` goes through the output-safety layer: nothing is lost.

Inputs are real (small) so that, without the guard, each command would run to
the end and replace what it must not.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset

import tumorboard.outputs as outputs
from tumorboard.cli.main import main
from tumorboard.dce.aif import InputFunction, parker_aif
from tumorboard.dce.fit import simulate
from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.nifti import write_nifti
from tumorboard.imaging.volume import Volume

FACTS = {
    "primary_site": "pancreas",
    "tumour_type": "gastrinoma",
    "ki67_pct": 12,
    "mitoses_per_2mm2": 3,
    "differentiation": "well",
    "functioning": True,
    "syndrome": "Zollinger-Ellison",
    "tumour_burden": "high",
    "krenning_min": 3,
    "drug_type": "targeted",
}


def run(argv: list[Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def assert_one_line(code: int, err: str, *patterns: str) -> None:
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for pattern in patterns:
        assert pattern in lines[0], lines[0]


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` with its content."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def no_leftovers(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name]


@pytest.fixture
def facts(tmp_path: Path) -> Path:
    path = tmp_path / "FACTS.json"
    path.write_text(json.dumps(FACTS), encoding="utf-8")
    return path


@pytest.fixture
def measure_inputs(tmp_path: Path) -> list[str]:
    z, y, x = np.indices((6, 16, 16))
    lesion = (x - 8) ** 2 + (y - 8) ** 2 + ((z - 3) * 2) ** 2 <= 16
    image = write_nifti(
        Volume(np.where(lesion, 60.0, -100.0).astype(np.float32), (2.0, 1.0, 1.0), unit="HU"),
        tmp_path / "ct.nii.gz",
    )
    labels = write_nifti(
        Volume(lesion.astype(np.uint8), (2.0, 1.0, 1.0), unit="label"), tmp_path / "labels.nii.gz"
    )
    return ["measure", "--image", str(image), "--labels", str(labels)] + [
        "--date",
        "2024-01-08",
        "--patient-id",
        "P1",
        "--role",
        "target",
    ]


@pytest.fixture
def dce_fit_inputs(tmp_path: Path) -> list[str]:
    times = np.arange(0, 120, 4.0)
    cp = parker_aif(times, 10.0) / 0.55
    curves = simulate(
        times, InputFunction(times, cp), "tofts", {"ktrans_per_min": [0.2], "ve": [0.3]}
    )
    paths = []
    for name, columns in (("curves", {"lesion": curves[0]}), ("aif", {"cp_mM": cp})):
        path = tmp_path / f"{name}.csv"
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["time_s", *columns])
            for row in zip(times, *columns.values(), strict=True):
                writer.writerow([f"{float(v):.10g}" for v in row])
        paths.append(path)
    return ["dce", "fit", "--curves", str(paths[0]), "--aif", str(paths[1]), "--model", "tofts"]


def write_pet_series(folder: Path) -> Path:
    """A 4-slice PET series (as in test_pet)."""
    item = Dataset()
    item.RadionuclideTotalDose = "370000000"
    item.RadionuclideHalfLife = "6586.2"
    item.RadiopharmaceuticalStartDateTime = "20250101100000"
    write_dicom_series(
        Volume(np.full((4, 8, 8), 1000.0), (4.0, 4.0, 4.0)),
        folder,
        modality="PT",
        series_description="small PET",
        series_number=7,
        study={"patient_sex": "M", "patient_size_m": 1.75, "patient_weight_kg": 70.0},
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
    return folder


@pytest.fixture(scope="module")
def assessed_exams(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two ``dwi assess`` outputs, e1 and e2."""
    folder = tmp_path_factory.mktemp("exams")
    rng = np.random.default_rng(7)
    shape = (8, 32, 32)
    zz, yy, xx = np.indices(shape)
    body = ((yy - 16) / 14) ** 2 + ((xx - 16) / 14) ** 2 <= 1
    tumour = (zz - 4) ** 2 + (yy - 14) ** 2 + (xx - 14) ** 2 <= 16
    for name, tumour_adc, date in (("e1", 700.0, "2025-01-06"), ("e2", 1000.0, "2025-04-07")):
        s0 = np.where(body, 250.0, 0.0)
        adc = np.where(body, 1500.0, 0.0)
        s0[tumour], adc[tumour] = 250 * np.exp(tumour_adc / 1000), tumour_adc
        argv: list[Any] = ["dwi", "assess", "--threshold", "250", "--date", date]
        for b in (50.0, 600.0, 900.0):
            clean = s0 * np.exp(-b * adc * 1e-6)
            noisy = np.hypot(clean + rng.normal(0, 2, shape), rng.normal(0, 2, shape))
            volume = Volume(noisy.astype(np.float32), (5.0, 3.0, 3.0))
            argv += ["--image", f"{b:g}={write_nifti(volume, folder / f'{name}_b{b:g}.nii.gz')}"]
        assert main([str(a) for a in [*argv, "--out", folder / name]]) == 0
    return folder


# -- 1. --force never replaces a folder by a file, nor a file by a folder ------------------


@pytest.mark.parametrize("command", ["measure", "dce fit", "radiomics"])
def test_file_output_never_replaces_a_folder(
    command, tmp_path, capsys, measure_inputs, dce_fit_inputs
):
    folder = tmp_path / "V"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "keep.txt").write_text("keep")
    argv = {
        "measure": measure_inputs,
        "dce fit": dce_fit_inputs,
        "radiomics": ["radiomics", "--image", measure_inputs[2], "--labels", measure_inputs[4]],
    }[command]
    code, err = run([*argv, "--out", folder, "--force"], capsys)
    assert_one_line(code, err, f"output {folder} is a folder", "never replaced")
    assert tree(folder) == {"sub/keep.txt": b"keep"}
    assert no_leftovers(tmp_path)


def test_folder_output_never_replaces_a_file(tmp_path, capsys, facts):
    target = tmp_path / "guide.txt"
    target.write_text("mine")
    code, err = run(["guide", facts, "--out", target, "--force"], capsys)
    assert_one_line(code, err, f"output {target} is a file")
    assert target.read_text() == "mine"


# -- 2. --out is never, around or inside an input ------------------------------------------


def test_pet_suv_out_equal_to_its_series_folder(tmp_path, capsys):
    series = write_pet_series(tmp_path / "petin")
    before = tree(series)
    for out in (series, series / "results"):
        code, err = run(["pet", "suv", series, "--out", out, "--force"], capsys)
        assert_one_line(code, err, f"output {out}", f"input {series}")
    assert tree(series) == before and len(before) == 4


def test_dwi_compare_out_equal_to_an_exam(tmp_path, capsys, assessed_exams):
    e1 = shutil.copytree(assessed_exams / "e1", tmp_path / "e1")
    e2 = shutil.copytree(assessed_exams / "e2", tmp_path / "e2")
    before = tree(e1)
    for out in (e1, tmp_path):
        code, err = run(
            ["dwi", "compare", "--exam", f"a={e1}", "--exam", f"b={e2}", "--out", out, "--force"],
            capsys,
        )
        assert_one_line(code, err, f"output {out}", "input")
    assert tree(e1) == before and "summary.json" in before
    # a separate folder still works
    code, err = run(
        ["dwi", "compare", "--exam", f"a={e1}", "--exam", f"b={e2}", "--out", tmp_path / "c"],
        capsys,
    )
    assert code == 0, err
    assert (tmp_path / "c" / "comparison.csv").is_file()


def test_guide_out_holding_its_facts_through_a_symbolic_link(tmp_path, capsys):
    case = tmp_path / "case"
    case.mkdir()
    facts = case / "FACTS.json"
    facts.write_text(json.dumps(FACTS), encoding="utf-8")
    (tmp_path / "alias").symlink_to(case)
    code, err = run(["guide", facts, "--out", tmp_path / "alias", "--force"], capsys)
    assert_one_line(code, err, f"output {tmp_path / 'alias'} contains input {facts}")
    assert json.loads(facts.read_text()) == FACTS


def test_measure_sr_and_out_on_the_same_path(tmp_path, capsys, measure_inputs):
    out = tmp_path / "same.dcm"
    code, err = run([*measure_inputs, "--out", out, "--sr", out], capsys)
    assert_one_line(code, err, str(out))
    assert not out.exists()


# -- 3. the claim at the end: a run finishing first is never silently replaced ------------


def test_a_second_run_without_force_fails_at_the_claim(tmp_path, capsys, facts, monkeypatch):
    import tumorboard.cli.guide as guide_cli

    out = tmp_path / "guide"
    real = guide_cli.render_guide_page

    def meanwhile(*args: Any) -> Any:
        # while this run writes its staging folder, another run claims the same output
        monkeypatch.setattr(guide_cli, "render_guide_page", real)
        assert main(["guide", str(facts), "--out", str(out)]) == 0
        (out / "first.txt").write_text("first run")
        return real(*args)

    monkeypatch.setattr(guide_cli, "render_guide_page", meanwhile)
    code, err = run(["guide", facts, "--out", out], capsys)
    assert_one_line(code, err, f"output {out} exists; use --force")
    assert (out / "first.txt").read_text() == "first run"
    assert no_leftovers(tmp_path)


# -- 4. leftovers of killed runs -----------------------------------------------------------


def test_leftovers_of_a_killed_run_are_cleaned_by_the_next(tmp_path, capsys, facts):
    out = tmp_path / "guide"
    # a run that ends without cleaning up what it left beside its output
    script = (
        "import os, sys, tempfile\n"
        "for kind in ('partial', 'old'):\n"
        "    prefix = f'.guide.{kind}-{os.getpid()}-{sys.argv[2]}-'\n"
        "    tempfile.mkdtemp(prefix=prefix, dir=sys.argv[1])\n"
    )
    subprocess.run([sys.executable, "-c", script, tmp_path, outputs._HOST_TAG], check=True)
    assert len([p for p in tmp_path.iterdir() if p.name.startswith(".guide.")]) == 2
    code, err = run(["guide", facts, "--out", out], capsys)
    # the killed run had moved the old output aside: it is back, so this run must not replace it
    assert_one_line(code, err, "exists")
    assert no_leftovers(tmp_path)
    code, err = run(["guide", facts, "--out", out, "--force"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["guide.html", "guide.json"]


# -- 6. one line, no traceback: disk full, read-only, odd --out paths ---------------------


def enospc(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("command", ["guide", "measure", "dce fit"])
def test_disk_full_is_one_line_and_keeps_the_old_output(
    command, tmp_path, capsys, monkeypatch, facts, measure_inputs, dce_fit_inputs
):
    import tumorboard.cli.guide as guide_cli
    import tumorboard.pipeline.dce_tables as dce_tables

    out = tmp_path / ("guide" if command == "guide" else "out.csv")
    argv = {"guide": ["guide", facts], "measure": measure_inputs, "dce fit": dce_fit_inputs}
    assert main([str(a) for a in [*argv[command], "--out", out]]) == 0
    before = tree(out) if out.is_dir() else out.read_bytes()
    if command == "guide":
        monkeypatch.setattr(guide_cli, "write_json", enospc)
    elif command == "measure":
        import tumorboard.cli.measure as measure_cli

        if hasattr(measure_cli, "write_csv"):
            monkeypatch.setattr(measure_cli, "write_csv", enospc)
        else:
            monkeypatch.setattr(csv.DictWriter, "writeheader", enospc)
    else:
        monkeypatch.setattr(dce_tables, "write_params_csv", enospc)
    capsys.readouterr()
    code, err = run([*argv[command], "--out", out, "--force"], capsys)
    assert_one_line(code, err, f"cannot write output {out}: No space left on device (ENOSPC)")
    assert (tree(out) if out.is_dir() else out.read_bytes()) == before
    assert no_leftovers(tmp_path)


def test_read_only_output_folder_is_one_line(tmp_path, capsys, monkeypatch, facts):
    # tests may run as root, for whom a chmod'ed folder is writable: the file system's
    # answer is simulated instead
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: False if mode & os.W_OK else real_access(p, mode)
    )
    code, err = run(["guide", facts, "--out", tmp_path / "ro" / "guide"], capsys)
    assert_one_line(code, err, f"cannot write output {tmp_path / 'ro' / 'guide'}", "permission")
    assert not (tmp_path / "ro").exists()


def test_read_only_file_system_while_writing_is_one_line(tmp_path, capsys, monkeypatch, facts):
    def erofs(**kwargs: Any) -> str:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / ".guide.partial-1"))

    monkeypatch.setattr(tempfile, "mkdtemp", erofs)
    code, err = run(["guide", facts, "--out", tmp_path / "guide"], capsys)
    assert_one_line(code, err, "Read-only file system (EROFS)")


def test_any_other_os_error_is_one_line_naming_the_path(tmp_path, capsys, monkeypatch, facts):
    import tumorboard.cli.guide as guide_cli

    def unreadable(path: Path) -> Any:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    monkeypatch.setattr(guide_cli, "load_facts_json", unreadable)
    code, err = run(["guide", facts, "--out", tmp_path / "guide"], capsys)
    assert_one_line(code, err, f"tumorboard guide: error: {facts}: Permission denied (EACCES)")


def test_odd_out_paths_are_one_line(tmp_path, capsys, monkeypatch, facts):
    work = tmp_path / "work"
    work.mkdir()
    (work / "keep.txt").write_text("keep")
    monkeypatch.chdir(work)
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    cases = [
        (".", "current folder"),
        ("..", "current folder"),
        (tmp_path / "file.txt" / "out", "is a file, not a folder"),
        (tmp_path / "dangling", "symbolic link to the missing"),
    ]
    for out, message in cases:
        code, err = run(["guide", facts, "--out", out, "--force"], capsys)
        assert_one_line(code, err, message)
    assert tree(work) == {"keep.txt": b"keep"}
    assert not (tmp_path / "nowhere").exists()
