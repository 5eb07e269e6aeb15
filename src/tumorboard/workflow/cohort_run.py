"""``tumorboard cohort run``: the record's analyses of many patients on dask.distributed.

The analyses are those of ``tumorboard run`` (:mod:`analysis_runs`), planned
once on the client; each is one task, submitted largest first (by input
files). A WB-DWI follow-up's task takes its reference exam's task as an
argument, so Dask runs it after the reference and hands it the result. Tasks
open the workspace themselves (one engine per worker process, kept for the
next task) and claim their analysis exactly as ``run`` does, so finished work
is reused, two clients never duplicate, and a task retried after its worker
was killed takes over the dead worker's claim (the scheduler reschedules a
task whose worker died up to ``distributed.scheduler.allowed-failures`` times,
3 by default; a task that raised is retried :data:`TASK_RETRIES` times). A
failing analysis is recorded and reported; the others go on.

The engine is dask.distributed: a ``LocalCluster`` of ``workers`` processes
(one thread each, ``memory_limit`` each, the dashboard on 127.0.0.1 only) by
default, or an existing scheduler by address. Every worker gets the
:class:`TumorboardWorker` plugin, which imports the analyses' modules once
when the worker starts (not in its first task) and gives the numba voxel
kernels the worker's share of the cores. For several machines the
workspace needs a PostgreSQL record and an object folder every worker can
reach (see ``docs/cohorts.md``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Sequence
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
    "run_cohort",
    "start_local_cluster",
]

#: Retries of a task that raised (a killed worker's tasks are rescheduled by Dask).
TASK_RETRIES = 2

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
    or the one-line error.
    """
    from tumorboard.workflow.analysis_runs import _run_one

    if plan.reference_exam_id is not None:
        if reference is None or reference[1] is None:
            return "its reference exam has no WB-DWI result", None
    workspace = _worker_workspace(root)
    return _run_one(workspace, plan, None if reference is None else reference[1])


def patient_records_task(root: str, patient_id: int, *analyses: Any) -> list[tuple[str, str]]:
    """Run a patient's ``criteria`` and ``guide`` once its image analyses are done.

    ``analyses`` are the outcomes of the patient's analysis tasks: passing
    them makes this task wait for them (Dask dependencies); their values are
    not used, as the record holds their results.
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
    from distributed import Client, as_completed
    from sqlalchemy import select

    from tumorboard.store import open_workspace
    from tumorboard.store.models import Patient
    from tumorboard.workflow.analysis_runs import _failure, _record_failure, planned_analyses

    if scheduler is None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    workspace = open_workspace(root)
    try:
        plans = []
        for key in patient_keys or [None]:  # type: ignore[list-item]
            plans.extend(planned_analyses(workspace, key))
        with workspace.session() as session:
            query = select(Patient.id, Patient.patient_key).order_by(Patient.id)
            patient_ids = [
                patient_id
                for patient_id, key in session.execute(query)
                if patient_keys is None or key in patient_keys
            ]
    finally:
        workspace.close()
    summary = CohortSummary(patients=len(set(patient_ids)))
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
                notice("no Dask dashboard: bokeh is not installed (progress in the terminal only)")
            elif dashboard:
                notice(f"Dask dashboard: {client.dashboard_link}")
        client.register_plugin(TumorboardWorker(sorted({plan.kind for plan in plans})))
        root_text = str(Path(root).resolve())
        futures: dict[Any, Any] = {}
        by_exam: dict[tuple[int, int], Any] = {}
        for plan in plans:  # references come first in the plan
            reference = None
            if plan.kind == "wbdwi" and plan.reference_exam_id is not None:
                reference = by_exam.get((plan.patient_id, plan.reference_exam_id))
            future = client.submit(
                analysis_task,
                root_text,
                plan,
                reference,
                pure=False,
                retries=TASK_RETRIES,
                priority=sum(len(series.instance_sha256) for series in plan.series),
            )
            futures[future] = plan
            if plan.kind == "wbdwi":
                by_exam[(plan.patient_id, plan.exam_id)] = future
        # then each patient's criteria and guide, after that patient's analyses
        records = {
            client.submit(
                patient_records_task,
                root_text,
                patient_id,
                *[f for f, plan in futures.items() if plan.patient_id == patient_id],
                pure=False,
                retries=TASK_RETRIES,
            ): patient_id
            for patient_id in patient_ids
        }
        total = len(futures) + len(records)
        for finished, future in enumerate(as_completed([*futures, *records]), start=1):
            if future in records:
                try:
                    outcomes = future.result()
                except Exception as exc:  # failed past its retries
                    error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
                    outcomes = [("criteria", error)]
                for kind, outcome in outcomes:
                    _count_outcome(summary, outcome, _record_failure(kind, outcome))
                if progress:
                    progress(finished, total)
                continue
            plan = futures[future]
            try:
                outcome, _ = future.result()
            except Exception as exc:  # a task that failed past its retries
                outcome = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            _count_outcome(summary, outcome, _failure(plan, _busy_text(outcome)))
            if progress:
                progress(finished, total)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return summary


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
