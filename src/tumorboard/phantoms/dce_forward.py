"""Forward model of the liver DCE phantom, written from the closed forms.

The phantom generates its curves here, not with :mod:`tumorboard.dce` (the
code under test), so that the truth it writes is the generating parameters
themselves:

* Parker population AIF (whole blood, mM; Parker et al., MRM 2006, Table 1):
  two Gaussians plus an exponential modulated by a sigmoid;
* plasma = blood / (1 - Hct);
* portal-venous plasma input: the arterial plasma curve through one gut
  compartment of mean transit ``T`` (``(1/T) ca * exp(-t/T)``), then a plug-flow
  delay (linear interpolation, zero before the first sample);
* tissue curves as ``conv(x, k)(t) = integral_0^t x(s) exp(-k (t - s)) ds`` with
  ``x`` linear between its samples, evaluated segment by segment from the exact
  integral of a linear function times an exponential;
* extended Tofts ``C = vp cp + Ktrans conv(cp, Ktrans / ve)`` and dual-input
  single compartment ``C = Fp [fa conv(ca, k2) + (1 - fa) conv(cv, k2)]`` with
  ``k2 = Fp / v`` (times in minutes, Fp in ml/100 ml/min divided by 100);
* spoiled gradient-echo signal ``S = S0 sin(a) (1 - E1) / (1 - cos(a) E1)``,
  ``E1 = exp(-TR (1/T1 + r1 C))``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

SECONDS_PER_MINUTE = 60.0
#: Parker et al. 2006, population-average AIF (whole blood).
PARKER_A1_MM_MIN = 0.809
PARKER_A2_MM_MIN = 0.330
PARKER_T1_MIN = 0.17046
PARKER_T2_MIN = 0.365
PARKER_SIGMA1_MIN = 0.0563
PARKER_SIGMA2_MIN = 0.132
PARKER_ALPHA_MM = 1.050
PARKER_BETA_PER_MIN = 0.1685
PARKER_S_PER_MIN = 38.078
PARKER_TAU_MIN = 0.483
#: Gut compartment of the modelled portal-venous input.
PORTAL_TRANSIT_S = 20.0
PORTAL_DELAY_S = 6.0
#: Flow unit: ml/100 ml/min to ml/ml/min.
FLOW_PER_100ML = 100.0


def parker_blood_mM(times_s: ArrayLike, delay_s: float = 0.0) -> NDArray[np.float64]:
    """Parker population AIF (whole blood, mM), zero before ``delay_s``.

    Examples
    --------
    >>> curve = parker_blood_mM([0.0, 30.0, 300.0], delay_s=20.0)
    >>> float(curve[0]), round(float(curve.max()), 2)
    (0.0, 6.04)
    """
    t_min = (np.asarray(times_s, dtype=np.float64) - delay_s) / SECONDS_PER_MINUTE

    def gauss(area: float, centre: float, sigma: float) -> NDArray[np.float64]:
        scale = area / (sigma * math.sqrt(2.0 * math.pi))
        return np.asarray(scale * np.exp(-((t_min - centre) ** 2) / (2.0 * sigma**2)))

    tail = (
        PARKER_ALPHA_MM
        * np.exp(-PARKER_BETA_PER_MIN * t_min)
        / (1.0 + np.exp(-PARKER_S_PER_MIN * (t_min - PARKER_TAU_MIN)))
    )
    blood = (
        gauss(PARKER_A1_MM_MIN, PARKER_T1_MIN, PARKER_SIGMA1_MIN)
        + gauss(PARKER_A2_MM_MIN, PARKER_T2_MIN, PARKER_SIGMA2_MIN)
        + tail
    )
    if delay_s > 0:
        blood = np.where(t_min < 0, 0.0, blood)
    return np.asarray(blood, dtype=np.float64)


def exponential_convolution(times: ArrayLike, curve: ArrayLike, rate: float) -> NDArray[np.float64]:
    """``integral_{t0}^{t} x(s) exp(-rate (t - s)) ds`` for ``x`` linear between samples.

    On a segment of length ``h`` from ``x0`` to ``x1`` the integral is
    ``x0 (1 - E)/k + (x1 - x0)/h (h/k - (1 - E)/k^2)`` with ``E = exp(-k h)``,
    and the running value decays by ``E`` across the segment.

    Parameters
    ----------
    times : array_like, shape (nt,)
        Strictly increasing sample times.
    curve : array_like, shape (..., nt)
        Samples of ``x``.
    rate : float
        ``k >= 0`` in the inverse unit of ``times``.

    Returns
    -------
    ndarray, shape (..., nt)

    Examples
    --------
    >>> t = np.linspace(0.0, 5.0, 11)
    >>> y = exponential_convolution(t, np.ones(11), 2.0)
    >>> bool(np.allclose(y, (1 - np.exp(-2.0 * t)) / 2.0))
    True
    """
    t = np.asarray(times, dtype=np.float64)
    x = np.asarray(curve, dtype=np.float64)
    out = np.zeros(x.shape, dtype=np.float64)
    for i in range(1, t.size):
        h = float(t[i] - t[i - 1])
        z = rate * h
        decay = math.exp(-z)
        if z < 1e-4:  # Taylor series of the two weights (the closed forms lose digits)
            w_start = h * (1.0 - z / 2.0 + z * z / 6.0)
            w_slope = h * (0.5 - z / 6.0 + z * z / 24.0)
        else:
            w_start = -math.expm1(-z) / rate
            w_slope = (z + math.expm1(-z)) / (rate * z)
        # integral = x0 * w_start + (x1 - x0) * w_slope
        out[..., i] = (
            decay * out[..., i - 1] + x[..., i - 1] * (w_start - w_slope) + x[..., i] * w_slope
        )
    return out


def portal_plasma_mM(
    times_s: ArrayLike,
    arterial_plasma_mM: ArrayLike,
    *,
    transit_s: float = PORTAL_TRANSIT_S,
    delay_s: float = PORTAL_DELAY_S,
) -> NDArray[np.float64]:
    """Portal-venous plasma input: one gut compartment, then a plug-flow delay.

    Examples
    --------
    >>> t = np.arange(0.0, 200.0, 2.0)
    >>> cv = portal_plasma_mM(t, parker_blood_mM(t, 10.0) / 0.55)
    >>> float(cv[0])
    0.0
    """
    t = np.asarray(times_s, dtype=np.float64)
    gut = exponential_convolution(t, arterial_plasma_mM, 1.0 / transit_s) / transit_s
    return np.asarray(
        np.interp(t - delay_s, t, gut, left=0.0, right=float(gut[-1])), dtype=np.float64
    )


def extended_tofts_mM(
    times_s: ArrayLike, cp_mM: ArrayLike, ktrans_per_min: float, ve: float, vp: float
) -> NDArray[np.float64]:
    """Extended Tofts tissue curve ``vp cp + Ktrans conv(cp, Ktrans/ve)`` (minutes).

    Examples
    --------
    >>> t = np.arange(0.0, 120.0, 4.0)
    >>> cp = parker_blood_mM(t, 10.0) / 0.55
    >>> c = extended_tofts_mM(t, cp, 0.2, 0.3, 0.0)
    >>> bool(c[-1] > 0)
    True
    """
    t_min = np.asarray(times_s, dtype=np.float64) / SECONDS_PER_MINUTE
    cp = np.asarray(cp_mM, dtype=np.float64)
    return np.asarray(
        vp * cp + ktrans_per_min * exponential_convolution(t_min, cp, ktrans_per_min / ve)
    )


def dual_input_mM(
    times_s: ArrayLike,
    ca_mM: ArrayLike,
    cv_mM: ArrayLike,
    fp_ml_per_100ml_per_min: float,
    arterial_fraction: float,
    distribution_volume: float,
) -> NDArray[np.float64]:
    """Dual-input single-compartment curve ``Fp [fa ca + (1 - fa) cv] * exp(-t Fp / v)``.

    Examples
    --------
    >>> t = np.arange(0.0, 120.0, 4.0)
    >>> ca = parker_blood_mM(t, 10.0) / 0.55
    >>> arterial_only = dual_input_mM(t, ca, portal_plasma_mM(t, ca), 60.0, 1.0, 0.3)
    >>> bool(np.allclose(arterial_only, extended_tofts_mM(t, ca, 0.6, 0.3, 0.0)))
    True
    """
    t_min = np.asarray(times_s, dtype=np.float64) / SECONDS_PER_MINUTE
    fp = fp_ml_per_100ml_per_min / FLOW_PER_100ML
    k2 = fp / distribution_volume
    inflow = arterial_fraction * np.asarray(ca_mM, dtype=np.float64) + (
        1.0 - arterial_fraction
    ) * np.asarray(cv_mM, dtype=np.float64)
    return np.asarray(fp * exponential_convolution(t_min, inflow, k2))


def spgr_signal(
    concentration_mM: ArrayLike,
    *,
    s0: ArrayLike,
    t1_s: ArrayLike,
    flip_deg: float,
    tr_s: float,
    r1_per_mM_s: float,
) -> NDArray[np.float64]:
    """Spoiled gradient-echo signal of concentration curves ``(..., nt)``.

    Examples
    --------
    >>> s = spgr_signal(np.zeros((1, 2)), s0=[100.0], t1_s=[1.0], flip_deg=90.0,
    ...                 tr_s=1.0, r1_per_mM_s=4.5)
    >>> round(float(s[0, 0]), 3)
    63.212
    """
    c = np.asarray(concentration_mM, dtype=np.float64)
    r1 = (1.0 / np.asarray(t1_s, dtype=np.float64))[..., None] + r1_per_mM_s * c
    e1 = np.exp(-tr_s * r1)
    alpha = math.radians(flip_deg)
    s0_arr = np.asarray(s0, dtype=np.float64)[..., None]
    return np.asarray(s0_arr * math.sin(alpha) * (1.0 - e1) / (1.0 - e1 * math.cos(alpha)))
