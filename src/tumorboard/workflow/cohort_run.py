"""``tumorboard cohort run``: the record's analyses of many patients on dask.distributed.

The analyses are those of ``tumorboard run`` (:mod:`analysis_runs`), planned
on the client one patient at a time; each patient's analyses are submitted as
soon as they are planned (so the workers start while the client plans the
next patients), one task each, largest first (by input files). A WB-DWI
follow-up's task takes its reference exam's task as an argument, so Dask runs
it after the reference and hands it the result; no other task returns its
result (the record holds it), so nothing else moves between processes. When
the last of a patient's analysis tasks has finished, the client submits the
patient's ``criteria``/``guide`` task. Tasks open the workspace themselves
(one engine per worker process, kept for the next task) and claim their
analysis exactly as ``run`` does, so finished work is reused, two clients
never duplicate, and a task retried after its worker was killed takes over
the dead worker's claim (the scheduler reschedules a task whose worker died
up to ``distributed.scheduler.allowed-failures`` times, 3 by default; a task
that raised is retried :data:`TASK_RETRIES` times). A failing analysis is
recorded and reported; the others go on.

The engine is dask.distributed: a ``LocalCluster`` of ``workers`` processes
(one thread each, ``memory_limit`` each, the dashboard on 127.0.0.1 only) by
default, or an existing scheduler by address. Every worker gets the :class:`TumorboardWorker`
plugin, which imports the analyses' modules once when the worker starts (not
in its first task) and gives the numba voxel kernels the worker's share of
the cores. For several machines the workspace needs a PostgreSQL record and
an object folder every worker can reach (see ``docs/cohorts.md``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from tumorboard.errors import InputError

__all__ = [
    "CohortSummary",
    "TumorboardWorker",
    "analysis_task",
    "dashboard_available",
    "parse_memory_limit",
    "preload_kinds",
    "run_cohort",
    "start_local_cluster",
]

#: Retries of a task that raised (a killed worker's tasks are rescheduled by Dask).
TASK_RETRIES = 2

#: Priority of a patient's ``criteria``/``guide`` task: before any queued analysis.
RECORDS_PRIORITY = 2**30

#: Analysis kinds each kind of series of the record gives (the workers' imports).
KINDS_OF_SERIES: dict[str, tuple[str, ...]] = {
    "wbdwi": ("wbdwi",),
    "pet": ("pet_suv", "pet_registration"),
    "dce": ("dce",),
    "seg": ("lesion_seg",),
    "rtstruct": ("lesion_rtstruct",),
    "sr": ("lesion_sr",),
}

#: Modules each kind of analysis imports, loaded when a worker starts.
PRELOAD_MODULES: dict[str, tuple[str, ...]] = {
    "wbdwi": (
        "tumorboard.imaging.diffusion_dicom",
        "tumorboard.imaging.label_maps",
        "tumorboard.pipeline.dwi_assess",
    ),
    "pet_suv": (
        "tumorboard.imaging.label_maps",
        "tumorboard.pet.series_io",
        "tumorboard.pipeline.pet_suv",
    ),
    "dce": (
        "tumorboard.imaging.dicom_dynamic",
        "tumorboard.imaging.label_maps",
        "tumorboard.dce.lesion_summary",
        "tumorboard.pipeline.dce_map",
    ),
    "pet_registration": (
        "tumorboard.pet.series_io",
        "tumorboard.pipeline.pet_register",
        "tumorboard.workflow.pet_registration_analysis",
    ),
    "lesion_seg": (
        "tumorboard.imaging.label_maps",
        "tumorboard.lesions.diameters",
        "tumorboard.workflow.lesion_measurements",
    ),
    "lesion_rtstruct": (
        "tumorboard.imaging.rtstruct",
        "tumorboard.lesions.diameters",
        "tumorboard.workflow.lesion_measurements",
    ),
    "lesion_sr": ("highdicom", "tumorboard.workflow.lesion_measurements"),
}

#: The open workspace of each worker process, by root: (pid, workspace).
_WORKSPACES: dict[str, tuple[int, Any]] = {}


def parse_memory_limit(text: str) -> int:
    """Bytes of a ``--memory-limit`` value (``4GB``, ``3.5 GiB``, ``2000MB``; 0 = no limit).

    Examples
    --------
    >>> parse_memory_limit("2GB")
    2000000000
    >>> parse_memory_limit("2 GiB")
    2147483648
    >>> parse_memory_limit("0")
    0

    Raises
    ------
    InputError
        If the text is not a size, or is a size below 256 MB other than 0.
    """
    from dask.utils import parse_bytes

    try:
        value = int(parse_bytes(text.strip()))
    except (ValueError, TypeError):
        raise InputError(
            f"--memory-limit {text!r}: not a size (give e.g. 4GB or 3.5GiB; 0 for none)"
        ) from None
    if value != 0 and value < 256 * 2**20:
        raise InputError(f"--memory-limit {text!r}: below 256 MB, too small for a worker")
    return value


class TumorboardWorker(WorkerPlugin):
    """Dask worker plugin: import the analyses' modules when the worker starts.

    Without it each worker pays the imports (about 1.7 s for a ``dce`` task)
    in its first task, and a restarted worker again in its next one.

    Parameters
    ----------
    kinds : sequence of str
        Analysis kinds the worker will run; those of :data:`PRELOAD_MODULES`
        add their modules to the record's own.

    Examples
    --------
    >>> TumorboardWorker(["pet_suv"]).modules
    ('tumorboard.imaging.label_maps', 'tumorboard.pet.series_io', \
'tumorboard.pipeline.pet_suv', 'tumorboard.store', 'tumorboard.workflow.analysis_runs')
    """

    name = "tumorboard-worker"

    def __init__(self, kinds: Sequence[str]) -> None:
        wanted = {"tumorboard.store", "tumorboard.workflow.analysis_runs"}
        for kind in kinds:
            wanted.update(PRELOAD_MODULES.get(kind, ()))
        self.modules = tuple(sorted(wanted))

    def setup(self, worker: Any = None) -> None:
        """Run in each worker when it starts (and when it is restarted)."""
        for module in self.modules:
            importlib.import_module(module)

    def teardown(self, worker: Any = None) -> None:
        """Close the worker's workspaces."""
        while _WORKSPACES:
            _, (pid, workspace) = _WORKSPACES.popitem()
            if pid == os.getpid():
                workspace.close()


def start_local_cluster(
    workers: int, *, memory_limit: int | None = None, dashboard: bool = False
) -> Any:
    """A ``LocalCluster`` of ``workers`` processes of one thread each, on 127.0.0.1.

    Parameters
    ----------
    workers : int
        Worker processes (at least 1).
    memory_limit : int, optional
        Bytes per worker (Dask pauses a worker at 80 % and restarts it at
        95 %); None = Dask's default (the machine's memory / ``workers``), 0 =
        no limit.
    dashboard : bool
        Serve the Dask dashboard (needs bokeh). The scheduler's HTTP server
        listens on a free port of 127.0.0.1 only, never on every interface;
        reach it from elsewhere through an SSH tunnel.

    The numba voxel kernels of each worker get its share of the cores
    (``NUMBA_NUM_THREADS`` = cores // ``workers``, at least 1), so the
    workers do not oversubscribe the machine.

    Returns
    -------
    distributed.LocalCluster

    Raises
    ------
    InputError
        If ``workers`` < 1.
    """
    from distributed import LocalCluster

    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        # the scheduler's HTTP server (/health, /metrics, and the dashboard when
        # wanted and bokeh is installed) on a free port of the loopback interface only
        dashboard_address="127.0.0.1:0",
        scheduler_kwargs={"dashboard": dashboard and dashboard_available()},
        memory_limit="auto" if memory_limit is None else memory_limit,
        silence_logs=50,
        env={"NUMBA_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // workers))},
    )


def dashboard_available() -> bool:
    """Whether the Dask dashboard can be served (bokeh is installed)."""
    import importlib.util

    return importlib.util.find_spec("bokeh") is not None


@dataclass
class CohortSummary:
    """What one ``cohort run`` did.

    Attributes
    ----------
    patients : int
        Patients with at least one planned analysis.
    tasks_done, tasks_reused, tasks_failed : int
        Analyses computed, reused from the record, failed.
    failed : list of dict
        ``kind``, ``exam_date``, ``series_uid``, ``error`` of each failure.
    """

    patients: int = 0
    tasks_done: int = 0
    tasks_reused: int = 0
    tasks_failed: int = 0
    failed: list[dict[str, str | None]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The JSON printed by ``tumorboard cohort run --json``."""
        return {
            "patients": self.patients,
            "tasks_done": self.tasks_done,
            "tasks_reused": self.tasks_reused,
            "tasks_failed": self.tasks_failed,
            "failed": self.failed,
        }


def _worker_workspace(root: str) -> Any:
    from tumorboard.store import open_workspace

    pid, workspace = _WORKSPACES.get(root, (None, None))
    if workspace is None or pid != os.getpid():  # a forked child opens its own engine
        workspace = open_workspace(Path(root))
        _WORKSPACES[root] = (os.getpid(), workspace)
    return workspace


def analysis_task(
    root: str, plan: Any, reference: tuple[str, dict[str, Any] | None] | None
) -> tuple[str, dict[str, Any] | None]:
    """Run one planned analysis in a worker; return ``(outcome, result)``.

    ``reference`` is the outcome of the reference exam's task (None when the
    exam is its own reference). The outcome is ``done``, ``reused``, ``busy``
    or the one-line error. The result is returned only for ``wbdwi``, whose
    result is the reference of later exams' tasks; every other result stays
    in the record (None here), so it is not sent to the client.
    """
    from tumorboard.workflow.analysis_runs import _run_one

    if plan.reference_exam_id is not None:
        if reference is None or reference[1] is None:
            return "its reference exam has no WB-DWI result", None
    workspace = _worker_workspace(root)
    outcome, result = _run_one(workspace, plan, None if reference is None else reference[1])
    return outcome, result if plan.kind == "wbdwi" else None


def patient_records_task(root: str, patient_id: int) -> list[tuple[str, str]]:
    """Run a patient's ``criteria`` and ``guide``.

    :func:`run_cohort` submits it once the patient's analysis tasks have
    all finished, so it reads the measurements they stored.
    """
    from tumorboard.workflow.analysis_runs import run_patient_records

    return run_patient_records(_worker_workspace(root), patient_id)


def run_cohort(
    root: Path,
    *,
    patient_keys: Sequence[str] | None = None,
    workers: int = 2,
    scheduler: str | None = None,
    memory_limit: int | None = None,
    dashboard: bool = False,
    progress: Callable[[int, int], None] | None = None,
    notice: Callable[[str], None] | None = None,
) -> CohortSummary:
    """Run every planned analysis of the cohort as Dask tasks.

    Parameters
    ----------
    root : Path
        The workspace folder (every worker must reach it).
    patient_keys : sequence of str, optional
        Only these patients (default: every patient of the record).
    workers : int
        Worker processes of the local cluster (ignored with ``scheduler``).
    scheduler : str, optional
        Address of an existing scheduler (``tcp://HOST:8786``).
    memory_limit : int, optional
        Bytes per worker of the local cluster (:func:`start_local_cluster`).
    dashboard : bool
        Serve the local cluster's dashboard (127.0.0.1 only; needs bokeh) and
        tell ``notice`` its address (or that of the ``scheduler``'s).
    progress : callable, optional
        Called with (tasks finished, tasks planned).
    notice : callable, optional
        Called with one-line messages for the user (the dashboard's address).

    Returns
    -------
    CohortSummary

    Raises
    ------
    InputError
        If a listed patient is not in the record, or ``workers`` < 1.
    """
    from distributed import Client

    from tumorboard.store import open_workspace

    if scheduler is None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    workspace = open_workspace(root)
    try:
        patient_ids, kinds = _cohort_patients(workspace, patient_keys)
        summary = CohortSummary(patients=len(patient_ids))
        if not patient_ids:
            return summary
        cluster = None
        if scheduler is None:
            cluster = start_local_cluster(workers, memory_limit=memory_limit, dashboard=dashboard)
        try:
            client = Client(cluster if cluster is not None else scheduler)
        except OSError as exc:
            if cluster is not None:
                cluster.close()
            raise InputError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        try:
            if notice is not None:
                if dashboard and cluster is not None and not dashboard_available():
                    notice(
                        "no Dask dashboard: bokeh is not installed (progress in the terminal only)"
                    )
                elif dashboard:
                    notice(f"Dask dashboard: {client.dashboard_link}")
            client.register_plugin(TumorboardWorker(kinds))
            tasks = _CohortTasks(client, str(Path(root).resolve()))
            tasks.submit_analyses(_planned(workspace, patient_ids))
            workspace.close()  # planned: the client needs the record no more
            tasks.gather(summary, progress)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    finally:
        workspace.close()
    return summary


def _cohort_patients(
    workspace: Any, patient_keys: Sequence[str] | None
) -> tuple[list[int], list[str]]:
    """Record ids of the cohort's patients and the analysis kinds their series can give.

    Raises
    ------
    TumorboardError
        If a listed patient is not in the record (before any cluster starts).
    """
    from sqlalchemy import select

    from tumorboard.errors import TumorboardError
    from tumorboard.store.models import Exam, Patient, Series, Study

    with workspace.session() as session:
        ids = {key: id_ for key, id_ in session.execute(select(Patient.patient_key, Patient.id))}
        keys = list(dict.fromkeys(patient_keys)) if patient_keys is not None else sorted(ids)
        if any(key not in ids for key in keys):
            raise TumorboardError(f"run: no patient with that id in workspace {workspace.root}")
        patient_ids = sorted(ids[key] for key in keys)
        query = select(Series.kind).distinct()
        if patient_keys is not None:  # else every patient's: no list of ids in the query
            query = (
                query.join(Study, Study.id == Series.study_id)
                .join(Exam, Exam.id == Study.exam_id)
                .where(Exam.patient_id.in_(patient_ids))
            )
        kinds = preload_kinds(set(session.scalars(query)))
    return patient_ids, kinds


def preload_kinds(series_kinds: set[str]) -> list[str]:
    """The analysis kinds whose modules the workers import when they start.

    Known before planning, from the kinds of the cohort's series, so that
    the workers import while the client plans. A SEG is measured as
    ``lesion_seg``, and a PET registered, only on a CT or MR series;
    without one in the cohort neither is preloaded (a kind left out would
    import its modules in its first task, not fail).

    Examples
    --------
    >>> preload_kinds({"dce", "seg"})
    ['dce']
    >>> preload_kinds({"pet", "seg", "ct"})
    ['lesion_seg', 'pet_registration', 'pet_suv']
    """
    kinds = {kind for series in series_kinds for kind in KINDS_OF_SERIES.get(series, ())}
    if not series_kinds & {"ct", "mr"}:
        kinds -= {"lesion_seg", "pet_registration"}
    return sorted(kinds)


def _planned(workspace: Any, patient_ids: Sequence[int]) -> Iterable[tuple[int, list[Any]]]:
    from tumorboard.workflow.analysis_runs import planned_by_patient

    return planned_by_patient(workspace, patient_ids)


class _CohortTasks:
    """The futures of one ``cohort run``: analyses, then each patient's records task."""

    def __init__(self, client: Any, root_text: str) -> None:
        from distributed import as_completed

        self.client = client
        self.root_text = root_text
        self.plans: dict[Any, Any] = {}  # analysis future -> plan
        self.records: dict[Any, int] = {}  # records future -> patient id
        self.waiting: dict[int, int] = {}  # patient id -> analysis tasks not finished
        self.finished = as_completed()

    def submit_analyses(self, planned: Iterable[tuple[int, list[Any]]]) -> None:
        """Submit each patient's analyses as soon as they are planned (references first)."""
        for patient_id, plans in planned:
            by_exam: dict[int, Any] = {}
            for plan in plans:
                reference = None
                if plan.kind == "wbdwi" and plan.reference_exam_id is not None:
                    reference = by_exam.get(plan.reference_exam_id)
                future = self.client.submit(
                    analysis_task,
                    self.root_text,
                    plan,
                    reference,
                    pure=False,
                    retries=TASK_RETRIES,
                    priority=sum(len(series.instance_sha256) for series in plan.series),
                )
                self.plans[future] = plan
                self.finished.add(future)
                if plan.kind == "wbdwi":
                    by_exam[plan.exam_id] = future
            self.waiting[patient_id] = len(plans)
            if not plans:
                self._submit_records(patient_id)

    def _submit_records(self, patient_id: int) -> None:
        future = self.client.submit(
            patient_records_task,
            self.root_text,
            patient_id,
            pure=False,
            retries=TASK_RETRIES,
            priority=RECORDS_PRIORITY,
        )
        self.records[future] = patient_id
        self.finished.add(future)

    def gather(self, summary: CohortSummary, progress: Callable[[int, int], None] | None) -> None:
        """Count every outcome; submit a patient's records task after its last analysis."""
        from tumorboard.workflow.analysis_runs import _failure, _record_failure

        total = len(self.plans) + len(self.waiting)
        for finished, future in enumerate(self.finished, start=1):
            if future in self.records:
                for kind, outcome in _records_outcomes(future):
                    _count_outcome(summary, outcome, _record_failure(kind, outcome))
            else:
                plan = self.plans[future]
                outcome = _analysis_outcome(future)
                _count_outcome(summary, outcome, _failure(plan, _busy_text(outcome)))
                self.waiting[plan.patient_id] -= 1
                if self.waiting[plan.patient_id] == 0:
                    self._submit_records(plan.patient_id)
            if progress:
                progress(finished, total)


def _analysis_outcome(future: Any) -> str:
    try:
        outcome, _ = future.result()
    except Exception as exc:  # a task that failed past its retries
        return _one_line(exc)
    return str(outcome)


def _records_outcomes(future: Any) -> list[tuple[str, str]]:
    try:
        return list(future.result())
    except Exception as exc:  # failed past its retries
        return [("criteria", _one_line(exc))]


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"


def _busy_text(outcome: str) -> str:
    return "another run on another machine is computing it" if outcome == "busy" else outcome


def _count_outcome(summary: CohortSummary, outcome: str, failure: dict[str, str | None]) -> None:
    if outcome == "reused":
        summary.tasks_reused += 1
    elif outcome == "done":
        summary.tasks_done += 1
    else:
        summary.tasks_failed += 1
        summary.failed.append(failure)
