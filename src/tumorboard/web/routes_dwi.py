"""WB-DWI exams: ``GET /api/patients/{id}/dwi/{exam_date}`` and its component curation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from tumorboard.web.auth import CurrentUser, Reader

__all__ = ["ComponentChange", "router"]

router = APIRouter(prefix="/api")


class ComponentChange(BaseModel):
    """The body of a component change: ids to remove and to keep, and the version seen."""

    remove: list[int] = Field(default_factory=list, max_length=10_000)
    keep: list[int] = Field(default_factory=list, max_length=10_000)
    version: int = Field(default=0, ge=0)


@router.get("/patients/{patient_id}/dwi/{exam_date}")
def get_dwi_exam(
    patient_id: str, exam_date: str, request: Request, _user: CurrentUser
) -> dict[str, Any]:
    """Total diffusion volume, classes, ADC statistics and histogram, component table."""
    from tumorboard.workflow.dwi_curation import dwi_exam

    return dwi_exam(request.app.state.workspace, patient_id, exam_date)


@router.post("/patients/{patient_id}/dwi/{exam_date}/components")
def change_components(
    patient_id: str, exam_date: str, change: ComponentChange, request: Request, user: Reader
) -> dict[str, Any]:
    """Remove or keep components; returns the new ``total_diffusion_volume_ml``.

    A ``version`` other than the curation's current one is refused with 409.
    """
    from tumorboard.workflow.dwi_curation import apply_curation, dwi_exam

    workspace = request.app.state.workspace
    result = apply_curation(
        workspace,
        patient_id,
        exam_date,
        remove=change.remove,
        keep=change.keep,
        seen_version=change.version,
        author=user.name,
    )
    return {
        **dwi_exam(workspace, patient_id, exam_date),
        "total_diffusion_volume_ml": result.total_diffusion_volume_ml,
        "version": result.version,
    }
