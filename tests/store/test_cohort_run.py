"""``tumorboard cohort run`` on a local dask.distributed cluster of two worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dwi_exams import VOXEL_ML, lesion_voxels, write_exam
from sqlalchemy import func, select

from tumorboard.cli.main import main
from tumorboard.store import open_workspace
from tumorboard.store.models import Analysis
from tumorboard.workflow.timeline import patient_timeline

PATIENTS = ("DWI-101", "DWI-102")


@pytest.fixture(scope="module")
def cohort_folders(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("cohort")
    return [
        write_exam(root / patient, exam, patient)
        for patient in PATIENTS
        for exam in ("baseline", "week12", "week24")
    ]


def test_cohort_run_on_two_workers_then_resumes(
    tmp_path: Path,
    database_url: str | None,
    cohort_folders: list[Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    board = tmp_path / "board"
    init = ["init", str(board)] + (["--database", database_url] if database_url else [])
    assert main(init) == 0
    assert main(["import", "--workspace", str(board), *map(str, cohort_folders)]) == 0
    capsys.readouterr()
    assert main(["cohort", "run", "--workspace", str(board), "--workers", "2", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["patients"], first["tasks_done"], first["tasks_reused"]) == (2, 6, 0)
    assert first["tasks_failed"] == 0
    workspace = open_workspace(board)
    try:
        for patient in PATIENTS:
            exams = {e["date"]: e["dwi"] for e in patient_timeline(workspace, patient)["exams"]}
            assert exams["2024-04-01"]["total_diffusion_volume_ml"] == pytest.approx(
                lesion_voxels("week12") * VOXEL_ML, rel=1e-6
            )
            assert exams["2024-04-01"]["reference_exam_date"] == "2024-01-08"
        with workspace.session() as session:
            assert session.scalar(select(func.count()).select_from(Analysis)) == 6
    finally:
        workspace.close()
    (tmp_path / "one.txt").write_text("DWI-102\n")
    assert (
        main(
            [
                "cohort",
                "run",
                "--workspace",
                str(board),
                "--workers",
                "1",
                "--patients",
                str(tmp_path / "one.txt"),
                "--json",
            ]
        )
        == 0
    )
    again = json.loads(capsys.readouterr().out)
    assert (again["patients"], again["tasks_done"], again["tasks_reused"]) == (1, 0, 3)


def test_cohort_run_refuses_an_unknown_patient_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    board = tmp_path / "board"
    assert main(["init", str(board)]) == 0
    (tmp_path / "ids.txt").write_text("NOBODY\n")
    capsys.readouterr()
    code = main(
        ["cohort", "run", "--workspace", str(board), "--patients", str(tmp_path / "ids.txt")]
    )
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "NOBODY" not in err


def test_a_bad_memory_limit_is_one_line_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    board = tmp_path / "board"
    assert main(["init", str(board)]) == 0
    capsys.readouterr()
    for value, rule in (("lots", "not a size"), ("100MB", "below 256 MB")):
        code = main(["cohort", "run", "--workspace", str(board), "--memory-limit", value])
        err = capsys.readouterr().err.strip()
        assert code == 1 and "\n" not in err, err
        assert f"--memory-limit {value!r}" in err and rule in err
    remote = ["--scheduler", "tcp://127.0.0.1:1", "--memory-limit", "2GB"]
    assert main(["cohort", "run", "--workspace", str(board), *remote]) == 1
    assert "not with --scheduler" in capsys.readouterr().err


def test_cohort_analyse_wbdwi_response_gives_the_volume_change_of_each_patient(
    tmp_path: Path, cohort_folders: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    board = tmp_path / "board"
    assert main(["init", str(board)]) == 0
    assert main(["import", "--workspace", str(board), *map(str, cohort_folders)]) == 0
    assert main(["run", "--workspace", str(board), "--quiet"]) == 0
    capsys.readouterr()
    # exams on days 0 (baseline), 84 (week12) and 175 (week24); the default is the first
    for follow_up, exam in (
        (None, "week12"),
        ("last", "week24"),
        ("150", "week24"),
        ("100", "week12"),
        ("129", "week12"),  # 45 days from week12, 46 from week24
    ):
        out = tmp_path / f"dwi-{follow_up}"
        question = ["--question", "wbdwi-response", "--out", str(out), "--json"]
        if follow_up is not None:
            question += ["--follow-up", follow_up]
        assert main(["cohort", "analyse", "--workspace", str(board), *question]) == 0
        summary = json.loads(capsys.readouterr().out)
        assert summary["n_patients"] == 2
        expected = 100 * (lesion_voxels(exam) / lesion_voxels("baseline") - 1)
        # no lesion reads in this record: the response is unknown for both patients
        change = summary["by_recist_follow_up"]["unknown"]["tdv_change_pct"]
        assert change["n"] == 2
        assert change["median"] == pytest.approx(expected, abs=1e-4), follow_up
        rows = (out / "patients.csv").read_text(encoding="utf-8").splitlines()
        assert len(rows) == 3 and rows[0].startswith("patient,")
        assert (out / "box_tdv_change.png").read_bytes()[1:4] == b"PNG"
    assert lesion_voxels("week12") != lesion_voxels("week24")  # the choice is visible
    bad = ["--question", "wbdwi-response", "--out", str(tmp_path / "bad"), "--follow-up", "0"]
    assert main(["cohort", "analyse", "--workspace", str(board), *bad]) == 1
    error = capsys.readouterr().err.strip()
    assert "--follow-up" in error and "\n" not in error
    assert not (tmp_path / "bad").exists()
    # --force never replaces the workspace it reads, nor a folder inside it
    before = sorted(p.name for p in board.iterdir())
    for out in (board, board / "objects"):
        over = ["--question", "wbdwi-response", "--out", str(out), "--force"]
        assert main(["cohort", "analyse", "--workspace", str(board), *over]) == 1
        assert capsys.readouterr().err.count("\n") == 1
    assert sorted(p.name for p in board.iterdir()) == before
    assert main(["timeline", "--workspace", str(board), "DWI-101", "--json"]) == 0


def test_a_task_whose_worker_is_killed_mid_analysis_is_retried_and_completes(
    tmp_path: Path,
) -> None:
    """SIGKILL the worker process holding an analysis claim (status ``running``):
    Dask reschedules the task, the retry takes over the dead claim, and every
    analysis ends ``done`` exactly once."""
    from sqlalchemy import create_engine

    from tumorboard.phantoms.prrt_cohort import write_prrt_cohort
    from tumorboard.worker_pool import process_alive

    cohort = tmp_path / "cohort"
    write_prrt_cohort(cohort, 2, seed=11, auc=0.8)  # 4 dce analyses of a few tenths of a second
    board = tmp_path / "board"
    assert main(["init", str(board)]) == 0
    assert main(["import", "--workspace", str(board), str(cohort / "dicom")]) == 0
    command = [sys.executable, "-m", "tumorboard.cli.main", "cohort", "run"]
    run = subprocess.Popen(
        [*command, "--workspace", str(board), "--workers", "2", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    engine = create_engine(f"sqlite:///{board / 'tumorboard.db'}")
    killed: tuple[int, int] | None = None  # (analysis row id, worker pid)
    try:
        deadline = time.monotonic() + 300
        while killed is None and run.poll() is None and time.monotonic() < deadline:
            with engine.connect() as connection:
                claim = connection.execute(
                    select(Analysis.id, Analysis.claimed_by).where(Analysis.status == "running")
                ).first()
            if claim is not None and claim.claimed_by:
                pid = int(claim.claimed_by.rpartition(":")[2])
                os.kill(pid, signal.SIGKILL)
                killed = (claim.id, pid)
            time.sleep(0.005)
        out, err = run.communicate(timeout=300)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert killed is not None, "no analysis was seen running"
    assert run.returncode == 0, err
    result = json.loads(out)
    assert (result["tasks_done"], result["tasks_reused"], result["tasks_failed"]) == (4, 0, 0)
    assert not process_alive(killed[1])
    with engine.connect() as connection:
        rows = connection.execute(select(Analysis.id, Analysis.status, Analysis.claimed_by)).all()
    engine.dispose()
    assert sorted(status for _, status, _ in rows) == ["done"] * 4
    assert all(claimed_by is None for _, _, claimed_by in rows)
    assert killed[0] not in {row_id for row_id, _, _ in rows}  # the dead claim was taken over


def test_cohort_run_stores_each_patients_criteria_after_its_analyses(
    tmp_path: Path,
    database_url: str | None,
    cohort_folders: list[Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tumorboard.store.models import Assessment

    board = tmp_path / "board"
    init = ["init", str(board)] + (["--database", database_url] if database_url else [])
    assert main(init) == 0
    folders = [str(f) for f in cohort_folders if "DWI-101" in str(f)]
    assert main(["import", "--workspace", str(board), *folders]) == 0
    reads = tmp_path / "reads.csv"
    reads.write_text(
        "patient_id,timepoint,date,modality,lesion_id,organ,role,is_node,longest_diameter_mm,"
        "short_axis_mm,mean_hu,viable_diameter_mm,sul_peak,status\n"
        "DWI-101,baseline,2024-01-08,ct,L1,liver,target,false,50,,,,,present\n"
        "DWI-101,week 12,2024-04-01,ct,L1,liver,target,false,30,,,,,present\n"
    )
    assert main(["lesion", "import", "--workspace", str(board), str(reads)]) == 0
    capsys.readouterr()
    assert main(["cohort", "run", "--workspace", str(board), "--workers", "1", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    # three WB-DWI analyses and the patient's criteria
    assert (first["tasks_done"], first["tasks_failed"]) == (4, 0)
    workspace = open_workspace(board)
    try:
        with workspace.session() as session:
            stored = {
                (a.criteria, a.overall)
                for a in session.scalars(select(Assessment))
                if a.overall is not None
            }
    finally:
        workspace.close()
    # 50 -> 30 mm: -40 %, a RECIST 1.1 partial response, as tumorboard assess gives
    assert ("recist1.1", "PR") in stored
    assert main(["cohort", "run", "--workspace", str(board), "--workers", "1", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["tasks_done"], again["tasks_reused"]) == (0, 4)
