"""Lesion reads: the measurement table, and add / measure / rename / NE / new lesion edits.

Every edit goes through :mod:`tumorboard.workflow.lesion_edits` (the same
edits as ``tumorboard lesion``), with the signed-in user as the author in the
change log; an edit the record refuses is a 400 with its one-line reason.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tumorboard.web.auth import CurrentUser, Reader

__all__ = ["router"]

router = APIRouter(prefix="/api")

_TEXT = Field(min_length=1, max_length=200)


#: The reads version the editor loaded (``GET …/lesions``); a stale one is refused (409).
_VERSION = Field(default=None, ge=0)


class NumberIn(BaseModel):
    """One number of a read: quantity, the number as typed, and its unit if not a table column."""

    quantity: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=48)
    unit: str | None = Field(default=None, max_length=32)


class LesionAdd(BaseModel):
    """A baseline lesion (``tumorboard lesion add``)."""

    label: str = _TEXT
    organ: str = _TEXT
    role: Literal["target", "non-target"]
    is_node: bool = False
    exam: str | None = Field(default=None, max_length=10)
    values: list[NumberIn] = Field(default_factory=list, max_length=50)
    modality: str | None = Field(default=None, max_length=32)
    version: int | None = _VERSION


class LesionNew(BaseModel):
    """A lesion first seen at a follow-up (``tumorboard lesion new``)."""

    label: str = _TEXT
    exam: str = Field(min_length=10, max_length=10)
    organ: str = _TEXT
    is_node: bool = False
    values: list[NumberIn] = Field(default_factory=list, max_length=50)
    equivocal: bool = False
    modality: str | None = Field(default=None, max_length=32)
    version: int | None = _VERSION


class LesionMeasure(BaseModel):
    """Numbers of a lesion at an exam (``tumorboard lesion measure``)."""

    label: str = _TEXT
    exam: str = Field(min_length=10, max_length=10)
    values: list[NumberIn] = Field(default_factory=list, max_length=50)
    status: str | None = Field(default=None, max_length=32)
    modality: str | None = Field(default=None, max_length=32)
    version: int | None = _VERSION


class LesionRename(BaseModel):
    """A new label (``tumorboard lesion rename``)."""

    label: str = _TEXT
    new_label: str = _TEXT
    version: int | None = _VERSION


class LesionNotEvaluable(BaseModel):
    """Mark a lesion not evaluable at an exam (``tumorboard lesion ne``)."""

    label: str = _TEXT
    exam: str = Field(min_length=10, max_length=10)
    modality: str | None = Field(default=None, max_length=32)
    version: int | None = _VERSION


def _values(numbers: list[NumberIn]) -> list[Any]:
    from tumorboard.workflow.lesion_edits import Value

    return [Value(n.quantity, n.text, n.unit) for n in numbers]


@router.get("/patients/{patient_id}/lesions")
def get_reads(patient_id: str, request: Request, _user: CurrentUser) -> dict[str, Any]:
    """The patient's reads as rows of the ``assess`` measurement table."""
    from tumorboard.web.record_views import patient_by_key
    from tumorboard.workflow.lesion_edits import reads_version
    from tumorboard.workflow.lesion_reads import measurement_rows

    with request.app.state.workspace.session() as session:
        patient = patient_by_key(session, patient_id)
        rows, fields = measurement_rows(session, patient)
        version = reads_version(session, patient)
    return {"fields": fields, "rows": rows, "version": version}


@router.get("/patients/{patient_id}/lesions/history")
def get_history(patient_id: str, request: Request, _user: CurrentUser) -> dict[str, Any]:
    """The change log of the patient's lesions, oldest first."""
    from tumorboard.workflow.lesion_edits import lesion_history

    return {"changes": lesion_history(request.app.state.workspace, patient_id)}


@router.post("/patients/{patient_id}/lesions")
def add(patient_id: str, body: LesionAdd, request: Request, user: Reader) -> dict[str, Any]:
    """Add a baseline lesion, optionally read at an exam."""
    from tumorboard.workflow.lesion_edits import add_lesion, expecting_reads_version

    with expecting_reads_version(body.version):
        return add_lesion(
            request.app.state.workspace,
            patient_id,
            body.label,
            organ=body.organ,
            role=body.role,
            author=user.name,
            is_node=body.is_node,
            exam=body.exam,
            values=_values(body.values),
            modality=body.modality,
        ).as_dict()


@router.post("/patients/{patient_id}/lesions/new")
def add_new(patient_id: str, body: LesionNew, request: Request, user: Reader) -> dict[str, Any]:
    """Record a lesion first seen at a follow-up exam."""
    from tumorboard.workflow.lesion_edits import add_new_lesion, expecting_reads_version

    with expecting_reads_version(body.version):
        return add_new_lesion(
            request.app.state.workspace,
            patient_id,
            body.label,
            body.exam,
            organ=body.organ,
            author=user.name,
            is_node=body.is_node,
            values=_values(body.values),
            equivocal=body.equivocal,
            modality=body.modality,
        ).as_dict()


@router.post("/patients/{patient_id}/lesions/measure")
def measure(patient_id: str, body: LesionMeasure, request: Request, user: Reader) -> dict[str, Any]:
    """Record numbers (and optionally the status) of a lesion at an exam."""
    from tumorboard.workflow.lesion_edits import expecting_reads_version, measure_lesion

    with expecting_reads_version(body.version):
        return measure_lesion(
            request.app.state.workspace,
            patient_id,
            body.label,
            body.exam,
            _values(body.values),
            author=user.name,
            status=body.status,
            modality=body.modality,
        ).as_dict()


@router.post("/patients/{patient_id}/lesions/rename")
def rename(patient_id: str, body: LesionRename, request: Request, user: Reader) -> dict[str, Any]:
    """Give a lesion a new label."""
    from tumorboard.workflow.lesion_edits import expecting_reads_version, rename_lesion

    with expecting_reads_version(body.version):
        return rename_lesion(
            request.app.state.workspace, patient_id, body.label, body.new_label, author=user.name
        ).as_dict()


@router.post("/patients/{patient_id}/lesions/ne")
def not_evaluable(
    patient_id: str, body: LesionNotEvaluable, request: Request, user: Reader
) -> dict[str, Any]:
    """Mark a lesion not evaluable (NE) at an exam."""
    from tumorboard.workflow.lesion_edits import expecting_reads_version, mark_not_evaluable

    with expecting_reads_version(body.version):
        return mark_not_evaluable(
            request.app.state.workspace,
            patient_id,
            body.label,
            body.exam,
            author=user.name,
            modality=body.modality,
        ).as_dict()
