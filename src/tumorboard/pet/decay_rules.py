"""Dose, half-life, injection and scan times of a PET series (QIBA rules).

One concept: the decay facts that turn an injected dose into the activity at
the image's decay reference time. :func:`dose_timing` applies the rules:

* Dose: RadionuclideTotalDose; a value below :data:`MBQ_DOSE_LIMIT` is taken
  as MBq (real doses in Bq are >= 1e6).
* Half-life: RadionuclideHalfLife, else from the radionuclide code
  (:mod:`tumorboard.pet.radionuclides`); never guessed.
* Injection: RadiopharmaceuticalStartDateTime, else
  RadiopharmaceuticalStartTime on the SeriesDate, moved back one day when
  that would follow the scan (midnight crossing).
* Scan time: SeriesDateTime unless it is after the earliest acquisition time
  (a post-processed series); then the GE private scan time (0009,100D); then
  back-computed from FrameReferenceTime, only when it and
  ActualFrameDuration are positive; then the earliest acquisition time.
* Decay: START and NONE decay the dose to the scan time; ADMIN does not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydicom.dataset import Dataset
from pydicom.tag import Tag

from tumorboard.errors import DicomError
from tumorboard.pet.dicom_time import parse_da, parse_dt, parse_tm
from tumorboard.pet.header_values import (
    acquisition_datetime,
    frame_duration_s,
    header_datetime,
    header_float,
    header_value,
)
from tumorboard.pet.radionuclides import radionuclide_from_code
from tumorboard.pet.suv_scaling import DecayCorrection, ScanTimeRule

#: GE private scan date-time (GEMS_PETD_01), used for post-processed series.
GE_SCAN_DATETIME_TAG = Tag(0x0009, 0x100D)
#: A RadionuclideTotalDose below this is in MBq, at or above it in Bq.
MBQ_DOSE_LIMIT = 1e5
#: Decay times beyond this many half-lives are taken as a date error.
MAX_HALF_LIVES = 20.0


@dataclass(frozen=True)
class DoseTiming:
    """The decay facts of one PET series.

    Attributes
    ----------
    injected_dose_bq : float
        RadionuclideTotalDose in Bq.
    half_life_s : float
        Radionuclide half-life.
    radionuclide : str
        Code meaning or symbol, for display ("" when only the half-life is given).
    injection : datetime
        Injection date-time (midnight crossing resolved).
    scan : datetime
        Decay-reference scan time.
    scan_time_rule : ScanTimeRule
        Which rule gave ``scan``.
    decayed_dose_bq : float
        The dose at the image's decay reference (the scan time for START and
        NONE, the injection for ADMIN).
    """

    injected_dose_bq: float
    half_life_s: float
    radionuclide: str
    injection: datetime
    scan: datetime
    scan_time_rule: ScanTimeRule
    decayed_dose_bq: float


def dose_timing(
    first: Dataset, datasets: Sequence[Dataset], decay: DecayCorrection, where: str
) -> DoseTiming:
    """Apply the dose, half-life and time rules to a series' headers.

    Parameters
    ----------
    first : pydicom.Dataset
        A slice carrying the series-level attributes (radiopharmaceutical
        sequence, series date and time, GE private scan time).
    datasets : sequence of pydicom.Dataset
        Slices whose acquisition times are searched for the earliest one
        (one per distinct set of per-slice attributes is enough).
    decay : DecayCorrection
        The series' DecayCorrection.
    where : str
        Name of the series in messages.

    Raises
    ------
    DicomError
        If the radiopharmaceutical sequence, the dose, the half-life (and a
        radionuclide code) or the injection or scan times are missing or
        invalid, or the scan is before the injection or implausibly late.
    """
    item = radiopharmaceutical(first, where)
    injected_dose_bq = dose_bq(item, where)
    half_life, label = half_life_s(item, where)
    injection, time_only = injection_datetime(item, first, where)
    scan, rule = scan_datetime(first, datasets, half_life, where)
    if time_only and injection > scan:
        injection -= timedelta(days=1)  # injection before midnight, scan after
    decay_s = (scan - injection).total_seconds()
    if decay is DecayCorrection.ADMIN:
        decayed = injected_dose_bq
    else:
        check_decay_time(decay_s, half_life, "the scan time", where)
        decayed = injected_dose_bq * math.exp(-math.log(2.0) * decay_s / half_life)
    return DoseTiming(injected_dose_bq, half_life, label, injection, scan, rule, decayed)


def average_count_time_s(decay_constant_per_s: float, duration_s: float) -> float:
    """Time after frame start at which the count rate equals the frame average."""
    x = decay_constant_per_s * duration_s
    if x < 1e-9:
        return duration_s / 2.0
    return math.log(x / (1.0 - math.exp(-x))) / decay_constant_per_s


def radiopharmaceutical(first: Dataset, where: str) -> Dataset:
    """The first item of RadiopharmaceuticalInformationSequence (0054,0016).

    Raises
    ------
    DicomError
        If the sequence is missing or empty.
    """
    sequence = header_value(first, "RadiopharmaceuticalInformationSequence")
    if not sequence:
        raise DicomError(
            f"{where}: RadiopharmaceuticalInformationSequence (0054,0016) is missing; "
            "no injected dose, half-life or injection time"
        )
    item: Dataset = sequence[0]
    return item


def half_life_s(item: Dataset, where: str) -> tuple[float, str]:
    """RadionuclideHalfLife, else the half-life of the coded radionuclide; and its label.

    Raises
    ------
    DicomError
        If neither a positive half-life nor a known radionuclide code is given.
    """
    half_life = header_float(item, "RadionuclideHalfLife", where)
    label = ""
    codes = header_value(item, "RadionuclideCodeSequence")
    code_item = codes[0] if codes else None
    if code_item is not None:
        label = str(header_value(code_item, "CodeMeaning") or "")
    if half_life is not None and half_life > 0:
        return half_life, label
    if code_item is None:
        raise DicomError(
            f"{where}: RadionuclideHalfLife (0018,1075) is missing and there is no "
            "RadionuclideCodeSequence to identify the radionuclide"
        )
    nuclide = radionuclide_from_code(
        str(header_value(code_item, "CodeValue") or ""),
        str(header_value(code_item, "CodingSchemeDesignator") or ""),
        label,
    )
    return nuclide.half_life_s, label or nuclide.symbol


def dose_bq(item: Dataset, where: str) -> float:
    """RadionuclideTotalDose in Bq (a value below :data:`MBQ_DOSE_LIMIT` is MBq).

    Raises
    ------
    DicomError
        If the dose is missing or not positive.
    """
    dose = header_float(item, "RadionuclideTotalDose", where)
    if dose is None:
        raise DicomError(f"{where}: RadionuclideTotalDose (0018,1074) is missing")
    if dose <= 0:
        raise DicomError(f"{where}: RadionuclideTotalDose must be positive, got {dose}")
    return dose * 1e6 if dose < MBQ_DOSE_LIMIT else dose


def injection_datetime(item: Dataset, first: Dataset, where: str) -> tuple[datetime, bool]:
    """The injection time and whether it came from a time without a date.

    Raises
    ------
    DicomError
        If neither start date-time nor start time (with a series date) is given.
    """
    start = header_value(item, "RadiopharmaceuticalStartDateTime")
    if start is not None:
        return parse_dt(start, f"{where}: RadiopharmaceuticalStartDateTime"), False
    clock = header_value(item, "RadiopharmaceuticalStartTime")
    if clock is None:
        raise DicomError(
            f"{where}: injection time is missing (neither RadiopharmaceuticalStartDateTime "
            "nor RadiopharmaceuticalStartTime)"
        )
    day = header_value(first, "SeriesDate") or header_value(first, "AcquisitionDate")
    if day is None:
        raise DicomError(f"{where}: RadiopharmaceuticalStartTime given but SeriesDate is missing")
    return (
        datetime.combine(
            parse_da(day, f"{where}: SeriesDate"),
            parse_tm(clock, f"{where}: RadiopharmaceuticalStartTime"),
        ),
        True,
    )


def scan_datetime(
    first: Dataset, datasets: Sequence[Dataset], half_life: float, where: str
) -> tuple[datetime, ScanTimeRule]:
    """The decay-reference scan time and the rule that gave it (see the module notes).

    Raises
    ------
    DicomError
        If there is neither a series time nor any acquisition time.
    """
    acquisitions = [acquisition_datetime(ds, where) for ds in datasets]
    known = [(t, ds) for t, ds in zip(acquisitions, datasets, strict=True) if t is not None]
    series = header_datetime(first, "SeriesDate", "SeriesTime", where)
    if not known:
        if series is None:
            raise DicomError(f"{where}: scan time is missing (no SeriesTime, no AcquisitionTime)")
        return series, ScanTimeRule.SERIES_TIME
    earliest, earliest_ds = min(known, key=lambda pair: pair[0])
    if series is not None and series <= earliest:
        return series, ScanTimeRule.SERIES_TIME
    ge_value = header_value(first, GE_SCAN_DATETIME_TAG)
    if ge_value is not None:
        return parse_dt(str(ge_value), f"{where}: GE private scan time"), ScanTimeRule.GE_PRIVATE
    frame_reference_ms = header_float(earliest_ds, "FrameReferenceTime", where)
    duration_s = frame_duration_s(earliest_ds, where)
    if frame_reference_ms and frame_reference_ms > 0 and duration_s and duration_s > 0:
        decay_constant = math.log(2.0) / half_life
        average_s = average_count_time_s(decay_constant, duration_s)
        scan = earliest + timedelta(seconds=average_s - frame_reference_ms / 1000.0)
        return scan, ScanTimeRule.FRAME_REFERENCE
    return earliest, ScanTimeRule.EARLIEST_ACQUISITION


def check_decay_time(decay_s: float, half_life: float, what: str, where: str) -> None:
    """Refuse a time before the injection or more than :data:`MAX_HALF_LIVES` after it.

    Raises
    ------
    DicomError
        Naming ``what`` and the offending interval.
    """
    if decay_s < 0:
        raise DicomError(
            f"{where}: {what} is {-decay_s:.0f} s before the injection; check the dates and times"
        )
    if decay_s > MAX_HALF_LIVES * half_life:
        raise DicomError(
            f"{where}: {what} is {decay_s:.0f} s after the injection, more than "
            f"{MAX_HALF_LIVES:g} half-lives; check the dates and times"
        )


__all__ = [
    "GE_SCAN_DATETIME_TAG",
    "MAX_HALF_LIVES",
    "MBQ_DOSE_LIMIT",
    "DoseTiming",
    "average_count_time_s",
    "check_decay_time",
    "dose_bq",
    "dose_timing",
    "half_life_s",
    "injection_datetime",
    "radiopharmaceutical",
    "scan_datetime",
]
