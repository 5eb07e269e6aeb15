"""PET: ``GET /api/patients/{id}/pet/lesions``, the lesion table of the PET analyses."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from tumorboard.web.auth import CurrentUser
from tumorboard.web.record_views import pet_lesion_table

__all__ = ["router"]

router = APIRouter(prefix="/api")


@router.get("/patients/{patient_id}/pet/lesions")
def get_pet_lesions(patient_id: str, request: Request, _user: CurrentUser) -> dict[str, Any]:
    """SUVmax, SULpeak, MTV, TLG ... of each lesion of each PET series, as stored."""
    return {"lesions": pet_lesion_table(request.app.state.workspace, patient_id)}
