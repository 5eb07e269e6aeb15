"""The case-report form: preview, sign-off and the signed versions.

``GET /api/patients/{id}/form`` is the HTML form of ``tumorboard report``
(written into a temporary folder, served with a policy that runs no script);
``POST /api/patients/{id}/sign`` freezes it as a new signed PDF version
(:func:`tumorboard.workflow.sign_off.sign_form`, signer = the signed-in user);
``GET /api/patients/{id}/signoffs`` lists the versions and
``GET /api/patients/{id}/signoffs/{version}/pdf`` returns one frozen PDF.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from tumorboard.web.auth import CurrentUser, Reader

__all__ = ["FORM_PREVIEW_POLICY", "router"]

router = APIRouter(prefix="/api")

#: The preview is a document of the record: no script, no requests, only its styles and images.
FORM_PREVIEW_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; sandbox"
)


@router.get("/patients/{patient_id}/form", response_class=HTMLResponse)
def form_preview(patient_id: str, request: Request, _user: CurrentUser) -> HTMLResponse:
    """The case-report form as ``tumorboard report`` writes it now (HTML)."""
    from tumorboard.workflow.record_report import write_record_report

    with tempfile.TemporaryDirectory(prefix="tumorboard-form-") as scratch:
        write_record_report(request.app.state.workspace, patient_id, Path(scratch))
        page = (Path(scratch) / "crf.html").read_text(encoding="utf-8")
    return HTMLResponse(
        page,
        headers={"Content-Security-Policy": FORM_PREVIEW_POLICY, "X-Frame-Options": "SAMEORIGIN"},
    )


@router.post("/patients/{patient_id}/sign")
def sign(patient_id: str, request: Request, user: Reader) -> dict[str, Any]:
    """Sign the form as the record stands: a new frozen PDF version."""
    from tumorboard.workflow.sign_off import sign_form

    return sign_form(request.app.state.workspace, patient_id, user.name).as_json()


@router.get("/patients/{patient_id}/signoffs")
def signoffs(patient_id: str, request: Request, _user: CurrentUser) -> dict[str, Any]:
    """Every signed version, oldest first."""
    from tumorboard.workflow.sign_off import signed_forms

    forms = signed_forms(request.app.state.workspace, patient_id)
    return {"versions": [form.as_json() for form in forms]}


@router.get("/patients/{patient_id}/signoffs/{version}/pdf")
def signed_pdf(patient_id: str, version: int, request: Request, _user: CurrentUser) -> Any:
    """The frozen PDF of one signed version."""
    from tumorboard.workflow.sign_off import signed_forms

    workspace = request.app.state.workspace
    found = [f for f in signed_forms(workspace, patient_id) if f.version == version]
    if not found:
        raise HTTPException(404, f"no signed version {version}")
    return FileResponse(
        workspace.objects.path(found[0].pdf_object_sha256),
        media_type="application/pdf",
        filename=f"crf-v{version}.pdf",
    )
