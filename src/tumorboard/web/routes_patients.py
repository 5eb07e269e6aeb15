"""Patients: ``GET /api/worklist``, ``GET /api/patients``, ``GET /api/patients/{id}/timeline``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from tumorboard.web.auth import CurrentUser
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
