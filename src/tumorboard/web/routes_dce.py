"""DCE exams: ``GET /api/patients/{id}/dce/{exam_date}`` and the lesion curves.

The per-lesion table is the stored ``dce`` analysis; the curves are derived
from its input series by :mod:`tumorboard.workflow.dce_curves` (no new fit).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from tumorboard.web.auth import CurrentUser

__all__ = ["router"]

router = APIRouter(prefix="/api")


def _analysis(request: Request, patient_id: str, exam_date: dt.date) -> Any:
    from tumorboard.workflow.exam_images import ExamImageNotFound, dce_analysis

    try:
        return dce_analysis(request.app.state.workspace, patient_id, exam_date)
    except ExamImageNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@router.get("/patients/{patient_id}/dce")
def get_dce_exams(patient_id: str, request: Request, _user: CurrentUser) -> dict[str, Any]:
    """The dates of the patient's exams with a DCE analysis."""
    from tumorboard.workflow.exam_images import dce_exam_dates

    return {"exams": dce_exam_dates(request.app.state.workspace, patient_id)}


@router.get("/patients/{patient_id}/dce/{exam_date}")
def get_dce_exam(
    patient_id: str, exam_date: dt.date, request: Request, _user: CurrentUser
) -> dict[str, Any]:
    """The stored per-lesion perfusion (Ktrans, ve, vp, Fp, arterial fraction, IAUGC60)."""
    from tumorboard.workflow.dce_curves import DCE_DERIVED_VOLUMES
    from tumorboard.workflow.exam_images import DCE_VOLUMES

    analysis = _analysis(request, patient_id, exam_date)
    result = analysis.result
    return {
        "exam_date": exam_date.isoformat(),
        "lesions": result.get("lesions", []),
        "settings": result.get("settings", {}),
        "notes": result.get("notes", []),
        "maps": [name for name in DCE_VOLUMES if f"{name}.nii.gz" in analysis.outputs],
        "derived": list(DCE_DERIVED_VOLUMES),
    }


@router.get("/patients/{patient_id}/dce/{exam_date}/curves")
def get_dce_curves(
    patient_id: str, exam_date: dt.date, request: Request, _user: CurrentUser
) -> dict[str, Any]:
    """Each lesion's measured concentration curve and the curves of its fitted models."""
    from tumorboard.workflow.dce_curves import dce_exam_images

    analysis = _analysis(request, patient_id, exam_date)
    return dce_exam_images(request.app.state.workspace, analysis).curves
