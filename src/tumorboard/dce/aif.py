"""Input functions: measured AIFs, portal-venous input, bolus arrival, haematocrit.

The kinetic models need the *plasma* concentration of the feeding vessels.
Population AIFs (:mod:`tumorboard.dce.population_aif`: Parker 2006, Georgiou
2019, McGrath 2009 preclinical; re-exported here) and vessel-region curves are
whole-blood concentrations; :func:`blood_to_plasma` divides by ``1 - Hct``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tumorboard.dce.convolution import exp_conv
from tumorboard.dce.population_aif import GEORGIOU_REFINED as GEORGIOU_REFINED
from tumorboard.dce.population_aif import GEORGIOU_TABLE3 as GEORGIOU_TABLE3
from tumorboard.dce.population_aif import GeorgiouParameters as GeorgiouParameters
from tumorboard.dce.population_aif import georgiou_aif as georgiou_aif
from tumorboard.dce.population_aif import parker_aif as parker_aif
from tumorboard.dce.population_aif import preclinical_aif as preclinical_aif
from tumorboard.errors import InputError

#: Default haematocrit of large vessels.
DEFAULT_HCT = 0.45


def validate_times(times_s: ArrayLike, what: str = "time_s") -> NDArray[np.float64]:
    """Return frame times as a float array after checking they are usable.

    Raises
    ------
    InputError
        If they are not finite or not strictly increasing, naming ``what``.
    """
    t = np.asarray(times_s, dtype=np.float64).reshape(-1)
    if t.size < 2:
        raise InputError(f"{what}: need at least 2 time points, got {t.size}")
    if not np.all(np.isfinite(t)):
        raise InputError(f"{what}: contains NaN or infinite times")
    steps = np.diff(t)
    if not np.all(steps > 0):
        i = int(np.argmax(steps <= 0)) + 1
        raise InputError(
            f"{what}: times must be strictly increasing; value {i} ({t[i]:g} s) "
            f"follows {t[i - 1]:g} s"
        )
    return t


@dataclass(frozen=True, eq=False)
class InputFunction:
    """Plasma input function(s) on the frame times.

    Parameters
    ----------
    times_s : ndarray, shape (nt,)
        Strictly increasing frame times in seconds.
    cp_mM : ndarray, shape (nt,)
        Arterial plasma concentration.
    cv_mM : ndarray, shape (nt,), optional
        Portal-venous plasma concentration (dual-input liver model only).
    source : str
        Where the curve came from, for messages (e.g. ``"AIF.csv"``).

    Raises
    ------
    InputError
        If times are not strictly increasing, lengths differ, or a
        concentration is NaN or clearly negative (below ``-5 %`` of the peak,
        more than noise can explain).
    """

    times_s: NDArray[np.float64]
    cp_mM: NDArray[np.float64]
    cv_mM: NDArray[np.float64] | None = None
    source: str = "input function"

    def __post_init__(self) -> None:
        t = validate_times(self.times_s, f"{self.source} column time_s")
        object.__setattr__(self, "times_s", t)
        object.__setattr__(self, "cp_mM", _check_curve(self.cp_mM, t.size, self.source, "cp_mM"))
        if self.cv_mM is not None:
            cv = _check_curve(self.cv_mM, t.size, self.source, "cv_mM")
            object.__setattr__(self, "cv_mM", cv)

    def shifted(self, delay_s: float) -> InputFunction:
        """The same inputs arriving ``delay_s`` later (zero before the first sample)."""
        return InputFunction(
            times_s=self.times_s,
            cp_mM=shift_curve(self.times_s, self.cp_mM, delay_s),
            cv_mM=None if self.cv_mM is None else shift_curve(self.times_s, self.cv_mM, delay_s),
            source=self.source,
        )

    def resampled(self, times_s: ArrayLike) -> InputFunction:
        """Linear interpolation onto other frame times (zero outside the sampled range)."""
        t = validate_times(times_s)
        cv = None if self.cv_mM is None else _interp(t, self.times_s, self.cv_mM)
        return InputFunction(t, _interp(t, self.times_s, self.cp_mM), cv, self.source)


def _interp(
    t: NDArray[np.float64], tp: NDArray[np.float64], fp: NDArray[Any]
) -> NDArray[np.float64]:
    return np.asarray(np.interp(t, tp, fp, left=0.0, right=float(fp[-1])), dtype=np.float64)


def _check_curve(values: ArrayLike, n: int, source: str, column: str) -> NDArray[np.float64]:
    curve = np.asarray(values, dtype=np.float64).reshape(-1)
    if curve.size != n:
        raise InputError(f"{source} column {column}: has {curve.size} values, time_s has {n}")
    if not np.all(np.isfinite(curve)):
        raise InputError(f"{source} column {column}: contains NaN or infinite concentrations")
    peak = float(np.max(np.abs(curve)))
    if curve.min() < -0.05 * peak:
        raise InputError(
            f"{source} column {column}: negative concentration {curve.min():g} mM "
            f"(peak {peak:g} mM); expected concentrations >= 0"
        )
    return curve


def shift_curve(times_s: ArrayLike, curve: ArrayLike, delay_s: float) -> NDArray[np.float64]:
    """Delay a sampled curve by ``delay_s`` seconds (linear interpolation, zero before).

    Parameters
    ----------
    times_s : array_like, shape (nt,)
    curve : array_like, shape (nt,)
    delay_s : float
        Positive values make the curve arrive later.

    Returns
    -------
    ndarray, shape (nt,)
    """
    t = np.asarray(times_s, dtype=np.float64)
    c = np.asarray(curve, dtype=np.float64)
    return np.asarray(np.interp(t - delay_s, t, c, left=0.0, right=float(c[-1])), dtype=np.float64)


def blood_to_plasma(cb_mM: ArrayLike, hct: float) -> NDArray[np.float64]:
    """Convert whole-blood to plasma concentration: ``cp = cb / (1 - Hct)``.

    Raises
    ------
    InputError
        If ``hct`` is not in ``[0, 1)``.
    """
    if not 0.0 <= hct < 1.0 or not math.isfinite(hct):
        raise InputError(f"haematocrit must be in [0, 1), got {hct!r}")
    return np.asarray(cb_mM, dtype=np.float64) / (1.0 - hct)


def measured_aif(
    dynamic: NDArray[Any], vessel_mask: NDArray[np.bool_], *, what: str = "vessel mask"
) -> NDArray[np.float64]:
    """Mean concentration curve of a vessel region.

    Parameters
    ----------
    dynamic : ndarray, shape (nt, nz, ny, nx)
        Concentration (or signal) frames.
    vessel_mask : ndarray of bool, shape (nz, ny, nx)
        Voxels inside the vessel; non-finite voxels are ignored.
    what : str
        Name of the mask in messages.

    Returns
    -------
    ndarray, shape (nt,)

    Raises
    ------
    InputError
        If the mask does not fit or selects no finite voxel.
    """
    mask = np.asarray(vessel_mask, dtype=bool)
    if mask.shape != dynamic.shape[1:]:
        raise InputError(f"{what} has shape {mask.shape}, expected {dynamic.shape[1:]}")
    curves = np.asarray(dynamic[:, mask], dtype=np.float64)  # (nt, nvox)
    keep = np.all(np.isfinite(curves), axis=0)
    if not np.any(keep):
        raise InputError(f"{what} selects no voxel with a finite curve")
    return np.asarray(curves[:, keep].mean(axis=1), dtype=np.float64)


def portal_venous_input(
    times_s: ArrayLike,
    cp_mM: ArrayLike,
    *,
    transit_s: float = 20.0,
    delay_s: float = 6.0,
) -> NDArray[np.float64]:
    """Model a portal-venous plasma input from the arterial one.

    The gut and spleen are treated as one compartment (mean transit
    ``transit_s``) after a plug-flow delay: ``cv(t) = (1/T) (ca * exp(-t/T))(t - delay)``,
    which keeps the tracer mass (area) of the arterial curve. Use a measured
    portal-vein curve when one is available.

    Parameters
    ----------
    times_s : array_like, shape (nt,)
    cp_mM : array_like, shape (nt,)
        Arterial plasma concentration.
    transit_s : float
        Mean transit time of the gut compartment, > 0.
    delay_s : float
        Extra plug-flow delay, >= 0.

    Returns
    -------
    ndarray, shape (nt,)
    """
    if transit_s <= 0 or delay_s < 0:
        raise InputError(
            f"portal-venous transit must be > 0 s and delay >= 0 s, got {transit_s}, {delay_s}"
        )
    t = validate_times(times_s)
    cv = exp_conv(t, np.asarray(cp_mM, dtype=np.float64), 1.0 / transit_s) / transit_s
    return shift_curve(t, cv, delay_s)


def bolus_arrival_time(
    times_s: ArrayLike, curve: ArrayLike, *, baseline_frames: int = 3, fraction: float = 0.1
) -> float:
    """Bolus arrival time of a curve: the time it first rises above ``fraction`` of its peak.

    The crossing is linearly interpolated between frames, then moved back
    to the foot of the upslope by extrapolating the rising edge between the
    ``fraction`` and the half-peak crossings to the baseline level.

    Parameters
    ----------
    times_s : array_like, shape (nt,)
    curve : array_like, shape (nt,)
    baseline_frames : int
        Number of first frames that define the baseline level.
    fraction : float
        Threshold as a fraction of the peak enhancement (0 < fraction < 0.5).

    Returns
    -------
    float
        Arrival time in seconds.

    Raises
    ------
    InputError
        If the curve never rises above its baseline.
    """
    t = validate_times(times_s)
    c = np.asarray(curve, dtype=np.float64)
    base = float(np.mean(c[: max(1, baseline_frames)]))
    enhancement = c - base
    peak = float(enhancement.max())
    if not peak > 0:
        raise InputError("bolus arrival: the curve never rises above its baseline")

    def crossing(level: float) -> float:
        i = int(np.argmax(enhancement >= level))
        if i == 0:
            return float(t[0])
        y0, y1 = enhancement[i - 1], enhancement[i]
        return float(t[i - 1] + (level - y0) / (y1 - y0) * (t[i] - t[i - 1]))

    low = crossing(fraction * peak)
    half = crossing(0.5 * peak)
    if half <= low:
        return low
    slope = (0.5 - fraction) * peak / (half - low)
    return max(float(t[0]), low - fraction * peak / slope)


def estimate_delay(
    times_s: ArrayLike, tissue_curve: ArrayLike, aif_curve: ArrayLike, **kwargs: Any
) -> float:
    """Delay of a tissue (or portal) curve after the AIF, from their bolus arrival times.

    Parameters
    ----------
    times_s : array_like, shape (nt,)
    tissue_curve, aif_curve : array_like, shape (nt,)
    **kwargs
        Passed to :func:`bolus_arrival_time`.

    Returns
    -------
    float
        Delay in seconds (may be negative).
    """
    return bolus_arrival_time(times_s, tissue_curve, **kwargs) - bolus_arrival_time(
        times_s, aif_curve, **kwargs
    )
