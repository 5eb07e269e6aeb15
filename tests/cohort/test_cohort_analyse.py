"""End to end: phantom cohort -> init -> import -> lesion import -> cohort run -> analyse.

Truth: the planted population AUC and the generating parameters in the
phantom's ``truth.json``; every number checked here comes from there.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tumorboard.cli.main import main
from tumorboard.statistics import roc_auc

PATIENTS = 14
SEED = 2012
PLANTED_AUC = 0.8


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("cohort")
    cohort, board, out = root / "cohort", root / "board", root / "analysis"
    phantom = ["phantom", "cohort", "--patients", str(PATIENTS), "--seed", str(SEED)]
    assert main([*phantom, "--auc", str(PLANTED_AUC), "--out", str(cohort)]) == 0
    assert main(["init", str(board)]) == 0
    assert main(["import", "--workspace", str(board), str(cohort / "dicom")]) == 0
    table = str(cohort / "measurements.csv")
    assert main(["lesion", "import", "--workspace", str(board), table]) == 0
    assert main(["cohort", "run", "--workspace", str(board), "--workers", "2", "--quiet"]) == 0
    question = ["--question", "prrt-perfusion", "--out", str(out)]
    assert main(["cohort", "analyse", "--workspace", str(board), *question]) == 0
    return cohort, board, out


def test_the_planted_auc_lies_within_the_recovered_interval(
    analysed: tuple[Path, Path, Path],
) -> None:
    cohort, _, out = analysed
    truth = json.loads((cohort / "truth.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    for key in ("n_patients", "n_lesions", "auc", "auc_ci95", "cutoff", "sensitivity"):
        assert key in summary
    assert "specificity" in summary and "logistic_regression" in summary
    n_lesions = sum(len(p["lesions"]) for p in truth["patients"])
    assert (summary["n_patients"], summary["n_lesions"]) == (PATIENTS, n_lesions)
    low, high = summary["auc_ci95"]
    assert low <= truth["planted_auc"] <= high
    assert low <= summary["auc"] <= high
    # the fitted Ktrans keeps the ranking of the generating Ktrans
    generating = [
        (lesion["baseline"]["ktrans_per_min"], patient["responder"])
        for patient in truth["patients"]
        for lesion in patient["lesions"]
    ]
    sample_auc = roc_auc([k for k, _ in generating], [r for _, r in generating])
    assert summary["auc"] == pytest.approx(sample_auc, abs=0.05)
    responders = sum(len(p["lesions"]) for p in truth["patients"] if p["responder"])
    assert summary["n_responding_lesions"] == responders


def test_the_lesion_table_carries_perfusion_size_and_response(
    analysed: tuple[Path, Path, Path],
) -> None:
    import pyarrow.parquet as pq

    cohort, _, out = analysed
    truth = json.loads((cohort / "truth.json").read_text())
    with open(out / "lesions.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert pq.read_table(out / "lesions.parquet").num_rows == len(rows)
    # patients are numbered in record order (the phantom's order), never named
    assert {row["patient"] for row in rows} == {f"P{i:03d}" for i in range(1, PATIENTS + 1)}
    assert not any("PRRT" in value for row in rows for value in row.values())
    for row in rows:
        patient = truth["patients"][int(row["patient"][1:]) - 1]
        lesion = next(x for x in patient["lesions"] if x["label"] == row["lesion"])
        assert row["recist_follow_up"] == (
            "PR" if patient["responder"] else row["recist_follow_up"]
        )
        assert row["recist_follow_up"] in (("PR",) if patient["responder"] else ("SD", "PD"))
        assert int(row["responder"]) == patient["responder"]
        assert float(row["baseline_diameter_mm"]) == lesion["baseline_diameter_mm"]
        expected = 100 * (lesion["follow_up_diameter_mm"] / lesion["baseline_diameter_mm"] - 1)
        assert float(row["diameter_change_pct"]) == pytest.approx(expected)
        assert float(row["baseline_ktrans_per_min"]) == pytest.approx(
            lesion["baseline"]["ktrans_per_min"], rel=0.1
        )
        true_change = 100 * (
            lesion["follow_up"]["ktrans_per_min"] / lesion["baseline"]["ktrans_per_min"] - 1
        )
        assert float(row["change_pct_ktrans_per_min"]) == pytest.approx(true_change, abs=12)
    for name in ("roc_ktrans.png", "box_ktrans_baseline.png", "box_ktrans_change.png"):
        assert (out / name).read_bytes()[1:4] == b"PNG"


def test_an_existing_output_is_kept_without_force(
    analysed: tuple[Path, Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, board, out = analysed
    before = (out / "summary.json").read_bytes()
    question = ["--question", "prrt-perfusion", "--out", str(out)]
    assert main(["cohort", "analyse", "--workspace", str(board), *question]) == 1
    assert "exists" in capsys.readouterr().err
    assert (out / "summary.json").read_bytes() == before
    assert main(["cohort", "analyse", "--workspace", str(board), *question, "--force"]) == 0
    assert (out / "summary.json").read_bytes() == before  # deterministic


def test_a_question_the_record_cannot_answer_is_one_line(
    analysed: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, board, _ = analysed
    out = tmp_path / "dwi"
    question = ["--question", "wbdwi-response", "--out", str(out)]
    assert main(["cohort", "analyse", "--workspace", str(board), *question]) == 1
    error = capsys.readouterr().err.strip()
    assert "no patient has two wbdwi analyses" in error and "\n" not in error
    assert not out.exists()
