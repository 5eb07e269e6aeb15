"""Read-only views of the record for the reading room (worklist, patients, PET, audit).

Plain queries of :mod:`tumorboard.store` that return JSON types; the numbers
are the ones the analyses stored, nothing is computed here.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tumorboard.errors import InputError
from tumorboard.store.models import Analysis, ChangeLogEntry, Exam, Patient, Series, Study
from tumorboard.store.workspace import Workspace

__all__ = ["audit_entries", "patient_by_key", "patient_list", "pet_lesion_table", "worklist"]


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()


def patient_by_key(session: Session, patient_key: str) -> Patient:
    """The patient with this id, or :class:`InputError` (the id is not repeated)."""
    patient = session.scalars(
        select(Patient).where(Patient.patient_key == patient_key)
    ).one_or_none()
    if patient is None:
        raise InputError("no patient with that id in the record")
    return patient


def _patient_json(patient: Patient) -> dict[str, Any]:
    return {
        "patient_id": patient.patient_key,
        "name": patient.name,
        "birth_date": _iso(patient.birth_date),
        "sex": patient.sex,
        "next_board_date": _iso(patient.next_board_date),
    }


def patient_list(workspace: Workspace) -> list[dict[str, Any]]:
    """Every patient with the number and last date of their exams.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from tumorboard.store import init_workspace
    >>> ws = init_workspace(Path(tempfile.mkdtemp()) / "board")
    >>> patient_list(ws)
    []
    >>> ws.close()
    """
    with workspace.session() as session:
        exams = {
            patient_id: (count, last)
            for patient_id, count, last in session.execute(
                select(Exam.patient_id, func.count(Exam.id), func.max(Exam.exam_date)).group_by(
                    Exam.patient_id
                )
            )
        }
        return [
            {
                **_patient_json(patient),
                "exams": exams.get(patient.id, (0, None))[0],
                "last_exam_date": _iso(exams.get(patient.id, (0, None))[1]),
            }
            for patient in session.scalars(select(Patient).order_by(Patient.patient_key))
        ]


def worklist(workspace: Workspace) -> list[dict[str, Any]]:
    """Patients for the board: next board date, studies not analysed yet, analyses to watch.

    A study is new when its exam has no analysis yet. Patients with a board
    date come first (soonest first), then the others by id.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from tumorboard.store import init_workspace
    >>> ws = init_workspace(Path(tempfile.mkdtemp()) / "board")
    >>> worklist(ws)
    []
    >>> ws.close()
    """
    with workspace.session() as session:
        analysed = {
            exam_id
            for (exam_id,) in session.execute(select(Analysis.exam_id).distinct())
            if exam_id is not None
        }
        modalities: dict[int, set[str]] = defaultdict(set)
        for study_id, modality in session.execute(select(Series.study_id, Series.modality)):
            modalities[study_id].add(modality)
        new: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for study in session.scalars(select(Study).order_by(Study.study_date, Study.id)):
            if study.exam_id is None or study.exam_id not in analysed:
                new[study.patient_id].append(
                    {
                        "study_date": _iso(study.study_date),
                        "description": study.description,
                        "modalities": sorted(modalities.get(study.id, set())),
                    }
                )
        pending: dict[int, int] = defaultdict(int)
        failed: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for analysis, exam_date in session.execute(
            select(Analysis, Exam.exam_date)
            .outerjoin(Exam, Exam.id == Analysis.exam_id)
            .where(Analysis.status.in_(["running", "failed"]))
            .order_by(Analysis.id)
        ):
            if analysis.status == "running":
                pending[analysis.patient_id] += 1
            else:
                failed[analysis.patient_id].append(
                    {"kind": analysis.kind, "exam_date": _iso(exam_date), "error": analysis.error}
                )
        patients = list(session.scalars(select(Patient)))
        patients.sort(
            key=lambda p: (
                p.next_board_date is None,
                p.next_board_date or dt.date.max,
                p.patient_key,
            )
        )
        return [
            {
                **_patient_json(patient),
                "new_studies": new.get(patient.id, []),
                "analyses_pending": pending.get(patient.id, 0),
                "analyses_failed": failed.get(patient.id, []),
            }
            for patient in patients
        ]


def pet_lesion_table(workspace: Workspace, patient_key: str) -> list[dict[str, Any]]:
    """The PET lesions of every PET analysis of the patient, as the analyses stored them.

    Each row: ``exam_date``, ``series`` and the stored lesion fields
    (``name``, ``suvbw_max``, ``sul_peak``, ``mtv_ml``, ``tlg``, ... as
    :mod:`tumorboard.pipeline.pet_suv` wrote them).
    """
    with workspace.session() as session:
        patient = patient_by_key(session, patient_key)
        rows: list[dict[str, Any]] = []
        for result, exam_date in session.execute(
            select(Analysis.result, Exam.exam_date)
            .outerjoin(Exam, Exam.id == Analysis.exam_id)
            .where(
                Analysis.patient_id == patient.id,
                Analysis.kind == "pet_suv",
                Analysis.status == "done",
            )
            .order_by(Exam.exam_date, Analysis.id)
        ):
            if not isinstance(result, dict):
                continue
            for lesion in result.get("lesions", []):
                rows.append(
                    {"exam_date": _iso(exam_date), "series": result.get("series"), **lesion}
                )
        return rows


def audit_entries(
    workspace: Workspace, patient_key: str, limit: int = 1000
) -> list[dict[str, Any]]:
    """The change log of one patient, newest first.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from tumorboard.store import init_workspace
    >>> ws = init_workspace(Path(tempfile.mkdtemp()) / "board")
    >>> audit_entries(ws, "P-404")
    Traceback (most recent call last):
    ...
    tumorboard.errors.InputError: no patient with that id in the record
    >>> ws.close()
    """
    with workspace.session() as session:
        patient = patient_by_key(session, patient_key)
        entries = session.scalars(
            select(ChangeLogEntry)
            .where(ChangeLogEntry.patient_id == patient.id)
            .order_by(ChangeLogEntry.changed_at.desc(), ChangeLogEntry.id.desc())
            .limit(limit)
        )
        return [
            {
                "changed_at": _iso(entry.changed_at),
                "author": entry.author,
                "table": entry.table_name,
                "row_id": entry.row_id,
                "field": entry.field,
                "old": entry.old_value,
                "new": entry.new_value,
            }
            for entry in entries
        ]
