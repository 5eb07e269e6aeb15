"""The reading room's image routes: stored volumes for NiiVue and the clickable MIP.

Every route needs a signed-in user (any role: these routes only read). The
objects are looked up in the record by patient, exam date and a fixed list of
names (:data:`tumorboard.workflow.exam_images.DWI_VOLUMES`,
:data:`~tumorboard.workflow.exam_images.PET_VOLUMES`); nothing in a request
becomes a path. Responses are ``Cache-Control: private, no-cache`` with the
object's SHA-256 as ETag, so a browser re-uses what it has after a cheap
revalidation and a re-run analysis is never shown stale.

The work is in :mod:`tumorboard.workflow.exam_images`; the routes parse,
look up and answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse

from tumorboard.errors import InputError
from tumorboard.web.auth import current_user
from tumorboard.workflow import exam_images
from tumorboard.workflow.exam_images import ExamImageNotFound

__all__ = ["parse_component_ids", "router"]

router = APIRouter(dependencies=[Depends(current_user)])

_CACHE = "private, no-cache"
#: More component ids than any exam has; a longer list is refused unread.
_MAX_IDS = 100_000


def _workspace(request: Request) -> Any:
    return request.app.state.workspace


def _not_modified(request: Request, etag: str) -> Response | None:
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag, "Cache-Control": _CACHE})
    return None


def parse_component_ids(text: str) -> list[int]:
    """Component ids from a query value such as ``"1,4,9"`` (empty: none).

    Examples
    --------
    >>> parse_component_ids("3,1, 2")
    [1, 2, 3]
    >>> parse_component_ids("")
    []
    >>> parse_component_ids("1,<b>")
    Traceback (most recent call last):
    ...
    tumorboard.errors.InputError: kept: component ids are positive whole numbers separated by commas
    """
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if len(parts) > _MAX_IDS or not all(part.isdigit() and len(part) < 10 for part in parts):
        raise InputError("kept: component ids are positive whole numbers separated by commas")
    return sorted({int(part) for part in parts})


def _volume_response(request: Request, analysis: exam_images.StoredAnalysis, name: str) -> Response:
    try:
        path, sha = exam_images.volume_object(_workspace(request), analysis, name)
    except ExamImageNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    etag = f'"{sha}"'
    cached = _not_modified(request, etag)
    if cached is not None:
        return cached
    return FileResponse(
        path,
        media_type="application/octet-stream",
        headers={"ETag": etag, "Cache-Control": _CACHE},
    )


def _dwi(request: Request, patient_id: str, exam_date: dt.date) -> exam_images.StoredAnalysis:
    try:
        return exam_images.dwi_analysis(_workspace(request), patient_id, exam_date)
    except ExamImageNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@router.get("/api/patients/{patient_id}/dwi/{exam_date}/volumes/{name}.nii.gz")
def dwi_volume(request: Request, patient_id: str, exam_date: dt.date, name: str) -> Response:
    """A stored WB-DWI volume (computed_b, adc, classes, components) as NIfTI."""
    if name not in exam_images.DWI_VOLUMES:
        raise HTTPException(status_code=404, detail="no such WB-DWI image")
    return _volume_response(request, _dwi(request, patient_id, exam_date), name)


@router.get("/api/patients/{patient_id}/dwi/{exam_date}/mip.png")
def dwi_mip(request: Request, patient_id: str, exam_date: dt.date) -> Response:
    """The coronal inverted-grey MIP of the computed high-b image (one pixel per voxel)."""
    analysis = _dwi(request, patient_id, exam_date)
    etag = f'"mip-{analysis.outputs["computed_b.nii.gz"]}"'
    cached = _not_modified(request, etag)
    if cached is not None:
        return cached
    png = exam_images.dwi_mip_png(_workspace(request), analysis)
    return Response(png, media_type="image/png", headers={"ETag": etag, "Cache-Control": _CACHE})


@router.get("/api/patients/{patient_id}/dwi/{exam_date}/mip_overlay.json")
def dwi_mip_overlay(
    request: Request,
    patient_id: str,
    exam_date: dt.date,
    kept: Annotated[str | None, Query(max_length=1_000_000)] = None,
) -> Response:
    """The component and class under each MIP pixel (``kept``: ids counted as tumour)."""
    analysis = _dwi(request, patient_id, exam_date)
    try:
        ids = None if kept is None else parse_component_ids(kept)
        etag = f'"overlay-{exam_images.dwi_overlay_key(analysis, ids)}"'
        cached = _not_modified(request, etag)
        if cached is not None:
            return cached
        overlay = exam_images.dwi_mip_overlay(_workspace(request), analysis, ids)
    except InputError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return Response(
        overlay.json_bytes,
        media_type="application/json",
        headers={"ETag": etag, "Cache-Control": _CACHE},
    )


@router.get("/api/patients/{patient_id}/pet/{exam_date}/volumes/{name}.nii.gz")
def pet_volume(
    request: Request,
    patient_id: str,
    exam_date: dt.date,
    name: str,
    series: Annotated[int | None, Query(ge=0, le=2**31)] = None,
) -> Response:
    """A stored PET volume (suvbw, lesions) of the exam's PET series ``series`` (or the first)."""
    if name not in exam_images.PET_VOLUMES:
        raise HTTPException(status_code=404, detail="no such PET image")
    try:
        analysis = exam_images.pet_analysis(_workspace(request), patient_id, exam_date, series)
    except ExamImageNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return _volume_response(request, analysis, name)


def _bytes_response(request: Request, data: bytes, etag: str) -> Response:
    cached = _not_modified(request, etag)
    if cached is not None:
        return cached
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"ETag": etag, "Cache-Control": _CACHE},
    )


@router.get("/api/patients/{patient_id}/dce/{exam_date}/volumes/{name}.nii.gz")
def dce_volume(request: Request, patient_id: str, exam_date: dt.date, name: str) -> Response:
    """A DCE map of the stored analysis (Ktrans, Fp, IAUGC60), or its anatomy and lesion labels."""
    from tumorboard.workflow.dce_curves import DCE_DERIVED_VOLUMES, dce_exam_images

    if name not in exam_images.DCE_VOLUMES and name not in DCE_DERIVED_VOLUMES:
        raise HTTPException(status_code=404, detail="no such DCE image")
    try:
        analysis = exam_images.dce_analysis(_workspace(request), patient_id, exam_date)
    except ExamImageNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    if name in exam_images.DCE_VOLUMES:
        return _volume_response(request, analysis, name)
    key = ",".join(sorted(analysis.outputs.values()))
    etag = f'"dce-{name}-{analysis.analysis_id}-{hashlib.sha256(key.encode()).hexdigest()[:32]}"'
    cached = _not_modified(request, etag)
    if cached is not None:
        return cached
    try:
        derived = dce_exam_images(_workspace(request), analysis)
    except ExamImageNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return _bytes_response(request, derived.volumes[name], etag)


@router.get("/api/patients/{patient_id}/pet/{exam_date}/anatomy.nii.gz")
def pet_anatomy_volume(
    request: Request,
    patient_id: str,
    exam_date: dt.date,
    series: Annotated[int | None, Query(ge=0, le=2**31)] = None,
) -> Response:
    """The stored CT or MR the PET is fused on, in the PET's frame (404 when none is stored)."""
    try:
        analysis = exam_images.pet_analysis(_workspace(request), patient_id, exam_date, series)
    except ExamImageNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    anatomy = exam_images.pet_anatomy(_workspace(request), analysis)
    if anatomy is None:
        raise HTTPException(status_code=404, detail="the PET has no stored CT or MR registration")
    path = _workspace(request).objects.path(anatomy.object_sha256)
    if not path.is_file():
        raise HTTPException(status_code=404, detail="the anatomy is missing from the objects")
    etag = f'"{anatomy.object_sha256}"'
    cached = _not_modified(request, etag)
    if cached is not None:
        return cached
    return FileResponse(
        path, media_type="application/octet-stream", headers={"ETag": etag, "Cache-Control": _CACHE}
    )
