"""The images of an exam's stored analysis, for the reading room.

The reading room shows what ``tumorboard run`` stored, never a recomputed
analysis: the NIfTI objects of an exam's newest finished analysis (looked up
by patient, exam date and a fixed list of names, so a request can never name
a file), and the coronal maximum-intensity projection (MIP) of the WB-DWI
computed high-b image that the reader clicks to keep or remove a component.

The MIP is :func:`tumorboard.report.dwi_figures.coronal_mip`, the projection
of the printed report (patient right on the viewer's left, head up); the
picture is drawn inverted grey with the report's window. Its overlay
(:func:`dwi_mip_overlay`) gives for every pixel the component whose voxel is
brightest along the ray (what the reader sees and clicks) and the dominant
response class of the ray over the kept components, with the classes of
:func:`tumorboard.dwi.response_classes.classify_response` and the bounds the
analysis stored. So the overlay follows a curation (kept or removed
components) without running the analysis again.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import threading
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select

from tumorboard.errors import InputError
from tumorboard.store.workspace import Workspace

__all__ = [
    "DCE_VOLUMES",
    "DWI_VOLUMES",
    "PET_VOLUMES",
    "PetAnatomy",
    "ExamImageNotFound",
    "MipOverlay",
    "StoredAnalysis",
    "brightest_component_ids",
    "dce_analysis",
    "dce_analysis_by_id",
    "dce_exam_dates",
    "dwi_analysis",
    "dwi_mip_overlay",
    "dwi_mip_png",
    "dwi_overlay_key",
    "pet_analysis",
    "pet_anatomy",
    "pet_fusion_message",
    "stored_volume",
    "volume_object",
]

#: The NIfTI objects of a WB-DWI analysis that the reading room may serve.
DWI_VOLUMES = ("computed_b", "adc", "classes", "components")
#: The NIfTI objects of a PET analysis that the reading room may serve.
PET_VOLUMES = ("suvbw", "lesions")
#: The NIfTI maps of a ``dce`` analysis that the reading room may serve.
DCE_VOLUMES = ("ktrans_per_min", "fp_ml_per_100ml_per_min", "iaugc60_mM_s")

#: Component ids are encoded as brightness ranks in float32 (exact below 2**24).
_MAX_RANKED_VOXELS = 1 << 24


class ExamImageNotFound(InputError):
    """The record has no such patient, exam, analysis or stored image."""


@dataclass(frozen=True)
class StoredAnalysis:
    """A finished analysis of one exam and its stored objects.

    Attributes
    ----------
    analysis_id : int
        Its record id.
    result : dict
        The stored ``summary.json`` content.
    outputs : dict of str to str
        Output file name (``classes.nii.gz`` ...) to object SHA-256.
    """

    analysis_id: int
    result: dict[str, Any]
    outputs: dict[str, str]


def _exam_analyses(
    workspace: Workspace, patient_key: str, exam_date: dt.date, kind: str
) -> list[StoredAnalysis]:
    from tumorboard.store.models import Analysis, AnalysisOutput, Exam, Patient

    with workspace.session() as session:
        rows = list(
            session.execute(
                select(Analysis.id, Analysis.result)
                .join(Exam, Exam.id == Analysis.exam_id)
                .join(Patient, Patient.id == Analysis.patient_id)
                .where(
                    Patient.patient_key == patient_key,
                    Exam.exam_date == exam_date,
                    Analysis.kind == kind,
                    Analysis.status == "done",
                )
                .order_by(Analysis.finished_at, Analysis.id)
            )
        )
        outputs: dict[int, dict[str, str]] = {}
        if rows:
            for analysis_id, name, sha in session.execute(
                select(
                    AnalysisOutput.analysis_id, AnalysisOutput.name, AnalysisOutput.object_sha256
                ).where(AnalysisOutput.analysis_id.in_([row[0] for row in rows]))
            ):
                outputs.setdefault(analysis_id, {})[name] = sha
    return [
        StoredAnalysis(aid, result if isinstance(result, dict) else {}, outputs.get(aid, {}))
        for aid, result in rows
    ]


def dwi_analysis(workspace: Workspace, patient_key: str, exam_date: dt.date) -> StoredAnalysis:
    """The newest finished WB-DWI analysis of an exam that stored its images.

    Parameters
    ----------
    workspace : Workspace
    patient_key : str
        The patient's id in the record.
    exam_date : date

    Returns
    -------
    StoredAnalysis

    Raises
    ------
    ExamImageNotFound
        If the patient has no WB-DWI analysis of that date with its images.
    """
    found = [
        analysis
        for analysis in _exam_analyses(workspace, patient_key, exam_date, "wbdwi")
        if all(f"{name}.nii.gz" in analysis.outputs for name in DWI_VOLUMES)
    ]
    if not found:
        raise ExamImageNotFound(f"no WB-DWI analysis with images of the exam of {exam_date}")
    return found[-1]


def pet_analysis(
    workspace: Workspace, patient_key: str, exam_date: dt.date, series: int | None = None
) -> StoredAnalysis:
    """A finished PET analysis of an exam: of PET series number ``series``, or the first.

    Raises
    ------
    ExamImageNotFound
        If the exam has no such PET analysis.
    """
    from tumorboard.workflow.demo_record import series_number_of

    found = [
        analysis
        for analysis in _exam_analyses(workspace, patient_key, exam_date, "pet_suv")
        if "suvbw.nii.gz" in analysis.outputs
        and (series is None or series_number_of(analysis.result.get("series")) == series)
    ]
    if not found:
        raise ExamImageNotFound(f"no PET analysis with images of the exam of {exam_date}")
    return found[0]


def dce_analysis(workspace: Workspace, patient_key: str, exam_date: dt.date) -> StoredAnalysis:
    """The first finished ``dce`` analysis of an exam (one per DCE series with a lesion SEG).

    Raises
    ------
    ExamImageNotFound
        If the exam has no finished ``dce`` analysis.
    """
    found = _exam_analyses(workspace, patient_key, exam_date, "dce")
    if not found:
        raise ExamImageNotFound(f"no DCE analysis of the exam of {exam_date}")
    return found[0]


def dce_exam_dates(workspace: Workspace, patient_key: str) -> list[str]:
    """The dates of the patient's exams with a finished ``dce`` analysis (ISO, ascending)."""
    from tumorboard.store.models import Analysis, Exam, Patient

    with workspace.session() as session:
        dates = session.scalars(
            select(Exam.exam_date)
            .join(Analysis, Analysis.exam_id == Exam.id)
            .join(Patient, Patient.id == Analysis.patient_id)
            .where(
                Patient.patient_key == patient_key,
                Analysis.kind == "dce",
                Analysis.status == "done",
            )
            .distinct()
        )
        return sorted(date.isoformat() for date in dates)


def dce_analysis_by_id(workspace: Workspace, analysis_id: int) -> StoredAnalysis:
    """A finished ``dce`` analysis by its record id.

    Raises
    ------
    ExamImageNotFound
        If there is none.
    """
    from tumorboard.store.models import Analysis, AnalysisOutput

    with workspace.session() as session:
        analysis = session.get(Analysis, analysis_id)
        if analysis is None or analysis.kind != "dce" or analysis.status != "done":
            raise ExamImageNotFound("no such DCE analysis")
        outputs = {
            name: sha
            for name, sha in session.execute(
                select(AnalysisOutput.name, AnalysisOutput.object_sha256).where(
                    AnalysisOutput.analysis_id == analysis_id
                )
            )
        }
        result = analysis.result if isinstance(analysis.result, dict) else {}
    return StoredAnalysis(analysis_id, result, outputs)


def volume_object(workspace: Workspace, analysis: StoredAnalysis, name: str) -> tuple[Path, str]:
    """Where a stored volume of an analysis lives, and its SHA-256.

    Parameters
    ----------
    workspace : Workspace
    analysis : StoredAnalysis
    name : str
        One of :data:`DWI_VOLUMES` or :data:`PET_VOLUMES` (without ``.nii.gz``).

    Returns
    -------
    (Path, str)

    Raises
    ------
    ExamImageNotFound
        If the name is not an image of the reading room or the analysis did
        not store it.

    Examples
    --------
    >>> volume_object(None, StoredAnalysis(1, {}, {}), "../../etc/passwd")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tumorboard.workflow.exam_images.ExamImageNotFound: no image named '../../etc/passwd'...
    """
    if name not in DWI_VOLUMES and name not in PET_VOLUMES and name not in DCE_VOLUMES:
        raise ExamImageNotFound(f"no image named {name[:40]!r} (one of the stored volumes)")
    sha = analysis.outputs.get(f"{name}.nii.gz")
    if sha is None:
        raise ExamImageNotFound(f"the analysis stored no {name} image")
    path = workspace.objects.path(sha)
    if not path.is_file():
        raise ExamImageNotFound(f"the {name} image is missing from the object store")
    return path, sha


#: Decoded stored volumes kept in memory, in bytes of their arrays (least recently used go).
VOLUME_CACHE_BYTES = 768 * 1024 * 1024


class _DecodedVolumes:
    """Decoded NIfTI objects by content digest (an object never changes), bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self._items: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, workspace: Workspace, sha: str) -> Any:
        key = f"{workspace.root.resolve()}:{sha}"
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # two readers of one new object decode it once
            with self._lock:
                if key in self._items:
                    return self._items[key][0]
            volume = _decode(workspace, sha)
            size = int(np.asarray(volume.array).nbytes)
            with self._lock:
                self._loading.pop(key, None)
                self._items[key] = (volume, size)
                self._bytes += size
                while self._bytes > self._max_bytes and len(self._items) > 1:
                    _, (_, dropped) = self._items.popitem(last=False)
                    self._bytes -= dropped
        return volume


def _decode(workspace: Workspace, sha: str) -> Any:
    import os
    import shutil
    import tempfile

    from tumorboard.imaging.nifti import read_nifti

    path = workspace.objects.path(sha)
    if not path.is_file():
        raise ExamImageNotFound("a stored image is missing from the objects")
    with tempfile.TemporaryDirectory(prefix="tumorboard-view-") as folder:
        target = Path(folder) / f"{sha[:16]}.nii.gz"  # the reader goes by the suffix
        try:
            os.link(path, target)
        except OSError:
            shutil.copyfile(path, target)
        return read_nifti(target, what="stored image")


_DECODED = _DecodedVolumes(VOLUME_CACHE_BYTES)


def stored_volume(workspace: Workspace, sha: str) -> Any:
    """A stored NIfTI object, decoded once and kept in memory for the next requests.

    Objects are addressed by their SHA-256, so a cached volume is never stale:
    a curation or a new run stores new objects under new digests. The cache
    (shared by the reading room's images and :mod:`tumorboard.workflow.dwi_curation`)
    holds at most :data:`VOLUME_CACHE_BYTES` of arrays.

    Parameters
    ----------
    workspace : Workspace
    sha : str
        The object's SHA-256.

    Returns
    -------
    Volume

    Raises
    ------
    ExamImageNotFound
        If the object store has no such object.

    Examples
    --------
    >>> import tempfile
    >>> from tumorboard.store import init_workspace
    >>> ws = init_workspace(Path(tempfile.mkdtemp()) / "board")
    >>> stored_volume(ws, "0" * 64)
    Traceback (most recent call last):
    ...
    tumorboard.workflow.exam_images.ExamImageNotFound: a stored image is missing from the objects
    >>> ws.close()
    """
    return _DECODED.get(workspace, sha)


def _volume(workspace: Workspace, analysis: StoredAnalysis, name: str) -> Any:
    _, sha = volume_object(workspace, analysis, name)
    return stored_volume(workspace, sha)


class _Memo:
    """A small thread-safe LRU of derived images (by the digests they derive from)."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], make: Any) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


_MIPS = _Memo(16)
_BRIGHTEST = _Memo(16)
_OVERLAYS = _Memo(64)


def dwi_mip_png(workspace: Workspace, analysis: StoredAnalysis) -> bytes:
    """The coronal inverted-grey MIP of the computed high-b image, as PNG.

    One pixel per voxel column (head up, patient right on the left), drawn
    with the printed report's window (0 to the 99.5th centile of the MIP).

    Parameters
    ----------
    workspace : Workspace
    analysis : StoredAnalysis
        A WB-DWI analysis (:func:`dwi_analysis`).

    Returns
    -------
    bytes
        8-bit greyscale PNG.
    """
    _, sha = volume_object(workspace, analysis, "computed_b")
    return bytes(_MIPS.get((str(workspace.root), sha), lambda: _mip_png(workspace, sha)))


def _mip_png(workspace: Workspace, sha: str) -> bytes:
    from PIL import Image

    from tumorboard.report.dwi_figures import coronal_mip

    image = stored_volume(workspace, sha)
    mip, _, _ = coronal_mip(image)
    window = float(np.percentile(mip, 99.5)) or 1.0
    grey = 255.0 - np.clip(mip / window, 0.0, 1.0) * 255.0
    picture = np.ascontiguousarray(np.rint(grey[::-1]).astype(np.uint8))  # top row superior
    buffer = io.BytesIO()
    Image.fromarray(picture, mode="L").save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


@dataclass(frozen=True)
class MipOverlay:
    """What lies under each pixel of :func:`dwi_mip_png`.

    Attributes
    ----------
    width, height : int
        Pixels (columns patient right to left, rows superior to inferior).
    pixel_width_mm, pixel_height_mm : float
        Size of a pixel on the patient.
    component_ids : ndarray of int32, shape (height, width)
        The candidate component whose voxel is brightest along the ray (0: none).
    classes : ndarray of uint8, shape (height, width)
        Dominant :class:`~tumorboard.dwi.response_classes.ResponseClass` of the
        ray over the kept components (0: no kept tumour on the ray).
    labels : list of dict
        ``component_id``, ``column``, ``row`` and ``kept``: where each
        component's centroid lands on the picture.
    """

    width: int
    height: int
    pixel_width_mm: float
    pixel_height_mm: float
    component_ids: NDArray[np.int32]
    classes: NDArray[np.uint8]
    labels: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        """JSON types; the pixel arrays flattened row by row."""
        return {
            "width": self.width,
            "height": self.height,
            "pixel_width_mm": self.pixel_width_mm,
            "pixel_height_mm": self.pixel_height_mm,
            "component_ids": self.component_ids.ravel().tolist(),
            "classes": self.classes.ravel().tolist(),
            "labels": self.labels,
        }

    @functools.cached_property
    def json_bytes(self) -> bytes:
        """:meth:`as_json` as compact UTF-8 JSON (encoded once per overlay)."""
        import json

        return json.dumps(self.as_json(), separators=(",", ":")).encode("utf-8")


def brightest_component_ids(image: Any, components: NDArray[np.integer[Any]]) -> NDArray[np.int32]:
    """Per ray of :func:`~tumorboard.report.dwi_figures.coronal_mip`, the brightest component.

    Each component voxel gets its brightness rank (1 = dimmest), the ranks are
    projected with the MIP itself, and the winning rank is mapped back to its
    component, so the picture's orientation has one owner.

    Parameters
    ----------
    image : Volume
        The computed high-b image.
    components : ndarray of int
        Component labels on the same grid (0 = background).

    Returns
    -------
    ndarray of int32, shape of the MIP (rows inferior to superior)

    Examples
    --------
    >>> from tumorboard.imaging.volume import Volume
    >>> image = Volume(np.zeros((3, 4, 2), np.float32), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    >>> labels = np.zeros((3, 4, 2), np.int32)
    >>> labels[1, 0, 1], labels[1, 2, 1] = 7, 9  # two components on one ray (along y)
    >>> image.array[1, 0, 1], image.array[1, 2, 1] = 5.0, 8.0
    >>> brightest_component_ids(image, labels)[1].tolist()
    [0, 9]
    """
    from tumorboard.report.dwi_figures import coronal_mip

    inside = np.flatnonzero(components)
    if inside.size >= _MAX_RANKED_VOXELS:
        raise InputError(f"{inside.size} component voxels: too many to project")
    order = np.argsort(np.asarray(image.array).ravel()[inside], kind="stable")
    ranks = np.zeros(components.size, dtype=np.float32)
    ranks[inside[order]] = np.arange(1, inside.size + 1, dtype=np.float32)
    ids_by_rank = np.concatenate(
        [[0], np.asarray(components).ravel()[inside[order]].astype(np.int32)]
    )
    ranked, _, _ = coronal_mip(image.with_array(ranks.reshape(components.shape)))
    return np.asarray(ids_by_rank[np.rint(ranked).astype(np.int64)], dtype=np.int32)


def dwi_overlay_key(analysis: StoredAnalysis, kept: Collection[int] | None = None) -> str:
    """A digest of everything :func:`dwi_mip_overlay` draws from (an ETag for its answer).

    The stored maps (by their digests), the class bounds, the component table
    and the kept ids: equal digests, equal overlays, whichever analysis row
    holds them.

    Examples
    --------
    >>> a = StoredAnalysis(1, {"components": []}, {"computed_b.nii.gz": "ab"})
    >>> dwi_overlay_key(a, [2, 1]) == dwi_overlay_key(a, [1, 2]) != dwi_overlay_key(a, [1])
    True
    """
    import hashlib
    import json

    result = analysis.result
    parts = {
        "maps": [analysis.outputs.get(f"{n}.nii.gz") for n in ("computed_b", "adc", "components")],
        "bounds": [result.get("yellow_lower_um2_per_s"), result.get("green_lower_um2_per_s")],
        "components": result.get("components") or [],
        "kept": None if kept is None else sorted(set(int(v) for v in kept)),
    }
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dwi_mip_overlay(
    workspace: Workspace, analysis: StoredAnalysis, kept: Collection[int] | None = None
) -> MipOverlay:
    """The component and class under each MIP pixel, for a set of kept components.

    Computed once per :func:`dwi_overlay_key` and kept in memory (a few dozen
    of them), so a reader who toggles a component back sees it at once.

    Parameters
    ----------
    workspace : Workspace
    analysis : StoredAnalysis
        A WB-DWI analysis (:func:`dwi_analysis`).
    kept : collection of int, optional
        Component ids counted as tumour; by default those the analysis kept.

    Returns
    -------
    MipOverlay

    Raises
    ------
    InputError
        If a kept id is not a component of the analysis.
    """
    rows = [row for row in analysis.result.get("components") or [] if isinstance(row, dict)]
    known = {int(row["component_id"]) for row in rows}
    if kept is None:
        kept = {int(row["component_id"]) for row in rows if row.get("kept")}
    unknown = sorted(set(kept) - known)
    if unknown:
        raise InputError(f"component ids {unknown[:10]} are not components of this exam")
    key = (str(workspace.root), dwi_overlay_key(analysis, kept))
    chosen = frozenset(kept)
    overlay: MipOverlay = _OVERLAYS.get(
        key, lambda: _mip_overlay(workspace, analysis, rows, chosen)
    )
    return overlay


def _mip_overlay(
    workspace: Workspace,
    analysis: StoredAnalysis,
    rows: list[dict[str, Any]],
    kept: frozenset[int],
) -> MipOverlay:
    from tumorboard.dwi.response_classes import ClassBounds, classify_response
    from tumorboard.report.dwi_figures import coronal_mip, mip_position_mm

    _, image_sha = volume_object(workspace, analysis, "computed_b")
    _, labels_sha = volume_object(workspace, analysis, "components")
    image = stored_volume(workspace, image_sha)
    adc = _volume(workspace, analysis, "adc")
    labels = np.asarray(stored_volume(workspace, labels_sha).array)
    tumour = np.isin(labels, np.fromiter(kept, dtype=np.int64, count=len(kept)))
    bounds = ClassBounds(
        yellow_lower_um2_per_s=float(analysis.result["yellow_lower_um2_per_s"]),
        green_lower_um2_per_s=float(analysis.result["green_lower_um2_per_s"]),
    )
    classes = image.with_array(classify_response(np.asarray(adc.array), tumour, bounds))
    _, ray_class, extent = coronal_mip(image, classes)
    ids = _BRIGHTEST.get(
        (str(workspace.root), image_sha, labels_sha),
        lambda: brightest_component_ids(image, labels),
    )
    assert ray_class is not None
    height, width = ids.shape
    pixel_w = extent[1] / width
    pixel_h = extent[3] / height
    placed = []
    for row in rows:
        x_mm, y_mm = mip_position_mm(
            image, (row["centroid_x_mm"], row["centroid_y_mm"], row["centroid_z_mm"])
        )
        placed.append(
            {
                "component_id": int(row["component_id"]),
                "column": int(min(width - 1, max(0, x_mm // pixel_w))),
                "row": int(min(height - 1, max(0, height - 1 - y_mm // pixel_h))),
                "kept": int(row["component_id"]) in kept,
            }
        )
    return MipOverlay(
        width=int(width),
        height=int(height),
        pixel_width_mm=float(pixel_w),
        pixel_height_mm=float(pixel_h),
        component_ids=np.ascontiguousarray(ids[::-1]),
        classes=np.ascontiguousarray(ray_class[::-1]),
        labels=placed,
    )


@dataclass(frozen=True)
class PetAnatomy:
    """The CT or MR a PET is fused on, as the ``pet_registration`` analysis stored it.

    Attributes
    ----------
    modality : str
        ``CT`` or ``MR``.
    description : str
        The anatomical series' description.
    same_study : bool
        Whether it is in the PET's own study (else in another study of the
        same exam).
    registered : bool
        Whether the two series have different frames of reference, so ``run``
        registered the anatomy rigidly to the PET
        (:mod:`tumorboard.workflow.pet_registration_analysis`) and moved its
        header into the PET's frame; the PET is the stored SUV object.
    anatomy_to_pet : list of list of float
        The 4x4 LPS matrix of the registration (anatomy points to PET points;
        the identity when nothing was registered).
    analysis_id : int
        The ``pet_registration`` analysis.
    object_sha256 : str
        The stored anatomy in the PET's frame (gzip-compressed NIfTI, float32).
    """

    modality: str
    description: str
    same_study: bool
    registered: bool
    anatomy_to_pet: list[list[float]]
    analysis_id: int
    object_sha256: str

    def as_json(self) -> dict[str, Any]:
        """The facts, without the image."""
        return {
            "modality": self.modality,
            "description": self.description,
            "same_study": self.same_study,
            "registered": self.registered,
            "anatomy_to_pet": self.anatomy_to_pet,
            "analysis_id": self.analysis_id,
        }


def _registrations(
    workspace: Workspace, analysis_id: int
) -> list[tuple[str, Any, str | None, int]]:
    """(status, result or error, anatomy object, id) of the registrations of a PET series.

    A registration belongs to the PET analysis when it read the same PET
    series with the same instances (its input digest); newest first.
    """
    from tumorboard.store.models import Analysis, AnalysisInput, AnalysisOutput, Series

    with workspace.session() as session:
        pet = session.execute(
            select(AnalysisInput.series_instance_uid, AnalysisInput.sha256)
            .join(Series, Series.series_instance_uid == AnalysisInput.series_instance_uid)
            .where(AnalysisInput.analysis_id == analysis_id, Series.kind == "pet")
        ).first()
        if pet is None:
            return []
        rows = session.execute(
            select(Analysis.id, Analysis.status, Analysis.result, Analysis.error)
            .join(AnalysisInput, AnalysisInput.analysis_id == Analysis.id)
            .where(
                Analysis.kind == "pet_registration",
                AnalysisInput.series_instance_uid == pet[0],
                AnalysisInput.sha256 == pet[1],
            )
            .order_by(Analysis.finished_at.desc(), Analysis.id.desc())
        ).all()
        found: list[tuple[str, Any, str | None, int]] = []
        for registration_id, status, result, error in rows:
            sha = session.scalar(
                select(AnalysisOutput.object_sha256).where(
                    AnalysisOutput.analysis_id == registration_id,
                    AnalysisOutput.name == "anatomy.nii.gz",
                )
            )
            found.append((status, result if status == "done" else error, sha, registration_id))
        return found


def pet_anatomy(workspace: Workspace, analysis: StoredAnalysis) -> PetAnatomy | None:
    """The CT or MR the PET is fused on, as ``tumorboard run`` registered and stored it.

    ``run`` plans a ``pet_registration`` analysis for every PET series with a
    CT or MR in its study or exam; this reads its newest finished result.
    Nothing is registered here.

    Parameters
    ----------
    workspace : Workspace
    analysis : StoredAnalysis
        A PET analysis (:func:`pet_analysis`).

    Returns
    -------
    PetAnatomy or None
        None when the PET has no stored registration (no CT or MR, a failed
        registration, or ``run`` has not computed it yet:
        :func:`pet_fusion_message` says which).
    """
    for status, result, sha, registration_id in _registrations(workspace, analysis.analysis_id):
        if status != "done" or sha is None or not isinstance(result, dict):
            continue
        return PetAnatomy(
            modality=str(result.get("modality", "")),
            description=str(result.get("description") or ""),
            same_study=bool(result.get("same_study")),
            registered=bool(result.get("registered")),
            anatomy_to_pet=[[float(v) for v in row] for row in result["anatomy_to_pet"]],
            analysis_id=int(registration_id),
            object_sha256=str(sha),
        )
    return None


def pet_fusion_message(workspace: Workspace, analysis: StoredAnalysis) -> str:
    """Why a PET has no fusion anatomy (:func:`pet_anatomy` gave None).

    Returns
    -------
    str
        One sentence for the reader (no patient data).
    """
    from tumorboard.store.models import AnalysisInput, Series, Study

    found = _registrations(workspace, analysis.analysis_id)
    failed = [value for status, value, _, _ in found if status == "failed"]
    if failed:
        return (
            f"The registration of this PET to its CT or MR failed ({str(failed[0])[:200]}): "
            "the PET is shown alone."
        )
    with workspace.session() as session:
        pet_study = session.execute(
            select(Study)
            .join(Series, Series.study_id == Study.id)
            .join(AnalysisInput, AnalysisInput.series_instance_uid == Series.series_instance_uid)
            .where(AnalysisInput.analysis_id == analysis.analysis_id, Series.kind == "pet")
        ).scalar()
        anatomy = pet_study is not None and session.scalar(
            select(Series.id)
            .join(Study, Study.id == Series.study_id)
            .where(
                Series.kind.in_(["ct", "mr"]),
                (Study.id == pet_study.id)
                if pet_study.exam_id is None
                else (Study.exam_id == pet_study.exam_id),
            )
            .limit(1)
        )
    if anatomy:
        return (
            "The PET's registration to its CT or MR is not in the record yet (run "
            "'tumorboard run'): the PET is shown alone."
        )
    return "No CT or MR series in the record for this PET's study or exam: the PET is shown alone."
