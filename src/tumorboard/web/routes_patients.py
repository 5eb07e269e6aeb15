"""Patients: the worklist, the patient list, the timeline and the next board date."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from tumorboard.web.auth import CurrentUser, Reader
from tumorboard.web.record_views import patient_list, worklist

__all__ = ["router"]

router = APIRouter(prefix="/api")


@router.get("/worklist")
def get_worklist(request: Request, _user: CurrentUser) -> dict[str, Any]:
    """Patients with their next board date, new studies and analyses pending or failed."""
    return {"patients": worklist(request.app.state.workspace)}


@router.get("/patients")
def get_patients(request: Request, _user: CurrentUser) -> dict[str, Any]:
    """Every patient of the record."""
    return {"patients": patient_list(request.app.state.workspace)}


@router.get("/patients/{patient_id}/timeline")
def get_timeline(patient_id: str, request: Request, _user: CurrentUser) -> dict[str, Any]:
    """The JSON of ``tumorboard timeline --json`` (the same workflow function)."""
    from tumorboard.workflow.timeline import patient_timeline

    return patient_timeline(request.app.state.workspace, patient_id)


class BoardDate(BaseModel):
    """The date of the patient's next tumour board (``null`` clears it)."""

    date: dt.date | None


@router.put("/patients/{patient_id}/board-date")
def put_board_date(
    patient_id: str, body: BoardDate, request: Request, user: Reader
) -> dict[str, Any]:
    """Set the date of the patient's next tumour board (the worklist's order); audited."""
    from tumorboard.workflow.board_dates import set_next_board_date

    return set_next_board_date(request.app.state.workspace, patient_id, body.date, author=user.name)
