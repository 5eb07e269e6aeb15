"""The measurement-table contract: one CSV row per lesion per timepoint.

Required columns::

    patient_id, timepoint, date, modality, lesion_id, organ, role, is_node,
    longest_diameter_mm, short_axis_mm, mean_hu, viable_diameter_mm,
    sul_peak, status

Optional columns: ``sul_sd`` (liver-reference SD), ``blood_pool_sul``
(liver-reference row: blood-pool SUL mean, needed for PERCIST CMR),
``slice_thickness_mm``, ``part_of`` (split/merged lesions),
``intratumoral_nodule`` (true|false), ``tlg_g``; and informational columns
written by ``tumorboard measure`` (:data:`INFORMATIONAL_COLUMNS`), carried but
not used by the criteria.
Any other column is an error (a misspelt column would otherwise be ignored).

An empty cell means "not applicable". ``date`` is ISO ``YYYY-MM-DD``;
``role`` is ``target``, ``non-target`` or ``new``; ``status`` is one of
``present, absent, too-small, not-evaluated, unequivocal-progression,
equivocal``. The PERCIST liver reference is a row with ``lesion_id``
``liver-reference`` whose ``sul_peak`` is the liver SUL mean (role and
status may be empty); its optional ``blood_pool_sul`` is the blood-pool SUL
mean of the same scan (PERCIST CMR needs every lesion below the liver mean
and at or below the blood pool; without it a scan is never CMR).

PET lesions: a row whose ``modality`` starts with ``pet`` (``pet-fdg``,
``pet-dotatate``, or plain ``pet``) and that has a ``sul_peak`` but no
``longest_diameter_mm`` or ``short_axis_mm`` is a PET-only reading. With role
``target`` it is a PERCIST target: list the hottest lesions of each scan
(at most 5, 2 per organ); their ids need not recur at other scans, since
PERCIST compares the hottest lesion of each scan. Size-based criteria
(RECIST 1.1, iRECIST, Choi, mRECIST) ignore PET-only lesions and report NE
when nothing else is measurable. A lesion first seen at follow-up and typical
of tumour has role ``new`` (PERCIST PMD).

Each patient needs exactly one baseline timepoint, recognised by its label
(``baseline``, ``BL``, ``screening``, ``T0``, ``week 0`` ...; see
:data:`BASELINE_LABELS`). Without such a label the patient's first timepoint
(in row order) is the baseline, unless its label names a follow-up
(``week 12``, ``FU1``, ``cycle 3``, ``month 6`` ...): then the baseline is
missing and that is an error. Follow-ups come in the order of their first row
and their dates must increase. A timepoint labelled ``pre-baseline`` is a
pre-treatment scan used only for growth rates.

Row numbers in errors count the header as row 1 (as a spreadsheet shows).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path

from tumorboard.criteria.decimal_math import to_decimal
from tumorboard.criteria.records import (
    LIVER_REFERENCE_ID,
    PRE_BASELINE_LABEL,
    LesionMeasurement,
    LesionRole,
    LesionStatus,
    PatientSeries,
    Timepoint,
)
from tumorboard.errors import InputError

REQUIRED_COLUMNS = (
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
OPTIONAL_COLUMNS = (
    "sul_sd",
    "slice_thickness_mm",
    "part_of",
    "intratumoral_nodule",
    "tlg_g",
    "blood_pool_sul",
)
INFORMATIONAL_COLUMNS = (
    "longest_diameter_3d_mm",
    "volume_ml",
    "hu_sd",
    "suv_max",
    "suv_mean",
    "adc_mean_um2_per_s",
    "adc_median_um2_per_s",
)
_DECIMAL_COLUMNS = (
    "longest_diameter_mm",
    "short_axis_mm",
    "mean_hu",
    "viable_diameter_mm",
    "sul_peak",
    "sul_sd",
    "slice_thickness_mm",
    "tlg_g",
    "blood_pool_sul",
    "suv_max",
)
#: Largest magnitude of any measurement (mm, HU, SUL, g): a metre-long lesion is
#: already impossible; beyond, a value is a typing or export error.
MAX_MEASUREMENT_MAGNITUDE = 1_000_000
#: Most significant digits of a measurement (a spreadsheet's float export has 17).
MAX_SIGNIFICANT_DIGITS = 20
_BOOLEANS = {
    "true": True,
    "false": False,
    "": False,
    "yes": True,
    "no": False,
    "1": True,
    "0": False,
}
#: Timepoint labels (lower case, letters and digits only) that name the baseline.
BASELINE_LABELS = frozenset(
    {
        "baseline",
        "bl",
        "base",
        "screening",
        "pretreatment",
        "t0",
        "tp0",
        "week0",
        "w0",
        "day0",
        "visit0",
        "v0",
    }
)
#: The one number syntax of the table: ASCII digits, optional sign, point and exponent.
_ASCII_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_ROLES = {role.value: role for role in LesionRole}
_STATUSES = {status.value: status for status in LesionStatus}


def read_measurements_csv(path: str | os.PathLike[str]) -> list[PatientSeries]:
    """Read a measurement table into one :class:`PatientSeries` per patient.

    Parameters
    ----------
    path : path-like
        The CSV file.

    Returns
    -------
    list of PatientSeries
        In order of first appearance.

    Raises
    ------
    InputError
        Naming the file, the row and the broken rule.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"measurements {path}: file not found")
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            fields = reader.fieldnames
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"measurements {path}: not a readable UTF-8 CSV file ({exc})") from None
    if fields is None:
        raise InputError(f"measurements {path}: empty file, expected a header row")
    try:
        return parse_measurement_rows(rows, fields)
    except InputError as exc:
        raise InputError(f"measurements {path}: {exc}") from None


def parse_measurement_rows(
    rows: Iterable[Mapping[str, str | None]], fields: Iterable[str]
) -> list[PatientSeries]:
    """Parse already-split CSV rows (dicts keyed by column) into patient series.

    Parameters
    ----------
    rows : iterable of mapping
        Data rows; the first is spreadsheet row 2.
    fields : iterable of str
        The header.

    Returns
    -------
    list of PatientSeries

    Raises
    ------
    InputError
        With the row number and rule.
    """
    header = [f.strip() for f in fields]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(f"row 1: missing column(s) {', '.join(missing)}")
    allowed = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS) | set(INFORMATIONAL_COLUMNS)
    unknown = [c for c in header if c not in allowed]
    if unknown:
        raise InputError(f"row 1: unknown column(s) {', '.join(unknown)}")
    patients: dict[str, dict[str, tuple[dt.date, int, list[LesionMeasurement]]]] = {}
    count = 0
    for row_number, raw in enumerate(rows, start=2):
        count += 1
        if None in raw:
            raise InputError(f"row {row_number}: more cells than header columns")
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        patient_id = _required(row, "patient_id", row_number)
        label = _required(row, "timepoint", row_number)
        date = _date(row["date"], row_number)
        measurement = _measurement(row, row_number)
        timepoints = patients.setdefault(patient_id, {})
        entry = timepoints.get(label)
        if entry is None:
            timepoints[label] = (date, row_number, [measurement])
        else:
            if entry[0] != date:
                raise InputError(
                    f"row {row_number}: timepoint {label!r} has two different dates "
                    f"(first given in row {entry[1]})"
                )
            entry[2].append(measurement)
    if count == 0:
        raise InputError("row 2: no data rows")
    result: list[PatientSeries] = []
    for patient_id, timepoints in patients.items():
        baseline_labels = [label for label in timepoints if is_baseline_label(label)]
        if not baseline_labels:
            first_label = (
                next(label for label in timepoints if label.lower() != PRE_BASELINE_LABEL)
                if any(label.lower() != PRE_BASELINE_LABEL for label in timepoints)
                else None
            )
            if first_label is None or is_follow_up_label(first_label):
                first_row = min(entry[1] for entry in timepoints.values())
                shown = (
                    f"the first timepoint {first_label!r} is a follow-up and "
                    if first_label
                    else ""
                )
                raise InputError(
                    f"row {first_row}: no baseline: {shown}none of the patient's timepoints "
                    f"is labelled as one ({', '.join(sorted(BASELINE_LABELS)[:4])}, ...)"
                )
            baseline_labels = [first_label]
        if len(baseline_labels) > 1:
            second = timepoints[baseline_labels[1]][1]
            raise InputError(
                f"row {second}: two baseline timepoints ({baseline_labels[0]!r} and "
                f"{baseline_labels[1]!r})"
            )
        ordered: list[Timepoint] = []
        pre_baseline: Timepoint | None = None
        for label, (date, _, measurements) in timepoints.items():
            timepoint = Timepoint(label=label, date=date, measurements=tuple(measurements))
            if label.lower() == PRE_BASELINE_LABEL:
                pre_baseline = timepoint
            elif label == baseline_labels[0]:
                ordered.insert(0, timepoint)
            else:
                ordered.append(timepoint)
        result.append(
            PatientSeries(
                patient_id=patient_id, timepoints=tuple(ordered), pre_baseline=pre_baseline
            )
        )
    return result


def is_baseline_label(label: str) -> bool:
    """Whether a timepoint label names the baseline (``baseline``, ``BL``, ``screening`` ...)."""
    text = "".join(ch for ch in label.lower() if ch.isalnum())
    return text in BASELINE_LABELS or text.startswith("baseline")


_FOLLOW_UP_LABEL = re.compile(
    r"^(?:(?:week|wk|w|month|mo|m|day|d|fu|followup|follow|post|restaging)\d*[1-9]\d*"
    r"|(?:cycle|c)(?:[2-9]|\d{2,})(?:d\d+)?"
    r"|fu|followup|nadir|progression|posttreatment)$"
)


def is_follow_up_label(label: str) -> bool:
    """Whether a timepoint label names a follow-up (``week 12``, ``FU1``, ``cycle 3`` ...)."""
    text = "".join(ch for ch in label.lower() if ch.isalnum())
    return bool(_FOLLOW_UP_LABEL.match(text))


def _required(row: Mapping[str, str], column: str, row_number: int) -> str:
    value = row.get(column, "")
    if not value:
        raise InputError(f"row {row_number}: {column} must not be empty")
    return value


def _date(text: str, row_number: int) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"row {row_number}: date must be ISO YYYY-MM-DD; got {text!r}") from None


def _measurement(row: Mapping[str, str], row_number: int) -> LesionMeasurement:
    lesion_id = _required(row, "lesion_id", row_number)
    modality = _required(row, "modality", row_number).lower()
    liver = lesion_id == LIVER_REFERENCE_ID
    role_text = row["role"].lower()
    status_text = row["status"].lower()
    if liver:
        role_text = role_text or LesionRole.NON_TARGET.value
        status_text = status_text or LesionStatus.PRESENT.value
    role = _ROLES.get(role_text)
    if role is None:
        raise InputError(
            f"row {row_number}: role must be one of {', '.join(_ROLES)}; got {row['role']!r}"
        )
    status = _STATUSES.get(status_text)
    if status is None:
        raise InputError(
            f"row {row_number}: status must be one of {', '.join(_STATUSES)}; got {row['status']!r}"
        )
    numbers: dict[str, Decimal | None] = {}
    for column in _DECIMAL_COLUMNS:
        text = row.get(column, "")
        if text:
            name = f"row {row_number}: {column}"
            numbers[column] = _plausible(to_decimal(text, name), text, name)
            if not _ASCII_DECIMAL.fullmatch(text):  # Decimal() also takes "١٢" and "1_000"
                raise InputError(f"{name}: expected an ASCII decimal number, got {text[:40]!r}")
        else:
            numbers[column] = None
    if liver and numbers["sul_peak"] is None:
        raise InputError(
            f"row {row_number}: the liver-reference row needs sul_peak (the liver SUL mean)"
        )
    part_of = row.get("part_of", "") or None
    return LesionMeasurement(
        lesion_id=lesion_id,
        organ=row["organ"],
        role=role,
        is_node=_boolean(row, "is_node", row_number),
        status=status,
        modality=modality,
        longest_diameter_mm=numbers["longest_diameter_mm"],
        short_axis_mm=numbers["short_axis_mm"],
        mean_hu=numbers["mean_hu"],
        viable_diameter_mm=numbers["viable_diameter_mm"],
        sul_peak=numbers["sul_peak"],
        sul_sd=numbers["sul_sd"],
        slice_thickness_mm=numbers["slice_thickness_mm"],
        part_of=part_of,
        intratumoral_nodule=_boolean(row, "intratumoral_nodule", row_number),
        tlg_g=numbers["tlg_g"],
        row=row_number,
        blood_pool_sul=numbers["blood_pool_sul"],
        suv_max=numbers["suv_max"],
    )


def _plausible(value: Decimal, text: str, name: str) -> Decimal:
    """Refuse absurd magnitudes and precision (``1e999999``, 38-digit diameters) in one line."""
    sign, digits, exponent = value.as_tuple()
    if (
        abs(value) > MAX_MEASUREMENT_MAGNITUDE
        or len(digits) > MAX_SIGNIFICANT_DIGITS
        or not isinstance(exponent, int)
        or abs(exponent) > MAX_SIGNIFICANT_DIGITS
    ):
        raise InputError(
            f"{name}: {text[:40]!r} is outside the accepted range (magnitude at most "
            f"{MAX_MEASUREMENT_MAGNITUDE}, at most {MAX_SIGNIFICANT_DIGITS} significant digits "
            "and decimals)"
        )
    return value


def _boolean(row: Mapping[str, str], column: str, row_number: int) -> bool:
    text = row.get(column, "").lower()
    value = _BOOLEANS.get(text)
    if value is None:
        raise InputError(f"row {row_number}: {column} must be true or false; got {text!r}")
    return value
