"""PET timepoints of the reference NET patient, with known uptake, in vendor header styles.

The reference patient's anatomy (:func:`tumorboard.phantoms.torso.reference_anatomy`,
the whole-body grid shared with the WB-DWI exams) with five neuroendocrine
lesions of known uptake on 68Ga-DOTATATE and 18F-FDG before PRRT ("baseline":
the PRRT baseline of January 2025, not the patient's first DOTATATE, which was
at week 24 of the everolimus line) and four months after it ("follow-up"),
and normal-organ uptake per tracer. Dates and the patient identifier come from
:data:`tumorboard.phantoms.patients.NET_PATIENT`.
Lesion 5, a bone metastasis, is FDG-avid with SSTR uptake below the liver, so
the NETPET grade (P4a) and the PRRT failing-lesion summary have something to
say; lesion 4 is a 1.8 cm node (Krenning small-lesion caution).

The truth SUVbw images are blurred by a 6 mm FWHM point-spread function and
carry seeded 4 % noise. :func:`write_pet_case` writes each timepoint as a PET
DICOM series in a different vendor style, through the project's DICOM writer:

* DOTATATE baseline, GE: BQML, a post-processed series (SeriesTime after the
  acquisition) whose scan time is in the GE private (0009,100D);
* DOTATATE follow-up, Philips: CNTS with the private SUV (7053,1000) and
  activity (7053,1009) scale factors, per-slice RescaleSlope;
* FDG baseline, Siemens: BQML, RadiopharmaceuticalStartDateTime, per-bed
  AcquisitionTime and FrameReferenceTime;
* FDG follow-up, Siemens: BQML with only RadiopharmaceuticalStartTime and the
  dose in MBq.

It also writes NIfTI masks on the PET grid (lesion labels, liver, spleen) and
``truth.json`` with the lesion uptakes and header facts.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from scipy import ndimage

from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.nifti import write_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.phantoms.patients import NET_PATIENT
from tumorboard.phantoms.torso import Tissue, reference_anatomy

PSF_FWHM_MM = 6.0
NOISE_FRACTION = 0.04
#: The reference patient (as in :mod:`tumorboard.phantoms.reference_patient`).
WEIGHT_KG = 68.0
HEIGHT_M = 1.66
SEX = "F"

# fmt: off
#: Normal-tissue SUVbw per tracer, by anatomy label name.
ORGAN_SUV = {
    "dotatate": {"air": 0.0, "body": 0.8, "fat": 0.3, "bone": 1.0, "brain": 0.1,
                 "spinal_cord": 0.3, "lung": 0.3, "liver": 7.0, "spleen": 22.0,
                 "kidney_left": 15.0, "kidney_right": 15.0, "pancreas": 3.0, "bowel": 2.0,
                 "bladder": 30.0, "breast": 0.5, "heart": 1.2, "csf": 0.1},
    "fdg": {"air": 0.0, "body": 0.7, "fat": 0.3, "bone": 1.0, "brain": 8.0,
            "spinal_cord": 1.0, "lung": 0.5, "liver": 2.2, "spleen": 1.8,
            "kidney_left": 3.0, "kidney_right": 3.0, "pancreas": 1.5, "bowel": 1.8,
            "bladder": 15.0, "breast": 0.8, "heart": 3.0, "csf": 0.2},
}


@dataclass(frozen=True)
class PhantomLesion:
    """A spherical lesion with its uptake per timepoint.

    Attributes
    ----------
    label : int
        Label value in the lesion mask.
    name : str
        Site.
    center_lps : tuple of float
        Centre in LPS mm.
    radius_mm : float
        Radius.
    suv : dict of str to float
        Truth SUVbw per timepoint key.
    organ : str
        Organ of the case-report form (``"liver"``, ``"lymph node"``, ...).
    """

    label: int
    name: str
    center_lps: tuple[float, float, float]
    radius_mm: float
    suv: dict[str, float] = field(default_factory=dict)
    organ: str = ""


LESIONS = (
    PhantomLesion(1, "liver segment VII", (-95.0, 10.0, -620.0), 18.0,
                  {"dotatate_baseline": 25.0, "dotatate_followup": 16.0,
                   "fdg_baseline": 1.8, "fdg_followup": 1.6}, "liver"),
    PhantomLesion(2, "liver segment IV", (-20.0, -30.0, -590.0), 12.0,
                  {"dotatate_baseline": 18.0, "dotatate_followup": 12.0,
                   "fdg_baseline": 2.0, "fdg_followup": 1.9}, "liver"),
    PhantomLesion(3, "pancreatic head (primary)", (-40.0, 20.0, -652.0), 15.0,
                  {"dotatate_baseline": 30.0, "dotatate_followup": 20.0,
                   "fdg_baseline": 4.0, "fdg_followup": 3.0}, "pancreas"),
    PhantomLesion(4, "mesenteric node", (20.0, -35.0, -720.0), 9.0,
                  {"dotatate_baseline": 12.0, "dotatate_followup": 8.0,
                   "fdg_baseline": 1.5, "fdg_followup": 1.4}, "lymph node"),
    PhantomLesion(5, "vertebral body T12", (0.0, 42.0, -560.0), 11.0,
                  {"dotatate_baseline": 5.0, "dotatate_followup": 5.5,
                   "fdg_baseline": 8.0, "fdg_followup": 9.5}, "bone"),
)


@dataclass(frozen=True)
class PetTimepoint:
    """Acquisition facts of one PET timepoint (header style and times)."""

    key: str
    tracer: str
    vendor: str
    series_number: int
    description: str
    injection: datetime
    scan_start: datetime
    injected_dose_bq: float
    half_life_s: float


def _at(event: str, hours: int, minutes: int = 0) -> datetime:
    """A time of day on the date of a NET-patient timeline event."""
    return datetime.combine(NET_PATIENT.date_of(event), datetime.min.time()) + timedelta(
        hours=hours, minutes=minutes
    )


#: The four scans: the PRRT work-up pair and the pair four months after PRRT
#: (dates from :data:`tumorboard.phantoms.patients.NET_PATIENT`; "baseline" is
#: the PRRT baseline, not the patient's first DOTATATE, which was at week 24).
TIMEPOINTS = (
    PetTimepoint("dotatate_baseline", "dotatate", "GE", 401, "Ga68 DOTATATE pre-PRRT",
                 _at("pet-dotatate-pre-prrt", 9), _at("pet-dotatate-pre-prrt", 9, 55),
                 150e6, 4062.6),
    PetTimepoint("dotatate_followup", "dotatate", "Philips", 402, "Ga68 DOTATATE post-PRRT",
                 _at("pet-dotatate-post-prrt", 9), _at("pet-dotatate-post-prrt", 10, 2),
                 160e6, 4062.6),
    PetTimepoint("fdg_baseline", "fdg", "Siemens", 403, "FDG pre-PRRT",
                 _at("pet-fdg-pre-prrt", 10), _at("pet-fdg-pre-prrt", 11),
                 300e6, 6586.2),
    PetTimepoint("fdg_followup", "fdg", "Siemens", 404, "FDG post-PRRT",
                 _at("pet-fdg-post-prrt", 10), _at("pet-fdg-post-prrt", 11, 5),
                 310e6, 6586.2),
)
#: Timeline event of each timepoint key.
TIMEPOINT_EVENTS = {
    "dotatate_baseline": "pet-dotatate-pre-prrt",
    "dotatate_followup": "pet-dotatate-post-prrt",
    "fdg_baseline": "pet-fdg-pre-prrt",
    "fdg_followup": "pet-fdg-post-prrt",
}
# fmt: on


@dataclass(frozen=True)
class PetCase:
    """The PET reference case in memory.

    Attributes
    ----------
    organs : Volume
        uint8 anatomy labels (:class:`~tumorboard.phantoms.torso.Tissue`) on the PET grid.
    label_names : dict of int to str
        Names of the anatomy labels.
    lesions : Volume
        uint8 lesion labels on the PET grid.
    suv : dict of str to Volume
        Truth SUVbw image per timepoint key (blurred, noisy, float32).
    """

    organs: Volume
    label_names: dict[int, str]
    lesions: Volume
    suv: dict[str, Volume]


def pet_grid() -> Volume:
    """An empty float volume on the reference patient's whole-body grid."""
    grid = reference_anatomy().labels
    return grid.with_array(np.zeros(grid.spatial_shape, np.float32), unit="g/ml")


def _ellipsoid(
    grid: Volume, centre: tuple[float, float, float], semi_axes: tuple[float, float, float]
) -> NDArray[np.bool_]:
    """Mask of voxel centres inside an axis-aligned ellipsoid (LPS centre, x/y/z semi-axes)."""
    mask = np.zeros(grid.spatial_shape, dtype=bool)
    centre_index = grid.lps_to_index(np.asarray(centre))
    reach = np.asarray(semi_axes)[::-1] / np.asarray(grid.spacing_mm) + 1
    lo = np.maximum(np.floor(centre_index - reach), 0).astype(int)
    hi = np.minimum(np.ceil(centre_index + reach) + 1, grid.spatial_shape).astype(int)
    if np.any(hi <= lo):
        return mask
    zz, yy, xx = np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi, strict=True)], indexing="ij")
    points = grid.index_to_lps(np.stack([zz, yy, xx], axis=-1).astype(float))
    inside = np.sum(((points - np.asarray(centre)) / np.asarray(semi_axes)) ** 2, axis=-1) <= 1
    mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = inside
    return mask


def build_pet_case(seed: int = 20250310) -> PetCase:
    """Build the organ and lesion labels and the truth SUV image of every timepoint.

    Parameters
    ----------
    seed : int
        Seed of the noise generator.

    Returns
    -------
    PetCase
    """
    anatomy = reference_anatomy()
    grid = pet_grid()
    organs = np.asarray(anatomy.labels.array)
    lesions = np.zeros(grid.spatial_shape, dtype=np.uint8)
    for lesion in LESIONS:
        r = lesion.radius_mm
        lesions[_ellipsoid(grid, lesion.center_lps, (r, r, r))] = lesion.label
    rng = np.random.default_rng(seed)
    sigma_mm = PSF_FWHM_MM / (2 * math.sqrt(2 * math.log(2)))
    sigma_vox = tuple(sigma_mm / d for d in grid.spacing_mm)
    images = {}
    for timepoint in TIMEPOINTS:
        table = np.zeros(256, dtype=np.float32)
        for label, name in anatomy.label_names.items():
            table[label] = ORGAN_SUV[timepoint.tracer][name]
        truth = table[organs]
        for lesion in LESIONS:
            truth[lesions == lesion.label] = lesion.suv[timepoint.key]
        blurred = ndimage.gaussian_filter(truth, sigma_vox, mode="constant")
        noise = 1.0 + NOISE_FRACTION * rng.standard_normal(blurred.shape)
        image = np.clip(blurred * noise, 0.0, None).astype(np.float32)
        images[timepoint.key] = grid.with_array(image, unit="g/ml")
    return PetCase(
        organs=anatomy.labels,
        label_names=dict(anatomy.label_names),
        lesions=grid.with_array(lesions, unit="label"),
        suv=images,
    )


def _da(moment: datetime) -> str:
    return moment.strftime("%Y%m%d")


def _tm(moment: datetime) -> str:
    return moment.strftime("%H%M%S.%f")


def _dt(moment: datetime) -> str:
    return moment.strftime("%Y%m%d%H%M%S.%f")


def _radiopharmaceutical(tp: PetTimepoint, with_datetime: bool, dose: float) -> Dataset:
    item = Dataset()
    item.Radiopharmaceutical = "Ga68-DOTATATE" if tp.tracer == "dotatate" else "Fluorodeoxyglucose"
    item.RadiopharmaceuticalStartTime = _tm(tp.injection)
    if with_datetime:
        item.RadiopharmaceuticalStartDateTime = _dt(tp.injection)
    item.RadionuclideTotalDose = f"{dose:.6g}"
    item.RadionuclideHalfLife = f"{tp.half_life_s:g}"
    code = Dataset()
    if tp.tracer == "dotatate":
        code.CodeValue, code.CodeMeaning = "35337001", "^68^Gallium"
    else:
        code.CodeValue, code.CodeMeaning = "77004003", "^18^Fluorine"
    code.CodingSchemeDesignator = "SCT"
    item.RadionuclideCodeSequence = [code]
    return item


def decayed_dose_bq(tp: PetTimepoint) -> float:
    """Injected dose decayed to the scan start."""
    elapsed_s = (tp.scan_start - tp.injection).total_seconds()
    return tp.injected_dose_bq * math.exp(-math.log(2.0) * elapsed_s / tp.half_life_s)


def write_pet_case(
    case: PetCase, folder: str | os.PathLike[str], *, timepoints: tuple[str, ...] | None = None
) -> dict[str, Path]:
    """Write the timepoints as DICOM series plus NIfTI masks and ``truth.json``.

    Parameters
    ----------
    case : PetCase
        From :func:`build_pet_case`.
    folder : path-like
        Destination; gets ``<timepoint>/`` DICOM folders, ``lesions.nii.gz``,
        ``liver.nii.gz``, ``spleen.nii.gz`` and ``truth.json``.
    timepoints : tuple of str, optional
        Keys to write (default all).

    Returns
    -------
    dict of str to Path
        Folder of each written timepoint.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    study = {
        "patient_name": "TUMORBOARD^PET",
        "patient_id": NET_PATIENT.patient_id,
        "patient_sex": SEX,
        "patient_weight_kg": WEIGHT_KG,
        "patient_size_m": HEIGHT_M,
        "study_description": "Reference NET patient PET",
    }
    written = {}
    scale_facts = {}
    for tp in TIMEPOINTS:
        if timepoints is not None and tp.key not in timepoints:
            continue
        suv = case.suv[tp.key]
        scale_g_per_bq = WEIGHT_KG * 1000.0 / decayed_dose_bq(tp)
        per_study = dict(study, study_date=_da(tp.scan_start), study_time=_tm(tp.scan_start))
        per_study["study_instance_uid"] = f"1.2.826.0.1.3680043.10.1234.{tp.series_number}"
        extra, per_slice, values, rescale = _vendor_style(tp, suv, scale_g_per_bq)
        target = folder / tp.key
        write_dicom_series(
            suv.with_array(values),
            target,
            modality="PT",
            series_description=tp.description,
            series_number=tp.series_number,
            study=per_study,
            dtype="int16",
            rescale=rescale,
            extra=extra,
            per_slice=per_slice,
            seed=tp.key,
            overwrite=True,
        )
        written[tp.key] = target
        scale_facts[tp.key] = {
            "vendor": tp.vendor,
            "tracer": tp.tracer,
            "event": TIMEPOINT_EVENTS[tp.key],
            "suvbw_scale_g_per_bq": scale_g_per_bq,
            "decayed_dose_bq": decayed_dose_bq(tp),
            "scan_datetime": tp.scan_start.isoformat(),
            "injection_datetime": tp.injection.isoformat(),
            "half_life_s": tp.half_life_s,
        }
    write_nifti(case.lesions, folder / "lesions.nii.gz")
    organs = np.asarray(case.organs.array)
    lesion_free = np.asarray(case.lesions.array) == 0
    for name in ("liver", "spleen"):
        mask = (organs == int(Tissue[name.upper()])) & lesion_free
        write_nifti(case.organs.with_array(mask.astype(np.uint8)), folder / f"{name}.nii.gz")
    truth = {
        "patient": NET_PATIENT.key,
        "weight_kg": WEIGHT_KG,
        "height_m": HEIGHT_M,
        "sex": SEX,
        "timepoints": scale_facts,
        "organ_suv": ORGAN_SUV,
        "lesions": [
            {
                "label": les.label,
                "name": les.name,
                "center_lps_mm": list(les.center_lps),
                "radius_mm": les.radius_mm,
                "suv": les.suv,
            }
            for les in LESIONS
        ],
    }
    with open(folder / "truth.json", "w", encoding="utf-8") as handle:
        json.dump(truth, handle, indent=2)
        handle.write("\n")
    return written


def write_into_reference_patient(root: Path) -> None:
    """Builder hook for the cached reference patient: writes ``root/pet``."""
    write_pet_case(build_pet_case(), Path(root) / "pet")


def _vendor_style(
    tp: PetTimepoint, suv: Volume, scale_g_per_bq: float
) -> tuple[dict[str, Any], Any, NDArray[np.float64], Any]:
    """Header attributes, per-slice callback, stored values and rescale for a vendor."""
    bed_slices = 50
    frame_s = 120.0
    common: dict[str, Any] = {
        "SeriesDate": _da(tp.scan_start),
        "AcquisitionDate": _da(tp.scan_start),
        "DecayCorrection": "START",
        "CorrectedImage": ["NORM", "DTIM", "ATTN", "SCAT", "DECY", "RAN"],
        "PatientPosition": "FFS",
        "ActualFrameDuration": str(int(frame_s * 1000)),
        "SeriesType": ["WHOLE BODY", "IMAGE"],
        "CountsSource": "EMISSION",
        "SliceThickness": suv.spacing_mm[0],
    }
    activity = np.asarray(suv.array, dtype=np.float64) / scale_g_per_bq
    decay_constant = math.log(2.0) / tp.half_life_s

    def bed_start(k: int) -> datetime:
        return tp.scan_start + timedelta(seconds=(k // bed_slices) * frame_s)

    def frame_reference_ms(k: int) -> float:
        t = (k // bed_slices) * frame_s
        x = decay_constant * frame_s
        average = math.log(x / (1 - math.exp(-x))) / decay_constant
        return (t + average) * 1000.0

    if tp.vendor == "GE":
        extra = dict(
            common,
            Units="BQML",
            Manufacturer="GE MEDICAL SYSTEMS",
            SeriesTime=_tm(tp.scan_start + timedelta(minutes=40)),
            RadiopharmaceuticalInformationSequence=[
                _radiopharmaceutical(tp, True, tp.injected_dose_bq)
            ],
        )
        private = [
            DataElement(0x00090010, "LO", "GEMS_PETD_01"),
            DataElement(0x0009100D, "DT", _dt(tp.scan_start)),
        ]

        def ge_slice(k: int) -> list[DataElement]:
            return private + [
                DataElement(0x00080032, "TM", _tm(bed_start(k) + timedelta(seconds=2))),
                DataElement(0x00541300, "DS", f"{frame_reference_ms(k):.3f}"),
            ]

        return extra, ge_slice, activity, "auto_per_slice"
    if tp.vendor == "Philips":
        suv_factor = 5e-4
        counts = np.asarray(suv.array, dtype=np.float64) / suv_factor
        extra = dict(
            common,
            Units="CNTS",
            Manufacturer="Philips Medical Systems",
            SeriesTime=_tm(tp.scan_start),
            RadiopharmaceuticalInformationSequence=[
                _radiopharmaceutical(tp, True, tp.injected_dose_bq)
            ],
        )
        private = [
            DataElement(0x70530010, "LO", "Philips PET Private Group"),
            DataElement(0x70531000, "DS", f"{suv_factor:g}"),
            DataElement(0x70531009, "DS", f"{suv_factor / scale_g_per_bq:.10g}"),
        ]

        def philips_slice(k: int) -> list[DataElement]:
            return private + [DataElement(0x00080032, "TM", _tm(bed_start(k)))]

        return extra, philips_slice, counts, "auto_per_slice"
    with_datetime = tp.key == "fdg_baseline"
    dose = tp.injected_dose_bq if with_datetime else tp.injected_dose_bq / 1e6
    extra = dict(
        common,
        Units="BQML",
        Manufacturer="SIEMENS",
        SeriesTime=_tm(tp.scan_start),
        RadiopharmaceuticalInformationSequence=[_radiopharmaceutical(tp, with_datetime, dose)],
    )

    def siemens_slice(k: int) -> list[DataElement]:
        return [
            DataElement(0x00080032, "TM", _tm(bed_start(k))),
            DataElement(0x00541300, "DS", f"{frame_reference_ms(k):.3f}"),
        ]

    return extra, siemens_slice, activity, "auto_per_slice"


__all__ = [
    "LESIONS",
    "ORGAN_SUV",
    "PetCase",
    "PetTimepoint",
    "PhantomLesion",
    "TIMEPOINTS",
    "build_pet_case",
    "decayed_dose_bq",
    "pet_grid",
    "write_into_reference_patient",
    "write_pet_case",
]
