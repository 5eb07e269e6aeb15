"""How ``cohort run`` schedules its tasks and writes its claims (issue 14's throughput work).

No timings here (speed lives in ``benchmarks/bench_cohort.py``): these tests
check the behaviour the throughput depends on: a claim is looked up and
inserted in one transaction, the analyses are planned patient by patient, and no task
result but a WB-DWI reference moves between processes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tumorboard.cli.main import main
from tumorboard.store import open_workspace
from tumorboard.store.models import Analysis
from tumorboard.workflow.analysis_runs import (
    _claim,
    _Identity,
    planned_analyses,
    planned_by_patient,
)
from tumorboard.workflow.cohort_run import analysis_task, run_cohort, start_local_cluster


@pytest.fixture(scope="module")
def prrt_dicom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tumorboard.phantoms.prrt_cohort import write_prrt_cohort

    cohort = tmp_path_factory.mktemp("prrt")
    write_prrt_cohort(cohort, 2, seed=11, auc=0.8)  # 2 patients, 4 dce analyses
    return cohort / "dicom"


@pytest.fixture
def board(tmp_path: Path, prrt_dicom: Path) -> Path:
    board = tmp_path / "board"
    assert main(["init", str(board)]) == 0
    assert main(["import", "--workspace", str(board), str(prrt_dicom)]) == 0
    return board


def test_a_claim_is_looked_up_and_taken_in_one_transaction(board: Path) -> None:
    workspace = open_workspace(board)
    try:
        plan = planned_analyses(workspace)[0]
        identity = _Identity(
            kind=plan.kind,
            patient_id=plan.patient_id,
            exam_id=plan.exam_id,
            settings=plan.settings,
            inputs_sha256=plan.inputs_sha256(None),
            settings_sha256=plan.settings_sha256,
            inputs=tuple((s.uid, s.digest) for s in plan.series),
        )
        state, first_id = _claim(workspace, identity)
        assert state == "claimed"
        # claimed by this (live, local) process: a second look waits for it
        assert _claim(workspace, identity) == ("wait", None)
        with workspace.session() as session:
            row = session.get(Analysis, first_id)
            assert row is not None
            row.status, row.error = "failed", "disk full"
        # a failed row is replaced (deleted, then inserted) within the one transaction
        state, second_id = _claim(workspace, identity)
        assert state == "claimed"
        with workspace.session() as session:
            rows = session.execute(select(Analysis.id, Analysis.status, Analysis.error)).all()
        assert [tuple(row) for row in rows] == [(second_id, "running", None)]
    finally:
        workspace.close()


def test_planning_by_patient_gives_the_plans_of_the_whole_record(board: Path) -> None:
    workspace = open_workspace(board)
    try:
        whole = planned_analyses(workspace)
        patients = sorted({plan.patient_id for plan in whole})
        by_patient = list(planned_by_patient(workspace, patients))
    finally:
        workspace.close()
    assert [patient for patient, _ in by_patient] == patients
    assert [plan for _, plans in by_patient for plan in plans] == whole


def test_a_dce_task_keeps_its_result_in_the_record_not_in_its_return(board: Path) -> None:
    workspace = open_workspace(board)
    try:
        plan = planned_analyses(workspace)[0]
    finally:
        workspace.close()
    assert plan.kind == "dce"
    assert analysis_task(str(board.resolve()), plan, None) == ("done", None)
    workspace = open_workspace(board)
    try:
        with workspace.session() as session:
            result = session.scalars(select(Analysis.result)).one()
    finally:
        workspace.close()
    assert result and result["exam"]["date"] == plan.exam_date.isoformat()


def test_no_result_moves_between_the_workers_of_a_dce_cohort(board: Path) -> None:
    """Each patient's criteria task is submitted by the client after its analyses,
    not handed their results as Dask dependencies."""
    from distributed import Client, get_task_stream

    cluster = start_local_cluster(2)
    try:
        with Client(cluster) as client, get_task_stream(client) as stream:
            summary = run_cohort(board, scheduler=cluster.scheduler_address)
            records = stream.data
    finally:
        cluster.close()
    assert (summary.patients, summary.tasks_done, summary.tasks_failed) == (2, 4, 0)
    names = sorted(str(record["key"]).split("-")[0] for record in records)
    assert names == ["analysis_task"] * 4 + ["patient_records_task"] * 2
    actions = {item["action"] for record in records for item in record["startstops"]}
    assert "transfer" not in actions
