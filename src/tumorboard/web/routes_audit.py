"""The audit trail: ``GET /api/audit?patient={id}``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from tumorboard.web.auth import CurrentUser
from tumorboard.web.record_views import audit_entries

__all__ = ["router"]

router = APIRouter(prefix="/api")


@router.get("/audit")
def get_audit(
    request: Request,
    _user: CurrentUser,
    patient: Annotated[str, Query(min_length=1, max_length=64)],
) -> dict[str, Any]:
    """Every change to the patient's record, newest first (who, when, what, old → new)."""
    return {"changes": audit_entries(request.app.state.workspace, patient)}
