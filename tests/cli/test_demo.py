"""``tumorboard demo`` end to end on the reference patient (cached in a temp folder)."""

import importlib
import json

import pytest

from tumorboard.cli.main import main
from tumorboard.phantoms.patients import PATIENTS
from tumorboard.phantoms.reference_patient import PHANTOM_VERSION

PATIENT_DIR = f"reference-patient-v{PHANTOM_VERSION}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    code = main(["demo", "--out", str(root / "out"), "--cache", str(root / "cache")])
    return code, root


@pytest.mark.slow
def test_demo_runs_and_passes_its_truth_checks(demo):
    code, root = demo
    assert code == 0
    report = (root / "out" / "report.html").read_text()
    assert "Whole-body diffusion MRI tumour load" in report
    assert "✘" not in report  # no failed truth check
    for exam in range(1, 7):
        summary = json.loads((root / "out" / "dwi" / f"exam{exam}" / "summary.json").read_text())
        truth = json.loads(
            (
                root / "cache" / PATIENT_DIR / "wbdwi" / f"exam{exam}" / "truth" / "truth.json"
            ).read_text()
        )
        assert summary["total_diffusion_volume_ml"] == pytest.approx(
            truth["total_diffusion_volume_ml"], rel=0.03
        )
        assert (root / "out" / "dwi" / f"exam{exam}" / "mip.png").stat().st_size > 5000


@pytest.mark.slow
def test_demo_report_names_the_patient_of_every_section(demo):
    _, root = demo
    report = (root / "out" / "report.html").read_text()
    # dwi, crf, pet, dce, guide and the record section (both reference patients)
    assert report.count('<p class="patient">Patient: ') == 6
    for patient in PATIENTS.values():
        assert f"{patient.label} ({patient.patient_id}" in report


@pytest.mark.slow
def test_demo_runs_the_patients_through_a_workspace(demo):
    code, root = demo
    out = root / "out"
    assert code == 0
    assert (out / "workspace" / "tumorboard.db").is_file()
    for patient in ("breast", "net"):
        for name in ("report.html", "crf.json", "crf.pdf"):
            assert (out / "record" / patient / name).stat().st_size > 1000
    report = (out / "report.html").read_text()
    assert "The patient record: import, run, timeline, report" in report
    assert "record/breast/report.html" in report and "record/net/report.html" in report


@pytest.mark.slow
def test_demo_reuses_cache_and_replaces_its_own_output(demo, capsys, monkeypatch):
    """The second ``tumorboard demo`` on the same cache and output: the cache is reused
    (its manifest untouched, every section handed the cached patient) and the previous
    demo output is replaced without ``--force``.

    The sections themselves are stand-ins here: what they compute from the cache was
    checked on the fixture's run (same files, deterministic), and running them all
    again took a minute and a half on the loaded machine for no new check. Cache reuse
    and output replacement happen in ``run_demo`` around the sections, and are real.
    """
    from tumorboard.pipeline import demo as demo_pipeline
    from tumorboard.pipeline.demo_section import DemoSection
    from tumorboard.workflow import demo_record

    code, root = demo
    cache = root / "cache" / PATIENT_DIR
    seen = []

    def section(context):
        seen.append(context.phantom_dir)
        return DemoSection("stand-in", "Stand-in", "<p>stand-in</p>", {"stand-in": True})

    sections = ("dwi", "crf", "pet", "dce", "guide")
    assert demo_pipeline.SECTION_MODULES == sections  # the stand-ins replace all of them
    for name in sections:
        module = importlib.import_module(f"tumorboard.pipeline.demo_{name}")
        monkeypatch.setattr(module, "run_section", section)
    monkeypatch.setattr(demo_record, "run_section", section)
    (root / "out" / "left-over.txt").write_text("from the previous run")
    before = (cache / "manifest.json").stat().st_mtime_ns
    assert main(["demo", "--out", str(root / "out"), "--cache", str(root / "cache")]) == 0
    after = (cache / "manifest.json").stat().st_mtime_ns
    assert before == after
    assert seen == [cache] * 6
    assert not (root / "out" / "left-over.txt").exists()
    assert "stand-in" in (root / "out" / "report.html").read_text()


def test_demo_does_not_overwrite_a_foreign_directory(tmp_path, capsys):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    code = main(["demo", "--out", str(target), "--cache", str(tmp_path / "cache")])
    assert code == 1
    assert "--force" in capsys.readouterr().err
    assert (target / "notes.txt").read_text() == "keep me"
