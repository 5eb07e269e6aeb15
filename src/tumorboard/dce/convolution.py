"""Exact convolution of a piecewise-linear curve with a decaying exponential.

Every compartment model in :mod:`tumorboard.dce` is a sum of terms
``conv(x, k)(t) = integral_{t0}^{t} x(s) exp(-k (t - s)) ds``. If ``x`` is
taken to be linear between its samples (the usual assumption about a sampled
input function), the integral over each interval has a closed form and the
whole curve follows from a two-term recursion (e.g. Flouri et al., MRM 2016)::

    y[i] = E[i] y[i-1] + dt[i] * (x[i] (f1 - f2) + x[i-1] f2),
    E = exp(-z),  z = k dt[i],
    f1(z) = (1 - E) / z,  f2(z) = (1 - E - z E) / z**2.

It is exact for any (non-uniform) time grid, needs one pass over time and
also gives the derivative with respect to ``k`` in the same pass, which the
nonlinear fit needs as its Jacobian. It is hand-written because no library
offers it vectorised over voxels; the loops are compiled with numba because
the recursion over time cannot be vectorised in numpy without one Python
iteration per frame.

All functions here are unit-agnostic: ``k`` is in the inverse of the unit of
``times``.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from tumorboard.errors import InputError

#: Below this ``z = k dt`` the closed forms lose digits; a Taylor series is used.
_SERIES_LIMIT = 1e-2
#: Steps that differ by less than this (relative) reuse the previous step's weights;
#: it only absorbs the rounding of sampled times (e.g. ``arange(n) * dt / 60``).
_SAME_STEP = 1e-12


@numba.njit(cache=True, inline="always")
def _weights(z: float) -> tuple[float, float, float, float, float]:
    """Return ``E, f1, f2, df1/dz, df2/dz`` for ``z = k dt >= 0``."""
    e = np.exp(-z)
    if z < _SERIES_LIMIT:
        z2 = z * z
        f1 = 1.0 - z / 2.0 + z2 / 6.0 - z2 * z / 24.0
        f2 = 0.5 - z / 3.0 + z2 / 8.0 - z2 * z / 30.0
        d1 = -0.5 + z / 3.0 - z2 / 8.0
        d2 = -1.0 / 3.0 + z / 4.0 - z2 / 10.0
    else:
        f1 = (1.0 - e) / z
        f2 = (1.0 - e - z * e) / (z * z)
        d1 = (z * e - 1.0 + e) / (z * z)
        d2 = (z * z * e - 2.0 * (1.0 - e - z * e)) / (z * z * z)
    return e, f1, f2, d1, d2


@numba.njit(cache=True)
def exp_conv_into(
    times: NDArray[np.float64],
    x: NDArray[np.float64],
    rate: float,
    out: NDArray[np.float64],
    dout: NDArray[np.float64],
) -> None:
    """Fill ``out`` with ``conv(x, rate)`` and ``dout`` with its derivative in ``rate``.

    Parameters
    ----------
    times : ndarray, shape (nt,)
        Strictly increasing sample times.
    x : ndarray, shape (nt,)
        Samples of the input curve.
    rate : float
        Decay rate ``k >= 0`` in the inverse unit of ``times``.
    out, dout : ndarray, shape (nt,)
        Output buffers (overwritten).
    """
    nt = times.shape[0]
    out[0] = 0.0
    dout[0] = 0.0
    last_dt = -1.0
    e = f1 = f2 = d1 = d2 = 0.0
    for i in range(1, nt):
        dt = times[i] - times[i - 1]
        if abs(dt - last_dt) > _SAME_STEP * dt:  # uniform grids need one exponential only
            e, f1, f2, d1, d2 = _weights(rate * dt)
            last_dt = dt
        xi = x[i]
        xp = x[i - 1]
        out[i] = e * out[i - 1] + dt * (xi * (f1 - f2) + xp * f2)
        # d/dk of each term: dE/dk = -dt E, d f/dk = dt f'(z)
        dout[i] = e * dout[i - 1] - dt * e * out[i - 1] + dt * dt * (xi * (d1 - d2) + xp * d2)


@numba.njit(cache=True)
def _exp_conv_many(
    times: NDArray[np.float64], x: NDArray[np.float64], rates: NDArray[np.float64]
) -> NDArray[np.float64]:
    n, nt = x.shape
    out = np.empty((n, nt))
    scratch = np.empty(nt)
    for j in range(n):
        exp_conv_into(times, x[j], rates[j], out[j], scratch)
    return out


def exp_conv(times: ArrayLike, x: ArrayLike, rate: ArrayLike) -> NDArray[np.float64]:
    """Convolve piecewise-linear curves with ``exp(-rate t)``, exactly.

    Parameters
    ----------
    times : array_like, shape (nt,)
        Strictly increasing sample times (any unit).
    x : array_like, shape (nt,) or (n, nt)
        One curve shared by all rates, or one curve per rate.
    rate : float or array_like, shape (n,)
        Non-negative decay rate(s), in the inverse unit of ``times``.

    Returns
    -------
    ndarray, shape (nt,) or (n, nt)
        ``integral_{t0}^{t} x(s) exp(-rate (t - s)) ds`` at every sample time;
        1-D only when both ``x`` and ``rate`` are.

    Raises
    ------
    InputError
        If the times are not strictly increasing, shapes disagree or a rate is
        negative.
    """
    t = np.ascontiguousarray(times, dtype=np.float64).reshape(-1)
    if t.size > 1 and not np.all(np.diff(t) > 0):
        raise InputError("times must be strictly increasing")
    curves = np.asarray(x, dtype=np.float64)
    rates = np.asarray(rate, dtype=np.float64)
    scalar = curves.ndim == 1 and rates.ndim == 0
    curves2 = np.atleast_2d(curves)
    rates1 = np.atleast_1d(rates).reshape(-1)
    if curves2.shape[-1] != t.size:
        raise InputError(f"curve has {curves2.shape[-1]} samples, times has {t.size}")
    if np.any(rates1 < 0) or not np.all(np.isfinite(rates1)):
        raise InputError("exponential rates must be finite and >= 0")
    n = max(curves2.shape[0], rates1.size)
    curves2 = np.ascontiguousarray(np.broadcast_to(curves2, (n, t.size)))
    rates1 = np.ascontiguousarray(np.broadcast_to(rates1, (n,)))
    result: NDArray[Any] = _exp_conv_many(t, curves2, rates1)
    return result[0] if scalar else result


def cumulative_integral(times: ArrayLike, x: ArrayLike) -> NDArray[np.float64]:
    """Trapezoidal running integral of ``x`` from the first sample (``conv`` with rate 0).

    Parameters
    ----------
    times : array_like, shape (nt,)
    x : array_like, shape (..., nt)

    Returns
    -------
    ndarray, shape (..., nt)
        Starts at 0.
    """
    t = np.asarray(times, dtype=np.float64)
    values = np.asarray(x, dtype=np.float64)
    steps = 0.5 * (values[..., 1:] + values[..., :-1]) * np.diff(t)
    out = np.zeros_like(values)
    np.cumsum(steps, axis=-1, out=out[..., 1:])
    return out
