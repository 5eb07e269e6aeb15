"""A synthetic PRRT cohort: liver metastases whose baseline perfusion predicts response.

The question of the DCE-MRI study in ``../shared/sources`` (Miyazaki et al.
2012, doi:10.1148/radiol.12110770): do neuroendocrine liver metastases with a
better blood supply before peptide receptor radionuclide therapy (PRRT)
respond? The report gives no model, parameter or statistic, so everything
below is this phantom's own choice, stated here so that a test can compare
what the analysis recovers with what was planted.

The planted effect (binormal model)
-----------------------------------
Each patient responds or not (half of the cohort, shuffled with the seed);
every lesion of a patient shares the patient's response, as PRRT acts on the
whole liver. The baseline Ktrans of a lesion is

    ln Ktrans = ln K0 + SIGMA_LN * z,   z = d * responder + u_patient + e_lesion,

with ``u_patient ~ N(0, RHO)`` and ``e_lesion ~ N(0, 1 - RHO)`` (lesions of one
patient are correlated: ``RHO`` is the intra-patient correlation of ``z``).
For a responding and a non-responding lesion (always of different patients)
``z_r - z_n ~ N(d, 2)``, so the population per-lesion ROC AUC of baseline
Ktrans for response is

    AUC = P(Ktrans_r > Ktrans_n) = Phi(d / sqrt(2)),   d = sqrt(2) * Phi^-1(AUC)

(``ln`` is monotone, so the AUC of Ktrans is that of ``z``). ``auc = 0.5``
plants no effect.

Lesions, images and follow-up
-----------------------------
Metastases are fed by the hepatic artery alone (arterial fraction 1), as in
:mod:`tumorboard.phantoms.liver_dce`: their dual-input single-compartment
curve ``Fp ca * exp(-t Fp / v)`` is exactly the extended-Tofts curve with
``Ktrans = Fp`` (flow-limited), ``ve = v`` and ``vp = 0``, so Ktrans, Fp,
the arterial fraction, ve and vp in ``truth.json`` are generating
parameters. The surrounding liver draws mostly portal blood. Curves come from
the phantom's own forward model (:mod:`tumorboard.phantoms.dce_forward`, a
delayed Parker AIF and a modelled portal-venous input), through the spoiled
gradient-echo equation (lesion T1 :data:`LESION_T1_MS`), with seeded Gaussian
noise, stored as integers.

Each patient has 1 or 2 spherical liver metastases (RECIST 1.1 targets,
diameter 14-24 mm) and two exams: a baseline DCE series with a lesion SEG and,
:data:`FOLLOW_UP_DAYS` later, a follow-up DCE series with a lesion SEG of the
lesions' new sizes. A responder's lesions shrink to 40-65 % of their
diameter (partial response), a non-responder's change by -10 to +30 %
(stable or progressive disease); at follow-up a responder's Ktrans falls to
40-70 %, a non-responder's changes by a factor 0.85-1.2. The readers'
diameters (the generating ``2 r``) are in ``measurements.csv``, the
``tumorboard assess`` table that ``tumorboard lesion import`` reads.

Written by :func:`write_prrt_cohort`::

    DIR/dicom/PRRT-001/baseline/dce/*.dcm      dynamic MR series
    DIR/dicom/PRRT-001/baseline/seg/lesions.dcm
    DIR/dicom/PRRT-001/followup/...
    DIR/measurements.csv                       lesion diameters (assess format)
    DIR/truth.json                             seed, planted AUC, per-lesion truth

``tumorboard import DIR/dicom`` takes the DICOM like any study folder.
Everything is deterministic for a given seed.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.uid import PYDICOM_ROOT_UID, generate_uid

from tumorboard.errors import InputError
from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.label_maps import write_dicom_seg
from tumorboard.imaging.volume import Volume
from tumorboard.phantoms.dce_forward import (
    FLOW_PER_100ML,
    dual_input_mM,
    parker_blood_mM,
    portal_plasma_mM,
    spgr_signal,
)

__all__ = [
    "CohortPlan",
    "LesionPlan",
    "PatientPlan",
    "effect_for_auc",
    "plan_prrt_cohort",
    "write_prrt_cohort",
]

#: Grid of every DCE series: slices, rows, columns and spacing (mm, z y x).
GRID_SHAPE = (6, 32, 32)
SPACING_MM = (5.0, 3.0, 3.0)
#: Lesion centres (slice, row, column; voxel centres, so the centre voxel is always inside).
LESION_CENTRES = ((2, 10, 10), (3, 21, 21))
#: Frame times: every 3 s to 60 s (first pass), then 10 to 60 s apart to 240 s.
FRAME_TIMES_S = (*(3.0 * k for k in range(21)), 70.0, 80.0, 90.0, 120.0, 150.0, 180.0, 240.0)
AIF_DELAY_S = 15.0
FLIP_DEG = 15.0
TR_MS = 4.0
TE_MS = 1.2
R1_PER_MM_S = 4.5
HCT = 0.45
S0 = 10000.0
NOISE_SIGMA = 20.0
LESION_T1_MS = 1100.0
LIVER_T1_MS = 586.0
M0_LESION = 0.9
M0_LIVER = 0.8
#: Liver parenchyma: mostly portal-venous supply (dual-input parameters).
LIVER_PARAMETERS = {
    "fp_ml_per_100ml_per_min": 100.0,
    "arterial_fraction": 0.25,
    "distribution_volume": 0.25,
}
#: Baseline Ktrans model: median of non-responders (/min), SD of ln Ktrans, correlation.
K0_PER_MIN = 0.6
SIGMA_LN = 0.35
RHO = 0.5
#: Distribution volume (= ve) range and baseline radius range (mm).
VE_RANGE = (0.2, 0.4)
RADIUS_RANGE_MM = (7.0, 12.0)
#: Follow-up factors of the diameter and of Ktrans, by response.
DIAMETER_FACTOR = {True: (0.40, 0.65), False: (0.90, 1.30)}
KTRANS_FACTOR = {True: (0.40, 0.70), False: (0.85, 1.20)}
FOLLOW_UP_DAYS = 56
FIRST_BASELINE = dt.date(2024, 1, 8)
SERIES_NUMBER = 701
SEG_SERIES_NUMBER = 702
START_TIME_S = 10 * 3600.0


def effect_for_auc(auc: float) -> float:
    """The binormal separation ``d`` whose population AUC is ``auc``.

    ``AUC = Phi(d / sqrt(2))`` for two unit-variance normals ``d`` apart.

    Parameters
    ----------
    auc : float
        In [0.5, 1).

    Returns
    -------
    float

    Raises
    ------
    InputError
        If ``auc`` is outside [0.5, 1).

    Examples
    --------
    >>> effect_for_auc(0.5)
    0.0
    >>> round(effect_for_auc(0.9), 4)
    1.8124
    """
    if not 0.5 <= auc < 1.0:
        raise InputError(f"--auc must be in [0.5, 1), got {auc}")
    return math.sqrt(2.0) * NormalDist().inv_cdf(auc)


@dataclass(frozen=True)
class LesionPlan:
    """The generating parameters of one metastasis.

    Attributes
    ----------
    label : str
        Segment label and ``lesion_id`` (``L1``, ``L2``).
    number : int
        Segment number in the SEG.
    centre_zyx : tuple of int
    radius_mm, follow_up_radius_mm : float
    ktrans_per_min, follow_up_ktrans_per_min : float
        Equal to Fp / 100 (arterial-only, flow-limited).
    ve : float
        Distribution volume (= ve of the extended-Tofts form).
    """

    label: str
    number: int
    centre_zyx: tuple[int, int, int]
    radius_mm: float
    follow_up_radius_mm: float
    ktrans_per_min: float
    follow_up_ktrans_per_min: float
    ve: float

    def parameters(self, follow_up: bool) -> dict[str, float]:
        """Dual-input and extended-Tofts generating parameters at one exam."""
        ktrans = self.follow_up_ktrans_per_min if follow_up else self.ktrans_per_min
        return {
            "ktrans_per_min": ktrans,
            "ve": self.ve,
            "vp": 0.0,
            "fp_ml_per_100ml_per_min": ktrans * FLOW_PER_100ML,
            "arterial_fraction": 1.0,
            "distribution_volume": self.ve,
        }


@dataclass(frozen=True)
class PatientPlan:
    """One patient: id, response, exam dates and lesions."""

    patient_id: str
    responder: bool
    baseline_date: dt.date
    follow_up_date: dt.date
    lesions: tuple[LesionPlan, ...]


@dataclass(frozen=True)
class CohortPlan:
    """The whole cohort's generating parameters."""

    seed: int
    auc: float
    effect_d: float
    patients: tuple[PatientPlan, ...]

    def truth(self) -> dict[str, Any]:
        """The JSON-ready ``truth.json``."""
        return {
            "seed": self.seed,
            "planted_auc": self.auc,
            "effect_d": self.effect_d,
            "model": (
                "ln Ktrans = ln K0 + sigma_ln * (d * responder + u_patient + e_lesion), "
                "u ~ N(0, rho), e ~ N(0, 1 - rho); AUC = Phi(d / sqrt(2))"
            ),
            "k0_per_min": K0_PER_MIN,
            "sigma_ln": SIGMA_LN,
            "rho": RHO,
            "lesion_t1_ms": LESION_T1_MS,
            "patients": [
                {
                    "patient_id": p.patient_id,
                    "responder": p.responder,
                    "baseline_date": p.baseline_date.isoformat(),
                    "follow_up_date": p.follow_up_date.isoformat(),
                    "lesions": [
                        {
                            "label": lesion.label,
                            "responder": p.responder,
                            "baseline_diameter_mm": _diameter(lesion.radius_mm),
                            "follow_up_diameter_mm": _diameter(lesion.follow_up_radius_mm),
                            "baseline": lesion.parameters(False),
                            "follow_up": lesion.parameters(True),
                        }
                        for lesion in p.lesions
                    ],
                }
                for p in self.patients
            ],
        }


def _diameter(radius_mm: float) -> float:
    return round(2.0 * radius_mm, 1)


def plan_prrt_cohort(n_patients: int, *, seed: int, auc: float) -> CohortPlan:
    """Draw the cohort's generating parameters (no files written).

    Parameters
    ----------
    n_patients : int
        At least 2 (one responder, one non-responder), at most 999.
    seed : int
    auc : float
        Planted population per-lesion AUC of baseline Ktrans for response.

    Returns
    -------
    CohortPlan

    Raises
    ------
    InputError
        For a patient count or AUC out of range.

    Examples
    --------
    >>> plan = plan_prrt_cohort(4, seed=1, auc=0.8)
    >>> sum(p.responder for p in plan.patients), plan.patients[0].patient_id
    (2, 'PRRT-001')
    """
    if not 2 <= n_patients <= 999:
        raise InputError(f"--patients must be 2..999, got {n_patients}")
    d = effect_for_auc(auc)
    rng = np.random.default_rng(seed)
    responders = np.arange(n_patients) < (n_patients + 1) // 2
    rng.shuffle(responders)
    patients = []
    for index in range(n_patients):
        responder = bool(responders[index])
        u = rng.normal(0.0, math.sqrt(RHO))
        lesions = []
        for number in range(1, int(rng.integers(1, 3)) + 1):
            z = d * responder + u + rng.normal(0.0, math.sqrt(1.0 - RHO))
            ktrans = K0_PER_MIN * math.exp(SIGMA_LN * z)
            radius = float(rng.uniform(*RADIUS_RANGE_MM))
            lesions.append(
                LesionPlan(
                    label=f"L{number}",
                    number=number,
                    centre_zyx=LESION_CENTRES[number - 1],
                    radius_mm=radius,
                    follow_up_radius_mm=radius * float(rng.uniform(*DIAMETER_FACTOR[responder])),
                    ktrans_per_min=ktrans,
                    follow_up_ktrans_per_min=ktrans * float(rng.uniform(*KTRANS_FACTOR[responder])),
                    ve=float(rng.uniform(*VE_RANGE)),
                )
            )
        baseline = FIRST_BASELINE + dt.timedelta(days=7 * index)
        patients.append(
            PatientPlan(
                patient_id=f"PRRT-{index + 1:03d}",
                responder=responder,
                baseline_date=baseline,
                follow_up_date=baseline + dt.timedelta(days=FOLLOW_UP_DAYS),
                lesions=tuple(lesions),
            )
        )
    return CohortPlan(seed, auc, d, tuple(patients))


def _grid() -> Volume:
    return Volume(np.zeros(GRID_SHAPE, np.float32), SPACING_MM, (-48.0, -48.0, -12.5))


def lesion_labels(patient: PatientPlan, follow_up: bool) -> NDArray[np.uint8]:
    """Segment numbers of the patient's lesions on the grid at one exam (0 = liver)."""
    z, y, x = np.meshgrid(*(np.arange(n, dtype=float) for n in GRID_SHAPE), indexing="ij")
    labels = np.zeros(GRID_SHAPE, np.uint8)
    for lesion in patient.lesions:
        radius = lesion.follow_up_radius_mm if follow_up else lesion.radius_mm
        cz, cy, cx = lesion.centre_zyx
        dz, dy, dx = SPACING_MM
        inside = ((z - cz) * dz) ** 2 + ((y - cy) * dy) ** 2 + ((x - cx) * dx) ** 2
        labels[inside <= radius**2] = lesion.number
    return labels


def dynamic_signal(
    patient: PatientPlan, follow_up: bool, rng: np.random.Generator
) -> NDArray[np.float32]:
    """The noisy SPGR signal ``[t, z, y, x]`` of one exam (integral values, float32)."""
    times = np.asarray(FRAME_TIMES_S)
    cp = parker_blood_mM(times, AIF_DELAY_S) / (1.0 - HCT)
    cv = portal_plasma_mM(times, cp)
    curves = [dual_input_mM(times, cp, cv, **LIVER_PARAMETERS)]
    t1_ms, m0 = [LIVER_T1_MS], [M0_LIVER]
    for lesion in patient.lesions:
        p = lesion.parameters(follow_up)
        curves.append(
            dual_input_mM(
                times,
                cp,
                cv,
                p["fp_ml_per_100ml_per_min"],
                p["arterial_fraction"],
                p["distribution_volume"],
            )
        )
        t1_ms.append(LESION_T1_MS)
        m0.append(M0_LESION)
    class_signal = spgr_signal(
        np.asarray(curves),
        s0=S0 * np.asarray(m0),
        t1_s=np.asarray(t1_ms) / 1000.0,
        flip_deg=FLIP_DEG,
        tr_s=TR_MS / 1000.0,
        r1_per_mM_s=R1_PER_MM_S,
    )
    signal = np.moveaxis(class_signal[lesion_labels(patient, follow_up)], -1, 0)
    noisy = np.abs(signal + rng.normal(0.0, NOISE_SIGMA, signal.shape))
    return np.round(noisy).astype(np.float32)


def _tm(seconds: float) -> str:
    hours, rest = divmod(seconds, 3600.0)
    minutes, secs = divmod(rest, 60.0)
    return f"{int(hours):02d}{int(minutes):02d}{secs:09.6f}"


def _write_exam(
    patient: PatientPlan, follow_up: bool, folder: Path, rng: np.random.Generator
) -> None:
    visit = "followup" if follow_up else "baseline"
    date = (patient.follow_up_date if follow_up else patient.baseline_date).strftime("%Y%m%d")
    entropy = ["tumorboard-prrt-cohort", patient.patient_id, visit]
    study = {
        "patient_name": f"PRRT^COHORT{patient.patient_id[-3:]}",
        "patient_id": patient.patient_id,
        "patient_birth_date": "19600101",
        "patient_sex": "O",
        "study_date": date,
        "study_time": _tm(START_TIME_S - 600.0),
        "series_date": date,
        "series_time": _tm(START_TIME_S),
        "study_description": "Liver DCE-MRI",
        "study_id": visit.upper()[:8],
        "study_instance_uid": generate_uid(PYDICOM_ROOT_UID, [*entropy, "study"]),
        "frame_of_reference_uid": generate_uid(PYDICOM_ROOT_UID, [*entropy, "frame"]),
    }
    times = np.asarray(FRAME_TIMES_S)
    extra = {
        "SeriesInstanceUID": generate_uid(PYDICOM_ROOT_UID, [*entropy, "series"]),
        "ImageType": ["ORIGINAL", "PRIMARY", "M", "ND"],
        "FlipAngle": FLIP_DEG,
        "RepetitionTime": TR_MS,
        "EchoTime": TE_MS,
        "MagneticFieldStrength": 1.5,
        "NumberOfTemporalPositions": int(times.size),
    }
    grid = _grid()
    signal = dynamic_signal(patient, follow_up, rng)
    nz = GRID_SHAPE[0]
    first_frame: list[Path] = []
    for frame, time_s in enumerate(times):

        def per_slice(k: int, frame: int = frame, time_s: float = float(time_s)) -> dict[str, Any]:
            return {
                "TemporalPositionIdentifier": frame + 1,
                "AcquisitionTime": _tm(START_TIME_S + time_s),
                "InstanceNumber": frame * nz + k + 1,
            }

        paths = write_dicom_series(
            grid.with_array(signal[frame]),
            folder / visit / "dce",
            modality="MR",
            series_description="LIVER DCE 3D SPGR",
            series_number=SERIES_NUMBER,
            study=study,
            rescale=(1.0, 0.0),
            extra=extra,
            per_slice=per_slice,
            file_prefix=f"t{frame + 1:03d}_",
            seed=f"{'-'.join(entropy)}-frame{frame + 1}",
        )
        if frame == 0:
            first_frame = paths
    (folder / visit / "seg").mkdir(parents=True)
    write_dicom_seg(
        grid.with_array(lesion_labels(patient, follow_up)),
        first_frame,
        folder / visit / "seg" / "lesions.dcm",
        {lesion.number: lesion.label for lesion in patient.lesions},
        series_number=SEG_SERIES_NUMBER,
        series_description="liver metastases",
    )


#: Columns of ``measurements.csv`` (the ``tumorboard assess`` table).
MEASUREMENT_COLUMNS = (
    "patient_id",
    "timepoint",
    "date",
    "modality",
    "lesion_id",
    "organ",
    "role",
    "is_node",
    "longest_diameter_mm",
    "short_axis_mm",
    "mean_hu",
    "viable_diameter_mm",
    "sul_peak",
    "status",
)


def measurement_rows(plan: CohortPlan) -> list[dict[str, str]]:
    """The readers' diameters of every lesion at both exams (targets, liver, MR).

    Examples
    --------
    >>> rows = measurement_rows(plan_prrt_cohort(2, seed=3, auc=0.7))
    >>> rows[0]["timepoint"], rows[0]["role"], rows[-1]["timepoint"]
    ('baseline', 'target', 'week 8')
    """
    rows = []
    for patient in plan.patients:
        for follow_up, label, date in (
            (False, "baseline", patient.baseline_date),
            (True, "week 8", patient.follow_up_date),
        ):
            for lesion in patient.lesions:
                radius = lesion.follow_up_radius_mm if follow_up else lesion.radius_mm
                rows.append(
                    {
                        "patient_id": patient.patient_id,
                        "timepoint": label,
                        "date": date.isoformat(),
                        "modality": "mri",
                        "lesion_id": lesion.label,
                        "organ": "liver",
                        "role": "target",
                        "is_node": "false",
                        "longest_diameter_mm": f"{_diameter(radius):.1f}",
                        "short_axis_mm": "",
                        "mean_hu": "",
                        "viable_diameter_mm": "",
                        "sul_peak": "",
                        "status": "present",
                    }
                )
    return rows


def write_prrt_cohort(out: Path, n_patients: int, *, seed: int, auc: float) -> CohortPlan:
    """Write the cohort (DICOM, ``measurements.csv``, ``truth.json``) into ``out``.

    Parameters
    ----------
    out : Path
        An empty or new folder (write into a staging folder for atomic output).
    n_patients, seed, auc
        See :func:`plan_prrt_cohort`.

    Returns
    -------
    CohortPlan
    """
    plan = plan_prrt_cohort(n_patients, seed=seed, auc=auc)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng([seed, 1])
    for patient in plan.patients:
        folder = out / "dicom" / patient.patient_id
        for follow_up in (False, True):
            _write_exam(patient, follow_up, folder, noise)
    with open(out / "measurements.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MEASUREMENT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(measurement_rows(plan))
    with open(out / "truth.json", "w", encoding="utf-8") as handle:
        json.dump(plan.truth(), handle, indent=2)
        handle.write("\n")
    return plan
