"""Spoiled gradient-echo signal to contrast-agent concentration.

With the pre-contrast T1 known, the baseline frames give the equilibrium
signal ``S0`` through the SPGR equation; every frame is then inverted
exactly for ``E1 = exp(-TR R1)``::

    y = S / (S0 sin a),   E1 = (1 - y) / (1 - y cos a),   R1 = -ln(E1) / TR,

and the fast-exchange relation ``R1 = R10 + r1 C`` gives ``C = (R1 - R10) / r1``.
Signals that no T1 can explain (``y >= 1``) give NaN, which the fit flags.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tumorboard.dce.aif import bolus_arrival_time
from tumorboard.errors import InputError

#: Gadolinium chelate relaxivity in plasma at 1.5-3 T, /mM/s (Rohrer et al. 2005, rounded).
DEFAULT_R1_PER_MM_S = 4.5


def baseline_frames_before_arrival(
    times_s: ArrayLike, aif_curve: ArrayLike, *, margin_frames: int = 1
) -> tuple[int, int]:
    """Frames ``[0, stop)`` that end ``margin_frames`` before the bolus reaches the AIF.

    Parameters
    ----------
    times_s : array_like, shape (nt,)
    aif_curve : array_like, shape (nt,)
        Signal or concentration of a feeding vessel.
    margin_frames : int
        Frames left out before the arrival.

    Returns
    -------
    tuple of int
        ``(start, stop)`` frame indices; at least one frame.
    """
    t = np.asarray(times_s, dtype=np.float64)
    arrival = bolus_arrival_time(t, aif_curve)
    stop = int(np.searchsorted(t, arrival, side="right")) - margin_frames
    return (0, max(1, stop))


def signal_to_concentration(
    signal: ArrayLike,
    *,
    t1_s: ArrayLike,
    flip_deg: float,
    tr_s: float,
    r1_per_mM_s: float = DEFAULT_R1_PER_MM_S,
    baseline_frames: int | tuple[int, int] = 3,
) -> NDArray[np.float64]:
    """Convert dynamic SPGR signal to concentration.

    Parameters
    ----------
    signal : array_like, shape (..., nt)
        Signal with time on the last axis.
    t1_s : array_like, shape (...) or scalar
        Pre-contrast T1 in seconds.
    flip_deg : float
        Flip angle of the dynamic series, degrees.
    tr_s : float
        Repetition time, seconds.
    r1_per_mM_s : float
        Longitudinal relaxivity, /mM/s.
    baseline_frames : int or (int, int)
        ``n`` for frames ``[0, n)`` or ``(start, stop)`` frame indices averaged
        into the baseline.

    Returns
    -------
    ndarray, shape (..., nt)
        Concentration in mM (NaN where the signal cannot be inverted).

    Raises
    ------
    InputError
        For a missing/invalid flip angle, TR, relaxivity or baseline range.
    """
    if flip_deg is None or not np.isfinite(flip_deg) or not 0 < flip_deg < 180:
        raise InputError(f"flip angle must be in (0, 180) degrees, got {flip_deg!r}")
    if tr_s is None or not np.isfinite(tr_s) or tr_s <= 0:
        raise InputError(f"TR must be a positive time in seconds, got {tr_s!r}")
    if not np.isfinite(r1_per_mM_s) or r1_per_mM_s <= 0:
        raise InputError(f"relaxivity must be > 0 /mM/s, got {r1_per_mM_s!r}")
    s = np.asarray(signal, dtype=np.float64)
    nt = s.shape[-1]
    start, stop = (0, baseline_frames) if isinstance(baseline_frames, int) else baseline_frames
    if not 0 <= start < stop <= nt:
        raise InputError(f"baseline frames [{start}, {stop}) do not fit a series of {nt} frames")
    t1 = np.asarray(t1_s, dtype=np.float64)
    alpha = np.deg2rad(flip_deg)
    sin_a, cos_a = np.sin(alpha), np.cos(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        e10 = np.exp(-tr_s / t1)
        f0 = sin_a * (1.0 - e10) / (1.0 - e10 * cos_a)
        s0 = s[..., start:stop].mean(axis=-1) / f0
        y = s / (s0[..., None] * sin_a)
        e1 = (1.0 - y) / (1.0 - y * cos_a)
        r1 = np.where((e1 > 0) & (e1 < 1), -np.log(e1) / tr_s, np.nan)
        conc = (r1 - (1.0 / t1)[..., None]) / r1_per_mM_s
    return np.asarray(conc, dtype=np.float64)


def concentration_to_signal(
    concentration: ArrayLike,
    *,
    s0: ArrayLike,
    t1_s: ArrayLike,
    flip_deg: float,
    tr_s: float,
    r1_per_mM_s: float = DEFAULT_R1_PER_MM_S,
) -> NDArray[np.float64]:
    """Forward model: concentration (..., nt) to SPGR signal (for phantoms and tests).

    Parameters
    ----------
    concentration : array_like, shape (..., nt)
        mM.
    s0, t1_s : array_like, shape (...)
        Equilibrium signal and pre-contrast T1 (s).
    flip_deg, tr_s, r1_per_mM_s : float

    Returns
    -------
    ndarray, shape (..., nt)
    """
    c = np.asarray(concentration, dtype=np.float64)
    r1 = (1.0 / np.asarray(t1_s, dtype=np.float64))[..., None] + r1_per_mM_s * c
    e1 = np.exp(-tr_s * r1)
    alpha = np.deg2rad(flip_deg)
    s0_arr = np.asarray(s0, dtype=np.float64)[..., None]
    return np.asarray(
        s0_arr * np.sin(alpha) * (1.0 - e1) / (1.0 - e1 * np.cos(alpha)), dtype=np.float64
    )
