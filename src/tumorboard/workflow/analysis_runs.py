"""``tumorboard run``: every applicable analysis once per new or changed input.

For each patient of the record this plans the analyses its series allow:

* ``wbdwi``: the WB-DWI tumour load of every exam with diffusion series
  (:func:`tumorboard.pipeline.dwi_assess.assess_exam`), against the reference
  exam chosen by :mod:`tumorboard.workflow.reference_exam`;
* ``pet_suv``: the SUV conversion of every PET series, once, with the lesion
  values of a DICOM SEG of the same study when there is one
  (:func:`tumorboard.pipeline.pet_suv.compute_pet_suv`);
* ``dce``: the per-lesion perfusion of every DCE dynamic series that has a
  lesion SEG in the same study (:mod:`tumorboard.workflow.dce_analysis`).

An analysis is identified by its kind, the SHA-256 of its inputs (every
instance of its series, and the result of its reference exam) and of its
settings. One whose identity is already in the record with status ``done``
is reused, never recomputed. Runs claim an analysis by inserting its row
(unique on that identity) with status ``running`` and ``claimed_by`` =
``host:pid``; a second run at the same time finds the row and leaves it, and
a run killed half-way leaves a row whose process is gone, which the next run
takes over. A failure is recorded on its row and reported; the other
analyses go on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
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
from tumorboard.workflow.dce_analysis import DCE_SETTINGS
from tumorboard.workflow.dwi_curation import curation_settings, segmentation_curation
from tumorboard.workflow.reference_exam import LineStart, reference_dates
from tumorboard.workflow.series_kind import SeriesKind

__all__ = ["RunSummary", "is_exclusion_description", "planned_analyses", "run_analyses"]

#: Where a run links the files of the series it reads (inside the workspace).
RUN_FOLDER = ".run"

#: How often a run looks again at an analysis another local run is computing.
WAIT_POLL_S = 0.2

#: Settings of each kind of analysis (part of its identity).
DWI_SETTINGS: dict[str, Any] = {"computed_b_s_per_mm2": 1000.0, "segmentation": "default"}
PET_SETTINGS: dict[str, Any] = {"sul_formula": "janmahasatian"}


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
        ``wbdwi``, ``pet_suv`` or ``dce``.
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
            plans.extend(_plan_patient(session, patient))
        return plans


def _plan_patient(session: Any, patient: Patient) -> list[PlannedAnalysis]:
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
                ]
            )
        )
    )
    files: dict[tuple[int, str], list[str]] = defaultdict(list)
    meta: dict[tuple[int, str], tuple[str, int, str]] = {}
    exams: dict[int, tuple[dt.date, str]] = {}
    for exam_id, exam_date, label, uid, kind, study_id, description, sha in rows:
        files[(exam_id, uid)].append(sha)
        meta[(exam_id, uid)] = (kind, study_id, description or "")
        exams[exam_id] = (exam_date, label)
    by_exam: dict[int, list[_SeriesFiles]] = defaultdict(list)
    for (exam_id, uid), shas in files.items():
        kind, study_id, description = meta[(exam_id, uid)]
        by_exam[exam_id].append(_SeriesFiles(uid, kind, study_id, tuple(sorted(shas)), description))
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
    return plans


def run_analyses(
    workspace: Workspace,
    patient_key: str | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Run every planned analysis whose inputs or settings are new.

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
        if outcome == "reused":
            summary.analyses_reused += 1
        elif outcome == "busy":
            summary.in_progress += 1
        else:
            summary.analyses_run += 1
            if outcome != "done":
                summary.failed.append(_failure(plan, outcome))
        if progress:
            progress(number, len(plans))
    return summary


def _failure(plan: PlannedAnalysis, error: str) -> dict[str, str | None]:
    return {
        "kind": plan.kind,
        "exam_date": plan.exam_date.isoformat(),
        "series_uid": plan.series[0].uid,
        "error": error,
    }


def _claimant() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _local(claimed_by: str | None) -> bool:
    return (claimed_by or "").rpartition(":")[0] == socket.gethostname()


def _claimant_alive(claimed_by: str | None) -> bool:
    host, _, pid = (claimed_by or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's run: leave it
    return process_alive(int(pid))


def _run_one(
    workspace: Workspace, plan: PlannedAnalysis, reference: dict[str, Any] | None
) -> tuple[str, dict[str, Any] | None]:
    """Claim, compute and record one analysis; return (outcome, result).

    The outcome is ``done``, ``reused``, ``busy`` or the one-line error.
    """
    inputs_sha256 = plan.inputs_sha256(reference)
    settings_sha256 = plan.settings_sha256
    while True:
        with workspace.session() as session:
            existing = session.scalars(
                select(Analysis).where(
                    Analysis.kind == plan.kind,
                    Analysis.inputs_sha256 == inputs_sha256,
                    Analysis.settings_sha256 == settings_sha256,
                )
            ).one_or_none()
            if existing is None:
                break
            if existing.status == "done":
                return "reused", existing.result
            if existing.status != "running" or not _claimant_alive(existing.claimed_by):
                session.delete(existing)  # failed, or its run was killed: do it again
                break
            if not _local(existing.claimed_by):
                return "busy", None
        time.sleep(WAIT_POLL_S)  # another run on this machine is computing it: wait
    try:
        with workspace.session() as session:
            analysis = Analysis(
                patient_id=plan.patient_id,
                exam_id=plan.exam_id,
                kind=plan.kind,
                tumorboard_version=__version__,
                settings={**plan.settings, "reference_exam_id": plan.reference_exam_id},
                settings_sha256=settings_sha256,
                inputs_sha256=inputs_sha256,
                status="running",
                claimed_by=_claimant(),
            )
            session.add(analysis)
            session.flush()
            session.add_all(
                AnalysisInput(analysis_id=analysis.id, series_instance_uid=s.uid, sha256=s.digest)
                for s in plan.series
            )
            analysis_id = analysis.id
    except IntegrityError:  # another run claimed it between our look and our insert
        return _run_one(workspace, plan, reference)
    try:
        result, outputs = _compute(workspace, plan, reference)
    except TumorboardError as exc:
        _finish(workspace, analysis_id, "failed", error=str(exc).splitlines()[0][:500])
        return str(exc).splitlines()[0][:500], None
    except OSError as exc:  # disk full, read-only objects: recorded, the next run retries
        message = f"{exc.strerror or type(exc).__name__} (errno {exc.errno})"
        _finish(workspace, analysis_id, "failed", error=message)
        return message, None
    _finish(workspace, analysis_id, "done", result=result, outputs=outputs)
    return "done", result


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
    with workspace.session() as session:
        analysis = session.get(Analysis, analysis_id)
        if analysis is None:  # taken over and deleted by another run: keep nothing
            return
        analysis.status = status
        analysis.error = error
        analysis.result = result
        analysis.finished_at = utc_now()
        analysis.claimed_by = None
        session.execute(delete(AnalysisOutput).where(AnalysisOutput.analysis_id == analysis_id))
        session.add_all(
            AnalysisOutput(analysis_id=analysis_id, name=name, object_sha256=sha)
            for name, sha in (outputs or {}).items()
        )


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
    return _compute_pet(workspace, plan)


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
        if len(folders) > 1:
            seg_file = next(iter(sorted(folders[1].iterdir())))
            grid = read_pet_series(pet_folder).suvbw
            labels = read_label_map(
                seg_file, reference=grid, what="lesion SEG", reference_name="the PET series"
            )
            lesions_path = write_nifti(labels, work / "lesions.nii.gz", np.uint16)
            names = _segment_names(seg_file)
        result = compute_pet_suv(PetSuvRequest(series_dir=pet_folder, lesions=lesions_path))
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
