"""Lesion reads in the record, to and from the ``assess`` measurement table.

A read is one row of the measurement table (``tumorboard assess``): a lesion at
an exam, with its modality, role, status and numbers. In the record the
lesion is a :class:`~tumorboard.store.models.Lesion` (stable tracking UID,
organ, node or not), the read a :class:`~tumorboard.store.models.LesionRead`
and each number a :class:`~tumorboard.store.models.Measurement` kept exactly
as entered. Importing a table again changes only what differs, and every
change of a value is kept in the change log with who, when, old and new.

:func:`measurement_rows` gives the rows back in the table's own format, so the
criteria run on the record through the same parser as on a CSV file: one
reading of the table's rules, not two.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydicom.uid import generate_uid
from sqlalchemy import select
from sqlalchemy.orm import Session

from tumorboard.criteria.measurements_csv import (
    INFORMATIONAL_COLUMNS,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    parse_measurement_rows,
)
from tumorboard.errors import InputError
from tumorboard.imaging.input_limits import check_regular_file
from tumorboard.store.models import (
    ChangeLogEntry,
    Exam,
    Lesion,
    LesionRead,
    Measurement,
    Patient,
)
from tumorboard.store.workspace import Workspace
from tumorboard.workflow.dates import parse_iso_date

__all__ = ["NUMBER_COLUMNS", "ReadImportSummary", "import_reads_csv", "measurement_rows"]

#: Columns of the table that are numbers, with their unit (UCUM).
NUMBER_COLUMNS = {
    "longest_diameter_mm": "mm",
    "short_axis_mm": "mm",
    "mean_hu": "[hnsf'U]",
    "viable_diameter_mm": "mm",
    "sul_peak": "g/mL",
    "sul_sd": "g/mL",
    "slice_thickness_mm": "mm",
    "tlg_g": "g",
    "blood_pool_sul": "g/mL",
    "longest_diameter_3d_mm": "mm",
    "volume_ml": "mL",
    "hu_sd": "[hnsf'U]",
    "suv_max": "g/mL",
    "suv_mean": "g/mL",
    "adc_mean_um2_per_s": "um2/s",
    "adc_median_um2_per_s": "um2/s",
}

#: Text cells kept with the read besides modality, role and status.
_NOTE_COLUMNS = ("part_of", "intratumoral_nodule")
_ALL_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, *INFORMATIONAL_COLUMNS)


@dataclass
class ReadImportSummary:
    """What one table import changed."""

    patients: int = 0
    exams: int = 0
    lesions: int = 0
    reads: int = 0
    values_changed: int = 0

    def as_dict(self) -> dict[str, int]:
        """Plain JSON types."""
        return dict(vars(self))


def import_reads_csv(
    workspace: Workspace, table: Path, author: str, source: str = "imported"
) -> ReadImportSummary:
    """Import a measurement table (the ``assess`` format) into the record.

    The table is first parsed by the criteria's own reader, so a table the
    record accepts is one ``assess`` accepts (same rules, same messages).

    Parameters
    ----------
    workspace : Workspace
        The open workspace.
    table : Path
        The CSV file.
    author : str
        Who imports (kept with every read and change).
    source : {"imported", "manual", "automatic"}
        Where the values come from.

    Returns
    -------
    ReadImportSummary
    """
    check_regular_file(table, what="measurement table", error=InputError)
    with open(table, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        fields = list(reader.fieldnames or [])
    try:
        parse_measurement_rows(rows, fields)
    except InputError as exc:
        raise InputError(f"{table}: {exc}") from None
    summary = ReadImportSummary()
    with workspace.session() as session:
        _store_rows(session, rows, author, source, summary)
    return summary


def _store_rows(
    session: Session,
    rows: list[dict[str, str]],
    author: str,
    source: str,
    summary: ReadImportSummary,
) -> None:
    patients: dict[str, Patient] = {}
    for raw in rows:
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        patient = patients.get(row["patient_id"])
        if patient is None:
            patient = _patient(session, row["patient_id"], summary)
            patients[row["patient_id"]] = patient
        exam = _exam(session, patient, row, summary)
        lesion = _lesion(session, patient, row, summary)
        read = session.scalars(
            select(LesionRead).where(
                LesionRead.lesion_id == lesion.id, LesionRead.exam_id == exam.id
            )
        ).one_or_none()
        notes = {name: row[name] for name in _NOTE_COLUMNS if row.get(name)}
        if read is None:
            read = LesionRead(
                lesion_id=lesion.id,
                exam_id=exam.id,
                modality=row["modality"],
                role=row["role"],
                status=row["status"],
                notes=notes,
                source=source,
                author=author,
            )
            session.add(read)
            session.flush()
            summary.reads += 1
        else:
            for name, new in (
                ("modality", row["modality"]),
                ("role", row["role"]),
                ("status", row["status"]),
            ):
                if getattr(read, name) != new:
                    _log(session, "lesion_reads", read.id, name, getattr(read, name), new, author)
                    setattr(read, name, new)
                    summary.values_changed += 1
            if read.notes != notes:
                read.notes = notes
        _store_numbers(session, lesion, exam, row, author, source, summary)


def _patient(session: Session, key: str, summary: ReadImportSummary) -> Patient:
    patient = session.scalars(select(Patient).where(Patient.patient_key == key)).one_or_none()
    if patient is None:
        patient = Patient(patient_key=key)
        session.add(patient)
        session.flush()
        summary.patients += 1
    return patient


def _exam(
    session: Session, patient: Patient, row: Mapping[str, str], summary: ReadImportSummary
) -> Exam:
    exam_date = parse_iso_date(row["date"])
    assert exam_date is not None  # checked by the table parser
    label = row["timepoint"]
    candidates = list(
        session.scalars(
            select(Exam).where(Exam.patient_id == patient.id, Exam.exam_date == exam_date)
        )
    )
    for exam in candidates:
        if exam.label == label:
            return exam
    for exam in candidates:
        if exam.label == "":
            exam.label = label  # the imaging exam of that day gets the table's name
            return exam
    exam = Exam(patient_id=patient.id, exam_date=exam_date, label=label)
    session.add(exam)
    session.flush()
    summary.exams += 1
    return exam


def _lesion(
    session: Session, patient: Patient, row: Mapping[str, str], summary: ReadImportSummary
) -> Lesion:
    label = row["lesion_id"]
    lesion = session.scalars(
        select(Lesion).where(Lesion.patient_id == patient.id, Lesion.label == label)
    ).one_or_none()
    if lesion is None:
        lesion = Lesion(
            patient_id=patient.id,
            tracking_uid=generate_uid(),
            label=label,
            organ=row["organ"] or None,
            is_node=row["is_node"].lower() == "true",
            role=row["role"] or "reference",
        )
        session.add(lesion)
        session.flush()
        summary.lesions += 1
    return lesion


def _store_numbers(
    session: Session,
    lesion: Lesion,
    exam: Exam,
    row: Mapping[str, str],
    author: str,
    source: str,
    summary: ReadImportSummary,
) -> None:
    current = _latest_measurements(session, lesion.id, exam.id)
    for column, unit in NUMBER_COLUMNS.items():
        text = row.get(column, "")
        old = current.get(column)
        old_text = None if old is None else old.value_text
        if (text or None) == old_text:
            continue
        if old is not None:
            _log(session, "measurements", old.id, column, old_text, text or None, author)
            summary.values_changed += 1
        value = float(text) if text else None
        session.add(
            Measurement(
                lesion_id=lesion.id,
                exam_id=exam.id,
                quantity=column,
                value=value if value is None or math.isfinite(value) else None,
                value_text=text or None,
                unit=unit,
                source=source,
                author=author,
            )
        )


def _latest_measurements(session: Session, lesion_id: int, exam_id: int) -> dict[str, Measurement]:
    latest: dict[str, Measurement] = {}
    query = (
        select(Measurement)
        .where(Measurement.lesion_id == lesion_id, Measurement.exam_id == exam_id)
        .order_by(Measurement.id)
    )
    for measurement in session.scalars(query):
        latest[measurement.quantity] = measurement
    return latest


def _log(
    session: Session,
    table: str,
    row_id: int,
    field: str,
    old: str | None,
    new: str | None,
    author: str,
) -> None:
    session.add(
        ChangeLogEntry(
            table_name=table,
            row_id=row_id,
            field=field,
            old_value=old,
            new_value=new,
            author=author,
        )
    )


def measurement_rows(session: Session, patient: Patient) -> tuple[list[dict[str, str]], list[str]]:
    """The patient's reads as rows of the ``assess`` measurement table.

    Returns
    -------
    rows, fields : list of dict, list of str
        Rows in exam-date order (lesions by label within an exam), and the
        columns, ready for
        :func:`~tumorboard.criteria.measurements_csv.parse_measurement_rows`.
    """
    query = (
        select(LesionRead, Lesion, Exam)
        .join(Lesion, LesionRead.lesion_id == Lesion.id)
        .join(Exam, LesionRead.exam_id == Exam.id)
        .where(Lesion.patient_id == patient.id)
        .order_by(Exam.exam_date, Exam.id, Lesion.label)
    )
    rows: list[dict[str, str]] = []
    used: set[str] = set(REQUIRED_COLUMNS)
    for read, lesion, exam in session.execute(query):
        row = {
            "patient_id": patient.patient_key,
            "timepoint": exam.label,
            "date": exam.exam_date.isoformat(),
            "modality": read.modality,
            "lesion_id": lesion.label,
            "organ": lesion.organ or "",
            "role": read.role,
            "is_node": "true" if lesion.is_node else "false",
            "status": read.status,
        }
        for column, measurement in _latest_measurements(session, lesion.id, exam.id).items():
            if measurement.value_text is not None:
                row[column] = measurement.value_text
                used.add(column)
        for name, value in (read.notes or {}).items():
            row[name] = value
            used.add(name)
        rows.append(row)
    fields = [c for c in _ALL_COLUMNS if c in used]
    return [{c: row.get(c, "") for c in fields} for row in rows], fields
