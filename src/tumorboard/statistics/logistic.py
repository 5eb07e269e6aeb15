"""Univariable logistic regression by maximum likelihood (scipy.optimize).

``P(y = 1 | x) = 1 / (1 + exp(-(b0 + b1 x)))``. The negative log-likelihood
and its gradient are minimised with BFGS; the standard errors come from the
inverse of the observed information (the exact Hessian of the logistic
likelihood), the odds ratio ``exp(b1)`` with its Wald 95 % interval and the
two-sided Wald p-value. The cases are treated as independent (for clustered
data prefer a cluster bootstrap of the AUC). Under complete or
quasi-complete separation the maximum-likelihood estimate does not exist:
the fit says so (``separated``) and gives no odds ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import expit
from scipy.stats import norm

from tumorboard.errors import InputError

__all__ = ["LogisticFit", "fit_logistic"]

#: Absolute slope (per SD of x) beyond which the fit is taken as separated.
SEPARATION_SLOPE_PER_SD = 15.0


@dataclass(frozen=True)
class LogisticFit:
    """A fitted univariable logistic model.

    Attributes
    ----------
    intercept, slope : float
        ``b0`` and ``b1`` (per unit of x); NaN when separated.
    slope_se : float
    odds_ratio : float or None
        ``exp(b1)`` per unit of x.
    odds_ratio_ci95 : tuple of float or None
        Wald interval ``exp(b1 -+ 1.96 se)``.
    p_value : float or None
        Two-sided Wald test of ``b1 = 0``.
    separated : bool
        The outcome is (quasi-)perfectly separated by x: no finite MLE.
    n : int
    """

    intercept: float
    slope: float
    slope_se: float
    odds_ratio: float | None
    odds_ratio_ci95: tuple[float, float] | None
    p_value: float | None
    separated: bool
    n: int


def _nll(beta: NDArray[np.float64], x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    eta = beta[0] + beta[1] * x
    return float(np.sum(np.logaddexp(0.0, eta) - y * eta))


def _grad(
    beta: NDArray[np.float64], x: NDArray[np.float64], y: NDArray[np.float64]
) -> NDArray[np.float64]:
    residual = expit(beta[0] + beta[1] * x) - y
    return np.array([residual.sum(), (residual * x).sum()])


def fit_logistic(x: ArrayLike, outcome: ArrayLike) -> LogisticFit:
    """Fit ``logit P(outcome) = b0 + b1 x``.

    Parameters
    ----------
    x : array_like of float
    outcome : array_like of bool or 0/1

    Returns
    -------
    LogisticFit

    Raises
    ------
    InputError
        For non-finite x, non-binary outcomes, a single class or constant x.

    Examples
    --------
    >>> x = [0, 0, 0, 0, 1, 1, 1, 1]
    >>> y = [0, 0, 0, 1, 0, 1, 1, 1]
    >>> fit = fit_logistic(x, y)
    >>> round(fit.odds_ratio, 3), fit.separated   # (3/1) / (1/3)
    (9.0, False)
    """
    xs = np.asarray(x, dtype=np.float64).ravel()
    y_raw = np.asarray(outcome).ravel()
    if xs.shape != y_raw.shape:
        raise InputError(f"x has {xs.size} values, outcomes {y_raw.size}")
    if not np.all(np.isfinite(xs)):
        raise InputError("logistic regression: x must be finite")
    if not np.all(np.isin(y_raw, (0, 1, True, False))):
        raise InputError("logistic regression: outcomes must be 0/1 or booleans")
    y = y_raw.astype(np.float64)
    if y.min() == y.max():
        raise InputError("logistic regression needs both outcomes")
    sd = float(xs.std())
    if sd == 0.0:
        raise InputError("logistic regression: x is constant")
    mean = float(xs.mean())
    z = (xs - mean) / sd  # fit on the standardised scale, then convert
    fitted = minimize(_nll, np.zeros(2), args=(z, y), jac=_grad, method="BFGS")
    b0_z, b1_z = (float(v) for v in fitted.x)
    p = expit(b0_z + b1_z * z)
    w = p * (1.0 - p)
    information = np.array([[w.sum(), (w * z).sum()], [(w * z).sum(), (w * z * z).sum()]])
    separated = abs(b1_z) > SEPARATION_SLOPE_PER_SD or np.linalg.cond(information) > 1e12
    if separated:
        nan = float("nan")
        return LogisticFit(nan, nan, nan, None, None, None, True, int(xs.size))
    covariance = np.linalg.inv(information)
    se_z = math.sqrt(float(covariance[1, 1]))
    slope = b1_z / sd
    se = se_z / sd
    intercept = b0_z - b1_z * mean / sd
    p_value = float(2.0 * norm.sf(abs(b1_z) / se_z))
    return LogisticFit(
        intercept=intercept,
        slope=slope,
        slope_se=se,
        odds_ratio=math.exp(slope),
        odds_ratio_ci95=(math.exp(slope - 1.959964 * se), math.exp(slope + 1.959964 * se)),
        p_value=p_value,
        separated=False,
        n=int(xs.size),
    )
