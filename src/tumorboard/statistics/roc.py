"""ROC analysis of one score against a binary outcome.

* :func:`roc_auc` — the area under the empirical ROC curve, computed as the
  Mann–Whitney statistic ``U / (n1 n0)``: the probability that a random
  positive scores higher than a random negative, ties counting one half.
* :func:`roc_curve` — the empirical curve, one point per distinct score.
* :func:`youden_cutoff` — the cut-off maximising Youden's
  ``J = sensitivity + specificity - 1``; a case is called positive when its
  score is at or above the cut-off. Among equal ``J`` the lowest cut-off wins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import rankdata

from tumorboard.errors import InputError

__all__ = ["RocCurve", "YoudenCutoff", "roc_auc", "roc_curve", "youden_cutoff"]


def _checked(
    scores: ArrayLike, outcome: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    x = np.asarray(scores, dtype=np.float64).ravel()
    y_raw = np.asarray(outcome).ravel()
    if x.shape != y_raw.shape:
        raise InputError(f"scores have {x.size} values, outcomes {y_raw.size}")
    if not np.all(np.isfinite(x)):
        raise InputError("ROC scores must be finite (drop cases without a value first)")
    if not np.all(np.isin(y_raw, (0, 1, True, False))):
        raise InputError("ROC outcomes must be 0/1 or booleans")
    y = y_raw.astype(bool)
    if y.all() or not y.any():
        raise InputError(
            f"ROC analysis needs both outcomes; got {int(y.sum())} positive and "
            f"{int((~y).sum())} negative cases"
        )
    return x, y


def roc_auc(scores: ArrayLike, outcome: ArrayLike) -> float:
    """Area under the ROC curve (Mann–Whitney U over ``n1 n0``).

    Parameters
    ----------
    scores : array_like of float
        Higher means more likely positive.
    outcome : array_like of bool or 0/1

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    InputError
        For non-finite scores, non-binary outcomes or a single outcome class.

    Examples
    --------
    >>> roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    >>> roc_auc([1.0, 1.0], [0, 1])
    0.5
    """
    x, y = _checked(scores, outcome)
    ranks = rankdata(x)
    n1 = int(y.sum())
    n0 = y.size - n1
    u = float(ranks[y].sum()) - n1 * (n1 + 1) / 2.0
    return u / (n1 * n0)


@dataclass(frozen=True)
class RocCurve:
    """The empirical ROC curve.

    Attributes
    ----------
    thresholds : ndarray
        Distinct scores, decreasing, preceded by ``inf`` (nothing called positive).
    sensitivity, false_positive_rate : ndarray
        At each threshold, calling positive every score ``>=`` it.
    """

    thresholds: NDArray[np.float64]
    sensitivity: NDArray[np.float64]
    false_positive_rate: NDArray[np.float64]


def roc_curve(scores: ArrayLike, outcome: ArrayLike) -> RocCurve:
    """Sensitivity and false-positive rate at every distinct score.

    Examples
    --------
    >>> curve = roc_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> curve.sensitivity.tolist(), curve.false_positive_rate.tolist()
    ([0.0, 0.5, 0.5, 1.0, 1.0], [0.0, 0.0, 0.5, 0.5, 1.0])
    """
    x, y = _checked(scores, outcome)
    thresholds = np.unique(x)[::-1]
    called = x[None, :] >= thresholds[:, None]
    sensitivity = (called & y).sum(axis=1) / y.sum()
    fpr = (called & ~y).sum(axis=1) / (~y).sum()
    return RocCurve(
        np.concatenate([[np.inf], thresholds]),
        np.concatenate([[0.0], sensitivity]),
        np.concatenate([[0.0], fpr]),
    )


@dataclass(frozen=True)
class YoudenCutoff:
    """The Youden-optimal cut-off (positive when score >= cutoff)."""

    cutoff: float
    sensitivity: float
    specificity: float

    @property
    def youden_j(self) -> float:
        """``sensitivity + specificity - 1``."""
        return self.sensitivity + self.specificity - 1.0


def youden_cutoff(scores: ArrayLike, outcome: ArrayLike) -> YoudenCutoff:
    """The cut-off maximising sensitivity + specificity - 1.

    Examples
    --------
    >>> result = youden_cutoff([1, 2, 3, 4, 5, 6], [0, 0, 1, 0, 1, 1])
    >>> result.cutoff, result.sensitivity, round(result.specificity, 3)
    (3.0, 1.0, 0.667)
    """
    curve = roc_curve(scores, outcome)
    j = curve.sensitivity[1:] - curve.false_positive_rate[1:]
    best = np.flatnonzero(j == j.max())[-1]  # thresholds decrease: the last is the lowest
    return YoudenCutoff(
        float(curve.thresholds[1:][best]),
        float(curve.sensitivity[1:][best]),
        float(1.0 - curve.false_positive_rate[1:][best]),
    )
