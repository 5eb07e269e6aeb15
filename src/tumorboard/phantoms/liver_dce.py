"""The reference patient's liver DCE-MRI at baseline and two months after PRRT.

A small axial slab of the liver (3 slices of 48 x 48 voxels) with an aorta,
a portal vein and three neuroendocrine metastases of known dual-input
parameters. Tissue curves follow the dual-input single-compartment model
(:mod:`tumorboard.dce.dual_input`) fed by a Parker AIF and a modelled
portal-venous input; signal follows the SPGR equation with per-tissue T1 and
seeded Gaussian noise. Metastases draw mostly arterial blood; lesions 1 and 2
respond to PRRT (lower flow at follow-up), lesion 3 does not. Everything is
deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import NDArray

from tumorboard.dce.aif import InputFunction, blood_to_plasma, parker_aif, portal_venous_input
from tumorboard.dce.fit import simulate
from tumorboard.dce.signal_to_concentration import concentration_to_signal
from tumorboard.errors import InputError
from tumorboard.imaging.volume import Volume

SHAPE_ZYX = (3, 48, 48)
SPACING_MM = (6.0, 3.0, 3.0)
ORIGIN_MM = (-70.0, -30.0, 40.0)
N_FRAMES = 60
FRAME_INTERVAL_S = 4.0
FLIP_DEG = 15.0
TR_MS = 4.0
R1_PER_MM_S = 4.5
HCT = 0.45
AIF_DELAY_S = 12.0
S0 = 2000.0
NOISE_SIGMA = 4.0
T1_MS = {"liver": 800.0, "lesion": 1200.0, "blood": 1440.0, "background": 1000.0}

#: Liver parenchyma: mostly portal-venous supply.
LIVER_PARAMETERS = {
    "fp_ml_per_100ml_per_min": 90.0,
    "arterial_fraction": 0.25,
    "distribution_volume": 0.25,
}


class Visit(Enum):
    """Which examination of the reference patient."""

    BASELINE = "baseline"
    FOLLOW_UP = "follow-up"

    @classmethod
    def parse(cls, value: Visit | str) -> Visit:
        """Enum from its value (``baseline`` or ``follow-up``)."""
        if isinstance(value, Visit):
            return value
        for member in cls:
            if member.value == str(value).strip().lower():
                return member
        raise InputError(f"unknown visit {value!r}; expected baseline or follow-up")


@dataclass(frozen=True)
class LesionTruth:
    """Known dual-input parameters of one metastasis at both visits.

    Attributes
    ----------
    label : int
    centre_yx : tuple of int
        Centre in the slab's rows/columns (present on every slice).
    radius_vox : float
    baseline, follow_up : dict of str to float
        ``fp_ml_per_100ml_per_min``, ``arterial_fraction``, ``distribution_volume``.
    responder : bool
        Whether the lesion responds to PRRT (lower flow at follow-up).
    """

    label: int
    centre_yx: tuple[int, int]
    radius_vox: float
    baseline: dict[str, float]
    follow_up: dict[str, float]
    responder: bool

    def parameters(self, visit: Visit | str) -> dict[str, float]:
        """The truth at ``visit``."""
        return self.baseline if Visit.parse(visit) is Visit.BASELINE else self.follow_up


LESIONS = (
    LesionTruth(
        1,
        (18, 17),
        5.0,
        {"fp_ml_per_100ml_per_min": 140.0, "arterial_fraction": 0.85, "distribution_volume": 0.35},
        {"fp_ml_per_100ml_per_min": 80.0, "arterial_fraction": 0.75, "distribution_volume": 0.30},
        True,
    ),
    LesionTruth(
        2,
        (31, 31),
        4.5,
        {"fp_ml_per_100ml_per_min": 110.0, "arterial_fraction": 0.8, "distribution_volume": 0.30},
        {"fp_ml_per_100ml_per_min": 60.0, "arterial_fraction": 0.7, "distribution_volume": 0.28},
        True,
    ),
    LesionTruth(
        3,
        (30, 14),
        4.0,
        {"fp_ml_per_100ml_per_min": 60.0, "arterial_fraction": 0.7, "distribution_volume": 0.25},
        {"fp_ml_per_100ml_per_min": 65.0, "arterial_fraction": 0.7, "distribution_volume": 0.26},
        False,
    ),
)


@dataclass(frozen=True, eq=False)
class LiverDceCase:
    """One visit's DCE data and truth.

    Attributes
    ----------
    visit : Visit
    dynamic : Volume
        ``[t, z, y, x]`` SPGR signal (float32) with ``times_s``.
    t1_ms : Volume
        Pre-contrast T1 map in ms.
    liver, aorta, portal_vein : Volume
        Masks (bool).
    lesions : Volume
        Lesion labels (int16, 0 = background).
    inputs : InputFunction
        The true plasma inputs (arterial, portal venous).
    flip_deg, tr_ms, r1_per_mM_s, hct : float
        Acquisition and agent constants.
    truth : tuple of LesionTruth
    """

    visit: Visit
    dynamic: Volume
    t1_ms: Volume
    liver: Volume
    aorta: Volume
    portal_vein: Volume
    lesions: Volume
    inputs: InputFunction
    flip_deg: float
    tr_ms: float
    r1_per_mM_s: float
    hct: float
    truth: tuple[LesionTruth, ...]


def frame_times_s() -> NDArray[np.float64]:
    """The frame times of both visits, seconds."""
    return np.arange(N_FRAMES, dtype=np.float64) * FRAME_INTERVAL_S


def _disk(centre_yx: tuple[float, float], radius: float) -> NDArray[np.bool_]:
    yy, xx = np.mgrid[: SHAPE_ZYX[1], : SHAPE_ZYX[2]]
    return np.asarray((yy - centre_yx[0]) ** 2 + (xx - centre_yx[1]) ** 2 <= radius**2)


def liver_dce_case(visit: Visit | str = Visit.BASELINE, *, seed: int = 20261121) -> LiverDceCase:
    """Build one visit of the liver DCE phantom.

    Parameters
    ----------
    visit : Visit or str
        ``baseline`` or ``follow-up``.
    seed : int
        Seed of the noise generator (the follow-up uses ``seed + 1``).

    Returns
    -------
    LiverDceCase
    """
    which = Visit.parse(visit)
    rng = np.random.default_rng(seed + (0 if which is Visit.BASELINE else 1))
    nz, ny, nx = SHAPE_ZYX
    times = frame_times_s()
    cb_artery = parker_aif(times, AIF_DELAY_S)
    cp = blood_to_plasma(cb_artery, HCT)
    cv = portal_venous_input(times, cp)
    inputs = InputFunction(times, cp, cv, source="liver DCE phantom")

    yy, xx = np.mgrid[:ny, :nx]
    liver2d = ((yy - 24.0) / 19.0) ** 2 + ((xx - 23.0) / 20.0) ** 2 <= 1.0
    aorta2d = _disk((40, 41), 2.5)
    portal2d = _disk((24, 25), 2.0)
    liver2d &= ~aorta2d & ~portal2d
    labels2d = np.zeros((ny, nx), dtype=np.int16)
    for lesion in LESIONS:
        labels2d[_disk(lesion.centre_yx, lesion.radius_vox) & liver2d] = lesion.label

    conc = np.zeros((N_FRAMES, ny, nx))
    t1 = np.full((ny, nx), T1_MS["background"])
    liver_curve = simulate(times, inputs, "dual-input", LIVER_PARAMETERS)[0]
    conc[:, liver2d] = liver_curve[:, None]
    t1[liver2d] = T1_MS["liver"]
    for lesion in LESIONS:
        inside = labels2d == lesion.label
        curve = simulate(times, inputs, "dual-input", lesion.parameters(which))[0]
        conc[:, inside] = curve[:, None]
        t1[inside] = T1_MS["lesion"]
    # vessels hold whole blood: their relaxation follows the blood concentration
    conc[:, aorta2d] = cb_artery[:, None]
    conc[:, portal2d] = (cv * (1.0 - HCT))[:, None]
    t1[aorta2d | portal2d] = T1_MS["blood"]

    signal2d = concentration_to_signal(
        np.moveaxis(conc, 0, -1),
        s0=S0,
        t1_s=t1 / 1000.0,
        flip_deg=FLIP_DEG,
        tr_s=TR_MS / 1000.0,
        r1_per_mM_s=R1_PER_MM_S,
    )  # (ny, nx, nt)
    signal = np.repeat(np.moveaxis(signal2d, -1, 0)[:, None], nz, axis=1)
    signal = signal + rng.normal(0.0, NOISE_SIGMA, signal.shape)
    signal = np.clip(np.round(signal), 0, None).astype(np.float32)

    def spatial(array: NDArray[np.generic], unit: str) -> Volume:
        return Volume(np.repeat(array[None], nz, axis=0), SPACING_MM, ORIGIN_MM, unit=unit)

    dynamic = Volume(signal, SPACING_MM, ORIGIN_MM, unit="a.u.", times_s=times)
    return LiverDceCase(
        visit=which,
        dynamic=dynamic,
        t1_ms=spatial(t1.astype(np.float32), "ms"),
        liver=spatial(liver2d, "mask"),
        aorta=spatial(aorta2d, "mask"),
        portal_vein=spatial(portal2d, "mask"),
        lesions=spatial(labels2d, "label"),
        inputs=inputs,
        flip_deg=FLIP_DEG,
        tr_ms=TR_MS,
        r1_per_mM_s=R1_PER_MM_S,
        hct=HCT,
        truth=LESIONS,
    )
