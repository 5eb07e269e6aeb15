"""``tumorboard cohort run`` on a local dask.distributed cluster of two worker processes."""

from __future__ import annotations

import json
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
    tmp_path: Path, database_url: str | None, cohort_folders: list[Path], capsys
) -> None:  # type: ignore[no-untyped-def]
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


def test_cohort_run_refuses_an_unknown_patient_in_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    board = tmp_path / "board"
    assert main(["init", str(board)]) == 0
    (tmp_path / "ids.txt").write_text("NOBODY\n")
    capsys.readouterr()
    code = main(
        ["cohort", "run", "--workspace", str(board), "--patients", str(tmp_path / "ids.txt")]
    )
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "NOBODY" not in err


def test_cohort_analyse_wbdwi_response_gives_the_volume_change_of_each_patient(
    tmp_path: Path, cohort_folders: list[Path], capsys
) -> None:  # type: ignore[no-untyped-def]
    board = tmp_path / "board"
    assert main(["init", str(board)]) == 0
    assert main(["import", "--workspace", str(board), *map(str, cohort_folders)]) == 0
    assert main(["run", "--workspace", str(board), "--quiet"]) == 0
    capsys.readouterr()
    out = tmp_path / "dwi"
    question = ["--question", "wbdwi-response", "--out", str(out), "--json"]
    assert main(["cohort", "analyse", "--workspace", str(board), *question]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_patients"] == 2
    expected = 100 * (lesion_voxels("week12") / lesion_voxels("baseline") - 1)
    # no lesion reads in this record: the response is unknown for both patients
    change = summary["by_recist_follow_up"]["unknown"]["tdv_change_pct"]
    assert change["n"] == 2
    assert change["median"] == pytest.approx(expected, rel=1e-4)
    rows = (out / "patients.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 3 and rows[0].startswith("patient,")
    assert (out / "box_tdv_change.png").read_bytes()[1:4] == b"PNG"
