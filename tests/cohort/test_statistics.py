"""The cohort statistics against hand-computable truth."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tumorboard.errors import InputError
from tumorboard.statistics import (
    cluster_bootstrap_auc_ci,
    cluster_bootstrap_ci,
    fit_logistic,
    roc_auc,
    roc_curve,
    youden_cutoff,
)


def test_auc_counts_correctly_ordered_pairs_and_half_ties() -> None:
    # positives 3, 5; negatives 1, 4: pairs (3>1), (3<4), (5>1), (5>4) -> 3 of 4
    assert roc_auc([1, 3, 4, 5], [0, 1, 0, 1]) == 0.75
    # a tie between a positive and a negative counts one half: (2=2) 0.5, (2>1) 1 -> 1.5 / 2
    assert roc_auc([1, 2, 2], [0, 0, 1]) == 0.75
    assert roc_auc([1, 2, 3, 4], [0, 0, 1, 1]) == 1.0
    assert roc_auc([1, 2, 3, 4], [1, 1, 0, 0]) == 0.0


def test_auc_refuses_a_single_class_and_non_finite_scores() -> None:
    with pytest.raises(InputError, match="both outcomes"):
        roc_auc([1, 2], [1, 1])
    with pytest.raises(InputError, match="finite"):
        roc_auc([1, float("nan")], [0, 1])
    with pytest.raises(InputError, match="0/1"):
        roc_auc([1, 2], [0, 2])


def test_roc_curve_ends_at_the_corners_and_its_area_is_the_auc() -> None:
    scores = [0.2, 0.5, 0.5, 0.7, 0.9, 0.1]
    outcome = [0, 1, 0, 1, 1, 0]
    curve = roc_curve(scores, outcome)
    assert (curve.sensitivity[0], curve.false_positive_rate[0]) == (0.0, 0.0)
    assert (curve.sensitivity[-1], curve.false_positive_rate[-1]) == (1.0, 1.0)
    area = np.trapezoid(curve.sensitivity, curve.false_positive_rate)
    assert area == pytest.approx(roc_auc(scores, outcome))


def test_youden_on_a_small_table() -> None:
    # cut-off 3: called positive 3, 4, 5, 6 -> TP 3 of 3, FP 1 of 3: J = 1 + 2/3 - 1
    result = youden_cutoff([1, 2, 3, 4, 5, 6], [0, 0, 1, 0, 1, 1])
    assert result.cutoff == 3.0
    assert result.sensitivity == 1.0
    assert result.specificity == pytest.approx(2 / 3)
    assert result.youden_j == pytest.approx(2 / 3)
    perfect = youden_cutoff([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
    assert (perfect.cutoff, perfect.sensitivity, perfect.specificity) == (0.8, 1.0, 1.0)


def test_logistic_regression_on_a_binary_predictor_is_the_two_by_two_table() -> None:
    # x = 0: 1 event of 4; x = 1: 3 of 4 -> OR = (3/1)/(1/3) = 9, SE(log OR) = sqrt(sum 1/n)
    x = [0, 0, 0, 0, 1, 1, 1, 1]
    y = [0, 0, 0, 1, 0, 1, 1, 1]
    fit = fit_logistic(x, y)
    assert fit.odds_ratio == pytest.approx(9.0, rel=1e-4)
    se = math.sqrt(1 / 3 + 1 + 1 + 1 / 3)
    assert fit.slope_se == pytest.approx(se, rel=1e-3)
    assert fit.intercept == pytest.approx(math.log(1 / 3), rel=1e-4)
    assert fit.odds_ratio_ci95 is not None
    assert fit.odds_ratio_ci95[0] == pytest.approx(math.exp(math.log(9) - 1.959964 * se), rel=1e-3)
    assert fit.p_value == pytest.approx(math.erfc(math.log(9) / se / math.sqrt(2)), rel=1e-3)


def test_logistic_regression_recovers_a_simulated_slope_and_flags_separation() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=4000)
    y = rng.random(4000) < 1 / (1 + np.exp(-(-0.5 + 1.2 * x)))
    fit = fit_logistic(x, y)
    assert fit.slope == pytest.approx(1.2, abs=3 * fit.slope_se)
    assert fit.intercept == pytest.approx(-0.5, abs=0.15)
    separated = fit_logistic([1, 2, 3, 4], [0, 0, 1, 1])
    assert separated.separated and separated.odds_ratio is None


def test_cluster_bootstrap_resamples_whole_clusters() -> None:
    values = np.array([1.0, 1.0, 3.0, 3.0])
    # two clusters of equal values: a resample's mean is 1, 2 or 3, never another value
    seen: set[float] = set()

    def mean(index: np.ndarray) -> float:
        seen.add(float(values[index].mean()))
        return float(values[index].mean())

    ci = cluster_bootstrap_ci(mean, [0, 0, 1, 1], n_resamples=400, seed=2)
    assert seen == {1.0, 2.0, 3.0}
    assert (ci.low, ci.high) == (1.0, 3.0)
    with pytest.raises(InputError, match="at least 2 clusters"):
        cluster_bootstrap_ci(mean, [0, 0, 0, 0])


def test_vectorised_auc_bootstrap_equals_the_generic_one() -> None:
    rng = np.random.default_rng(9)
    clusters = np.repeat(np.arange(15), 3)
    y = np.repeat(rng.random(15) < 0.5, 3)
    x = rng.normal(size=45) + y
    generic = cluster_bootstrap_ci(lambda i: roc_auc(x[i], y[i]), clusters, n_resamples=300, seed=8)
    fast = cluster_bootstrap_auc_ci(x, y, clusters, n_resamples=300, seed=8)
    assert (fast.low, fast.high, fast.n_skipped) == pytest.approx(
        (generic.low, generic.high, generic.n_skipped)
    )


def test_cluster_bootstrap_interval_covers_a_known_auc() -> None:
    """Coverage over simulated clustered cohorts with a known population AUC of 0.8."""
    rng = np.random.default_rng(21)
    d = math.sqrt(2) * 0.8416212335729143  # Phi^-1(0.8)
    covered = 0
    trials = 60
    for trial in range(trials):
        responder = rng.random(30) < 0.5
        u = rng.normal(0, math.sqrt(0.5), 30)
        clusters = np.repeat(np.arange(30), 2)
        z = d * responder[clusters] + u[clusters] + rng.normal(0, math.sqrt(0.5), 60)
        if responder.all() or not responder.any():
            continue
        ci = cluster_bootstrap_auc_ci(z, responder[clusters], clusters, n_resamples=500, seed=trial)
        covered += ci.low <= 0.8 <= ci.high
    assert covered >= 0.85 * trials
