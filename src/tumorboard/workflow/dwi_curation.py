"""A reader's curation of an exam's WB-DWI components, kept in the record.

The reading room removes (or keeps again) candidate components of an exam's
WB-DWI tumour load. :func:`apply_curation`

1. checks the version of the curation the reader saw against the record's
   (a stale version is refused with :class:`StaleCuration`, nothing written);
2. assesses the exam again from the maps ``tumorboard run`` stored for it
   (:func:`tumorboard.pipeline.dwi_curate.curate_exam`: the same science, no
   new fit), in well under a second;
3. stores the curated result as the exam's newest ``wbdwi`` analysis, with
   the curation in its settings (``keep_components`` / ``remove_components``):
   the same identity (kind, inputs, settings) that ``tumorboard run`` gives
   the exam once its plan includes :func:`curation_settings`, so a later run
   reuses it, and the timeline, the report and the follow-ups (whose
   reference it is) read the curated numbers from one place;
4. writes who changed what (old → new) to the audit trail.

A curation back to the uncurated state makes the exam's uncurated analysis
its newest again (the curated rows of those inputs are removed: they are
derived, and the curation record keeps what the reader did).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tumorboard import __version__
from tumorboard.errors import InputError, TumorboardError
from tumorboard.store.models import (
    Analysis,
    AnalysisOutput,
    ChangeLogEntry,
    DwiCuration,
    Exam,
    Patient,
    utc_now,
)
from tumorboard.store.workspace import Workspace

__all__ = [
    "CURATION_KEYS",
    "CurationResult",
    "StaleCuration",
    "apply_curation",
    "curation_settings",
    "dwi_exam",
    "segmentation_curation",
]

#: Settings keys of a curated ``wbdwi`` analysis (SegmentationOptions' lists).
CURATION_KEYS = ("keep_components", "remove_components")
#: Stored maps a curation reads.
_MAP_NAMES = ("adc.nii.gz", "computed_b.nii.gz", "components.nii.gz")
#: Derived values kept in memory (by object digest), so a second change is quick.
_CACHE_SIZE = 12


class StaleCuration(TumorboardError):
    """The curation changed since the reader saw it; nothing was written."""


@dataclass(frozen=True)
class CurationResult:
    """What :func:`apply_curation` did.

    Attributes
    ----------
    version : int
        The curation's version now.
    total_diffusion_volume_ml : float
        The exam's curated tumour volume.
    summary : dict
        The curated ``summary.json``.
    analysis_id : int
        The analysis that holds it.
    """

    version: int
    total_diffusion_volume_ml: float
    summary: dict[str, Any]
    analysis_id: int


def curation_settings(session: Session, exam_id: int) -> dict[str, list[int]]:
    """The settings a curation adds to an exam's ``wbdwi`` analysis (empty if none).

    ``tumorboard run`` adds them to the settings it plans for the exam, so
    that its analysis has the identity of the one the reading room stored.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from tumorboard.store import init_workspace
    >>> ws = init_workspace(Path(tempfile.mkdtemp()) / "board")
    >>> with ws.session() as session:
    ...     curation_settings(session, 1)
    {}
    >>> ws.close()
    """
    row = session.scalars(select(DwiCuration).where(DwiCuration.exam_id == exam_id)).one_or_none()
    if row is None:
        return {}
    settings: dict[str, list[int]] = {}
    if row.kept_components:
        settings["keep_components"] = sorted(int(v) for v in row.kept_components)
    if row.removed_components:
        settings["remove_components"] = sorted(int(v) for v in row.removed_components)
    return settings


def segmentation_curation(settings: Mapping[str, Any]) -> dict[str, frozenset[int]]:
    """Keyword arguments of ``SegmentationOptions`` for the curation in analysis settings.

    ``keep_components`` and ``remove_components`` of
    :class:`~tumorboard.segment.tumour_load.SegmentationOptions`.

    Examples
    --------
    >>> segmentation_curation({"computed_b_s_per_mm2": 1000.0, "remove_components": [2, 5]})
    {'keep_components': frozenset(), 'remove_components': frozenset({2, 5})}
    """
    return {key: frozenset(int(v) for v in settings.get(key) or ()) for key in CURATION_KEYS}


# ------------------------------------------------------------------ the maps
_DEFAULT_KEPT: OrderedDict[tuple[str, ...], frozenset[int]] = OrderedDict()
_DEFAULT_KEPT_LOCK = threading.Lock()
#: Histograms of the kept components (by the maps' digests and the kept ids).
_HISTOGRAMS: OrderedDict[tuple[Any, ...], dict[str, list[Any]]] = OrderedDict()
_HISTOGRAMS_LOCK = threading.Lock()


def _stored_maps(
    workspace: Workspace, summary: Mapping[str, Any], outputs: Mapping[str, str]
) -> Any:
    from tumorboard.pipeline.dwi_curate import StoredExamMaps

    missing = [name for name in _MAP_NAMES if name not in outputs]
    if missing:
        raise InputError(
            f"this exam's WB-DWI analysis has no {', '.join(missing)}: run 'tumorboard run' "
            "again to store its maps"
        )
    from tumorboard.workflow.exam_images import stored_volume

    adc, computed_b, components = (stored_volume(workspace, outputs[n]) for n in _MAP_NAMES)
    return StoredExamMaps(summary, adc, computed_b, components)


def _default_kept(maps: Any, outputs: Mapping[str, str]) -> frozenset[int]:
    from tumorboard.pipeline.dwi_curate import default_kept_components

    settings = {k: v for k, v in maps.summary["settings"].items() if k not in CURATION_KEYS}
    key = (*(outputs[n] for n in _MAP_NAMES), json.dumps(settings, sort_keys=True, default=str))
    with _DEFAULT_KEPT_LOCK:
        if key in _DEFAULT_KEPT:
            return _DEFAULT_KEPT[key]
    kept = default_kept_components(maps)
    with _DEFAULT_KEPT_LOCK:
        _DEFAULT_KEPT[key] = kept
        while len(_DEFAULT_KEPT) > _CACHE_SIZE:
            _DEFAULT_KEPT.popitem(last=False)
    return kept


# ------------------------------------------------------------------ the record
@dataclass
class _Current:
    patient_id: int
    exam_id: int
    analysis_id: int
    summary: dict[str, Any]
    settings: dict[str, Any]
    inputs_sha256: str
    outputs: dict[str, str]
    curation: DwiCuration | None


def _parse_date(exam_date: str) -> dt.date:
    try:
        return dt.date.fromisoformat(exam_date)
    except (TypeError, ValueError):
        raise InputError(f"exam date must be ISO YYYY-MM-DD, got {exam_date[:40]!r}") from None


def _current(session: Session, patient_key: str, exam_date: str) -> _Current:
    date = _parse_date(exam_date)
    patient = session.scalars(
        select(Patient).where(Patient.patient_key == patient_key)
    ).one_or_none()
    if patient is None:
        raise InputError("no patient with that id in the record")
    exam = session.scalars(
        select(Exam).where(Exam.patient_id == patient.id, Exam.exam_date == date).order_by(Exam.id)
    ).first()
    if exam is None:
        raise InputError(f"the patient has no exam on {date.isoformat()}")
    analysis = session.scalars(
        select(Analysis)
        .where(Analysis.exam_id == exam.id, Analysis.kind == "wbdwi", Analysis.status == "done")
        .order_by(Analysis.finished_at.desc(), Analysis.id.desc())
    ).first()
    if analysis is None or not isinstance(analysis.result, dict):
        raise InputError(
            f"the exam of {date.isoformat()} has no WB-DWI analysis (run 'tumorboard run')"
        )
    outputs = {
        name: sha
        for name, sha in session.execute(
            select(AnalysisOutput.name, AnalysisOutput.object_sha256).where(
                AnalysisOutput.analysis_id == analysis.id
            )
        )
    }
    curation = session.scalars(
        select(DwiCuration).where(DwiCuration.exam_id == exam.id)
    ).one_or_none()
    return _Current(
        patient_id=patient.id,
        exam_id=exam.id,
        analysis_id=analysis.id,
        summary=analysis.result,
        settings=dict(analysis.settings),
        inputs_sha256=analysis.inputs_sha256,
        outputs=outputs,
        curation=curation,
    )


def _curation_json(curation: DwiCuration | None) -> dict[str, Any]:
    if curation is None:
        return {"version": 0, "author": None, "updated_at": None}
    updated = curation.updated_at
    if updated.tzinfo is None:
        updated = updated.replace(tzinfo=dt.UTC)
    return {
        "version": curation.version,
        "author": curation.author,
        "updated_at": updated.isoformat(),
    }


def dwi_exam(workspace: Workspace, patient_key: str, exam_date: str) -> dict[str, Any]:
    """An exam's WB-DWI result as the reading room shows it.

    Returns
    -------
    dict
        ``exam_date``, ``analysis_id``, ``total_diffusion_volume_ml``,
        ``classes_ml``, ``adc_um2_per_s`` (statistics), ``histogram``
        (50 um^2/s bins of the kept components), ``components`` (the table,
        kept and removed), ``curation`` (``version``, ``author``,
        ``updated_at``), ``outputs`` (stored object names) and ``summary``
        (the whole ``summary.json``).

    Raises
    ------
    InputError
        Unknown patient or exam, or an exam without a WB-DWI analysis.
    """
    with workspace.session() as session:
        current = _current(session, patient_key, exam_date)
        curation = _curation_json(current.curation)
    summary = current.summary
    histogram: dict[str, list[Any]] | None = None
    if all(name in current.outputs for name in _MAP_NAMES):
        from tumorboard.pipeline.dwi_curate import kept_histogram

        kept = sorted(
            int(c["component_id"]) for c in summary.get("components", []) if c.get("kept")
        )
        key = (*(current.outputs[n] for n in _MAP_NAMES), tuple(kept))
        with _HISTOGRAMS_LOCK:
            histogram = _HISTOGRAMS.get(key)
        if histogram is None:
            maps = _stored_maps(workspace, summary, current.outputs)
            found = kept_histogram(maps, kept)
            histogram = {
                "bin_lower_um2_per_s": [float(v) for v in found.lower_um2_per_s],
                "bin_upper_um2_per_s": [float(v) for v in found.upper_um2_per_s],
                "voxels": [int(v) for v in found.counts],
                "relative_frequency": [float(v) for v in found.relative_frequency],
            }
            with _HISTOGRAMS_LOCK:
                _HISTOGRAMS[key] = histogram
                while len(_HISTOGRAMS) > 4 * _CACHE_SIZE:
                    _HISTOGRAMS.popitem(last=False)
        histogram = {name: list(values) for name, values in histogram.items()}
    return {
        "exam_date": _parse_date(exam_date).isoformat(),
        "analysis_id": current.analysis_id,
        "total_diffusion_volume_ml": summary.get("total_diffusion_volume_ml"),
        "classes_ml": summary.get("classes_ml"),
        "adc_um2_per_s": summary.get("adc_um2_per_s"),
        "tdv_change_pct": summary.get("tdv_change_pct"),
        "reference_exam": summary.get("reference_exam"),
        "plausibility_flags": summary.get("plausibility_flags", []),
        "histogram": histogram,
        "components": summary.get("components", []),
        "curation": curation,
        "outputs": sorted(current.outputs),
        "summary": summary,
    }


def _check_ids(ids: Collection[int], known: set[int], what: str) -> frozenset[int]:
    values = frozenset(ids)
    if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise InputError(f"{what}: component ids must be integers")
    unknown = sorted(values - known)
    if unknown:
        shown = ", ".join(str(v) for v in unknown[:10])
        raise InputError(
            f"{what}: component ids {shown} do not exist (this exam has ids "
            f"1..{max(known) if known else 0})"
        )
    return values


def apply_curation(
    workspace: Workspace,
    patient_key: str,
    exam_date: str,
    *,
    remove: Collection[int] = (),
    keep: Collection[int] = (),
    seen_version: int,
    author: str,
) -> CurationResult:
    """Remove or keep components of an exam's WB-DWI tumour load.

    Parameters
    ----------
    workspace : Workspace
    patient_key : str
    exam_date : str
        ISO date of the exam.
    remove, keep : collection of int
        Component ids to take out of the tumour load, and to count in it
        (again); an id may not be in both.
    seen_version : int
        The curation version the reader's change is based on (0 before the
        first curation).
    author : str
        Who curates (the audit trail's author).

    Returns
    -------
    CurationResult

    Raises
    ------
    StaleCuration
        When the curation is no longer at ``seen_version`` (another reader
        changed it); nothing was written.
    InputError
        Unknown patient, exam or component ids, an id both kept and removed,
        or an exam without stored maps.
    EmptyResultError
        When the change would remove every component.
    """
    import numpy as np

    from tumorboard.imaging.nifti import write_nifti
    from tumorboard.pipeline.dwi_assess import ExamName, summary_payload
    from tumorboard.pipeline.dwi_curate import curate_exam, resolve_curation

    if isinstance(seen_version, bool) or not isinstance(seen_version, int) or seen_version < 0:
        raise InputError("version: must be the curation version you saw (an integer >= 0)")
    with workspace.session() as session:
        current = _current(session, patient_key, exam_date)
        version = current.curation.version if current.curation is not None else 0
        old_settings = curation_settings(session, current.exam_id)
    if seen_version != version:
        raise StaleCuration(_stale_message(current.curation))
    known = {int(c["component_id"]) for c in current.summary.get("components", [])}
    removing = _check_ids(remove, known, "remove")
    keeping = _check_ids(keep, known, "keep")
    both = sorted(removing & keeping)
    if both:
        raise InputError(f"component ids {both} are both kept and removed")
    kept_now = {int(c["component_id"]) for c in current.summary["components"] if c["kept"]}
    kept = (kept_now - removing) | keeping
    maps = _stored_maps(workspace, current.summary, current.outputs)
    lists = resolve_curation(_default_kept(maps, current.outputs), kept)
    assessment = curate_exam(maps, lists)
    name = ExamName.from_json(current.summary.get("exam"), "stored summary") or ExamName()
    payload = json.loads(json.dumps(summary_payload(assessment, name), default=float))
    new_settings = lists.as_settings()
    with tempfile.TemporaryDirectory(prefix="tumorboard-curate-") as scratch:
        classes = write_nifti(assessment.classes, Path(scratch) / "classes.nii.gz", dtype=np.uint8)
        outputs = dict(current.outputs)
        outputs["classes.nii.gz"] = workspace.objects.put_file(classes)
        text = json.dumps(payload, indent=2, allow_nan=False) + "\n"
        outputs["summary.json"] = workspace.objects.put_bytes(text.encode("utf-8"))
    workspace.objects.sync()
    try:
        with workspace.session() as session:
            row_id, new_version = _store_curation(
                session, current, seen_version, new_settings, author
            )
            analysis_id = _store_analysis(session, current, new_settings, payload, outputs)
            _audit(
                session,
                current,
                row_id,
                author,
                [
                    ("remove_components", old_settings, new_settings),
                    ("keep_components", old_settings, new_settings),
                ],
                payload,
            )
    except IntegrityError:  # a concurrent first curation of the same exam won
        raise StaleCuration(
            "another reader curated this exam at the same time: reload it and apply your "
            "change again"
        ) from None
    return CurationResult(
        version=new_version,
        total_diffusion_volume_ml=float(payload["total_diffusion_volume_ml"]),
        summary=payload,
        analysis_id=analysis_id,
    )


def _stale_message(curation: DwiCuration | None) -> str:
    if curation is None:
        return "the curation you saw is no longer current: reload the exam and apply your change"
    return (
        f"this exam's curation was changed by {curation.author} (now version "
        f"{curation.version}): reload the exam and apply your change again; nothing was saved"
    )


def _store_curation(
    session: Session,
    current: _Current,
    seen_version: int,
    settings: Mapping[str, list[int]],
    author: str,
) -> tuple[int, int]:
    removed = list(settings.get("remove_components", []))
    kept = list(settings.get("keep_components", []))
    now = utc_now()
    if current.curation is None:
        row = DwiCuration(
            exam_id=current.exam_id,
            removed_components=removed,
            kept_components=kept,
            version=1,
            author=author,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return row.id, 1
    changed = session.execute(
        update(DwiCuration)
        .where(DwiCuration.id == current.curation.id, DwiCuration.version == seen_version)
        .values(
            removed_components=removed,
            kept_components=kept,
            version=seen_version + 1,
            author=author,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if not isinstance(changed, CursorResult) or changed.rowcount != 1:
        fresh = session.get(DwiCuration, current.curation.id, populate_existing=True)
        raise StaleCuration(_stale_message(fresh))
    return current.curation.id, seen_version + 1


def _sha256_of(value: Any) -> str:
    from tumorboard.workflow.analysis_runs import _sha256_of as run_digest

    return run_digest(value)


def _store_analysis(
    session: Session,
    current: _Current,
    curation: Mapping[str, list[int]],
    payload: dict[str, Any],
    outputs: Mapping[str, str],
) -> int:
    base = {
        k: v
        for k, v in current.settings.items()
        if k not in CURATION_KEYS and k != "reference_exam_id"
    }
    planned = {**base, **curation}
    settings_sha256 = _sha256_of(planned)
    same_inputs = list(
        session.scalars(
            select(Analysis).where(
                Analysis.exam_id == current.exam_id,
                Analysis.kind == "wbdwi",
                Analysis.inputs_sha256 == current.inputs_sha256,
            )
        )
    )
    target = next((a for a in same_inputs if a.settings_sha256 == settings_sha256), None)
    for analysis in same_inputs:  # curated results of other curations are derived: remove
        if analysis is not target and any(k in (analysis.settings or {}) for k in CURATION_KEYS):
            session.delete(analysis)
    now = utc_now()
    if target is None:
        target = Analysis(
            patient_id=current.patient_id,
            exam_id=current.exam_id,
            kind="wbdwi",
            tumorboard_version=__version__,
            settings={**planned, "reference_exam_id": current.settings.get("reference_exam_id")},
            settings_sha256=settings_sha256,
            inputs_sha256=current.inputs_sha256,
            status="done",
            started_at=now,
        )
        session.add(target)
    target.status = "done"
    target.error = None
    target.claimed_by = None
    target.result = payload
    target.finished_at = now  # the exam's newest analysis: the one the record shows
    session.flush()
    session.execute(delete(AnalysisOutput).where(AnalysisOutput.analysis_id == target.id))
    session.add_all(
        AnalysisOutput(analysis_id=target.id, name=name, object_sha256=sha)
        for name, sha in sorted(outputs.items())
    )
    return target.id


def _audit(
    session: Session,
    current: _Current,
    row_id: int,
    author: str,
    fields: list[tuple[str, Mapping[str, list[int]], Mapping[str, list[int]]]],
    payload: Mapping[str, Any],
) -> None:
    def shown(settings: Mapping[str, list[int]], key: str) -> str:
        return json.dumps(list(settings.get(key, [])))

    entries: list[tuple[str, str | None, str | None]] = [
        (key, shown(old, key), shown(new, key))
        for key, old, new in fields
        if shown(old, key) != shown(new, key)
    ]
    entries.append(
        (
            "total_diffusion_volume_ml",
            _text(current.summary.get("total_diffusion_volume_ml")),
            _text(payload.get("total_diffusion_volume_ml")),
        )
    )
    session.add_all(
        ChangeLogEntry(
            table_name="dwi_curations",
            row_id=row_id,
            field=field,
            old_value=old,
            new_value=new,
            author=author,
            patient_id=current.patient_id,
        )
        for field, old, new in entries
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)
