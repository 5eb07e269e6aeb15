"""``tumorboard demo`` end to end on the reference patient (cached in a temp folder)."""

import json

import pytest

from tumorboard.cli.main import main


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    code = main(["demo", "--out", str(root / "out"), "--cache", str(root / "cache")])
    return code, root


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
                root
                / "cache"
                / "reference-patient-v4"
                / "wbdwi"
                / f"exam{exam}"
                / "truth"
                / "truth.json"
            ).read_text()
        )
        assert summary["total_diffusion_volume_ml"] == pytest.approx(
            truth["total_diffusion_volume_ml"], rel=0.03
        )
        assert (root / "out" / "dwi" / f"exam{exam}" / "mip.png").stat().st_size > 5000


def test_demo_reuses_cache_and_replaces_its_own_output(demo, capsys):
    code, root = demo
    before = (root / "cache" / "reference-patient-v4" / "manifest.json").stat().st_mtime_ns
    assert main(["demo", "--out", str(root / "out"), "--cache", str(root / "cache")]) == 0
    after = (root / "cache" / "reference-patient-v4" / "manifest.json").stat().st_mtime_ns
    assert before == after


def test_demo_does_not_overwrite_a_foreign_directory(tmp_path, capsys):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    code = main(["demo", "--out", str(target), "--cache", str(tmp_path / "cache")])
    assert code == 1
    assert "--force" in capsys.readouterr().err
    assert (target / "notes.txt").read_text() == "keep me"
