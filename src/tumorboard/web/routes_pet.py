"""PET: the lesion table of the PET analyses and the anatomy a PET is fused on."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from tumorboard.web.auth import CurrentUser
from tumorboard.web.record_views import pet_lesion_table

__all__ = ["router"]

router = APIRouter(prefix="/api")


@router.get("/patients/{patient_id}/pet/lesions")
def get_pet_lesions(patient_id: str, request: Request, _user: CurrentUser) -> dict[str, Any]:
    """SUVmax, SULpeak, MTV, TLG ... of each lesion of each PET series, as stored."""
    return {"lesions": pet_lesion_table(request.app.state.workspace, patient_id)}


@router.get("/patients/{patient_id}/pet/{exam_date}/fusion")
def get_pet_fusion(
    patient_id: str,
    exam_date: dt.date,
    request: Request,
    _user: CurrentUser,
    series: Annotated[int | None, Query(ge=0, le=2**31)] = None,
) -> dict[str, Any]:
    """The CT or MR the PET is fused on, as ``run`` registered it (None, with a ``message``)."""
    from tumorboard.workflow.exam_images import (
        ExamImageNotFound,
        pet_analysis,
        pet_anatomy,
        pet_fusion_message,
    )

    workspace = request.app.state.workspace
    try:
        pet = pet_analysis(workspace, patient_id, exam_date, series)
    except ExamImageNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    anatomy = pet_anatomy(workspace, pet)
    if anatomy is None:
        return {"anatomy": None, "message": pet_fusion_message(workspace, pet)}
    return {"anatomy": anatomy.as_json(), "message": ""}
