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
reading of the table's rules, not two. When a quantity has several values at
one exam, :func:`current_measurements` chooses: a reader's value (typed with
``tumorboard lesion`` or imported from a table) beats one ``tumorboard run``
imported from a DICOM SR, which beats an automatic one (measured from a SEG
or RTSTRUCT); values of a superseded analysis are kept but not used. Rows
whose ``part_of`` names another lesion also set the lesions' lineage (split,
merged; :func:`sync_lineage`), as ``tumorboard lesion split`` and ``merge`` do
(:mod:`tumorboard.workflow.lesion_edits`).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

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
    Analysis,
    ChangeLogEntry,
    Exam,
    Lesion,
    LesionRead,
    Measurement,
    Patient,
)
from tumorboard.store.workspace import Workspace
from tumorboard.workflow.dates import parse_iso_date

__all__ = [
    "NUMBER_COLUMNS",
    "READER_RANK",
    "ReadImportSummary",
    "current_measurements",
    "import_reads_csv",
    "measurement_rows",
    "source_rank",
    "sync_lineage",
    "timepoint_label",
]

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
    """Store the rows patient by patient: a few queries and two flushes per patient.

    Each patient's exams, lesions, reads and latest measurements are loaded
    once, new exams and lesions are flushed together (for their ids), and the
    reads and values follow in one flush.
    """
    by_patient: dict[str, list[dict[str, str]]] = {}
    for raw in rows:
        row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        by_patient.setdefault(row["patient_id"], []).append(row)
    with session.no_autoflush:
        for key, patient_rows in by_patient.items():
            patient = _patient(session, key, summary)
            _store_patient_rows(session, patient, patient_rows, author, source, summary)
            session.flush()
            sync_lineage(session, patient, author)


def _store_patient_rows(
    session: Session,
    patient: Patient,
    rows: list[dict[str, str]],
    author: str,
    source: str,
    summary: ReadImportSummary,
) -> None:
    exams_by_date: dict[object, list[Exam]] = {}
    for exam in session.scalars(
        select(Exam).where(Exam.patient_id == patient.id).order_by(Exam.id)
    ):
        exams_by_date.setdefault(exam.exam_date, []).append(exam)
    lesions = {
        lesion.label: lesion
        for lesion in session.scalars(select(Lesion).where(Lesion.patient_id == patient.id))
    }
    resolved: list[tuple[dict[str, str], Exam, Lesion]] = []
    for row in rows:
        exam = _exam(session, patient, row, exams_by_date, summary)
        lesion = lesions.get(row["lesion_id"])
        if lesion is None:
            lesion = _new_lesion(session, patient, row, summary)
            lesions[lesion.label] = lesion
        resolved.append((row, exam, lesion))
    session.flush()  # ids of the new exams and lesions
    lesion_ids = [lesion.id for lesion in lesions.values()]
    reads = {
        (read.lesion_id, read.exam_id): read
        for read in session.scalars(select(LesionRead).where(LesionRead.lesion_id.in_(lesion_ids)))
    }
    latest: dict[tuple[int, int, str], Measurement] = {}
    for measurement in session.scalars(
        select(Measurement).where(Measurement.lesion_id.in_(lesion_ids)).order_by(Measurement.id)
    ):  # values not of a 'run' analysis: run's values are kept beside them, never replaced
        if measurement.analysis_id is None:
            latest[(measurement.lesion_id, measurement.exam_id, measurement.quantity)] = measurement
    for row, exam, lesion in resolved:
        read = reads.get((lesion.id, exam.id))
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
            reads[(lesion.id, exam.id)] = read
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
        current = {
            column: latest[(lesion.id, exam.id, column)]
            for column in NUMBER_COLUMNS
            if (lesion.id, exam.id, column) in latest
        }
        _store_numbers(session, lesion, exam, row, author, source, summary, current)


def _patient(session: Session, key: str, summary: ReadImportSummary) -> Patient:
    patient = session.scalars(select(Patient).where(Patient.patient_key == key)).one_or_none()
    if patient is None:
        patient = Patient(patient_key=key)
        session.add(patient)
        session.flush()
        summary.patients += 1
    return patient


def _exam(
    session: Session,
    patient: Patient,
    row: Mapping[str, str],
    exams_by_date: dict[object, list[Exam]],
    summary: ReadImportSummary,
) -> Exam:
    exam_date = parse_iso_date(row["date"])
    assert exam_date is not None  # checked by the table parser
    label = row["timepoint"]
    candidates = exams_by_date.setdefault(exam_date, [])
    for exam in candidates:
        if exam.label == label:
            return exam
    for exam in candidates:
        if exam.label == "":
            exam.label = label  # the imaging exam of that day gets the table's name
            return exam
    exam = Exam(patient_id=patient.id, exam_date=exam_date, label=label)
    session.add(exam)
    candidates.append(exam)
    summary.exams += 1
    return exam


def _new_lesion(
    session: Session, patient: Patient, row: Mapping[str, str], summary: ReadImportSummary
) -> Lesion:
    lesion = Lesion(
        patient_id=patient.id,
        tracking_uid=_new_uid(),
        label=row["lesion_id"],
        organ=row["organ"] or None,
        is_node=row["is_node"].lower() == "true",
        role=row["role"] or "reference",
    )
    session.add(lesion)
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
    current: Mapping[str, Measurement],
) -> None:
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


def timepoint_label(exam: Exam) -> str:
    """The exam's name in the measurement table: its label, or its ISO date when unnamed.

    An exam made by ``tumorboard import`` has no label until a read names it;
    the table needs one, and the date is unique among the patient's exams.

    Examples
    --------
    >>> import datetime as dt
    >>> timepoint_label(Exam(exam_date=dt.date(2024, 3, 4), label="week 8"))
    'week 8'
    >>> timepoint_label(Exam(exam_date=dt.date(2024, 3, 4), label=""))
    '2024-03-04'
    """
    return exam.label or exam.exam_date.isoformat()


#: Rank of a reader's value (``source_rank``): typed, or imported from a table.
READER_RANK = 2


def source_rank(source: str, analysis_id: int | None) -> int:
    """Rank of a value's source: the highest rank with a value is the one used.

    A reader's value (``manual``, or ``imported`` from a measurement table,
    which has no analysis) ranks 2; a value ``tumorboard run`` imported from a
    DICOM SR (``imported`` with an analysis) 1; an ``automatic`` value
    (measured by ``run`` from a SEG or RTSTRUCT, or imported as automatic) 0.

    Examples
    --------
    >>> source_rank("manual", None), source_rank("imported", None)
    (2, 2)
    >>> source_rank("imported", 7), source_rank("automatic", 7)
    (1, 0)
    """
    if source == "automatic":
        return 0
    if source == "imported" and analysis_id is not None:
        return 1
    return READER_RANK


def current_measurements(
    session: Session, lesion_ids: Sequence[int], quantities: Sequence[str] | None = None
) -> dict[tuple[int, int, str], Measurement]:
    """The value used for each lesion, exam and quantity, among all those kept.

    Every value stays in the record (a manual value never replaces an
    automatic one, nor the reverse); the one used is the newest of the
    highest :func:`source_rank` that holds a value, so a reader's value
    always wins over ``run``'s, and ``run``'s fills a quantity the reader left
    empty. Values of an analysis that is no longer ``done`` (superseded by a
    newer analysis of a changed SEG, RTSTRUCT or SR) are not used.

    Parameters
    ----------
    session : Session
    lesion_ids : sequence of int
    quantities : sequence of str, optional
        Only these quantities.

    Returns
    -------
    dict
        ``(lesion_id, exam_id, quantity)`` to the :class:`Measurement` used
        (its ``value_text`` is None when the newest value was cleared).
    """
    query = (
        select(Measurement, Analysis.status)
        .outerjoin(Analysis, Analysis.id == Measurement.analysis_id)
        .where(Measurement.lesion_id.in_(list(lesion_ids)))
        .order_by(Measurement.id)
    )
    if quantities is not None:
        query = query.where(Measurement.quantity.in_(list(quantities)))
    newest: dict[tuple[int, int, str], dict[int, Measurement]] = {}
    for measurement, status in session.execute(query):
        if measurement.analysis_id is not None and status != "done":
            continue  # a superseded analysis: kept for provenance, not used
        key = (measurement.lesion_id, measurement.exam_id, measurement.quantity)
        newest.setdefault(key, {})[source_rank(measurement.source, measurement.analysis_id)] = (
            measurement
        )
    chosen: dict[tuple[int, int, str], Measurement] = {}
    for key, by_rank in newest.items():
        ranked = [by_rank[rank] for rank in sorted(by_rank, reverse=True)]
        chosen[key] = next((m for m in ranked if m.value_text is not None), ranked[0])
    return chosen


def measurement_rows(session: Session, patient: Patient) -> tuple[list[dict[str, str]], list[str]]:
    """The patient's reads as rows of the ``assess`` measurement table.

    Besides the stored reads, the rows carry what the lesion history implies
    (so that split and merged lesions are assessed as the table describes
    them, ``part_of``):

    * a lesion merged into another (status ``merged``) gets, at every later
      exam where the lesion it was merged into is read and it has no read of
      its own, a row ``absent`` with ``part_of`` naming that lesion (it counts
      0 mm; without a row it would be a missing target and make the exam NE);
    * a fragment of a split lesion gets, at a later exam where its siblings
      are read but it and its parent are not, a row ``not-evaluated`` (an
      unread fragment leaves the sum unknown, never smaller).

    Only quantities that are columns of the table are written; other
    quantities kept in the record (``lesion measure --quantity``) are not the
    criteria's.

    Returns
    -------
    rows, fields : list of dict, list of str
        Rows in exam-date order (lesions by label within an exam), and the
        columns, ready for
        :func:`~tumorboard.criteria.measurements_csv.parse_measurement_rows`.
    """
    lesions = {
        lesion.id: lesion
        for lesion in session.scalars(select(Lesion).where(Lesion.patient_id == patient.id))
    }
    used: set[str] = set(REQUIRED_COLUMNS)
    if not lesions:
        return [], [c for c in _ALL_COLUMNS if c in used]
    reads: dict[tuple[int, int], LesionRead] = {}
    exams: dict[int, Exam] = {}
    query = (
        select(LesionRead, Exam)
        .join(Exam, LesionRead.exam_id == Exam.id)
        .where(LesionRead.lesion_id.in_(list(lesions)))
    )
    for read, exam in session.execute(query):
        reads[(read.lesion_id, read.exam_id)] = read
        exams[exam.id] = exam
    values: dict[tuple[int, int], dict[str, str | None]] = {}
    chosen = current_measurements(session, list(lesions), list(NUMBER_COLUMNS))
    for (lesion_id, exam_id, quantity), measurement in chosen.items():
        values.setdefault((lesion_id, exam_id), {})[quantity] = measurement.value_text
    entries: list[tuple[Exam, Lesion, LesionRead | None, dict[str, str]]] = [
        (exams[exam_id], lesions[lesion_id], read, {})
        for (lesion_id, exam_id), read in reads.items()
    ]
    entries.extend(_implied_rows(lesions, reads, exams))
    entries.sort(key=lambda e: (e[0].exam_date, e[0].id, e[1].label))
    rows: list[dict[str, str]] = []
    for exam, lesion, stored, implied in entries:
        row = {
            "patient_id": patient.patient_key,
            "timepoint": timepoint_label(exam),
            "date": exam.exam_date.isoformat(),
            "lesion_id": lesion.label,
            "organ": lesion.organ or "",
            "is_node": "true" if lesion.is_node else "false",
        }
        if stored is None:
            row.update(implied)
        else:
            row.update(modality=stored.modality, role=stored.role, status=stored.status)
            for column, text in values.get((lesion.id, exam.id), {}).items():
                if text is not None:
                    row[column] = text
            row.update(stored.notes or {})
        used.update(row)
        rows.append(row)
    fields = [c for c in _ALL_COLUMNS if c in used]
    return [{c: row.get(c, "") for c in fields} for row in rows], fields


def _implied_rows(
    lesions: Mapping[int, Lesion],
    reads: Mapping[tuple[int, int], LesionRead],
    exams: Mapping[int, Exam],
) -> list[tuple[Exam, Lesion, None, dict[str, str]]]:
    """Rows the lineage implies at exams where a merged lesion or a fragment has no read."""
    by_label = {lesion.label: lesion for lesion in lesions.values()}
    reads_of: dict[int, list[tuple[Exam, LesionRead]]] = {}
    for (lesion_id, exam_id), read in reads.items():
        reads_of.setdefault(lesion_id, []).append((exams[exam_id], read))
    for history in reads_of.values():
        history.sort(key=lambda item: (item[0].exam_date, item[0].id))
    implied: list[tuple[Exam, Lesion, None, dict[str, str]]] = []

    def part_of_since(lesion: Lesion, parent: Lesion) -> tuple[Exam, LesionRead] | None:
        for exam, read in reads_of.get(lesion.id, []):
            if (read.notes or {}).get("part_of") == parent.label:
                return exam, read
        return None

    for lesion in lesions.values():
        into = lesions.get(lesion.merged_into_id or 0)
        if lesion.status != "merged" or into is None:
            continue
        since = part_of_since(lesion, into)
        if since is None:
            continue
        merged_at, merged_read = since
        for exam, into_read in reads_of.get(into.id, []):
            if exam.exam_date > merged_at.exam_date and (lesion.id, exam.id) not in reads:
                row = {
                    "modality": into_read.modality,
                    "role": merged_read.role,
                    "status": "absent",
                    "part_of": into.label,
                }
                implied.append((exam, lesion, None, row))
    fragments: dict[int, list[tuple[Lesion, Exam, LesionRead]]] = {}
    for lesion in lesions.values():
        first = reads_of.get(lesion.id)
        if not first or lesion.status == "merged":
            continue
        parent = by_label.get((first[0][1].notes or {}).get("part_of", ""))
        if parent is not None and parent.status == "split" and parent.id != lesion.id:
            fragments.setdefault(parent.id, []).append((lesion, *first[0]))
    for parent_id, members in fragments.items():
        parent = lesions[parent_id]
        read_exams = {
            exam.id: (exam, read)
            for member, _, _ in members
            for exam, read in reads_of.get(member.id, [])
        }
        for exam, sibling_read in read_exams.values():
            if (parent_id, exam.id) in reads:
                continue  # the parent is read itself (e.g. the fragments coalesced again)
            for member, split_at, first_read in members:
                if exam.exam_date > split_at.exam_date and (member.id, exam.id) not in reads:
                    row = {
                        "modality": sibling_read.modality,
                        "role": first_read.role,
                        "status": "not-evaluated",
                        "part_of": parent.label,
                    }
                    implied.append((exam, member, None, row))
    return implied


def sync_lineage(session: Session, patient: Patient, author: str) -> int:
    """Bring the lesions' split/merged status in line with the ``part_of`` of their reads.

    A read whose ``part_of`` names another lesion of the patient means one of
    two things. If its lesion was read before without that ``part_of``, it
    has merged into the named lesion (status ``merged``, ``merged_into_id``);
    otherwise it is a fragment of the named lesion, which has split (status
    ``split``). Each change is logged.

    Returns
    -------
    int
        The number of lesion fields changed.
    """
    lesions = list(session.scalars(select(Lesion).where(Lesion.patient_id == patient.id)))
    by_label = {lesion.label: lesion for lesion in lesions}
    history = session.execute(
        select(LesionRead, Exam)
        .join(Exam, LesionRead.exam_id == Exam.id)
        .where(LesionRead.lesion_id.in_([lesion.id for lesion in lesions]))
        .order_by(Exam.exam_date, Exam.id)
    ).all()
    seen_apart: dict[int, set[str | None]] = {}
    changed = 0
    by_id = {lesion.id: lesion for lesion in lesions}
    for read, _exam in history:
        lesion = by_id[read.lesion_id]
        part_of = (read.notes or {}).get("part_of")
        earlier = seen_apart.setdefault(lesion.id, set())
        parent = by_label.get(part_of or "")
        if parent is not None and parent.id != lesion.id:
            if earlier - {part_of}:
                updates = {"status": "merged", "merged_into_id": parent.id}
                target = lesion
            else:
                updates = {"status": "split"}
                target = parent
            for name, new in updates.items():
                old = getattr(target, name)
                if old != new and not (name == "status" and old == "merged"):
                    _log(session, "lesions", target.id, name, _text(old), _text(new), author)
                    setattr(target, name, new)
                    changed += 1
        earlier.add(part_of)
    return changed


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _new_uid() -> str:
    """A new DICOM UID (pydicom is imported here, not by every command that reads lesions)."""
    from pydicom.uid import generate_uid

    return str(generate_uid())
