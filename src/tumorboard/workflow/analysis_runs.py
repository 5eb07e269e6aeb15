"""``tumorboard run``: every applicable analysis once per new or changed input.

For each patient of the record this plans the analyses its series allow:

* ``wbdwi``: the WB-DWI tumour load of every exam with diffusion series
  (:func:`tumorboard.pipeline.dwi_assess.assess_exam`), against the reference
  exam chosen by :mod:`tumorboard.workflow.reference_exam`;
* ``pet_suv``: the SUV conversion of every PET series, once, with the lesion
  values of a DICOM SEG of the same study when there is one
  (:func:`tumorboard.pipeline.pet_suv.compute_pet_suv`);
* ``pet_registration``: for every PET series with a CT or MR series in its
  study or exam (its own study first, then a CT before an MR), that series
  registered rigidly to the PET, or taken as it is when both share a frame
  of reference (:mod:`tumorboard.workflow.pet_registration_analysis`); the
  reading room fuses the PET on the stored result;
* ``dce``: the per-lesion perfusion of every DCE dynamic series that has a
  lesion SEG in the same study (:mod:`tumorboard.workflow.dce_analysis`);
* ``lesion_seg`` and ``lesion_rtstruct``: the sizes (and on CT the HU) of the
  lesions of every lesion SEG or RTSTRUCT drawn on a CT or MR series, on the
  grid of the series it references, stored as ``automatic`` measurements;
  ``lesion_sr``: the measurement groups of every TID 1500 SR, stored as
  ``imported`` measurements (:mod:`tumorboard.workflow.lesion_measurements`;
  a SEG drawn on a PET, DCE or WB-DWI series belongs to those analyses);
* after those, per patient, ``criteria``: the responses of every criteria
  from the patient's reads (the timeline's engine), stored in the
  assessments table; and ``guide``: the reading guide of the patient's newest
  case facts (:mod:`tumorboard.workflow.criteria_runs`).

An analysis is identified by its kind, the SHA-256 of its inputs (every
instance of its series, and the result of its reference exam) and of its
settings. One whose identity is already in the record with status ``done``
is reused, never recomputed. Runs claim an analysis by inserting its row
(unique on that identity) with status ``running`` and ``claimed_by`` =
``host:pid``; a second run at the same time finds the row and leaves it, and
a run killed half-way leaves a row whose process is gone, which the next run
takes over. A failure is recorded on its row and reported; the other
analyses go on. A claim is looked up and inserted in one short write
transaction.

An analysis of a lesion object, ``criteria`` or ``guide`` whose inputs
changed is replaced, not forgotten: when the new one is done the older one
of the same source (the same SEG, RTSTRUCT or SR series; the same patient for
``criteria`` and ``guide``) gets status ``superseded`` and keeps its result
and its measurements, which are no longer used.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from tumorboard import __version__
from tumorboard.errors import TumorboardError
from tumorboard.store.models import (
    Analysis,
    AnalysisInput,
    AnalysisOutput,
    Exam,
    Instance,
    Patient,
    Series,
    Study,
    TherapyLine,
    utc_now,
)
from tumorboard.store.workspace import Workspace
from tumorboard.worker_pool import process_alive
from tumorboard.workflow import criteria_runs
from tumorboard.workflow.dce_analysis import DCE_SETTINGS
from tumorboard.workflow.dwi_curation import curation_settings, segmentation_curation
from tumorboard.workflow.lesion_measurements import (
    MEASUREMENT_KINDS,
    SOURCE_OF_KIND,
    SR_SOP_CLASSES,
    ImageReferences,
    referenced_uids,
    store_lesion_values,
)
from tumorboard.workflow.pet_registration_analysis import (
    PET_REGISTRATION_KIND,
    PET_REGISTRATION_SETTINGS,
)
from tumorboard.workflow.reference_exam import LineStart, reference_dates
from tumorboard.workflow.series_kind import SeriesKind

__all__ = [
    "SUPERSEDED",
    "RunSummary",
    "is_exclusion_description",
    "planned_analyses",
    "planned_by_patient",
    "run_analyses",
    "run_patient_records",
]

#: Where a run links the files of the series it reads (inside the workspace).
RUN_FOLDER = ".run"

#: How often a run looks again at an analysis another local run is computing.
WAIT_POLL_S = 0.2

#: Settings of each kind of analysis (part of its identity).
DWI_SETTINGS: dict[str, Any] = {"computed_b_s_per_mm2": 1000.0, "segmentation": "default"}
PET_SETTINGS: dict[str, Any] = {"sul_formula": "janmahasatian"}
LESION_SETTINGS: dict[str, Any] = {
    "sizes": "lesions.diameters.measure_lesion_sizes",
    "ct_hu": "lesions.diameters.measure_lesion_intensity",
    "significant_digits": 6,
    "new_lesion_role": "non-target",
}
SR_SETTINGS: dict[str, Any] = {"reader": "highdicom TID 1500", "significant_digits": 6}

#: Status of an analysis replaced by a newer one of the same source (kept, not used).
SUPERSEDED = "superseded"

#: Kinds whose newer analysis supersedes the older one of the same source.
_REPLACED_KINDS = (*MEASUREMENT_KINDS, *criteria_runs.RECORD_KINDS)

#: Image series kinds a lesion SEG or RTSTRUCT is measured on, with their modality.
_IMAGE_KINDS = {SeriesKind.CT.value: "CT", SeriesKind.MR.value: "MR"}


@dataclass
class RunSummary:
    """What one ``run`` did.

    Attributes
    ----------
    analyses_run : int
        Analyses computed by this run (done or failed).
    analyses_reused : int
        Analyses already in the record with the same inputs and settings.
    failed : list of dict
        ``kind``, ``exam_date``, ``series_uid`` and one-line ``error`` of each
        analysis that failed in this run.
    in_progress : int
        Analyses another run was computing at the same time.
    """

    analyses_run: int = 0
    analyses_reused: int = 0
    failed: list[dict[str, str | None]] = field(default_factory=list)
    in_progress: int = 0

    def as_json(self) -> dict[str, Any]:
        """The JSON printed by ``tumorboard run --json``."""
        return {
            "analyses_run": self.analyses_run,
            "analyses_reused": self.analyses_reused,
            "failed": self.failed,
            "in_progress": self.in_progress,
        }


@dataclass(frozen=True)
class _SeriesFiles:
    uid: str
    kind: str
    study_id: int
    instance_sha256: tuple[str, ...]
    description: str = ""
    sop_classes: frozenset[str] = frozenset()
    record_id: int = 0
    frame_of_reference: str | None = None

    @property
    def is_exclusion(self) -> bool:
        """A SEG of normal structures to remove from the WB-DWI tumour load."""
        return self.kind == SeriesKind.SEG.value and is_exclusion_description(self.description)

    @property
    def digest(self) -> str:
        return _sha256_of(sorted(self.instance_sha256))


@dataclass
class PlannedAnalysis:
    """One analysis a patient's record allows.

    Attributes
    ----------
    kind : str
        ``wbdwi``, ``pet_suv``, ``pet_registration``, ``dce`` or a lesion kind.
    patient_id, exam_id : int
        Record ids.
    exam_date : date
    exam_label : str
    series : tuple of _SeriesFiles
        The input series.
    settings : dict
        Settings of the analysis.
    reference_exam_id : int or None
        For ``wbdwi``: the exam whose result is this exam's reference (None
        when the exam is its own reference).
    """

    kind: str
    patient_id: int
    exam_id: int
    exam_date: dt.date
    exam_label: str
    series: tuple[_SeriesFiles, ...]
    settings: dict[str, Any]
    reference_exam_id: int | None = None

    def inputs_sha256(self, reference_result: dict[str, Any] | None) -> str:
        """Digest of every input file, and of the reference exam's result."""
        parts: list[Any] = sorted([s.uid, s.digest] for s in self.series)
        if self.reference_exam_id is not None:
            parts.append(["reference", _sha256_of(reference_result)])
        return _sha256_of(parts)

    @property
    def settings_sha256(self) -> str:
        """Digest of the settings."""
        return _sha256_of(self.settings)


def is_exclusion_description(description: str | None) -> bool:
    """Tell whether a SEG's series description names an exclusion mask.

    tumorboard's convention (the sources name none): a SEG whose
    SeriesDescription contains "exclusion" holds normal structures removed
    from the WB-DWI tumour load of its exam; any other SEG holds lesions.

    Examples
    --------
    >>> is_exclusion_description("tumorboard exclusion: normal bright structures")
    True
    >>> is_exclusion_description("PET lesions")
    False
    """
    return "exclusion" in (description or "").lower()


def _sha256_of(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def planned_analyses(workspace: Workspace, patient_key: str | None = None) -> list[PlannedAnalysis]:
    """Plan every analysis of the record (or of one patient), references first.

    Parameters
    ----------
    workspace : Workspace
    patient_key : str, optional
        Only this patient.

    Returns
    -------
    list of PlannedAnalysis
        In an order where each exam's reference comes before it.

    Raises
    ------
    TumorboardError
        If the patient is not in the record.
    """
    with workspace.session() as session:
        query = select(Patient)
        if patient_key is not None:
            query = query.where(Patient.patient_key == patient_key)
        patients = list(session.scalars(query.order_by(Patient.id)))
        if patient_key is not None and not patients:
            raise TumorboardError(f"run: no patient with that id in workspace {workspace.root}")
        plans: list[PlannedAnalysis] = []
        for patient in patients:
            plans.extend(_plan_patient(session, patient, workspace))
        return plans


def planned_by_patient(
    workspace: Workspace, patient_ids: Sequence[int]
) -> Iterator[tuple[int, list[PlannedAnalysis]]]:
    """Plan the analyses of each patient in turn, yielding them as soon as they are planned.

    ``tumorboard cohort run`` submits a patient's analyses while it plans the
    next patient's, so the workers start after the first patient's planning,
    not after the whole cohort's.

    Parameters
    ----------
    workspace : Workspace
    patient_ids : sequence of int
        Record ids of the patients, in the order wanted.

    Yields
    ------
    (int, list of PlannedAnalysis)
        The patient's id and its analyses, each exam's reference before it.

    Raises
    ------
    TumorboardError
        If a patient is not in the record.
    """
    with workspace.session() as session:
        for patient_id in patient_ids:
            patient = session.get(Patient, patient_id)
            if patient is None:
                raise TumorboardError(f"run: no patient {patient_id} in workspace {workspace.root}")
            yield patient_id, _plan_patient(session, patient, workspace)


def _plan_patient(
    session: Any, patient: Patient, workspace: Workspace | None = None
) -> list[PlannedAnalysis]:
    rows = session.execute(
        select(
            Exam.id,
            Exam.exam_date,
            Exam.label,
            Series.series_instance_uid,
            Series.kind,
            Series.study_id,
            Series.description,
            Instance.sha256,
            Instance.sop_class_uid,
            Series.id,
            Series.frame_of_reference_uid,
        )
        .join(Study, Study.exam_id == Exam.id)
        .join(Series, Series.study_id == Study.id)
        .join(Instance, Instance.series_id == Series.id)
        .where(Exam.patient_id == patient.id)
        .where(
            Series.kind.in_(
                [
                    SeriesKind.WBDWI.value,
                    SeriesKind.PET.value,
                    SeriesKind.SEG.value,
                    SeriesKind.DCE.value,
                    SeriesKind.CT.value,
                    SeriesKind.MR.value,
                    SeriesKind.RTSTRUCT.value,
                    SeriesKind.SR.value,
                ]
            )
        )
    )
    files: dict[tuple[int, str], list[str]] = defaultdict(list)
    classes: dict[tuple[int, str], set[str]] = defaultdict(set)
    meta: dict[tuple[int, str], tuple[str, int, str, int, str | None]] = {}
    exams: dict[int, tuple[dt.date, str]] = {}
    for (
        exam_id,
        exam_date,
        label,
        uid,
        kind,
        study_id,
        description,
        sha,
        sop_class,
        series_id,
        frame,
    ) in rows:
        files[(exam_id, uid)].append(sha)
        classes[(exam_id, uid)].add(sop_class)
        meta[(exam_id, uid)] = (kind, study_id, description or "", series_id, frame)
        exams[exam_id] = (exam_date, label)
    by_exam: dict[int, list[_SeriesFiles]] = defaultdict(list)
    for (exam_id, uid), shas in files.items():
        kind, study_id, description, series_id, frame = meta[(exam_id, uid)]
        by_exam[exam_id].append(
            _SeriesFiles(
                uid,
                kind,
                study_id,
                tuple(sorted(shas)),
                description,
                frozenset(classes[(exam_id, uid)]),
                series_id,
                frame,
            )
        )
    plans: list[PlannedAnalysis] = []
    dwi_exams = {
        exam_id: sorted(
            (s for s in series if s.kind == SeriesKind.WBDWI.value), key=lambda s: s.uid
        )
        for exam_id, series in by_exam.items()
    }
    dwi_exams = {exam_id: series for exam_id, series in dwi_exams.items() if series}
    if dwi_exams:
        lines = session.execute(
            select(TherapyLine.start_date, Exam.exam_date)
            .outerjoin(Exam, Exam.id == TherapyLine.baseline_exam_id)
            .where(TherapyLine.patient_id == patient.id)
        )
        starts = [LineStart(start, baseline) for start, baseline in lines if start is not None]
        date_to_exam = {exams[exam_id][0]: exam_id for exam_id in sorted(dwi_exams, reverse=True)}
        references = reference_dates(list(date_to_exam), starts)
        dwi_plans = []
        for exam_id, series in dwi_exams.items():
            date, label = exams[exam_id]
            reference = date_to_exam.get(references[date])
            exclusion = sorted((s for s in by_exam[exam_id] if s.is_exclusion), key=lambda s: s.uid)
            series = [*series, *exclusion]
            dwi_plans.append(
                PlannedAnalysis(
                    kind="wbdwi",
                    patient_id=patient.id,
                    exam_id=exam_id,
                    exam_date=date,
                    exam_label=label,
                    series=tuple(series),
                    settings={**DWI_SETTINGS, **curation_settings(session, exam_id)},
                    reference_exam_id=None if reference == exam_id else reference,
                )
            )
        # references (their own reference) first, then the rest in date order
        dwi_plans.sort(key=lambda plan: (plan.reference_exam_id is not None, plan.exam_date))
        plans.extend(dwi_plans)
    for exam_id, series in sorted(by_exam.items(), key=lambda item: exams[item[0]][0]):
        date, label = exams[exam_id]
        segs = [s for s in series if s.kind == SeriesKind.SEG.value and not s.is_exclusion]
        for pet in (s for s in series if s.kind == SeriesKind.PET.value):
            seg = [s for s in segs if s.study_id == pet.study_id][:1]
            plans.append(
                PlannedAnalysis(
                    kind="pet_suv",
                    patient_id=patient.id,
                    exam_id=exam_id,
                    exam_date=date,
                    exam_label=label,
                    series=(pet, *seg),
                    settings=dict(PET_SETTINGS, lesions_from_seg=bool(seg)),
                )
            )
            anatomy = _pet_anatomy_series(pet, series)
            if anatomy is not None:
                same_frame = (
                    pet.frame_of_reference is not None
                    and pet.frame_of_reference == anatomy.frame_of_reference
                )
                plans.append(
                    PlannedAnalysis(
                        kind=PET_REGISTRATION_KIND,
                        patient_id=patient.id,
                        exam_id=exam_id,
                        exam_date=date,
                        exam_label=label,
                        series=(pet, anatomy),
                        settings=dict(
                            PET_REGISTRATION_SETTINGS, same_frame_of_reference=same_frame
                        ),
                    )
                )
        dynamics = sorted(
            (s for s in series if s.kind == SeriesKind.DCE.value), key=lambda s: s.uid
        )
        for dce in dynamics:  # only with a lesion SEG of the same study
            dce_segs = sorted((s for s in segs if s.study_id == dce.study_id), key=lambda s: s.uid)
            if dce_segs:
                plans.append(
                    PlannedAnalysis(
                        kind="dce",
                        patient_id=patient.id,
                        exam_id=exam_id,
                        exam_date=date,
                        exam_label=label,
                        series=(dce, dce_segs[0]),
                        settings=dict(DCE_SETTINGS),
                    )
                )
    if workspace is not None:
        plans.extend(_plan_lesion_objects(session, workspace, patient.id, by_exam, exams))
    return plans


def _pet_anatomy_series(pet: _SeriesFiles, series: Sequence[_SeriesFiles]) -> _SeriesFiles | None:
    """The CT or MR a PET is fused on: of its own study first, then a CT before an MR."""
    candidates = [s for s in series if s.kind in _IMAGE_KINDS]
    if not candidates:
        return None
    return min(
        candidates,
        key=lambda s: (s.study_id != pet.study_id, s.kind != SeriesKind.CT.value, s.record_id),
    )


def _plan_lesion_objects(
    session: Any,
    workspace: Workspace,
    patient_id: int,
    by_exam: dict[int, list[_SeriesFiles]],
    exams: dict[int, tuple[dt.date, str]],
) -> list[PlannedAnalysis]:
    """The ``lesion_seg``, ``lesion_rtstruct`` and ``lesion_sr`` analyses of a patient.

    A lesion SEG or RTSTRUCT is measured on the CT or MR series it references
    (by series, or by instance), at that series' exam; one drawn on another
    kind of series (PET, DCE, WB-DWI) is left to that series' analysis. One
    that names no series is measured on the only CT or MR series of its
    study; one whose header cannot be read, or whose images are not in the
    record, gets an analysis that fails and says why.
    """
    where: dict[str, tuple[int, _SeriesFiles]] = {
        item.uid: (exam_id, item) for exam_id, series in by_exam.items() for item in series
    }
    plans: list[PlannedAnalysis] = []
    for exam_id, series in sorted(by_exam.items(), key=lambda item: exams[item[0]][0]):
        for source in sorted(series, key=lambda s: s.uid):
            if source.kind == SeriesKind.SR.value:
                if source.sop_classes & SR_SOP_CLASSES:
                    plans.append(_lesion_plan("lesion_sr", patient_id, exam_id, exams, (source,)))
                continue
            if source.kind == SeriesKind.RTSTRUCT.value:
                kind = "lesion_rtstruct"
            elif source.kind == SeriesKind.SEG.value and not source.is_exclusion:
                kind = "lesion_seg"
            else:
                continue
            references = _object_references(workspace, source)
            images: list[_SeriesFiles] = []
            if references is not None:
                named = set(references.series_uids) | _series_of_instances(
                    session, references.instance_uids
                )
                known = [where[uid] for uid in sorted(named) if uid in where]
                images = [item for _, item in known if item.kind in _IMAGE_KINDS]
                elsewhere = [uid for uid in named if uid not in where]
                if not images and (known or _series_in_record(session, elsewhere)):
                    continue  # drawn on a PET, DCE, WB-DWI or other series: not measured here
                if not named:
                    same_study = [
                        item
                        for item in series
                        if item.kind in _IMAGE_KINDS and item.study_id == source.study_id
                    ]
                    images = same_study if len(same_study) == 1 else []
            at = where[images[0].uid][0] if images else exam_id
            plans.append(_lesion_plan(kind, patient_id, at, exams, (source, *images)))
    return plans


def _lesion_plan(
    kind: str,
    patient_id: int,
    exam_id: int,
    exams: dict[int, tuple[dt.date, str]],
    series: tuple[_SeriesFiles, ...],
) -> PlannedAnalysis:
    date, label = exams[exam_id]
    settings = SR_SETTINGS if kind == "lesion_sr" else LESION_SETTINGS
    return PlannedAnalysis(
        kind=kind,
        patient_id=patient_id,
        exam_id=exam_id,
        exam_date=date,
        exam_label=label,
        series=series,
        settings=dict(settings),
    )


def _object_references(workspace: Workspace, source: _SeriesFiles) -> ImageReferences | None:
    """What the instances of a SEG or RTSTRUCT series reference (None if unreadable)."""
    series: set[str] = set()
    instances: set[str] = set()
    for sha in source.instance_sha256:
        try:
            found = referenced_uids(workspace.objects.path(sha), sha)
        except (TumorboardError, OSError):
            return None
        series |= found.series_uids
        instances |= found.instance_uids
    return ImageReferences(frozenset(series), frozenset(instances))


def _series_in_record(session: Any, uids: Sequence[str]) -> bool:
    return bool(uids) and (
        session.scalar(
            select(Series.id).where(Series.series_instance_uid.in_(list(uids[:500]))).limit(1)
        )
        is not None
    )


def _series_of_instances(session: Any, instance_uids: frozenset[str]) -> set[str]:
    if not instance_uids:
        return set()
    found: set[str] = set()
    uids = sorted(instance_uids)
    for start in range(0, len(uids), 500):
        found.update(
            session.scalars(
                select(Series.series_instance_uid)
                .join(Instance, Instance.series_id == Series.id)
                .where(Instance.sop_instance_uid.in_(uids[start : start + 500]))
                .distinct()
            )
        )
    return found


def run_analyses(
    workspace: Workspace,
    patient_key: str | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Run every planned analysis whose inputs or settings are new.

    The analyses of the images come first; then, for every patient (or the
    one asked for), ``criteria`` and ``guide`` (:func:`run_patient_records`),
    so that they read the measurements this run stored.

    Parameters
    ----------
    workspace : Workspace
    patient_key : str, optional
        Only this patient.
    progress : callable, optional
        Called with (analyses handled, analyses planned).

    Returns
    -------
    RunSummary
    """
    _remove_stale_run_folders(workspace.root / RUN_FOLDER)
    plans = planned_analyses(workspace, patient_key)
    summary = RunSummary()
    results: dict[int, dict[str, Any] | None] = {}  # wbdwi result of each exam
    for number, plan in enumerate(plans, start=1):
        reference = None
        if plan.kind == "wbdwi" and plan.reference_exam_id is not None:
            reference = results.get(plan.reference_exam_id)
            if reference is None:
                summary.failed.append(_failure(plan, "its reference exam has no WB-DWI result"))
                summary.analyses_run += 1
                if progress:
                    progress(number, len(plans))
                continue
        outcome, result = _run_one(workspace, plan, reference)
        if plan.kind == "wbdwi":
            results[plan.exam_id] = result
        _count(summary, outcome, functools.partial(_failure, plan))
        if progress:
            progress(number, len(plans))
    with workspace.session() as session:
        query = select(Patient.id).order_by(Patient.id)
        if patient_key is not None:
            query = query.where(Patient.patient_key == patient_key)
        patient_ids = list(session.scalars(query))
    for patient_id in patient_ids:
        for kind, outcome in run_patient_records(workspace, patient_id):
            _count(summary, outcome, functools.partial(_record_failure, kind))
    return summary


def _count(
    summary: RunSummary, outcome: str, failure: Callable[[str], dict[str, str | None]]
) -> None:
    if outcome == "reused":
        summary.analyses_reused += 1
    elif outcome == "busy":
        summary.in_progress += 1
    else:
        summary.analyses_run += 1
        if outcome != "done":
            summary.failed.append(failure(outcome))


def run_patient_records(workspace: Workspace, patient_id: int) -> list[tuple[str, str]]:
    """Run the patient's ``criteria`` and ``guide`` analyses when their inputs are new.

    ``criteria`` runs when the patient has reads; its input is the patient's
    measurement table as the criteria read it (so it reruns whenever a read
    or a value the criteria use changes), and its result is stored in the
    assessments table. ``guide`` runs when the patient has case facts.
    ``tumorboard cohort run`` calls this after a patient's image analyses.

    Parameters
    ----------
    workspace : Workspace
    patient_id : int
        Record id of the patient.

    Returns
    -------
    list of (str, str)
        ``(kind, outcome)``; the outcome is ``done``, ``reused``, ``busy`` or
        the one-line error.
    """
    outcomes: list[tuple[str, str]] = []
    for job in criteria_runs.record_jobs(workspace, patient_id):
        identity = _Identity(
            kind=job.kind,
            patient_id=patient_id,
            exam_id=None,
            settings=job.settings,
            inputs_sha256=_sha256_of(job.inputs),
            settings_sha256=_sha256_of(job.settings),
            inputs=(),
        )
        outcome, _ = _run_identity(workspace, identity, functools.partial(_no_outputs, job))
        outcomes.append((job.kind, outcome))
    return outcomes


def _no_outputs(job: criteria_runs.RecordJob) -> tuple[dict[str, Any], dict[str, str]]:
    return job.compute(), {}


def _failure(plan: PlannedAnalysis, error: str) -> dict[str, str | None]:
    return {
        "kind": plan.kind,
        "exam_date": plan.exam_date.isoformat(),
        "series_uid": plan.series[0].uid,
        "error": error,
    }


def _record_failure(kind: str, error: str) -> dict[str, str | None]:
    return {"kind": kind, "exam_date": None, "series_uid": None, "error": error}


def _claimant() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _local(claimed_by: str | None) -> bool:
    return (claimed_by or "").rpartition(":")[0] == socket.gethostname()


def _claimant_alive(claimed_by: str | None) -> bool:
    host, _, pid = (claimed_by or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's run: leave it
    return process_alive(int(pid))


@dataclass(frozen=True)
class _Identity:
    """What makes an analysis the same analysis (and its input rows)."""

    kind: str
    patient_id: int
    exam_id: int | None
    settings: dict[str, Any]
    inputs_sha256: str
    settings_sha256: str
    inputs: tuple[tuple[str, str], ...]


def _run_one(
    workspace: Workspace, plan: PlannedAnalysis, reference: dict[str, Any] | None
) -> tuple[str, dict[str, Any] | None]:
    """Claim, compute and record one analysis; return (outcome, result).

    The outcome is ``done``, ``reused``, ``busy`` or the one-line error.
    """
    identity = _Identity(
        kind=plan.kind,
        patient_id=plan.patient_id,
        exam_id=plan.exam_id,
        settings={**plan.settings, "reference_exam_id": plan.reference_exam_id},
        inputs_sha256=plan.inputs_sha256(reference),
        settings_sha256=plan.settings_sha256,
        inputs=tuple((s.uid, s.digest) for s in plan.series),
    )
    return _run_identity(workspace, identity, lambda: _compute(workspace, plan, reference))


def _run_identity(
    workspace: Workspace,
    identity: _Identity,
    compute: Callable[[], tuple[dict[str, Any], dict[str, str]]],
) -> tuple[str, dict[str, Any] | None]:
    while True:
        try:
            state, value = _claim(workspace, identity)
        except IntegrityError:  # another run claimed it between our look and our insert
            continue
        if state == "claimed":
            analysis_id = int(value)
            break
        if state != "wait":
            return state, value
        time.sleep(WAIT_POLL_S)  # another run on this machine is computing it: wait
    try:
        result, outputs = compute()
    except TumorboardError as exc:
        _finish(workspace, analysis_id, "failed", error=str(exc).splitlines()[0][:500])
        return str(exc).splitlines()[0][:500], None
    except OSError as exc:  # disk full, read-only objects: recorded, the next run retries
        message = f"{exc.strerror or type(exc).__name__} (errno {exc.errno})"
        _finish(workspace, analysis_id, "failed", error=message)
        return message, None
    try:
        _finish(workspace, analysis_id, "done", result=result, outputs=outputs)
    except TumorboardError as exc:  # the result does not fit the record (e.g. an exam gone)
        _finish(workspace, analysis_id, "failed", error=str(exc).splitlines()[0][:500])
        return str(exc).splitlines()[0][:500], None
    return "done", result


#: Attempts at recording a result whose new lesions another run created at the same time.
_RECORD_ATTEMPTS = 3


def _claim(workspace: Workspace, identity: _Identity) -> tuple[str, Any]:
    """Look up the identity's analysis and claim it when free, in one short write transaction.

    Returns
    -------
    (str, object)
        ``("claimed", analysis id)``; ``("reused", result)`` when it is done
        (a superseded one is made current again); ``("busy", None)`` when a
        run on another machine computes it; ``("wait", None)`` when a live
        run of this machine does.

    Raises
    ------
    IntegrityError
        If another run inserted the same analysis between the look and the insert.
    """
    with workspace.session() as session:
        existing = session.scalars(
            select(Analysis).where(
                Analysis.kind == identity.kind,
                Analysis.inputs_sha256 == identity.inputs_sha256,
                Analysis.settings_sha256 == identity.settings_sha256,
            )
        ).one_or_none()
        if existing is not None:
            if existing.status == "done":
                return "reused", existing.result
            if existing.status == SUPERSEDED:  # its inputs are back: it is current again
                _make_current(session, existing)
                return "reused", existing.result
            if existing.status == "running" and _claimant_alive(existing.claimed_by):
                return ("wait", None) if _local(existing.claimed_by) else ("busy", None)
            session.delete(existing)  # failed, or its run was killed: do it again
            session.flush()  # the row goes before its successor is inserted
        analysis = Analysis(
            patient_id=identity.patient_id,
            exam_id=identity.exam_id,
            kind=identity.kind,
            tumorboard_version=__version__,
            settings=identity.settings,
            settings_sha256=identity.settings_sha256,
            inputs_sha256=identity.inputs_sha256,
            status="running",
            claimed_by=_claimant(),
        )
        session.add(analysis)
        session.flush()
        session.add_all(
            AnalysisInput(analysis_id=analysis.id, series_instance_uid=uid, sha256=digest)
            for uid, digest in identity.inputs
        )
        return "claimed", analysis.id


def _finish(
    workspace: Workspace,
    analysis_id: int,
    status: str,
    *,
    error: str | None = None,
    result: dict[str, Any] | None = None,
    outputs: dict[str, str] | None = None,
) -> None:
    workspace.objects.sync()
    for attempt in range(1, _RECORD_ATTEMPTS + 1):
        try:
            with workspace.session() as session:
                analysis = session.get(Analysis, analysis_id)
                if analysis is None:  # taken over and deleted by another run: keep nothing
                    return
                analysis.status = status
                analysis.error = error
                analysis.result = result
                analysis.finished_at = utc_now()
                analysis.claimed_by = None
                session.execute(
                    delete(AnalysisOutput).where(AnalysisOutput.analysis_id == analysis_id)
                )
                session.add_all(
                    AnalysisOutput(analysis_id=analysis_id, name=name, object_sha256=sha)
                    for name, sha in (outputs or {}).items()
                )
                if status == "done" and analysis.kind in _REPLACED_KINDS:
                    _record_result(session, analysis)
                    _make_current(session, analysis)
            return
        except IntegrityError:  # a lesion of the same label created by another run
            if attempt == _RECORD_ATTEMPTS:
                raise


def _record_result(session: Any, analysis: Analysis) -> None:
    """Store what an analysis of the record keeps outside its result."""
    result = analysis.result or {}
    if analysis.kind in MEASUREMENT_KINDS:
        assert analysis.exam_id is not None
        store_lesion_values(
            session,
            analysis_id=analysis.id,
            patient_id=analysis.patient_id,
            exam_id=analysis.exam_id,
            source=SOURCE_OF_KIND[analysis.kind],
            lesions=result.get("lesions", []),
        )


def _make_current(session: Any, analysis: Analysis) -> None:
    """Make ``analysis`` the one used for its source; the others of that source are superseded."""
    analysis.status = "done"
    query = select(Analysis).where(
        Analysis.kind == analysis.kind,
        Analysis.patient_id == analysis.patient_id,
        Analysis.status == "done",
        Analysis.id != analysis.id,
    )
    if analysis.kind in MEASUREMENT_KINDS:
        source = str(((analysis.result or {}).get("source") or {}).get("series_uid"))
        query = query.where(
            Analysis.exam_id == analysis.exam_id,
            Analysis.id.in_(
                select(AnalysisInput.analysis_id).where(AnalysisInput.series_instance_uid == source)
            ),
        )
    for older in session.scalars(query):
        older.status = SUPERSEDED
    if analysis.kind == criteria_runs.CRITERIA_KIND:
        criteria_runs.store_assessments(session, analysis)


@contextlib.contextmanager
def _linked_series(workspace: Workspace, series: Sequence[_SeriesFiles]) -> Iterator[list[Path]]:
    """Yield one folder per series (``KIND/seriesN``) holding links to its instances."""
    base = workspace.root / RUN_FOLDER
    base.mkdir(mode=0o700, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=base))
    try:
        folders = []
        for number, item in enumerate(series):
            target = folder / item.kind / f"series{number}"
            target.mkdir(parents=True)
            for index, sha in enumerate(item.instance_sha256):
                source = workspace.objects.path(sha)
                link = target / f"{index:06d}.dcm"
                try:
                    os.link(source, link)
                except OSError:
                    shutil.copyfile(source, link)
            folders.append(target)
        yield folders
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _remove_stale_run_folders(base: Path) -> None:
    if not base.is_dir():
        return
    for child in base.iterdir():
        pid = child.name.split("-", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(child, ignore_errors=True)


def _compute(
    workspace: Workspace, plan: PlannedAnalysis, reference: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, str]]:
    if plan.kind == "wbdwi":
        return _compute_wbdwi(workspace, plan, reference)
    if plan.kind == "dce":
        return _compute_dce(workspace, plan)
    if plan.kind == PET_REGISTRATION_KIND:
        return _compute_pet_registration(workspace, plan)
    if plan.kind in MEASUREMENT_KINDS:
        return _compute_lesions(workspace, plan)
    return _compute_pet(workspace, plan)


def _compute_lesions(
    workspace: Workspace, plan: PlannedAnalysis
) -> tuple[dict[str, Any], dict[str, str]]:
    """Measure a lesion SEG or RTSTRUCT on its images, or read the groups of an SR."""
    from tumorboard.workflow.lesion_measurements import (
        measure_label_objects,
        read_measurement_reports,
    )

    source = plan.series[0]
    what = {"lesion_seg": "SEG", "lesion_rtstruct": "RTSTRUCT", "lesion_sr": "SR"}[plan.kind]
    if plan.kind != "lesion_sr" and len(plan.series) == 1:
        references = _object_references(workspace, source)
        if references is None:  # the same one-line reason as reading it would give
            with _linked_series(workspace, plan.series) as folders:
                for path in sorted(folders[0].iterdir()):
                    referenced_uids(path)
        raise TumorboardError(
            f"{what} series {source.uid}: the CT or MR series it was drawn on is not in the "
            "record (import it; the object names "
            f"{len(references.series_uids) if references else 0} series)"
        )
    with _linked_series(workspace, plan.series) as folders:
        files = sorted(folders[0].iterdir())
        if plan.kind == "lesion_sr":
            result = read_measurement_reports(files)
        else:
            result = measure_label_objects(
                "seg" if plan.kind == "lesion_seg" else "rtstruct",
                files,
                {
                    item.uid: folder
                    for item, folder in zip(plan.series[1:], folders[1:], strict=True)
                },
                {item.uid: _IMAGE_KINDS[item.kind] for item in plan.series[1:]},
            )
    result["source"] = {"kind": what, "series_uid": source.uid, "description": source.description}
    result["exam"] = {"date": plan.exam_date.isoformat(), "label": plan.exam_label or ""}
    result["measurement_source"] = SOURCE_OF_KIND[plan.kind]
    return result, {"summary.json": _store_json(workspace, result)}


def _compute_dce(
    workspace: Workspace, plan: PlannedAnalysis
) -> tuple[dict[str, Any], dict[str, str]]:
    from tumorboard.workflow.dce_analysis import compute_dce_analysis

    with _linked_series(workspace, plan.series) as folders:
        seg_file = next(iter(sorted(folders[1].iterdir())))
        result, files = compute_dce_analysis(
            folders[0], seg_file, folders[0].parent.parent, plan.settings
        )
        result["exam"] = {"date": plan.exam_date.isoformat(), "label": plan.exam_label or ""}
        outputs = {"summary.json": _store_json(workspace, result)}
        outputs.update((name, workspace.objects.put_file(path)) for name, path in files.items())
    return result, outputs


def _compute_pet_registration(
    workspace: Workspace, plan: PlannedAnalysis
) -> tuple[dict[str, Any], dict[str, str]]:
    from tumorboard.workflow.pet_registration_analysis import compute_pet_registration

    pet, anatomy = plan.series
    with _linked_series(workspace, plan.series) as folders:
        result, files = compute_pet_registration(
            folders[0],
            folders[1],
            folders[0].parent.parent / "registration",
            modality=_IMAGE_KINDS[anatomy.kind],
            same_frame=bool(plan.settings.get("same_frame_of_reference")),
        )
        result.update(
            pet_series_uid=pet.uid,
            anatomy_series_uid=anatomy.uid,
            description=anatomy.description,
            same_study=anatomy.study_id == pet.study_id,
            exam={"date": plan.exam_date.isoformat(), "label": plan.exam_label or ""},
        )
        outputs = {"summary.json": _store_json(workspace, result)}
        outputs.update((name, workspace.objects.put_file(path)) for name, path in files.items())
    return result, outputs


def _store_json(workspace: Workspace, payload: dict[str, Any]) -> str:
    text = json.dumps(payload, indent=2, allow_nan=False) + "\n"
    return workspace.objects.put_bytes(text.encode("utf-8"))


def _store_nifti(workspace: Workspace, volume: Any, folder: Path, name: str, dtype: Any) -> str:
    from tumorboard.imaging.nifti import write_nifti

    path = write_nifti(volume, folder / f"{name}.nii.gz", dtype=dtype)
    return workspace.objects.put_file(path)


def _compute_wbdwi(
    workspace: Workspace, plan: PlannedAnalysis, reference: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, str]]:
    import numpy as np

    from tumorboard.imaging.diffusion_dicom import read_diffusion_series
    from tumorboard.imaging.label_maps import read_label_map
    from tumorboard.pipeline.dwi_assess import (
        ExamName,
        ExclusionSource,
        ReferenceExam,
        assess_exam,
        summary_payload,
    )
    from tumorboard.segment.tumour_load import SegmentationOptions

    reference_exam = None
    if reference is not None:
        adc = reference["adc_um2_per_s"]
        reference_exam = ReferenceExam(
            total_diffusion_volume_ml=float(reference["total_diffusion_volume_ml"]),
            adc_median_um2_per_s=float(adc["median"]),
            adc_p95_um2_per_s=float(adc["p95"]),
            name=ExamName.from_json(reference.get("exam"), "reference exam"),
        )
    name = ExamName(plan.exam_label or "", plan.exam_date.isoformat())
    with _linked_series(workspace, plan.series) as folders:
        parent = folders[0].parent.parent
        diffusion = read_diffusion_series(
            parent / SeriesKind.WBDWI.value, what=f"WB-DWI of exam {name.text}"
        )
        images = dict(diffusion.images)
        exclusion = None
        source = None
        seg_folders = [f for f in folders if f.parent.name == SeriesKind.SEG.value]
        if seg_folders:  # one or more SEGs (e.g. one per station): their union
            grid = images[min(images)]
            exclusion = np.zeros(grid.spatial_shape, dtype=bool)
            for seg_folder in seg_folders:
                for seg_file in sorted(seg_folder.iterdir()):
                    labels = read_label_map(
                        seg_file,
                        reference=grid,
                        what=f"exclusion SEG of exam {name.text}",
                        reference_name="the WB-DWI images",
                    )
                    exclusion |= np.asarray(labels.array) > 0
            source = ExclusionSource(
                sha256=tuple(s.digest for s in plan.series if s.is_exclusion), labels=None
            )
        curation = segmentation_curation(plan.settings)
        assessment = assess_exam(
            images,
            reference=reference_exam,
            options=SegmentationOptions(
                keep_components=curation["keep_components"],
                remove_components=curation["remove_components"],
            ),
            exclusion=exclusion,
            exclusion_source=source,
        )
        payload = json.loads(json.dumps(summary_payload(assessment, name), default=float))
        outputs = {
            "summary.json": _store_json(workspace, payload),
            "classes.nii.gz": _store_nifti(
                workspace, assessment.classes, parent, "classes", np.uint8
            ),
            "computed_b.nii.gz": _store_nifti(
                workspace, assessment.computed_b, parent, "computed_b", np.float32
            ),
            # the ADC map (um^2/s) and the candidate component ids, so that exports and
            # curation read what this run computed instead of fitting again
            "adc.nii.gz": _store_nifti(workspace, assessment.adc, parent, "adc", np.float32),
            "components.nii.gz": _store_nifti(
                workspace,
                assessment.adc.with_array(assessment.segmentation.component_labels),
                parent,
                "components",
                np.int32,
            ),
        }
    return payload, outputs


def _compute_pet(
    workspace: Workspace, plan: PlannedAnalysis
) -> tuple[dict[str, Any], dict[str, str]]:
    import numpy as np

    from tumorboard.imaging.label_maps import read_label_map
    from tumorboard.imaging.nifti import write_nifti
    from tumorboard.pet.series_io import read_pet_series
    from tumorboard.pipeline.pet_suv import PetSuvRequest, compute_pet_suv

    with _linked_series(workspace, plan.series) as folders:
        pet_folder = folders[0]
        work = pet_folder.parent.parent
        lesions_path = None
        names: dict[int, str] = {}
        series = read_pet_series(pet_folder)  # read once: the SEG's grid and the SUVs
        labels = None
        if len(folders) > 1:
            seg_file = next(iter(sorted(folders[1].iterdir())))
            labels = read_label_map(
                seg_file,
                reference=series.activity,
                what="lesion SEG",
                reference_name="the PET series",
            )
            lesions_path = write_nifti(labels, work / "lesions.nii.gz", np.uint16)
            names = _segment_names(seg_file)
        result = compute_pet_suv(
            PetSuvRequest(series_dir=pet_folder), series=series, lesion_labels=labels
        )
        summary = json.loads(json.dumps(result.summary, default=float))
        for lesion in summary.get("lesions", []):
            lesion["name"] = names.get(int(lesion["label"]), str(lesion["label"]))
        outputs = {
            "summary.json": _store_json(workspace, summary),
            "suvbw.nii.gz": _store_nifti(workspace, result.suvbw, work, "suvbw", np.float32),
        }
        if lesions_path is not None:
            outputs["lesions.nii.gz"] = workspace.objects.put_file(lesions_path)
    return summary, outputs


def _segment_names(seg_file: Path) -> dict[int, str]:
    import pydicom

    dataset = pydicom.dcmread(seg_file, stop_before_pixels=True)
    return {
        int(item.SegmentNumber): str(item.get("SegmentLabel", item.SegmentNumber))
        for item in dataset.get("SegmentSequence", [])
    }
