"""Vendor-neutral SUV scale factors from PET DICOM headers (QIBA rules).

The entry point is :func:`suv_conversion`: given the headers of one PET series
(pydicom datasets, one per slice, pixel data not needed) it returns a
:class:`~tumorboard.pet.suv_scaling.SuvConversion` holding, for every slice,
the factor that turns the *rescaled* pixel value (``stored * RescaleSlope +
RescaleIntercept``, applied per slice by the series reader) into SUVbw, and
the header facts behind it. :func:`grouped_suv_conversion` does the same from
one header per group of slices with identical SUV-relevant attributes (the
fast path of :mod:`tumorboard.pet.series_io`, which groups on raw bytes).

Rules (QIBA "SUV vendor-neutral pseudo-code", extended as the IBSI SUV DROs
require); the dose and time rules are in :mod:`tumorboard.pet.decay_rules`:

* Units ``BQML``: SUVbw = value * weight[g] / decayed dose[Bq].
  ``CNTS``: the Philips private SUV scale factor (7053,1000) gives SUVbw
  directly; otherwise the activity concentration factor (7053,1009) gives
  Bq/ml first. ``GML``: already an SUV of SUVType (0054,1006), converted to
  SUVbw with the body-size ratio (BW, LBM [= James 120], LBMJAMES128,
  LBMJANMA, IBW, BSA). ``CM2ML``: SUVbsa, times weight[g] / BSA[cm^2].
* DecayCorrection ``START``: the dose is decayed to the scan time;
  ``ADMIN``: no decay; ``NONE``: each frame is corrected from its own
  AcquisitionDateTime and ActualFrameDuration, ``lambda T / (1 - exp(-lambda T))
  * exp(lambda (t_acq - t_inj))``.
* The series must be attenuation corrected (CorrectedImage contains ATTN).
* Series-level attributes (patient weight, height and sex, the
  radiopharmaceutical, series date and time, GE private scan time) must be
  the same in every slice; Modality, Units and DecayCorrection too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag, Tag

from tumorboard.errors import DicomError, InputError
from tumorboard.pet.body_size import (
    LbmFormula,
    Sex,
    body_surface_area_m2,
    ideal_body_weight_kg,
    lean_body_mass_kg,
)
from tumorboard.pet.decay_rules import (
    GE_SCAN_DATETIME_TAG,
    MAX_HALF_LIVES,
    MBQ_DOSE_LIMIT,
    DoseTiming,
    check_decay_time,
    dose_timing,
)
from tumorboard.pet.dicom_time import parse_da, parse_dt, parse_tm
from tumorboard.pet.header_values import (
    acquisition_datetime,
    frame_duration_s,
    header_enum,
    header_float,
    header_value,
    same_value,
)
from tumorboard.pet.suv_scaling import (
    DecayCorrection,
    ScanTimeRule,
    SuvConversion,
    SuvType,
    Units,
)

#: Philips private SUV scale factor (pixel -> SUVbw), group "Philips PET Private Group".
PHILIPS_SUV_SCALE_TAG = Tag(0x7053, 0x1000)
#: Philips private activity concentration scale factor (pixel -> Bq/ml).
PHILIPS_ACTIVITY_SCALE_TAG = Tag(0x7053, 0x1009)

#: Attributes that may differ between the slices of one series and change the factor.
PER_SLICE_TAGS: tuple[BaseTag, ...] = (
    Tag(0x0008, 0x0060),  # Modality
    Tag(0x0054, 0x1001),  # Units
    Tag(0x0054, 0x1102),  # DecayCorrection
    Tag(0x0028, 0x0051),  # CorrectedImage
    Tag(0x0008, 0x0022),  # AcquisitionDate
    Tag(0x0008, 0x0032),  # AcquisitionTime
    Tag(0x0008, 0x002A),  # AcquisitionDateTime
    Tag(0x0018, 0x1242),  # ActualFrameDuration
    Tag(0x0054, 0x1300),  # FrameReferenceTime
    Tag(0x0054, 0x1006),  # SUVType
    PHILIPS_SUV_SCALE_TAG,
    PHILIPS_ACTIVITY_SCALE_TAG,
)
#: Attributes read from one slice that must be the same in all (keyword, tag).
SERIES_LEVEL_TAGS: tuple[tuple[str, BaseTag], ...] = (
    ("PatientWeight", Tag(0x0010, 0x1030)),
    ("PatientSize", Tag(0x0010, 0x1020)),
    ("PatientSex", Tag(0x0010, 0x0040)),
    ("RadiopharmaceuticalInformationSequence", Tag(0x0054, 0x0016)),
    ("SeriesDate", Tag(0x0008, 0x0021)),
    ("SeriesTime", Tag(0x0008, 0x0031)),
    ("GE private scan time (0009,100D)", GE_SCAN_DATETIME_TAG),
)
#: Every attribute the SUV factor depends on: slices equal in all of them share a factor.
SUV_HEADER_TAGS: tuple[BaseTag, ...] = PER_SLICE_TAGS + tuple(t for _, t in SERIES_LEVEL_TAGS)
#: Body weights outside (0, this) kg are refused.
MAX_WEIGHT_KG = 500.0


def suv_header_key(ds: Dataset) -> tuple[Any, ...]:
    """The raw values of :data:`SUV_HEADER_TAGS`, without decoding them.

    Why: decoding a dozen attributes of every slice costs ~0.2 ms a slice in
    pydicom, longer than reading the pixels; slices with identical raw values
    share one factor, computed once.
    """
    key = []
    for tag in SUV_HEADER_TAGS:
        element = ds.get_item(tag)
        if element is None:
            key.append(None)
        else:
            key.append(_value_key(element.value))
    return tuple(key)


def _value_key(value: Any) -> Any:
    """A hashable key, equal for equal values.

    Raw bytes as they are; a decoded sequence item by item (its ``repr`` only
    says "<Sequence, length 1>", which put slices with different injected
    doses into one group); other values by ``repr``.
    """
    if isinstance(value, bytes):
        return value
    if isinstance(value, DicomSequence):
        return tuple(
            tuple((int(element.tag), _value_key(element.value)) for element in item)
            for item in value
        )
    return repr(value)


def suv_conversion(
    datasets: Sequence[Dataset],
    *,
    weight_kg: float | None = None,
    where: str = "PET series",
) -> SuvConversion:
    """Compute the SUVbw scaling of a PET series from its headers.

    Parameters
    ----------
    datasets : sequence of pydicom.Dataset
        Headers of every slice of one series (pixel data not needed).
    weight_kg : float, optional
        Body weight overriding PatientWeight (required when the header lacks it).
    where : str
        Name of the series in error messages (e.g. its folder).

    Returns
    -------
    SuvConversion
        Per-slice pixel-to-SUVbw factors and the header facts used.

    Raises
    ------
    DicomError
        For a non-PET or non-attenuation-corrected series, unknown units,
        missing dose, half-life or times, inconsistent slices.
    InputError
        For a missing or invalid body weight.
    """
    if len(datasets) == 0:
        raise DicomError(f"{where}: no PET slices")
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, ds in enumerate(datasets):
        groups.setdefault(suv_header_key(ds), []).append(index)
    members = list(groups.values())
    representatives = [datasets[group[0]] for group in members]
    positions = np.array([_position(ds) for ds in datasets], dtype=np.float64).reshape(-1, 3)
    return grouped_suv_conversion(
        representatives, members, positions, weight_kg=weight_kg, where=where
    )


def grouped_suv_conversion(
    representatives: Sequence[Dataset],
    members: Sequence[Sequence[int]],
    positions_mm: NDArray[np.float64],
    *,
    weight_kg: float | None = None,
    where: str = "PET series",
) -> SuvConversion:
    """Compute the SUVbw scaling from one header per group of equal slices.

    Parameters
    ----------
    representatives : sequence of pydicom.Dataset
        One header per group of slices whose :data:`SUV_HEADER_TAGS` are
        identical (the first group must hold the series' first slice).
    members : sequence of sequences of int
        For each representative, the indices (in series order) of the slices
        of its group; together they must cover ``0 .. n_slices - 1`` once.
    positions_mm : ndarray, shape (n_slices, 3)
        ImagePositionPatient of every slice (LPS, NaN where absent), used
        when the factors differ between slices.
    weight_kg : float, optional
        Body weight overriding PatientWeight.
    where : str
        Name of the series in messages.

    Returns
    -------
    SuvConversion
        Per-slice factors (in series order) and the header facts used.

    Raises
    ------
    DicomError, InputError
        As :func:`suv_conversion`; also when series-level attributes differ
        between the groups.
    """
    if len(representatives) == 0:
        raise DicomError(f"{where}: no PET slices")
    if len(representatives) != len(members):
        raise InputError(
            f"{where}: {len(representatives)} representative headers for {len(members)} groups"
        )
    indices = np.sort(np.concatenate([np.asarray(g, dtype=np.intp) for g in members]))
    n_slices = int(indices.size)
    if not np.array_equal(indices, np.arange(n_slices)):
        raise InputError(f"{where}: slice groups do not cover all {n_slices} slices once")
    first = representatives[0]
    _check_series_level(representatives, where)
    modality = str(same_value(representatives, "Modality", where) or "").upper()
    if modality != "PT":
        raise DicomError(f"{where}: Modality is {modality or 'missing'!r}, expected 'PT'")
    units = header_enum(
        Units, same_value(representatives, "Units", where), "Units (0054,1001)", where
    )
    for ds in representatives:
        _require_attenuation_corrected(ds, where)
    decay_value = same_value(representatives, "DecayCorrection", where)
    if decay_value is None and units in (Units.GML, Units.CM2ML):
        decay_value = "START"  # SUV units need no decay bookkeeping
    decay = header_enum(DecayCorrection, decay_value, "DecayCorrection (0054,1102)", where)
    weight_kg, height_m, sex = _body_size(first, weight_kg, where)

    needs_activity = units is Units.BQML or (
        units is Units.CNTS and header_value(first, PHILIPS_SUV_SCALE_TAG) is None
    )
    timing: DoseTiming | None
    try:
        timing = dose_timing(first, representatives, decay, where)
    except DicomError:
        if needs_activity:
            raise
        timing = None  # SUV-scaled units: the dose facts are informative only

    factors = np.empty(n_slices)
    for ds, group in zip(representatives, members, strict=True):
        factors[np.asarray(group, dtype=np.intp)] = _slice_factor(
            ds, units, decay, weight_kg, height_m, sex, timing, where
        )
    uniform = bool(np.all(factors == factors[0]))
    positions = np.asarray(positions_mm, dtype=np.float64)
    if positions.shape != (n_slices, 3):
        raise InputError(
            f"{where}: positions_mm has shape {positions.shape}, expected ({n_slices}, 3)"
        )
    if uniform:
        positions = np.full((n_slices, 3), np.nan)
    return SuvConversion(
        pixel_to_suvbw=factors,
        positions_mm=positions,
        units=units,
        decay_correction=decay,
        weight_kg=float(weight_kg),
        height_m=height_m,
        sex=sex,
        injected_dose_bq=None if timing is None else timing.injected_dose_bq,
        half_life_s=None if timing is None else timing.half_life_s,
        injection_datetime=None if timing is None else timing.injection,
        scan_datetime=None if timing is None else timing.scan,
        scan_time_rule=None if timing is None else timing.scan_time_rule,
        decayed_dose_bq=None if timing is None else timing.decayed_dose_bq,
        radionuclide="" if timing is None else timing.radionuclide,
    )


def _check_series_level(representatives: Sequence[Dataset], where: str) -> None:
    """Series-level attributes must agree between slices (values never quoted)."""
    if len(representatives) < 2:
        return
    for keyword, tag in SERIES_LEVEL_TAGS:
        values = {_comparable(header_value(ds, tag)) for ds in representatives}
        if len(values) > 1:
            raise DicomError(
                f"{where}: {keyword} differs between slices of one series; the SUV needs one "
                "value for the whole series"
            )


def _comparable(value: Any) -> Any:
    """A hashable form of a decoded value in which "75" and "75.0" compare equal."""
    if value is None:
        return None
    if isinstance(value, Dataset):
        return tuple(sorted((int(e.tag), _comparable(e.value)) for e in value))
    if isinstance(value, (list, tuple)) or type(value).__name__ in ("MultiValue", "Sequence"):
        return tuple(_comparable(v) for v in value)
    if isinstance(value, bytes):
        return value.rstrip(b"\x00 ")
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        return text.upper()


def _require_attenuation_corrected(ds: Dataset, where: str) -> None:
    corrected = header_value(ds, "CorrectedImage")
    flags = {corrected.upper()} if isinstance(corrected, str) else set(corrected or [])
    if "ATTN" not in {str(flag).strip().upper() for flag in flags}:
        raise DicomError(
            f"{where}: CorrectedImage {sorted(flags)} lacks ATTN: the series is not "
            "attenuation corrected and SUVs would be meaningless"
        )


def _body_size(
    first: Dataset, weight_kg: float | None, where: str
) -> tuple[float, float | None, Sex]:
    """Weight (override or PatientWeight), height (None when absent) and sex."""
    header_weight = header_float(first, "PatientWeight", where)
    if weight_kg is None:
        if header_weight is None or header_weight <= 0:
            raise InputError(
                f"{where}: PatientWeight (0010,1030) is missing or zero; give the weight "
                "with --weight-kg"
            )
        weight_kg = header_weight
    if not (math.isfinite(weight_kg) and 0 < weight_kg < MAX_WEIGHT_KG):
        raise InputError(f"body weight must be between 0 and {MAX_WEIGHT_KG:g} kg, got {weight_kg}")
    height_m = header_float(first, "PatientSize", where)
    if height_m is not None and height_m <= 0:
        height_m = None
    sex_value = header_value(first, "PatientSex")
    sex = Sex.parse(sex_value, f"{where}: PatientSex") if sex_value else Sex.OTHER
    return weight_kg, height_m, sex


def _position(ds: Dataset) -> list[float]:
    value = header_value(ds, "ImagePositionPatient")
    return [float(v) for v in value] if value is not None else [math.nan] * 3


def _gml_to_suvbw(suv_type: SuvType, weight_kg: float, height_m: float | None, sex: Sex) -> float:
    if suv_type is SuvType.BW:
        return 1.0
    if suv_type is SuvType.IBW:
        return weight_kg / ideal_body_weight_kg(weight_kg, height_m, sex)
    if suv_type is SuvType.BSA:
        return weight_kg * 1000.0 / (body_surface_area_m2(weight_kg, height_m) * 1e4)
    formula = {
        SuvType.LBM: LbmFormula.JAMES120,
        SuvType.LBMJAMES128: LbmFormula.JAMES128,
        SuvType.LBMJANMA: LbmFormula.JANMAHASATIAN,
    }[suv_type]
    return weight_kg / lean_body_mass_kg(weight_kg, height_m, sex, formula)


def _slice_factor(
    ds: Dataset,
    units: Units,
    decay: DecayCorrection,
    weight_kg: float,
    height_m: float | None,
    sex: Sex,
    timing: DoseTiming | None,
    where: str,
) -> float:
    """The pixel-to-SUVbw factor of the slices sharing ``ds``'s SUV attributes."""
    if units is Units.GML:
        suv_type = header_enum(
            SuvType, header_value(ds, "SUVType") or "BW", "SUVType (0054,1006)", where
        )
        return _gml_to_suvbw(suv_type, weight_kg, height_m, sex)
    if units is Units.CM2ML:
        return weight_kg * 1000.0 / (body_surface_area_m2(weight_kg, height_m) * 1e4)
    activity_per_pixel = 1.0
    if units is Units.CNTS:
        suv_scale = header_float(ds, PHILIPS_SUV_SCALE_TAG, where)
        if suv_scale is not None and suv_scale > 0:
            return suv_scale
        activity_scale = header_float(ds, PHILIPS_ACTIVITY_SCALE_TAG, where)
        if activity_scale is None or activity_scale <= 0:
            raise DicomError(
                f"{where}: Units CNTS without the Philips SUV scale factor (7053,1000) or "
                "activity concentration scale factor (7053,1009); counts cannot be converted"
            )
        activity_per_pixel = activity_scale
    if timing is None:  # cannot happen: needs_activity made dose_timing's error fatal
        raise DicomError(f"{where}: no injected dose or times to convert activity to SUV")
    if decay is not DecayCorrection.NONE:
        return activity_per_pixel * weight_kg * 1000.0 / timing.decayed_dose_bq
    acquired = acquisition_datetime(ds, where)
    if acquired is None:
        raise DicomError(
            f"{where}: DecayCorrection NONE needs the AcquisitionTime of every frame; missing"
        )
    decay_s = (acquired - timing.injection).total_seconds()
    check_decay_time(decay_s, timing.half_life_s, "a frame's acquisition time", where)
    decay_constant = math.log(2.0) / timing.half_life_s
    duration_s = frame_duration_s(ds, where) or 0.0
    x = decay_constant * duration_s
    within_frame = x / (1.0 - math.exp(-x)) if x > 1e-12 else 1.0
    to_injection = math.exp(decay_constant * decay_s)
    return (
        activity_per_pixel
        * weight_kg
        * 1000.0
        / timing.injected_dose_bq
        * within_frame
        * to_injection
    )


__all__ = [
    "MAX_HALF_LIVES",
    "MBQ_DOSE_LIMIT",
    "PER_SLICE_TAGS",
    "SERIES_LEVEL_TAGS",
    "SUV_HEADER_TAGS",
    "DecayCorrection",
    "ScanTimeRule",
    "SuvConversion",
    "SuvType",
    "Units",
    "grouped_suv_conversion",
    "parse_da",
    "parse_dt",
    "parse_tm",
    "suv_conversion",
    "suv_header_key",
]
