"""Cluster (patient-level) bootstrap confidence intervals.

Lesions of one patient are not independent, so the resampling unit is the
patient: each resample draws as many patients as the cohort has, with
replacement, and keeps all lesions of every drawn patient (a patient drawn
twice counts twice). The interval is the percentile interval of the
statistic over the resamples (Davison and Hinkley 1997, section 3.8).
Resamples in which the statistic is undefined (e.g. a ROC AUC of a resample
with a single outcome class) are skipped and counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tumorboard.errors import InputError

__all__ = ["BootstrapInterval", "cluster_bootstrap_auc_ci", "cluster_bootstrap_ci"]

#: Default number of resamples.
N_RESAMPLES = 2000


@dataclass(frozen=True)
class BootstrapInterval:
    """A percentile interval and how many resamples it rests on."""

    low: float
    high: float
    n_used: int
    n_skipped: int


def cluster_bootstrap_ci(
    statistic: Callable[[NDArray[np.intp]], float],
    clusters: ArrayLike,
    *,
    n_resamples: int = N_RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> BootstrapInterval:
    """Percentile interval of ``statistic`` under resampling of whole clusters.

    Parameters
    ----------
    statistic : callable
        ``statistic(indices)`` of the cases at ``indices`` (with repeats);
        raises :class:`~tumorboard.errors.InputError` when undefined.
    clusters : array_like
        The cluster (patient) of each case.
    n_resamples : int
    level : float
        Coverage, e.g. 0.95.
    seed : int

    Returns
    -------
    BootstrapInterval

    Raises
    ------
    InputError
        If fewer than 2 clusters, a bad level, or fewer than half of the
        resamples give a defined statistic.

    Examples
    --------
    >>> values = np.array([1.0, 2.0, 3.0, 4.0])
    >>> ci = cluster_bootstrap_ci(lambda i: float(values[i].mean()), [0, 0, 1, 1], seed=1)
    >>> ci.low, ci.high
    (1.5, 3.5)
    """
    labels = np.asarray(clusters)
    if not 0.0 < level < 1.0:
        raise InputError(f"level must be in (0, 1), got {level}")
    if n_resamples < 1:
        raise InputError(f"n_resamples must be at least 1, got {n_resamples}")
    unique, inverse = np.unique(labels, return_inverse=True)
    if unique.size < 2:
        raise InputError(f"a cluster bootstrap needs at least 2 clusters, got {unique.size}")
    members = [np.flatnonzero(inverse == k) for k in range(unique.size)]
    rng = np.random.default_rng(seed)
    values = []
    skipped = 0
    draws = rng.integers(0, unique.size, (n_resamples, unique.size))
    for drawn in draws:
        indices = np.concatenate([members[k] for k in drawn])
        try:
            values.append(float(statistic(indices)))
        except InputError:
            skipped += 1
    return _interval(np.asarray(values), skipped, n_resamples, level)


def _interval(
    values: NDArray[np.float64], skipped: int, n_resamples: int, level: float
) -> BootstrapInterval:
    if values.size < n_resamples / 2:
        raise InputError(
            f"the statistic is undefined in {skipped} of {n_resamples} resamples; "
            "too few clusters of each kind for a bootstrap"
        )
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return BootstrapInterval(float(low), float(high), int(values.size), skipped)


def cluster_bootstrap_auc_ci(
    scores: ArrayLike,
    outcome: ArrayLike,
    clusters: ArrayLike,
    *,
    n_resamples: int = N_RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> BootstrapInterval:
    """Cluster-bootstrap percentile interval of the ROC AUC, all resamples at once.

    The same resamples as :func:`cluster_bootstrap_ci` with
    :func:`~tumorboard.statistics.roc.roc_auc` as the statistic (same seed,
    same draws), computed as weighted Mann–Whitney sums: with ``w`` the
    number of times each case is drawn and ``C[i, j]`` = 1, 1/2 or 0 as
    positive ``i`` scores above, equal to or below negative ``j``,
    ``AUC = w_pos' C w_neg / (sum w_pos * sum w_neg)``.

    Examples
    --------
    >>> ci = cluster_bootstrap_auc_ci([0.1, 0.9, 0.2, 0.8, 0.3, 0.4], [0, 1, 0, 1, 1, 0],
    ...                               [0, 0, 1, 1, 2, 2], seed=3)
    >>> bool(ci.low <= ci.high), ci.n_used + ci.n_skipped
    (True, 2000)
    """
    x = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(outcome).ravel().astype(bool)
    labels = np.asarray(clusters).ravel()
    if not (x.size == y.size == labels.size):
        raise InputError("scores, outcomes and clusters must have one value per case")
    if not np.all(np.isfinite(x)):
        raise InputError("ROC scores must be finite (drop cases without a value first)")
    if not 0.0 < level < 1.0:
        raise InputError(f"level must be in (0, 1), got {level}")
    if n_resamples < 1:
        raise InputError(f"n_resamples must be at least 1, got {n_resamples}")
    unique, inverse = np.unique(labels, return_inverse=True)
    if unique.size < 2:
        raise InputError(f"a cluster bootstrap needs at least 2 clusters, got {unique.size}")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, unique.size, (n_resamples, unique.size))
    counts = np.zeros((n_resamples, unique.size), dtype=np.float64)
    np.add.at(counts, (np.arange(n_resamples)[:, None], draws), 1.0)
    weights = counts[:, inverse]  # (resamples, cases)
    positive, negative = x[y], x[~y]
    comparison = (positive[:, None] > negative[None, :]) + 0.5 * (
        positive[:, None] == negative[None, :]
    )
    w_pos, w_neg = weights[:, y], weights[:, ~y]
    n_pos, n_neg = w_pos.sum(axis=1), w_neg.sum(axis=1)
    defined = (n_pos > 0) & (n_neg > 0)
    numerator = np.einsum("bi,ij,bj->b", w_pos[defined], comparison, w_neg[defined])
    values = numerator / (n_pos[defined] * n_neg[defined])
    return _interval(values, int((~defined).sum()), n_resamples, level)
