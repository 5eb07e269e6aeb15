"""The reference patient's liver DCE-MRI at baseline and two months after PRRT.

Built on the reference patient's own anatomy
(:func:`tumorboard.phantoms.torso.reference_anatomy`): an axial slab around
the liver (its bounding box plus :data:`SLAB_MARGIN_VOX`) at the whole-body
grid (6 x 4.5 x 4.5 mm), with an aorta, a portal vein in the liver hilum and
four neuroendocrine liver metastases of known dual-input parameters.

Tissue curves follow the dual-input single-compartment model
(:mod:`tumorboard.dce.dual_input`) fed by a delayed Parker AIF (whole blood,
converted to plasma with the haematocrit) and the modelled portal-venous input
(:func:`tumorboard.dce.aif.portal_venous_input`). Metastases draw mostly
arterial blood and the parenchyma mostly portal blood. Lesions 1, 2 and 4
respond to PRRT (lower flow at follow-up); lesion 3, poorly perfused at
baseline, does not. Signal follows the spoiled gradient-echo equation with
per-tissue T1 and M0; seeded Gaussian noise is added and the signal stored as
integers. A variable-flip-angle acquisition with the same noise gives the
pre-contrast T1.

:func:`write_into_reference_patient` writes each visit as a dynamic MR DICOM
series (one :func:`~tumorboard.imaging.dicom_write.write_dicom_series` call
per frame; frames carry TemporalPositionIdentifier and AcquisitionTime), the
VFA images, the masks a reader would draw (liver, aorta, portal vein), the
lesion labels and ``truth.json``::

    dce/baseline/dicom/            dynamic series, t{frame}_{series}_{slice}.dcm
    dce/baseline/vfa.nii.gz        VFA images, one volume per flip angle
    dce/baseline/liver.nii.gz      fit mask
    dce/baseline/aorta.nii.gz      arterial input region
    dce/baseline/portal_vein.nii.gz
    dce/baseline/lesions.nii.gz    lesion labels
    dce/baseline/t1_ms.nii.gz      the true pre-contrast T1 (ms)
    dce/baseline/truth.json
    dce/followup/...

Everything is deterministic for a given seed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.uid import PYDICOM_ROOT_UID, generate_uid

from tumorboard.dce.aif import InputFunction, blood_to_plasma, parker_aif, portal_venous_input
from tumorboard.dce.fit import fit_curves, simulate
from tumorboard.dce.signal_to_concentration import concentration_to_signal
from tumorboard.errors import InputError
from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.nifti import write_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.phantoms.torso import Tissue, reference_anatomy

#: Slices / rows / columns added around the liver's bounding box.
SLAB_MARGIN_VOX = (1, 2, 2)
#: Frame times: 4 s during the first pass (0-100 s), then every 25 s to 300 s.
FIRST_PASS_INTERVAL_S = 4.0
FIRST_PASS_END_S = 100.0
LATE_INTERVAL_S = 25.0
ACQUISITION_END_S = 300.0
FLIP_DEG = 15.0
TR_MS = 4.0
TE_MS = 1.2
VFA_FLIP_DEG = (2.0, 5.0, 10.0, 15.0, 20.0)
R1_PER_MM_S = 4.5
HCT = 0.45
#: Bolus arrival of the (population) arterial input after the first frame.
AIF_DELAY_S = 20.0
#: Equilibrium signal of M0 = 1 (arbitrary scanner units) and the noise SD.
S0 = 10000.0
NOISE_SIGMA = 4.0
#: Blood T1 as assumed by ``dce map`` (1.5 T).
T1_BLOOD_MS = 1440.0
#: AcquisitionTime of the first frame (seconds after midnight) and the exam dates.
START_TIME_S = 10 * 3600.0 + 12 * 60.0
VISIT_DATES = {"baseline": dt.date(2026, 2, 2), "follow-up": dt.date(2026, 4, 6)}
DICOM_SERIES_NUMBER = 701
SEED = 20261121

#: Liver parenchyma: mostly portal-venous supply.
LIVER_PARAMETERS = {
    "fp_ml_per_100ml_per_min": 100.0,
    "arterial_fraction": 0.25,
    "distribution_volume": 0.25,
}

#: Aorta: centre (reference-grid row, column) and radius.
AORTA_CENTRE_YX = (37.0, 57.0)
AORTA_RADIUS_MM = 10.0
#: Portal vein in the liver hilum: centre (row, column), radius and reference-grid slices.
PORTAL_CENTRE_YX = (33.0, 39.0)
PORTAL_RADIUS_MM = 6.0
PORTAL_SLICES = (56, 65)


@dataclass(frozen=True)
class _Tissue:
    """Pre-contrast T1 (ms), relative M0 and an extended-Tofts enhancement."""

    t1_ms: float
    m0: float
    ktrans_per_min: float = 0.0
    ve: float = 0.1
    vp: float = 0.0


#: Tissues of the slab outside the liver (enhancement for realism, not fitted).
_BACKGROUND = {
    "air": _Tissue(1000.0, 0.0),
    "body": _Tissue(1000.0, 0.7, 0.05, 0.2, 0.02),
    "fat": _Tissue(290.0, 0.9, 0.01, 0.1, 0.005),
    "bone": _Tissue(550.0, 0.5, 0.05, 0.15, 0.02),
    "lung": _Tissue(1200.0, 0.1),
    "organ": _Tissue(1100.0, 0.8, 1.0, 0.3, 0.15),
}
_T1_LIVER_MS = 586.0
_T1_LESION_MS = 1100.0
_M0_LIVER = 0.8
_M0_LESION = 0.9
_M0_BLOOD = 1.0


class Visit(Enum):
    """Which examination of the reference patient."""

    BASELINE = "baseline"
    FOLLOW_UP = "follow-up"

    @classmethod
    def parse(cls, value: Visit | str) -> Visit:
        """Enum from its value (``baseline`` or ``follow-up``; ``followup`` also accepted)."""
        if isinstance(value, Visit):
            return value
        text = str(value).strip().lower()
        for member in cls:
            if text in (member.value, member.folder):
                return member
        raise InputError(f"unknown visit {value!r}; expected baseline or follow-up")

    @property
    def folder(self) -> str:
        """Sub-folder of ``dce`` in the reference patient (``baseline`` or ``followup``)."""
        return self.value.replace("-", "")


@dataclass(frozen=True)
class LesionTruth:
    """Known dual-input parameters of one metastasis at both visits.

    Attributes
    ----------
    label : int
    centre_zyx : tuple of float
        Centre on the reference whole-body grid (slice, row, column).
    radius_mm : float
        The lesion is this sphere intersected with the liver.
    baseline, follow_up : dict of str to float
        ``fp_ml_per_100ml_per_min``, ``arterial_fraction``, ``distribution_volume``.
    responder : bool
        Whether the lesion responds to PRRT (lower flow at follow-up).
    """

    label: int
    centre_zyx: tuple[float, float, float]
    radius_mm: float
    baseline: dict[str, float]
    follow_up: dict[str, float]
    responder: bool

    def parameters(self, visit: Visit | str) -> dict[str, float]:
        """The truth at ``visit``."""
        return self.baseline if Visit.parse(visit) is Visit.BASELINE else self.follow_up


def _dual(fp: float, fa: float, v: float) -> dict[str, float]:
    return {"fp_ml_per_100ml_per_min": fp, "arterial_fraction": fa, "distribution_volume": v}


LESIONS = (
    LesionTruth(
        1, (62.0, 21.0, 27.0), 15.0, _dual(200.0, 0.9, 0.30), _dual(100.0, 0.8, 0.28), True
    ),
    LesionTruth(
        2, (60.0, 31.0, 21.0), 12.0, _dual(160.0, 0.85, 0.35), _dual(90.0, 0.75, 0.32), True
    ),
    LesionTruth(
        3, (59.0, 42.0, 29.0), 13.0, _dual(70.0, 0.75, 0.25), _dual(75.0, 0.75, 0.26), False
    ),
    LesionTruth(4, (63.0, 25.0, 44.0), 11.0, _dual(130.0, 0.8, 0.30), _dual(70.0, 0.7, 0.28), True),
)


@dataclass(frozen=True, eq=False)
class LiverDceCase:
    """One visit's DCE data and truth.

    Attributes
    ----------
    visit : Visit
    dynamic : Volume
        ``[t, z, y, x]`` SPGR signal (float32, integral values) with ``times_s``.
    vfa : Volume
        ``[flip, z, y, x]`` variable-flip-angle signal (float32, integral values).
    t1_ms : Volume
        The true pre-contrast T1 map in ms.
    liver, aorta, portal_vein : Volume
        Masks (bool); the liver mask excludes the portal vein and includes the lesions.
    lesions : Volume
        Lesion labels (int16, 0 = background).
    inputs : InputFunction
        The true plasma inputs (arterial, portal venous).
    flip_deg, tr_ms, te_ms, r1_per_mM_s, hct : float
        Acquisition and agent constants.
    vfa_flip_deg : tuple of float
    truth : tuple of LesionTruth
    ktrans_per_min : dict of int to float
        Reference Ktrans of each lesion at this visit (see :func:`reference_ktrans`).
    """

    visit: Visit
    dynamic: Volume
    vfa: Volume
    t1_ms: Volume
    liver: Volume
    aorta: Volume
    portal_vein: Volume
    lesions: Volume
    inputs: InputFunction
    flip_deg: float
    tr_ms: float
    te_ms: float
    r1_per_mM_s: float
    hct: float
    vfa_flip_deg: tuple[float, ...]
    truth: tuple[LesionTruth, ...]
    ktrans_per_min: dict[int, float]


def frame_times_s() -> NDArray[np.float64]:
    """The frame times of both visits, seconds (first pass every 4 s, then every 25 s)."""
    first = np.arange(0.0, FIRST_PASS_END_S + 1e-9, FIRST_PASS_INTERVAL_S)
    late = np.arange(FIRST_PASS_END_S + LATE_INTERVAL_S, ACQUISITION_END_S + 1e-9, LATE_INTERVAL_S)
    return np.concatenate([first, late])


def true_inputs() -> tuple[InputFunction, NDArray[np.float64]]:
    """The true plasma inputs and the arterial whole-blood curve (mM)."""
    times = frame_times_s()
    cb_artery = parker_aif(times, AIF_DELAY_S)
    cp = blood_to_plasma(cb_artery, HCT)
    cv = portal_venous_input(times, cp)
    return InputFunction(times, cp, cv, source="liver DCE phantom"), cb_artery


@dataclass(frozen=True, eq=False)
class _Slab:
    """Reference-grid labels cropped around the liver, and the crop's offset."""

    labels: Volume
    offset_zyx: tuple[int, int, int]


@lru_cache(maxsize=1)
def _slab() -> _Slab:
    anatomy = reference_anatomy()
    labels = anatomy.labels
    liver = np.nonzero(labels.array == Tissue.LIVER)
    shape = labels.spatial_shape
    starts, stops = [], []
    for axis, margin in enumerate(SLAB_MARGIN_VOX):
        starts.append(max(0, int(liver[axis].min()) - margin))
        stops.append(min(shape[axis], int(liver[axis].max()) + margin + 1))
    # the aorta lies beside the spine, medial to the liver: keep it in the slab
    aorta_stop = int(np.ceil(AORTA_CENTRE_YX[1] + AORTA_RADIUS_MM / labels.spacing_mm[2])) + 2
    stops[2] = min(shape[2], max(stops[2], aorta_stop))
    (z0, y0, x0), (z1, y1, x1) = starts, stops
    origin = labels.index_to_lps(np.array([z0, y0, x0], dtype=float))
    array = np.array(labels.array[z0:z1, y0:y1, x0:x1])
    array.flags.writeable = False  # shared by every caller, like the anatomy itself
    cropped = Volume(
        array,
        labels.spacing_mm,
        (float(origin[0]), float(origin[1]), float(origin[2])),
        labels.direction,
        unit="label",
    )
    return _Slab(cropped, (z0, y0, x0))


def slab_grid() -> Volume:
    """The tissue labels of the DCE slab (the geometry of every DCE image)."""
    return _slab().labels


def _grid_mm(slab: _Slab) -> tuple[NDArray[np.float64], ...]:
    """Reference-grid coordinates (mm along z, y, x) of the slab voxels, broadcastable."""
    nz, ny, nx = slab.labels.spatial_shape
    dz, dy, dx = slab.labels.spacing_mm
    oz, oy, ox = slab.offset_zyx
    z = (oz + np.arange(nz, dtype=float))[:, None, None] * dz
    y = (oy + np.arange(ny, dtype=float))[None, :, None] * dy
    x = (ox + np.arange(nx, dtype=float))[None, None, :] * dx
    return z, y, x


def _regions() -> dict[str, NDArray[np.bool_]]:
    """Boolean masks of the slab: anatomy classes, vessels, liver and each lesion."""
    slab = _slab()
    tissue = slab.labels.array
    z, y, x = _grid_mm(slab)
    dz, dy, dx = slab.labels.spacing_mm
    oz = slab.offset_zyx[0]
    liver_anatomy = tissue == Tissue.LIVER
    organ = np.isin(
        tissue, [Tissue.SPLEEN, Tissue.KIDNEY_LEFT, Tissue.KIDNEY_RIGHT, Tissue.PANCREAS]
    )
    in_plane = (y - AORTA_CENTRE_YX[0] * dy) ** 2 + (x - AORTA_CENTRE_YX[1] * dx) ** 2
    # the aorta is painted over soft tissue and neighbouring organs, never liver or bone
    solid = np.isin(tissue, [Tissue.LIVER, Tissue.BONE, Tissue.LUNG, Tissue.AIR])
    aorta = np.broadcast_to(in_plane <= AORTA_RADIUS_MM**2, tissue.shape) & ~solid
    portal_plane = (y - PORTAL_CENTRE_YX[0] * dy) ** 2 + (x - PORTAL_CENTRE_YX[1] * dx) ** 2
    slices = (oz + np.arange(tissue.shape[0]))[:, None, None]
    portal = (
        (portal_plane <= PORTAL_RADIUS_MM**2)
        & (slices >= PORTAL_SLICES[0])
        & (slices <= PORTAL_SLICES[1])
        & liver_anatomy
    )
    liver = liver_anatomy & ~portal
    regions: dict[str, NDArray[np.bool_]] = {
        "air": tissue == Tissue.AIR,
        "fat": (tissue == Tissue.FAT) & ~aorta,
        "bone": tissue == Tissue.BONE,
        "lung": tissue == Tissue.LUNG,
        "organ": organ & ~aorta,
        "aorta": aorta,
        "portal_vein": portal,
        "liver": liver,
    }
    taken = np.zeros(tissue.shape, bool)
    for mask in regions.values():
        taken |= mask
    regions["body"] = ~taken
    lesions = np.zeros(tissue.shape, np.int16)
    for lesion in LESIONS:
        cz, cy, cx = lesion.centre_zyx
        sphere = (z - cz * dz) ** 2 + (y - cy * dy) ** 2 + (x - cx * dx) ** 2
        lesions[(sphere <= lesion.radius_mm**2) & liver & (lesions == 0)] = lesion.label
    for lesion in LESIONS:
        regions[f"lesion{lesion.label}"] = lesions == lesion.label
    return regions


@lru_cache(maxsize=2)
def _reference_ktrans(visit: Visit) -> tuple[tuple[int, float], ...]:
    inputs, _ = true_inputs()
    times = inputs.times_s
    params = {
        name: np.array([lesion.parameters(visit)[name] for lesion in LESIONS])
        for name in LIVER_PARAMETERS
    }
    curves = simulate(times, inputs, "dual-input", params)
    arterial = InputFunction(times, inputs.cp_mM, None, source="liver DCE phantom")
    fitted = fit_curves(times, curves, arterial, "extended-tofts")
    values = fitted.parameters["ktrans_per_min"]
    return tuple((lesion.label, float(k)) for lesion, k in zip(LESIONS, values, strict=True))


def reference_ktrans(visit: Visit | str) -> dict[int, float]:
    """Reference Ktrans (/min) of each lesion at ``visit``.

    The lesions are simulated with the dual-input model, which has no Ktrans;
    the reference is the extended-Tofts Ktrans of the noise-free lesion curve
    fitted with the true arterial plasma input: the value a perfect
    acquisition and input measurement would give.

    Parameters
    ----------
    visit : Visit or str

    Returns
    -------
    dict of int to float
        Lesion label to Ktrans.
    """
    return dict(_reference_ktrans(Visit.parse(visit)))


def liver_dce_case(visit: Visit | str = Visit.BASELINE, *, seed: int = SEED) -> LiverDceCase:
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
    grid = slab_grid()
    shape = grid.spatial_shape
    regions = _regions()
    inputs, cb_artery = true_inputs()
    times = inputs.times_s
    nt = times.size

    names: list[str] = []
    curves: list[NDArray[np.float64]] = []
    t1_ms: list[float] = []
    m0: list[float] = []
    for name, tissue in _BACKGROUND.items():
        names.append(name)
        t1_ms.append(tissue.t1_ms)
        m0.append(tissue.m0)
        if tissue.ktrans_per_min > 0:
            params = {"ktrans_per_min": tissue.ktrans_per_min, "ve": tissue.ve, "vp": tissue.vp}
            curves.append(simulate(times, inputs, "extended-tofts", params)[0])
        else:
            curves.append(np.zeros(nt))
    # vessels hold whole blood: their relaxation follows the blood concentration
    names += ["aorta", "portal_vein", "liver"]
    assert inputs.cv_mM is not None
    curves += [
        cb_artery,
        np.asarray(inputs.cv_mM * (1.0 - HCT), dtype=np.float64),
        simulate(times, inputs, "dual-input", LIVER_PARAMETERS)[0],
    ]
    t1_ms += [T1_BLOOD_MS, T1_BLOOD_MS, _T1_LIVER_MS]
    m0 += [_M0_BLOOD, _M0_BLOOD, _M0_LIVER]
    for lesion in LESIONS:
        names.append(f"lesion{lesion.label}")
        curves.append(simulate(times, inputs, "dual-input", lesion.parameters(which))[0])
        t1_ms.append(_T1_LESION_MS)
        m0.append(_M0_LESION)

    classes = np.zeros(shape, np.int16)
    for index, name in enumerate(names):  # later regions (lesions) overwrite the liver
        classes[regions[name]] = index
    t1_s = np.asarray(t1_ms) / 1000.0
    class_signal = concentration_to_signal(
        np.asarray(curves),
        s0=S0 * np.asarray(m0),
        t1_s=t1_s,
        flip_deg=FLIP_DEG,
        tr_s=TR_MS / 1000.0,
        r1_per_mM_s=R1_PER_MM_S,
    )  # (n_classes, nt)
    signal = np.moveaxis(class_signal[classes], -1, 0)
    dynamic = _noisy(signal, rng)

    flips = np.asarray(VFA_FLIP_DEG)
    alpha = np.deg2rad(flips)[:, None]
    e1 = np.exp(-(TR_MS / 1000.0) / t1_s)[None, :]
    class_vfa = S0 * np.asarray(m0)[None, :] * np.sin(alpha) * (1 - e1) / (1 - e1 * np.cos(alpha))
    vfa = _noisy(class_vfa[:, classes], rng)

    lesion_labels = np.zeros(shape, np.int16)
    for lesion in LESIONS:
        lesion_labels[regions[f"lesion{lesion.label}"]] = lesion.label
    liver = regions["liver"]

    def spatial(array: NDArray[Any], unit: str) -> Volume:
        return grid.with_array(array, unit=unit)

    return LiverDceCase(
        visit=which,
        dynamic=Volume(
            dynamic, grid.spacing_mm, grid.origin_mm, grid.direction, "a.u.", times_s=times
        ),
        vfa=Volume(
            vfa,
            grid.spacing_mm,
            grid.origin_mm,
            grid.direction,
            "a.u.",
            times_s=np.arange(flips.size, dtype=np.float64),
        ),
        t1_ms=spatial(np.asarray(t1_s * 1000.0, dtype=np.float32)[classes], "ms"),
        liver=spatial(liver, "mask"),
        aorta=spatial(regions["aorta"], "mask"),
        portal_vein=spatial(regions["portal_vein"], "mask"),
        lesions=spatial(lesion_labels, "label"),
        inputs=inputs,
        flip_deg=FLIP_DEG,
        tr_ms=TR_MS,
        te_ms=TE_MS,
        r1_per_mM_s=R1_PER_MM_S,
        hct=HCT,
        vfa_flip_deg=VFA_FLIP_DEG,
        truth=LESIONS,
        ktrans_per_min=reference_ktrans(which),
    )


def _noisy(signal: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.float32]:
    """Signal plus Gaussian noise, as non-negative integers (magnitude images), float32."""
    noisy = np.abs(signal + rng.normal(0.0, NOISE_SIGMA, signal.shape))
    return np.round(noisy).astype(np.float32)


def truth_record(case: LiverDceCase) -> dict[str, Any]:
    """The JSON-ready truth of one visit: acquisition, inputs and per-lesion parameters."""
    voxel_ml = case.lesions.voxel_volume_ml
    lesions = []
    for lesion in case.truth:
        n = int((case.lesions.array == lesion.label).sum())
        lesions.append(
            {
                "label": lesion.label,
                "responder": lesion.responder,
                "n_voxels": n,
                "volume_ml": round(n * voxel_ml, 3),
                "parameters": {
                    **lesion.parameters(case.visit),
                    "ktrans_per_min": case.ktrans_per_min[lesion.label],
                },
            }
        )
    return {
        "visit": case.visit.value,
        "date": VISIT_DATES[case.visit.value].isoformat(),
        "model": "dual-input",
        "ktrans_reference": (
            "extended-Tofts Ktrans of the noise-free lesion curve with the true arterial "
            "plasma input"
        ),
        "acquisition": {
            "flip_deg": case.flip_deg,
            "tr_ms": case.tr_ms,
            "te_ms": case.te_ms,
            "vfa_flip_deg": list(case.vfa_flip_deg),
            "vfa_tr_ms": case.tr_ms,
            "r1_per_mM_s": case.r1_per_mM_s,
            "hct": case.hct,
            "t1_blood_ms": T1_BLOOD_MS,
            "noise_sigma": NOISE_SIGMA,
            "frame_times_s": [float(t) for t in case.inputs.times_s],
        },
        "inputs": {
            "arterial": f"Parker population AIF (whole blood) delayed {AIF_DELAY_S:g} s",
            "portal": "portal_venous_input of the arterial plasma curve (default transit, delay)",
        },
        "liver": dict(LIVER_PARAMETERS),
        "lesions": lesions,
    }


def _tm(seconds: float) -> str:
    hours, rest = divmod(seconds, 3600.0)
    minutes, secs = divmod(rest, 60.0)
    return f"{int(hours):02d}{int(minutes):02d}{secs:09.6f}"


def write_dynamic_dicom(case: LiverDceCase, folder: Path) -> list[Path]:
    """Write the dynamic series of ``case`` as one MR DICOM series, one call per frame.

    Every frame shares SeriesInstanceUID; its slices carry TemporalPositionIdentifier,
    NumberOfTemporalPositions, AcquisitionTime (start plus frame time),
    FlipAngle, RepetitionTime and EchoTime, as a 3-D spoiled gradient-echo
    acquisition would write them.

    Parameters
    ----------
    case : LiverDceCase
    folder : Path

    Returns
    -------
    list of Path
    """
    dynamic = case.dynamic
    times = np.asarray(dynamic.times_s, dtype=np.float64)
    date = VISIT_DATES[case.visit.value].strftime("%Y%m%d")
    entropy = ["tumorboard-reference-liver-dce", case.visit.value]
    study = {
        "patient_name": "TUMORBOARD^REFERENCE",
        "patient_id": "TB-REF-0001",
        "patient_birth_date": "19640312",
        "patient_sex": "F",
        "study_date": date,
        "study_time": _tm(START_TIME_S - 600.0),
        "series_date": date,
        "series_time": _tm(START_TIME_S),
        "study_description": "Liver DCE-MRI",
        "study_id": f"DCE{case.visit.folder.upper()[:8]}",
        "manufacturer": "SIEMENS",
        "body_part_examined": "LIVER",
        "study_instance_uid": generate_uid(PYDICOM_ROOT_UID, [*entropy, "study"]),
        "frame_of_reference_uid": generate_uid(PYDICOM_ROOT_UID, [*entropy, "frame"]),
    }
    extra = {
        "SeriesInstanceUID": generate_uid(PYDICOM_ROOT_UID, [*entropy, "series"]),
        "ImageType": ["ORIGINAL", "PRIMARY", "M", "ND"],
        "ScanningSequence": "GR",
        "SequenceVariant": "SP",
        "MRAcquisitionType": "3D",
        "ProtocolName": "liver DCE 3D SPGR",
        "FlipAngle": case.flip_deg,
        "RepetitionTime": case.tr_ms,
        "EchoTime": case.te_ms,
        "MagneticFieldStrength": 1.5,
        "NumberOfTemporalPositions": int(times.size),
        "ContrastBolusAgent": "gadoterate",
    }
    nz = dynamic.spatial_shape[0]
    paths: list[Path] = []
    for frame, time_s in enumerate(times):

        def per_slice(k: int, frame: int = frame, time_s: float = float(time_s)) -> dict[str, Any]:
            return {
                "TemporalPositionIdentifier": frame + 1,
                "AcquisitionTime": _tm(START_TIME_S + time_s),
                "ContentTime": _tm(START_TIME_S + time_s),
                "InstanceNumber": frame * nz + k + 1,
            }

        paths += write_dicom_series(
            dynamic.with_array(dynamic.array[frame]),
            folder,
            modality="MR",
            series_description="LIVER DCE 3D SPGR",
            series_number=DICOM_SERIES_NUMBER,
            study=study,
            rescale=(1.0, 0.0),
            extra=extra,
            per_slice=per_slice,
            file_prefix=f"t{frame + 1:03d}_",
            seed=f"{entropy[0]}-{entropy[1]}-frame{frame + 1}",
        )
    return paths


def write_visit(case: LiverDceCase, folder: Path) -> None:
    """Write one visit (DICOM dynamic, VFA, masks, labels, true T1, truth) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_dynamic_dicom(case, folder / "dicom")
    write_nifti(case.vfa, folder / "vfa.nii.gz", dtype=np.uint16)
    write_nifti(case.liver, folder / "liver.nii.gz")
    write_nifti(case.aorta, folder / "aorta.nii.gz")
    write_nifti(case.portal_vein, folder / "portal_vein.nii.gz")
    write_nifti(case.lesions, folder / "lesions.nii.gz", dtype=np.int16)
    write_nifti(case.t1_ms, folder / "t1_ms.nii.gz", dtype=np.float32)
    with open(folder / "truth.json", "w", encoding="utf-8") as handle:
        json.dump(truth_record(case), handle, indent=2)
        handle.write("\n")


def write_liver_dce(folder: Path, *, seed: int = SEED) -> None:
    """Write both visits under ``folder/baseline`` and ``folder/followup``."""
    for visit in Visit:
        write_visit(liver_dce_case(visit, seed=seed), Path(folder) / visit.folder)


def write_into_reference_patient(root: Path) -> None:
    """Builder hook for the cached reference patient: writes ``root/dce``."""
    write_liver_dce(Path(root) / "dce")


def read_truth(folder: Path) -> dict[str, Any]:
    """The ``truth.json`` of one written visit folder."""
    with open(Path(folder) / "truth.json", encoding="utf-8") as handle:
        payload: dict[str, Any] = json.load(handle)
    return payload
