"""From a dynamic signal volume to parameter maps: the steps ``dce map`` chains.

Signal to concentration (per voxel T1, SPGR), input functions (population,
vessel region, portal venous), the voxel-wise fit and the lesion table. Pure
numerics on :class:`~tumorboard.imaging.volume.Volume` objects; reading and
writing files is left to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tumorboard.dce.aif import (
    DEFAULT_HCT,
    InputFunction,
    blood_to_plasma,
    bolus_arrival_time,
    georgiou_aif,
    measured_aif,
    parker_aif,
    portal_venous_input,
)
from tumorboard.dce.signal_to_concentration import (
    DEFAULT_R1_PER_MM_S,
    baseline_frames_before_arrival,
    signal_to_concentration,
)
from tumorboard.errors import InputError
from tumorboard.imaging.volume import Volume

#: Pre-contrast T1 of arterial blood (1.5 T, QIBA DRO convention), seconds.
DEFAULT_T1_BLOOD_S = 1.44


class PopulationAif(Enum):
    """Built-in population arterial input functions."""

    PARKER = "parker"
    GEORGIOU = "georgiou"

    @classmethod
    def parse(cls, value: PopulationAif | str) -> PopulationAif:
        """Enum from name; :class:`InputError` for unknown names."""
        if isinstance(value, PopulationAif):
            return value
        for member in cls:
            if member.value == str(value).strip().lower():
                return member
        raise InputError(f"unknown population AIF {value!r}; expected parker or georgiou")


@dataclass(frozen=True)
class SpgrAcquisition:
    """What the signal equation needs from the dynamic series.

    Parameters
    ----------
    flip_deg : float
        Flip angle, degrees.
    tr_s : float
        Repetition time, seconds.
    r1_per_mM_s : float
        Relaxivity of the agent.

    Raises
    ------
    InputError
        If a value is missing or not positive.
    """

    flip_deg: float
    tr_s: float
    r1_per_mM_s: float = DEFAULT_R1_PER_MM_S

    def __post_init__(self) -> None:
        if self.flip_deg is None or not (0 < float(self.flip_deg) < 180):
            raise InputError(f"flip angle must be in (0, 180) degrees, got {self.flip_deg!r}")
        if self.tr_s is None or not (float(self.tr_s) > 0 and np.isfinite(self.tr_s)):
            raise InputError(f"TR must be a positive time, got {self.tr_s!r} s")
        if not (self.r1_per_mM_s > 0):
            raise InputError(f"relaxivity must be > 0 /mM/s, got {self.r1_per_mM_s!r}")


def concentration_volume(
    dynamic: Volume,
    t1_s: float | NDArray[np.float64],
    acquisition: SpgrAcquisition,
    baseline_frames: int | tuple[int, int],
) -> Volume:
    """Convert a 4-D SPGR signal volume to concentration (mM, float32).

    Parameters
    ----------
    dynamic : Volume
        ``[t, z, y, x]`` signal.
    t1_s : float or ndarray, shape (nz, ny, nx)
        Pre-contrast T1 (seconds) of every voxel.
    acquisition : SpgrAcquisition
    baseline_frames : int or (int, int)
        Pre-contrast frames (see :func:`signal_to_concentration`).

    Returns
    -------
    Volume
        ``[t, z, y, x]`` concentration; NaN where the signal cannot be inverted.
    """
    if dynamic.array.ndim != 4:
        raise InputError(f"dynamic image must be 4-D, got shape {dynamic.shape}")
    nt = dynamic.array.shape[0]
    t1 = np.broadcast_to(np.asarray(t1_s, dtype=np.float64), dynamic.spatial_shape)
    signal = dynamic.array.reshape(nt, -1)
    out = np.empty(signal.shape, dtype=np.float32)
    t1_flat = t1.reshape(-1)
    step = 65536
    for start in range(0, signal.shape[1], step):
        block = np.asarray(signal[:, start : start + step], dtype=np.float64).T
        with np.errstate(divide="ignore", invalid="ignore"):
            conc = signal_to_concentration(
                block,
                t1_s=t1_flat[start : start + step],
                flip_deg=acquisition.flip_deg,
                tr_s=acquisition.tr_s,
                r1_per_mM_s=acquisition.r1_per_mM_s,
                baseline_frames=baseline_frames,
            )
        out[:, start : start + step] = conc.T
    return dynamic.with_array(out.reshape(dynamic.shape), unit="mM")


def population_input(
    name: PopulationAif | str,
    times_s: ArrayLike,
    *,
    delay_s: float = 0.0,
    hct: float = DEFAULT_HCT,
) -> NDArray[np.float64]:
    """Plasma concentration of a population AIF on the frame times.

    Parameters
    ----------
    name : PopulationAif or str
    times_s : array_like, shape (nt,)
    delay_s : float
        Bolus arrival delay.
    hct : float
        Haematocrit for the blood-to-plasma conversion.

    Returns
    -------
    ndarray, shape (nt,)
    """
    which = PopulationAif.parse(name)
    function = parker_aif if which is PopulationAif.PARKER else georgiou_aif
    return blood_to_plasma(function(times_s, delay_s), hct)


def vessel_signal_input(
    dynamic: Volume,
    vessel_mask: NDArray[np.bool_],
    acquisition: SpgrAcquisition,
    *,
    t1_blood_s: float = DEFAULT_T1_BLOOD_S,
    hct: float = DEFAULT_HCT,
    baseline_frames: int | tuple[int, int] | None = None,
    what: str = "vessel mask",
) -> tuple[NDArray[np.float64], tuple[int, int]]:
    """Plasma input measured in a vessel region of a signal volume.

    The mean vessel signal is converted with the blood T1, then divided by
    ``1 - Hct``. Without ``baseline_frames`` the baseline ends one frame before
    the bolus arrives in the vessel.

    Returns
    -------
    cp_mM : ndarray, shape (nt,)
    baseline_frames : (int, int)
        The baseline used (to reuse for the tissue).
    """
    if dynamic.times_s is None:
        raise InputError("the dynamic volume has no frame times")
    signal = measured_aif(dynamic.array, vessel_mask, what=what)
    base = (
        baseline_frames_before_arrival(dynamic.times_s, signal)
        if baseline_frames is None
        else baseline_frames
    )
    start, stop = (0, base) if isinstance(base, int) else base
    cb = signal_to_concentration(
        signal,
        t1_s=t1_blood_s,
        flip_deg=acquisition.flip_deg,
        tr_s=acquisition.tr_s,
        r1_per_mM_s=acquisition.r1_per_mM_s,
        baseline_frames=(start, stop),
    )
    if not np.all(np.isfinite(cb)):
        raise InputError(f"{what}: the vessel signal cannot be converted to concentration")
    return blood_to_plasma(np.clip(cb, 0.0, None), hct), (start, stop)


def build_inputs(
    times_s: ArrayLike,
    cp_mM: ArrayLike,
    *,
    cv_mM: ArrayLike | None = None,
    model_portal: bool = False,
    source: str = "input function",
) -> InputFunction:
    """Assemble the :class:`InputFunction`, modelling the portal input when asked.

    Parameters
    ----------
    times_s, cp_mM : array_like, shape (nt,)
    cv_mM : array_like, shape (nt,), optional
        Measured portal-venous plasma curve.
    model_portal : bool
        Without ``cv_mM``, derive it from ``cp_mM`` with :func:`portal_venous_input`.
    source : str
        Name used in messages.
    """
    cp = np.asarray(cp_mM, dtype=np.float64)
    cv = None if cv_mM is None else np.asarray(cv_mM, dtype=np.float64)
    if cv is None and model_portal:
        cv = portal_venous_input(times_s, cp)
    return InputFunction(np.asarray(times_s, dtype=np.float64), cp, cv, source)


def auto_baseline(times_s: ArrayLike, mean_curve: ArrayLike) -> tuple[int, int]:
    """Baseline frames from a mean signal curve (one frame margin before arrival).

    Falls back to the first three frames when no enhancement is seen.
    """
    try:
        return baseline_frames_before_arrival(times_s, mean_curve)
    except InputError:
        return (0, 3)


def arrival_time_s(times_s: ArrayLike, curve: ArrayLike) -> float:
    """Bolus arrival time of a curve (see :func:`~tumorboard.dce.aif.bolus_arrival_time`)."""
    return bolus_arrival_time(times_s, curve)


def population_aif_delay_s(
    concentration: Volume,
    mask: NDArray[np.bool_] | None,
    name: PopulationAif | str,
) -> float:
    """Delay of a population AIF: bolus arrival in the tissue minus the AIF's own.

    Parameters
    ----------
    concentration : Volume
        4-D tissue concentration with frame times.
    mask : ndarray of bool, shape (nz, ny, nx), optional
        Voxels whose mean curve is used (default: all).
    name : PopulationAif or str

    Returns
    -------
    float
        Delay in seconds, >= 0; 0 when the tissue shows no enhancement.
    """
    if concentration.times_s is None:
        raise InputError("the concentration volume has no frame times")
    times = np.asarray(concentration.times_s, dtype=np.float64)
    region = np.ones(concentration.spatial_shape, bool) if mask is None else mask
    curves = np.asarray(concentration.array[:, region], dtype=np.float64)
    finite = np.all(np.isfinite(curves), axis=0)
    if not finite.any():
        return 0.0
    curve = curves[:, finite].mean(axis=1)
    try:
        arrival = bolus_arrival_time(times, curve)
    except InputError:
        return 0.0
    reference = bolus_arrival_time(times, population_input(name, times))
    return max(0.0, arrival - reference)
