"""Vendor-neutral SUV scale factors from PET DICOM headers (QIBA rules).

The entry point is :func:`suv_conversion`: given the headers of one PET series
(pydicom datasets, one per slice, pixel data not needed) it returns a
:class:`SuvConversion` holding, for every slice, the factor that turns the
*rescaled* pixel value (``stored * RescaleSlope + RescaleIntercept``, applied
per slice by the series reader) into SUVbw, and the header facts behind it.

Rules (QIBA "SUV vendor-neutral pseudo-code", extended as the IBSI SUV DROs
require):

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
* Scan time: SeriesDateTime unless it is after the earliest acquisition time
  (a post-processed series); then the GE private scan time (0009,100D); then
  back-computed from FrameReferenceTime, only when it and ActualFrameDuration
  are positive; then the earliest acquisition time.
* Injection: RadiopharmaceuticalStartDateTime, else RadiopharmaceuticalStartTime
  on the SeriesDate, moved back one day when that would follow the scan
  (midnight crossing).
* Dose below 1e5 is taken as MBq (real doses in Bq are >= 1e6).
* Half-life: RadionuclideHalfLife, else from the radionuclide code; never guessed.
* The series must be attenuation corrected (CorrectedImage contains ATTN).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag, Tag

from tumorboard.errors import DicomError, InputError
from tumorboard.imaging.volume import Volume
from tumorboard.pet.body_size import (
    LbmFormula,
    Sex,
    body_surface_area_m2,
    ideal_body_weight_kg,
    lean_body_mass_kg,
)
from tumorboard.pet.radionuclides import radionuclide_from_code

#: Philips private SUV scale factor (pixel -> SUVbw), group "Philips PET Private Group".
PHILIPS_SUV_SCALE_TAG = Tag(0x7053, 0x1000)
#: Philips private activity concentration scale factor (pixel -> Bq/ml).
PHILIPS_ACTIVITY_SCALE_TAG = Tag(0x7053, 0x1009)
#: GE private scan date-time (GEMS_PETD_01), used for post-processed series.
GE_SCAN_DATETIME_TAG = Tag(0x0009, 0x100D)
#: A RadionuclideTotalDose below this is in MBq, at or above it in Bq.
MBQ_DOSE_LIMIT = 1e5
#: Decay times beyond this many half-lives are taken as a date error.
MAX_HALF_LIVES = 20.0


class Units(Enum):
    """PET Units (0054,1001) that tumorboard converts."""

    BQML = "BQML"
    CNTS = "CNTS"
    GML = "GML"
    CM2ML = "CM2ML"


class DecayCorrection(Enum):
    """DecayCorrection (0054,1102): the time the activity is corrected to."""

    START = "START"
    ADMIN = "ADMIN"
    NONE = "NONE"


class SuvType(Enum):
    """SUVType (0054,1006) of a series stored in GML units."""

    BW = "BW"
    BSA = "BSA"
    LBM = "LBM"
    LBMJAMES128 = "LBMJAMES128"
    LBMJANMA = "LBMJANMA"
    IBW = "IBW"


class ScanTimeRule(Enum):
    """Which header rule supplied the scan (decay reference) time."""

    SERIES_TIME = "series time"
    GE_PRIVATE = "GE private scan time"
    FRAME_REFERENCE = "back-computed from frame reference time"
    EARLIEST_ACQUISITION = "earliest acquisition time"


@dataclass(frozen=True)
class SuvConversion:
    """Header-derived SUV scaling of one PET series.

    Attributes
    ----------
    pixel_to_suvbw : ndarray, shape (n_slices,)
        Per slice (in the order of the datasets given), the factor turning the
        rescaled pixel value into SUVbw.
    positions_mm : ndarray, shape (n_slices, 3)
        ImagePositionPatient of each slice (LPS), to match factors to volume slices.
    units, decay_correction : Units, DecayCorrection
        The header's coding.
    weight_kg : float
        Body weight used (header or override).
    height_m : float or None
        PatientSize, if present.
    sex : Sex
        PatientSex (``O`` when absent).
    injected_dose_bq : float or None
        RadionuclideTotalDose in Bq (MBq detected and converted).
    half_life_s : float or None
        Radionuclide half-life.
    injection_datetime, scan_datetime : datetime or None
        Injection and decay-reference scan time.
    scan_time_rule : ScanTimeRule or None
        Which rule gave ``scan_datetime``.
    decayed_dose_bq : float or None
        The dose at the image's decay reference (scan start for START and NONE,
        injection for ADMIN).
    radionuclide : str
        Radionuclide code meaning or symbol, for display.
    """

    pixel_to_suvbw: NDArray[np.float64]
    positions_mm: NDArray[np.float64]
    units: Units
    decay_correction: DecayCorrection
    weight_kg: float
    height_m: float | None
    sex: Sex
    injected_dose_bq: float | None
    half_life_s: float | None
    injection_datetime: datetime | None
    scan_datetime: datetime | None
    scan_time_rule: ScanTimeRule | None
    decayed_dose_bq: float | None
    radionuclide: str = ""

    def __post_init__(self) -> None:
        factors = np.asarray(self.pixel_to_suvbw, dtype=np.float64).reshape(-1)
        if factors.size == 0 or not np.all(np.isfinite(factors)) or np.any(factors <= 0):
            raise InputError(f"pixel_to_suvbw must be positive finite factors, got {factors}")
        positions = np.asarray(self.positions_mm, dtype=np.float64).reshape(-1, 3)
        if positions.shape[0] != factors.size:
            raise InputError(
                f"positions_mm has {positions.shape[0]} rows for {factors.size} slice factors"
            )
        if not (math.isfinite(self.weight_kg) and self.weight_kg > 0):
            raise InputError(f"weight_kg must be positive, got {self.weight_kg}")
        object.__setattr__(self, "pixel_to_suvbw", factors)
        object.__setattr__(self, "positions_mm", positions)

    @property
    def suvbw_scale_g_per_bq(self) -> float | None:
        """Factor turning Bq/ml (decay-corrected to the scan time) into SUVbw."""
        if self.decayed_dose_bq is None:
            return None
        return self.weight_kg * 1000.0 / self.decayed_dose_bq

    def sul_per_suvbw(self, formula: LbmFormula | str = LbmFormula.JANMAHASATIAN) -> float:
        """Ratio SUL / SUVbw = lean body mass / body weight."""
        lbm_kg = lean_body_mass_kg(self.weight_kg, self.height_m, self.sex, formula)
        return lbm_kg / self.weight_kg

    def sul_scale_g_per_bq(
        self, formula: LbmFormula | str = LbmFormula.JANMAHASATIAN
    ) -> float | None:
        """Factor turning Bq/ml into SUL (SUV normalised by lean body mass)."""
        scale = self.suvbw_scale_g_per_bq
        return None if scale is None else scale * self.sul_per_suvbw(formula)

    def suvbsa_per_suvbw(self) -> float:
        """Ratio SUVbsa [cm^2/ml] / SUVbw [g/ml] = BSA[cm^2] / weight[g]."""
        bsa_cm2 = body_surface_area_m2(self.weight_kg, self.height_m) * 1e4
        return bsa_cm2 / (self.weight_kg * 1000.0)

    def suvibw_per_suvbw(self) -> float:
        """Ratio SUVibw / SUVbw = ideal body weight / body weight."""
        return ideal_body_weight_kg(self.weight_kg, self.height_m, self.sex) / self.weight_kg

    def factors_for(self, volume: Volume) -> NDArray[np.float64]:
        """The per-slice factors in the slice order of ``volume``.

        Slices are matched by their position along the volume's slice normal.

        Raises
        ------
        DicomError
            If a volume slice has no header slice at its position.
        """
        nz = volume.spatial_shape[0]
        if np.all(self.pixel_to_suvbw == self.pixel_to_suvbw[0]):
            return np.full(nz, self.pixel_to_suvbw[0])
        normal = volume.direction[:, 2]
        header_positions = self.positions_mm @ normal
        slice_positions = volume.index_to_lps(
            np.stack([np.arange(nz), np.zeros(nz), np.zeros(nz)], axis=1)
        ) @ normal
        tolerance_mm = 0.25 * volume.spacing_mm[0]
        factors = np.empty(nz)
        for k, position in enumerate(slice_positions):
            distance = np.abs(header_positions - position)
            best = int(np.argmin(distance))
            if distance[best] > tolerance_mm:
                raise DicomError(
                    f"PET slice {k} at {position:.2f} mm has no header slice within "
                    f"{tolerance_mm:.2f} mm; cannot apply per-slice SUV factors"
                )
            factors[k] = self.pixel_to_suvbw[best]
        return factors

    def suvbw(self, activity: Volume) -> Volume:
        """Apply the per-slice factors to a rescaled PET volume; returns SUVbw (float32)."""
        factors = self.factors_for(activity)
        array = np.asarray(activity.array, dtype=np.float32) * factors.astype(np.float32)[
            :, None, None
        ]
        return activity.with_array(array, unit="g/ml")


# --------------------------------------------------------------------- parsing
def _value(ds: Dataset, key: str | BaseTag) -> Any:
    element = ds.get(key)
    if element is None:
        return None
    value = element.value if hasattr(element, "value") else element
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace").strip("\x00 ")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def _float(ds: Dataset, key: str | BaseTag, where: str) -> float | None:
    value = _value(ds, key)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DicomError(f"{where}: {key} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise DicomError(f"{where}: {key} is not finite: {value!r}")
    return number


def parse_da(text: str, name: str) -> date:
    """Parse a DICOM DA ``YYYYMMDD``."""
    text = str(text).strip().replace(".", "").replace("-", "")
    try:
        return datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        raise DicomError(f"{name} is not a DICOM date (YYYYMMDD): {text!r}") from None


def parse_tm(text: str, name: str) -> time:
    """Parse a DICOM TM ``HH[MM[SS[.FFFFFF]]]`` (ACR-NEMA colons accepted)."""
    raw = str(text).strip().replace(":", "")
    main, _, fraction = raw.partition(".")
    if not main.isdigit() or len(main) not in (2, 4, 6) or (fraction and not fraction.isdigit()):
        raise DicomError(f"{name} is not a DICOM time (HHMMSS.FFFFFF): {text!r}")
    hours = int(main[0:2])
    minutes = int(main[2:4]) if len(main) >= 4 else 0
    seconds = int(main[4:6]) if len(main) >= 6 else 0
    micro = int((fraction + "000000")[:6]) if fraction else 0
    if hours > 23 or minutes > 59 or seconds > 60:
        raise DicomError(f"{name} is not a valid time: {text!r}")
    seconds = min(seconds, 59)
    return time(hours, minutes, seconds, micro)


def parse_dt(text: str, name: str) -> datetime:
    """Parse a DICOM DT ``YYYYMMDDHHMMSS.FFFFFF[&ZZXX]``; the UTC offset is ignored."""
    raw = str(text).strip()
    for sign in ("+", "-"):
        if sign in raw[8:]:
            raw = raw[: 8 + raw[8:].index(sign)]
    if len(raw) < 8:
        raise DicomError(f"{name} is not a DICOM date-time: {text!r}")
    day = parse_da(raw[:8], name)
    clock = parse_tm(raw[8:], name) if len(raw) > 8 else time(0)
    return datetime.combine(day, clock)


def _datetime(ds: Dataset, date_key: str, time_key: str, where: str) -> datetime | None:
    day = _value(ds, date_key)
    clock = _value(ds, time_key)
    if day is None or clock is None:
        return None
    return datetime.combine(
        parse_da(day, f"{where}: {date_key}"), parse_tm(clock, f"{where}: {time_key}")
    )


def _acquisition_datetime(ds: Dataset, where: str) -> datetime | None:
    value = _value(ds, "AcquisitionDateTime")
    if value is not None:
        return parse_dt(value, f"{where}: AcquisitionDateTime")
    clock = _value(ds, "AcquisitionTime")
    if clock is None:
        return None
    day = _value(ds, "AcquisitionDate") or _value(ds, "SeriesDate")
    if day is None:
        return None
    return datetime.combine(
        parse_da(day, f"{where}: AcquisitionDate"), parse_tm(clock, f"{where}: AcquisitionTime")
    )


def _same(datasets: Sequence[Dataset], keyword: str, where: str) -> Any:
    values = {str(_value(ds, keyword)).strip().upper() for ds in datasets}
    if len(values) > 1:
        raise DicomError(f"{where}: {keyword} differs between slices: {sorted(values)}")
    return _value(datasets[0], keyword)


def _enum(enum: type[Any], value: Any, keyword: str, where: str) -> Any:
    if value is None:
        raise DicomError(f"{where}: {keyword} is missing")
    text = str(value).strip().upper()
    for member in enum:
        if member.value == text:
            return member
    names = ", ".join(m.value for m in enum)
    raise DicomError(f"{where}: {keyword} {text!r} is not supported (expected one of {names})")


def _frame_duration_s(ds: Dataset, where: str) -> float | None:
    duration_ms = _float(ds, "ActualFrameDuration", where)
    return None if duration_ms is None else duration_ms / 1000.0


def _average_count_time_s(decay_constant: float, duration_s: float) -> float:
    """Time after frame start at which the count rate equals the frame average."""
    x = decay_constant * duration_s
    if x < 1e-9:
        return duration_s / 2.0
    return math.log(x / (1.0 - math.exp(-x))) / decay_constant


def _radiopharmaceutical(first: Dataset, where: str) -> Dataset:
    sequence = _value(first, "RadiopharmaceuticalInformationSequence")
    if not sequence:
        raise DicomError(
            f"{where}: RadiopharmaceuticalInformationSequence (0054,0016) is missing; "
            "no injected dose, half-life or injection time"
        )
    item: Dataset = sequence[0]
    return item


def _half_life_s(item: Dataset, where: str) -> tuple[float, str]:
    half_life = _float(item, "RadionuclideHalfLife", where)
    label = ""
    codes = _value(item, "RadionuclideCodeSequence")
    code_item = codes[0] if codes else None
    if code_item is not None:
        label = str(_value(code_item, "CodeMeaning") or "")
    if half_life is not None and half_life > 0:
        return half_life, label
    if code_item is None:
        raise DicomError(
            f"{where}: RadionuclideHalfLife (0018,1075) is missing and there is no "
            "RadionuclideCodeSequence to identify the radionuclide"
        )
    nuclide = radionuclide_from_code(
        str(_value(code_item, "CodeValue") or ""),
        str(_value(code_item, "CodingSchemeDesignator") or ""),
        label,
    )
    return nuclide.half_life_s, label or nuclide.symbol


def _dose_bq(item: Dataset, where: str) -> float:
    dose = _float(item, "RadionuclideTotalDose", where)
    if dose is None:
        raise DicomError(f"{where}: RadionuclideTotalDose (0018,1074) is missing")
    if dose <= 0:
        raise DicomError(f"{where}: RadionuclideTotalDose must be positive, got {dose}")
    return dose * 1e6 if dose < MBQ_DOSE_LIMIT else dose


def _injection_datetime(item: Dataset, first: Dataset, where: str) -> tuple[datetime, bool]:
    """Return the injection time and whether it came from a time without a date."""
    start = _value(item, "RadiopharmaceuticalStartDateTime")
    if start is not None:
        return parse_dt(start, f"{where}: RadiopharmaceuticalStartDateTime"), False
    clock = _value(item, "RadiopharmaceuticalStartTime")
    if clock is None:
        raise DicomError(
            f"{where}: injection time is missing (neither RadiopharmaceuticalStartDateTime "
            "nor RadiopharmaceuticalStartTime)"
        )
    day = _value(first, "SeriesDate") or _value(first, "AcquisitionDate")
    if day is None:
        raise DicomError(f"{where}: RadiopharmaceuticalStartTime given but SeriesDate is missing")
    return (
        datetime.combine(
            parse_da(day, f"{where}: SeriesDate"),
            parse_tm(clock, f"{where}: RadiopharmaceuticalStartTime"),
        ),
        True,
    )


def _scan_datetime(
    datasets: Sequence[Dataset], half_life_s: float, where: str
) -> tuple[datetime, ScanTimeRule]:
    first = datasets[0]
    acquisitions = [_acquisition_datetime(ds, where) for ds in datasets]
    known = [(t, ds) for t, ds in zip(acquisitions, datasets, strict=True) if t is not None]
    series = _datetime(first, "SeriesDate", "SeriesTime", where)
    if not known:
        if series is None:
            raise DicomError(f"{where}: scan time is missing (no SeriesTime, no AcquisitionTime)")
        return series, ScanTimeRule.SERIES_TIME
    earliest, earliest_ds = min(known, key=lambda pair: pair[0])
    if series is not None and series <= earliest:
        return series, ScanTimeRule.SERIES_TIME
    ge_value = _value(first, GE_SCAN_DATETIME_TAG)
    if ge_value is not None:
        return parse_dt(str(ge_value), f"{where}: GE private scan time"), ScanTimeRule.GE_PRIVATE
    frame_reference_ms = _float(earliest_ds, "FrameReferenceTime", where)
    duration_s = _frame_duration_s(earliest_ds, where)
    if frame_reference_ms and frame_reference_ms > 0 and duration_s and duration_s > 0:
        decay_constant = math.log(2.0) / half_life_s
        average_s = _average_count_time_s(decay_constant, duration_s)
        scan = earliest + timedelta(seconds=average_s - frame_reference_ms / 1000.0)
        return scan, ScanTimeRule.FRAME_REFERENCE
    return earliest, ScanTimeRule.EARLIEST_ACQUISITION


def _check_decay_time(decay_s: float, half_life_s: float, what: str, where: str) -> None:
    if decay_s < 0:
        raise DicomError(
            f"{where}: {what} is {-decay_s:.0f} s before the injection; check the dates and times"
        )
    if decay_s > MAX_HALF_LIVES * half_life_s:
        raise DicomError(
            f"{where}: {what} is {decay_s:.0f} s after the injection, more than "
            f"{MAX_HALF_LIVES:g} half-lives; check the dates and times"
        )


def _positions(datasets: Sequence[Dataset]) -> NDArray[np.float64]:
    rows = []
    for ds in datasets:
        value = _value(ds, "ImagePositionPatient")
        rows.append([float(v) for v in value] if value is not None else [np.nan] * 3)
    return np.asarray(rows, dtype=np.float64).reshape(-1, 3)


#: Attributes that may differ between the slices of one series and change the factor.
_PER_SLICE_TAGS = (
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


def _slice_key(ds: Dataset) -> tuple[Any, ...]:
    """The raw values of the per-slice attributes, without decoding them.

    Why: decoding a dozen attributes of every slice costs ~0.2 ms a slice in
    pydicom, longer than reading the pixels; slices with identical raw values
    share one factor, computed once.
    """
    key = []
    for tag in _PER_SLICE_TAGS:
        element = ds.get_item(tag)
        if element is None:
            key.append(None)
        else:
            value = element.value
            key.append(value if isinstance(value, bytes) else repr(value))
    return tuple(key)


def _gml_to_suvbw(
    suv_type: SuvType, weight_kg: float, height_m: float | None, sex: Sex
) -> float:
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
    all_datasets = datasets
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, ds in enumerate(all_datasets):
        groups.setdefault(_slice_key(ds), []).append(index)
    members = list(groups.values())
    datasets = [all_datasets[group[0]] for group in members]  # one per distinct key
    first = all_datasets[0]
    modality = str(_same(datasets, "Modality", where) or "").upper()
    if modality != "PT":
        raise DicomError(f"{where}: Modality is {modality or 'missing'!r}, expected 'PT'")
    units: Units = _enum(Units, _same(datasets, "Units", where), "Units (0054,1001)", where)
    for ds in datasets:
        corrected = _value(ds, "CorrectedImage")
        flags = {corrected.upper()} if isinstance(corrected, str) else set(corrected or [])
        if "ATTN" not in {str(flag).strip().upper() for flag in flags}:
            raise DicomError(
                f"{where}: CorrectedImage {sorted(flags)} lacks ATTN: the series is not "
                "attenuation corrected and SUVs would be meaningless"
            )
    decay: DecayCorrection = _enum(
        DecayCorrection,
        _same(datasets, "DecayCorrection", where) or ("START" if units in (Units.GML, Units.CM2ML)
                                                      else None),
        "DecayCorrection (0054,1102)",
        where,
    )

    header_weight = _float(first, "PatientWeight", where)
    if weight_kg is None:
        if header_weight is None or header_weight <= 0:
            raise InputError(
                f"{where}: PatientWeight (0010,1030) is missing or zero; give the weight "
                "with --weight-kg"
            )
        weight_kg = header_weight
    if not (math.isfinite(weight_kg) and 0 < weight_kg < 500):
        raise InputError(f"body weight must be between 0 and 500 kg, got {weight_kg}")
    height_m = _float(first, "PatientSize", where)
    if height_m is not None and height_m <= 0:
        height_m = None
    sex_value = _value(first, "PatientSex")
    sex = Sex.parse(sex_value, f"{where}: PatientSex") if sex_value else Sex.OTHER

    item = _radiopharmaceutical(first, where)
    needs_activity = units is Units.BQML or (
        units is Units.CNTS and _value(first, PHILIPS_SUV_SCALE_TAG) is None
    )
    injected_dose_bq: float | None
    half_life_s: float | None
    injection: datetime | None
    scan: datetime | None
    rule: ScanTimeRule | None
    decayed_dose_bq: float | None
    label = ""
    try:
        injected_dose_bq = _dose_bq(item, where)
        half_life_s, label = _half_life_s(item, where)
        injection, time_only = _injection_datetime(item, first, where)
        scan, rule = _scan_datetime(datasets, half_life_s, where)
        if time_only and injection > scan:
            injection -= timedelta(days=1)  # injection before midnight, scan after
        decay_s = (scan - injection).total_seconds()
        if decay is DecayCorrection.ADMIN:
            decayed_dose_bq = injected_dose_bq
        else:
            _check_decay_time(decay_s, half_life_s, "the scan time", where)
            decayed_dose_bq = injected_dose_bq * math.exp(-math.log(2.0) * decay_s / half_life_s)
    except DicomError:
        if needs_activity:
            raise
        injected_dose_bq = half_life_s = decayed_dose_bq = None
        injection = scan = None
        rule = None

    factors = np.empty(len(all_datasets))
    for ds, group in zip(datasets, members, strict=True):
        factors[group] = _slice_factor(
            ds, units, decay, weight_kg, height_m, sex, injected_dose_bq, decayed_dose_bq,
            half_life_s, injection, where,
        )
    uniform = bool(np.all(factors == factors[0]))
    return SuvConversion(
        pixel_to_suvbw=factors,
        positions_mm=(
            np.full((len(all_datasets), 3), np.nan) if uniform else _positions(all_datasets)
        ),
        units=units,
        decay_correction=decay,
        weight_kg=float(weight_kg),
        height_m=height_m,
        sex=sex,
        injected_dose_bq=injected_dose_bq,
        half_life_s=half_life_s,
        injection_datetime=injection,
        scan_datetime=scan,
        scan_time_rule=rule,
        decayed_dose_bq=decayed_dose_bq,
        radionuclide=label,
    )


def _slice_factor(
    ds: Dataset,
    units: Units,
    decay: DecayCorrection,
    weight_kg: float,
    height_m: float | None,
    sex: Sex,
    injected_dose_bq: float | None,
    decayed_dose_bq: float | None,
    half_life_s: float | None,
    injection: datetime | None,
    where: str,
) -> float:
    if units is Units.GML:
        suv_type = _enum(SuvType, _value(ds, "SUVType") or "BW", "SUVType (0054,1006)", where)
        return _gml_to_suvbw(suv_type, weight_kg, height_m, sex)
    if units is Units.CM2ML:
        return weight_kg * 1000.0 / (body_surface_area_m2(weight_kg, height_m) * 1e4)
    activity_per_pixel = 1.0
    if units is Units.CNTS:
        suv_scale = _float(ds, PHILIPS_SUV_SCALE_TAG, where)
        if suv_scale is not None and suv_scale > 0:
            return suv_scale
        activity_scale = _float(ds, PHILIPS_ACTIVITY_SCALE_TAG, where)
        if activity_scale is None or activity_scale <= 0:
            raise DicomError(
                f"{where}: Units CNTS without the Philips SUV scale factor (7053,1000) or "
                "activity concentration scale factor (7053,1009); counts cannot be converted"
            )
        activity_per_pixel = activity_scale
    assert injected_dose_bq is not None and decayed_dose_bq is not None
    assert half_life_s is not None and injection is not None
    if decay is not DecayCorrection.NONE:
        return activity_per_pixel * weight_kg * 1000.0 / decayed_dose_bq
    acquired = _acquisition_datetime(ds, where)
    if acquired is None:
        raise DicomError(
            f"{where}: DecayCorrection NONE needs the AcquisitionTime of every frame; missing"
        )
    decay_s = (acquired - injection).total_seconds()
    _check_decay_time(decay_s, half_life_s, "a frame's acquisition time", where)
    decay_constant = math.log(2.0) / half_life_s
    duration_s = _frame_duration_s(ds, where) or 0.0
    x = decay_constant * duration_s
    within_frame = x / (1.0 - math.exp(-x)) if x > 1e-12 else 1.0
    to_injection = math.exp(decay_constant * decay_s)
    return activity_per_pixel * weight_kg * 1000.0 / injected_dose_bq * within_frame * to_injection


__all__ = [
    "DecayCorrection",
    "ScanTimeRule",
    "SuvConversion",
    "SuvType",
    "Units",
    "parse_da",
    "parse_dt",
    "parse_tm",
    "suv_conversion",
]
