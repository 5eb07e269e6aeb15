"""Variable-flip-angle (VFA) T1 mapping of spoiled gradient-echo images.

Signal model (SPGR, TE << T2*)::

    S(alpha) = S0 sin(alpha) (1 - E1) / (1 - E1 cos(alpha)),  E1 = exp(-TR / T1)

* **linear** (DESPOT1, Fram et al. 1987): ``S/sin(alpha) = E1 S/tan(alpha) + S0 (1 - E1)``
  is a straight line; its slope is ``E1``. One closed-form regression per voxel.
* **nonlinear**: least squares in the signal. ``S0`` is linear for a given
  ``E1``, so the residual is profiled over ``E1`` alone and minimised by a
  golden-section search on ``(0, 1)``, vectorised over all voxels (no
  per-voxel optimiser calls).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tumorboard.errors import InputError

_GOLDEN_ITERATIONS = 60
#: Search range of TR/T1 for the nonlinear fit (T1 from 0.05 TR to 10^7 TR).
_TR_OVER_T1_RANGE = (1e-7, 20.0)
_INV_PHI = (np.sqrt(5.0) - 1.0) / 2.0


@dataclass(frozen=True, eq=False)
class T1Map:
    """VFA T1 estimates.

    Attributes
    ----------
    t1_s : ndarray, shape (n,) or image shape
        T1 in seconds (NaN where it could not be estimated).
    s0 : ndarray, same shape
        Equilibrium signal (arbitrary units).
    """

    t1_s: NDArray[np.float64]
    s0: NDArray[np.float64]

    @property
    def r1_per_s(self) -> NDArray[np.float64]:
        """Longitudinal relaxation rate ``1 / T1`` in /s."""
        with np.errstate(divide="ignore"):
            return np.asarray(1.0 / self.t1_s, dtype=np.float64)


def _prepare(
    signal: ArrayLike, flip_deg: ArrayLike, tr_s: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], tuple[int, ...]]:
    s = np.asarray(signal, dtype=np.float64)
    alpha = np.deg2rad(np.asarray(flip_deg, dtype=np.float64).reshape(-1))
    if s.shape[-1] != alpha.size:
        raise InputError(
            f"VFA signal has {s.shape[-1]} flip angles on its last axis, "
            f"{alpha.size} flip angles were given"
        )
    if alpha.size < 2:
        raise InputError(f"VFA T1 mapping needs at least 2 flip angles, got {alpha.size}")
    if not np.all((alpha > 0) & (alpha < np.pi / 2)):
        raise InputError(f"flip angles must be in (0, 90) degrees, got {np.rad2deg(alpha)}")
    if not (np.isfinite(tr_s) and tr_s > 0):
        raise InputError(f"TR must be a positive time in seconds, got {tr_s!r}")
    shape = s.shape[:-1]
    return s.reshape(-1, alpha.size), alpha, shape


def vfa_t1_linear(signal: ArrayLike, flip_deg: ArrayLike, tr_s: float) -> T1Map:
    """Linear (DESPOT1) VFA T1 estimate.

    Parameters
    ----------
    signal : array_like, shape (..., n_flip)
        Signal per flip angle on the last axis.
    flip_deg : array_like, shape (n_flip,)
        Nominal flip angles in degrees.
    tr_s : float
        Repetition time in seconds.

    Returns
    -------
    T1Map
        Arrays of shape ``signal.shape[:-1]``.
    """
    s, alpha, shape = _prepare(signal, flip_deg, tr_s)
    y = s / np.sin(alpha)
    x = s / np.tan(alpha)
    xm = x.mean(axis=1, keepdims=True)
    ym = y.mean(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.sum((x - xm) * (y - ym), axis=1) / np.sum((x - xm) ** 2, axis=1)
        intercept = ym[:, 0] - slope * xm[:, 0]
        valid = (slope > 0) & (slope < 1)
        t1 = np.where(valid, -tr_s / np.log(np.where(valid, slope, 0.5)), np.nan)
        s0 = np.where(valid, intercept / (1.0 - slope), np.nan)
    return T1Map(t1_s=t1.reshape(shape), s0=s0.reshape(shape))


def vfa_t1_nonlinear(signal: ArrayLike, flip_deg: ArrayLike, tr_s: float) -> T1Map:
    """Nonlinear least-squares VFA T1 estimate (profiled over ``E1``, golden section).

    Parameters
    ----------
    signal : array_like, shape (..., n_flip)
    flip_deg : array_like, shape (n_flip,)
    tr_s : float

    Returns
    -------
    T1Map
        Arrays of shape ``signal.shape[:-1]``.
    """
    s, alpha, shape = _prepare(signal, flip_deg, tr_s)
    sin_a = np.sin(alpha)
    cos_a = np.cos(alpha)

    def explained(u: NDArray[np.float64]) -> NDArray[np.float64]:
        e1 = np.exp(-np.exp(u))[:, None]
        g = sin_a * (1.0 - e1) / (1.0 - e1 * cos_a)
        return np.asarray(np.sum(g * s, axis=1) ** 2 / np.sum(g * g, axis=1))

    # golden section on u = ln(TR / T1), maximising the explained signal energy
    lo = np.full(s.shape[0], np.log(_TR_OVER_T1_RANGE[0]))
    hi = np.full(s.shape[0], np.log(_TR_OVER_T1_RANGE[1]))
    c = hi - _INV_PHI * (hi - lo)
    d = lo + _INV_PHI * (hi - lo)
    fc, fd = explained(c), explained(d)
    for _ in range(_GOLDEN_ITERATIONS):
        left = fc > fd  # the maximum lies in [lo, d]
        lo = np.where(left, lo, c)
        hi = np.where(left, d, hi)
        old_c, old_d, old_fc, old_fd = c, d, fc, fd
        c = np.where(left, hi - _INV_PHI * (hi - lo), old_d)
        d = np.where(left, old_c, lo + _INV_PHI * (hi - lo))
        fresh = explained(np.where(left, c, d))
        fc = np.where(left, fresh, old_fd)
        fd = np.where(left, old_fc, fresh)
    e1 = np.exp(-np.exp(0.5 * (lo + hi)))
    g = sin_a * (1.0 - e1[:, None]) / (1.0 - e1[:, None] * cos_a)
    with np.errstate(divide="ignore", invalid="ignore"):
        s0 = np.sum(g * s, axis=1) / np.sum(g * g, axis=1)
        t1 = -tr_s / np.log(e1)
    bad = ~np.all(np.isfinite(s), axis=1) | ~(s0 > 0)
    t1 = np.where(bad, np.nan, t1)
    s0 = np.where(bad, np.nan, s0)
    return T1Map(t1_s=t1.reshape(shape), s0=s0.reshape(shape))


def spgr_signal(
    s0: ArrayLike, t1_s: ArrayLike, flip_deg: ArrayLike, tr_s: float
) -> NDArray[np.float64]:
    """Spoiled gradient-echo steady-state signal.

    Parameters
    ----------
    s0 : array_like
        Equilibrium signal, broadcastable against ``t1_s``.
    t1_s : array_like
        T1 in seconds.
    flip_deg : array_like
        Flip angle(s) in degrees, broadcastable.
    tr_s : float
        Repetition time in seconds.

    Returns
    -------
    ndarray
        ``S0 sin(a) (1 - E1) / (1 - E1 cos(a))``.
    """
    alpha = np.deg2rad(np.asarray(flip_deg, dtype=np.float64))
    e1 = np.exp(-tr_s / np.asarray(t1_s, dtype=np.float64))
    return np.asarray(
        np.asarray(s0, dtype=np.float64) * np.sin(alpha) * (1.0 - e1) / (1.0 - e1 * np.cos(alpha)),
        dtype=np.float64,
    )
