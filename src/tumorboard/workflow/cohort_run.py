"""``tumorboard cohort run``: the record's analyses of many patients on dask.distributed.

The analyses are those of ``tumorboard run`` (:mod:`analysis_runs`), planned
once on the client; each is one task. A WB-DWI follow-up's task takes its
reference exam's task as an argument, so Dask runs it after the reference and
hands it the result. Tasks open the workspace themselves (one connection per
worker process) and claim their analysis exactly as ``run`` does, so finished
work is reused, two clients never duplicate, and a task retried after its
worker was killed takes over the dead worker's claim. A failing analysis is
recorded and reported; the others go on.

The engine is dask.distributed: a ``LocalCluster`` of ``workers`` processes
(one thread each) by default, or an existing scheduler by address. For several
machines the workspace needs a PostgreSQL record and an object folder every
worker can reach (see the README).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tumorboard.errors import InputError

__all__ = ["CohortSummary", "run_cohort"]

#: Retries of a task whose worker died (the retry takes over the dead claim).
TASK_RETRIES = 2

#: The open workspace of each worker process, by root.
_WORKSPACES: dict[str, Any] = {}


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

    workspace = _WORKSPACES.get(root)
    if workspace is None or _WORKSPACES.get(f"{root}#pid") != os.getpid():
        workspace = open_workspace(Path(root))
        _WORKSPACES[root] = workspace
        _WORKSPACES[f"{root}#pid"] = os.getpid()
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


def run_cohort(
    root: Path,
    *,
    patient_keys: Sequence[str] | None = None,
    workers: int = 2,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
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
    progress : callable, optional
        Called with (tasks finished, tasks planned).

    Returns
    -------
    CohortSummary

    Raises
    ------
    InputError
        If a listed patient is not in the record, or ``workers`` < 1.
    """
    from distributed import Client, LocalCluster, as_completed

    from tumorboard.store import open_workspace
    from tumorboard.workflow.analysis_runs import _failure, planned_analyses

    if scheduler is None and workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    workspace = open_workspace(root)
    try:
        plans = []
        for key in patient_keys or [None]:  # type: ignore[list-item]
            plans.extend(planned_analyses(workspace, key))
    finally:
        workspace.close()
    summary = CohortSummary(patients=len({plan.patient_id for plan in plans}))
    if not plans:
        return summary
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=50,
        )
    client = Client(cluster if cluster is not None else scheduler)
    try:
        root_text = str(Path(root).resolve())
        futures: dict[Any, Any] = {}
        by_exam: dict[tuple[int, int], Any] = {}
        for plan in plans:  # references come first in the plan
            reference = None
            if plan.kind == "wbdwi" and plan.reference_exam_id is not None:
                reference = by_exam.get((plan.patient_id, plan.reference_exam_id))
            future = client.submit(
                analysis_task, root_text, plan, reference, pure=False, retries=TASK_RETRIES
            )
            futures[future] = plan
            if plan.kind == "wbdwi":
                by_exam[(plan.patient_id, plan.exam_id)] = future
        for finished, future in enumerate(as_completed(list(futures)), start=1):
            plan = futures[future]
            try:
                outcome, _ = future.result()
            except Exception as exc:  # a task that failed past its retries
                outcome = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            if outcome == "reused":
                summary.tasks_reused += 1
            elif outcome == "done":
                summary.tasks_done += 1
            else:
                if outcome == "busy":
                    outcome = "another run on another machine is computing it"
                summary.tasks_failed += 1
                summary.failed.append(_failure(plan, outcome))
            if progress:
                progress(finished, len(futures))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return summary
