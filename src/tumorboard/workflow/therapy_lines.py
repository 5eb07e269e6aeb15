"""``tumorboard baseline``: start a therapy line at an exam, or move its baseline.

The baseline of a therapy line is the reference exam of every WB-DWI exam of
that line (:mod:`tumorboard.workflow.reference_exam`); changing it makes the
next ``tumorboard run`` recompute those exams. Every change is kept in the
change log with who and when.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from tumorboard.errors import InputError
from tumorboard.store.models import ChangeLogEntry, Exam, Patient, TherapyLine
from tumorboard.store.workspace import Workspace

__all__ = ["BaselineChange", "set_baseline"]


@dataclass(frozen=True)
class BaselineChange:
    """What :func:`set_baseline` did.

    Attributes
    ----------
    line : int
        The therapy line's number.
    created : bool
        True when a new line was started.
    baseline_date : date
        The line's baseline exam.
    """

    line: int
    created: bool
    baseline_date: dt.date


def set_baseline(
    workspace: Workspace,
    patient_key: str,
    exam_date: dt.date,
    *,
    author: str,
    line: int | None = None,
    drug: str | None = None,
    drug_class: str | None = None,
    start_date: dt.date | None = None,
) -> BaselineChange:
    """Make the exam of ``exam_date`` the baseline of a therapy line.

    Parameters
    ----------
    workspace : Workspace
    patient_key : str
        The patient's id.
    exam_date : date
        An exam of the patient in the record.
    author : str
        Who made the change (kept in the change log).
    line : int, optional
        An existing line to re-baseline; by default a new line is started.
    drug, drug_class : str, optional
        The new line's treatment.
    start_date : date, optional
        The new line's first day (default: the exam's date).

    Returns
    -------
    BaselineChange

    Raises
    ------
    InputError
        Unknown patient, exam or line (nothing is changed).
    """
    with workspace.session() as session:
        patient = session.scalars(
            select(Patient).where(Patient.patient_key == patient_key)
        ).one_or_none()
        if patient is None:
            raise InputError(f"baseline: no patient with that id in workspace {workspace.root}")
        exam = session.scalars(
            select(Exam).where(Exam.patient_id == patient.id, Exam.exam_date == exam_date)
        ).first()
        if exam is None:
            raise InputError(
                f"baseline: --exam {exam_date.isoformat()}: the patient has no exam that day"
            )
        if line is None:
            number = (
                session.scalar(
                    select(func.max(TherapyLine.line_number)).where(
                        TherapyLine.patient_id == patient.id
                    )
                )
                or 0
            ) + 1
            therapy = TherapyLine(
                patient_id=patient.id,
                line_number=number,
                drug=drug,
                drug_class=drug_class,
                start_date=start_date or exam_date,
                baseline_exam_id=exam.id,
            )
            session.add(therapy)
            session.flush()
            old = None
            created = True
        else:
            found = session.scalars(
                select(TherapyLine).where(
                    TherapyLine.patient_id == patient.id, TherapyLine.line_number == line
                )
            ).one_or_none()
            if found is None:
                raise InputError(f"baseline: --line {line}: the patient has no such therapy line")
            therapy = found
            old_exam = (
                session.get(Exam, therapy.baseline_exam_id) if therapy.baseline_exam_id else None
            )
            old = old_exam.exam_date.isoformat() if old_exam else None
            therapy.baseline_exam_id = exam.id
            created = False
        session.add(
            ChangeLogEntry(
                table_name="therapy_lines",
                row_id=therapy.id,
                field="baseline_exam",
                old_value=old,
                new_value=exam_date.isoformat(),
                author=author,
            )
        )
        return BaselineChange(therapy.line_number, created, exam_date)
