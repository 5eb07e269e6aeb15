"""The PRRT cohort phantom plants the AUC it promises, deterministically."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tumorboard.errors import InputError
from tumorboard.phantoms.prrt_cohort import effect_for_auc, plan_prrt_cohort, write_prrt_cohort
from tumorboard.statistics import cluster_bootstrap_auc_ci, roc_auc


def _lesions(auc: float, n: int, seed: int) -> tuple[list[float], list[bool], list[str]]:
    plan = plan_prrt_cohort(n, seed=seed, auc=auc)
    scores, outcome, clusters = [], [], []
    for patient in plan.patients:
        for lesion in patient.lesions:
            scores.append(lesion.ktrans_per_min)
            outcome.append(patient.responder)
            clusters.append(patient.patient_id)
    return scores, outcome, clusters


@pytest.mark.parametrize("auc", [0.5, 0.7, 0.9])
def test_the_generating_ktrans_has_the_planted_population_auc(auc: float) -> None:
    scores, outcome, _ = _lesions(auc, 999, seed=3)
    # 999 patients, ~1500 lesions: the sample AUC's SD is below 0.02
    assert roc_auc(scores, outcome) == pytest.approx(auc, abs=0.04)


def test_a_mutated_effect_changes_the_recovered_auc() -> None:
    null = _lesions(0.5, 60, seed=5)
    strong = _lesions(0.9, 60, seed=5)
    ci_null = cluster_bootstrap_auc_ci(*null, seed=1)
    ci_strong = cluster_bootstrap_auc_ci(*strong, seed=1)
    assert ci_null.low <= 0.5 <= ci_null.high
    assert ci_strong.low > 0.5  # the effect is detected ...
    assert ci_strong.low > ci_null.high - 0.1  # ... and the intervals barely overlap
    assert roc_auc(*strong[:2]) > roc_auc(*null[:2]) + 0.25


def test_effect_size_and_bad_input() -> None:
    assert effect_for_auc(0.5) == 0.0
    assert effect_for_auc(0.76) == pytest.approx(np.sqrt(2) * 0.7063, abs=1e-3)
    with pytest.raises(InputError, match="--auc"):
        plan_prrt_cohort(10, seed=1, auc=1.0)
    with pytest.raises(InputError, match="--patients"):
        plan_prrt_cohort(1, seed=1, auc=0.8)


def test_responders_shrink_and_the_cohort_is_seeded(tmp_path: Path) -> None:
    first = write_prrt_cohort(tmp_path / "a", 3, seed=9, auc=0.8)
    again = plan_prrt_cohort(3, seed=9, auc=0.8)
    assert first == again
    assert plan_prrt_cohort(3, seed=10, auc=0.8) != first
    truth = json.loads((tmp_path / "a" / "truth.json").read_text())
    assert (truth["seed"], truth["planted_auc"]) == (9, 0.8)
    for patient in truth["patients"]:
        for lesion in patient["lesions"]:
            change = lesion["follow_up_diameter_mm"] / lesion["baseline_diameter_mm"] - 1
            assert (change <= -0.3) == patient["responder"]
            assert lesion["baseline"]["fp_ml_per_100ml_per_min"] == pytest.approx(
                100 * lesion["baseline"]["ktrans_per_min"]
            )
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.dcm"))
    assert Path("dicom/PRRT-001/baseline/seg/lesions.dcm") in files
    assert Path("dicom/PRRT-003/followup/seg/lesions.dcm") in files
