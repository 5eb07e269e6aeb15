"""Lesion reads in the record and the patient timeline, on SQLite and on PostgreSQL.

Expected responses are worked out by hand from RECIST 1.1 (Eisenhauer 2009):
sums 80 -> 50 -> 65 mm. Week 8: -37.5 % from baseline (>= 30 % decrease: PR).
Week 16: -18.75 % from baseline (SD against baseline), +30 % and +15 mm from
the nadir of 50 mm (>= 20 % and >= 5 mm increase: PD against nadir), so the
overall response is PD.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dicom_study import write_study
from sqlalchemy import func, select

from tumorboard.cli.main import main
from tumorboard.errors import InputError
from tumorboard.store import init_workspace
from tumorboard.store.models import ChangeLogEntry, Exam, Lesion, LesionRead, Measurement
from tumorboard.workflow import import_paths
from tumorboard.workflow.lesion_reads import import_reads_csv
from tumorboard.workflow.timeline import patient_timeline

HEADER = (
    "patient_id,timepoint,date,modality,lesion_id,organ,role,is_node,longest_diameter_mm,"
    "short_axis_mm,mean_hu,viable_diameter_mm,sul_peak,status"
)
ROWS = [
    "NET-001,baseline,2024-01-08,ct,L1,liver,target,false,50,,,,,present",
    "NET-001,baseline,2024-01-08,ct,L2,lung,target,false,30,,,,,present",
    "NET-001,week 8,2024-03-04,ct,L1,liver,target,false,30,,,,,present",
    "NET-001,week 8,2024-03-04,ct,L2,lung,target,false,20,,,,,present",
    "NET-001,week 16,2024-04-29,ct,L1,liver,target,false,40,,,,,present",
    "NET-001,week 16,2024-04-29,ct,L2,lung,target,false,25,,,,,present",
]


@pytest.fixture
def workspace(workspace_dir: Path, database_url: str | None):  # type: ignore[no-untyped-def]
    ws = init_workspace(workspace_dir, database_url)
    yield ws
    ws.close()


def _table(tmp_path: Path, rows: list[str], name: str = "reads.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def test_timeline_gives_recist_against_baseline_and_nadir(workspace, tmp_path: Path) -> None:
    import_reads_csv(workspace, _table(tmp_path, ROWS), author="reader-a")
    timeline = patient_timeline(workspace, "NET-001")
    assert [e["date"] for e in timeline["exams"]] == ["2024-01-08", "2024-03-04", "2024-04-29"]
    assert timeline["exams"][0]["modalities"] == ["CT"]
    recist = {p["timepoint"]: p for p in timeline["responses"]["recist1.1"]}
    assert recist["week 8"]["vs_baseline"] == "PR" and recist["week 8"]["overall"] == "PR"
    assert recist["week 16"]["vs_baseline"] == "SD"
    assert recist["week 16"]["vs_nadir"] == "PD"
    assert recist["week 16"]["overall"] == "PD"
    assert set(timeline["responses"]) >= {"recist1.1", "irecist", "choi", "mrecist", "percist"}


def test_reimport_changes_only_what_differs_and_logs_it(workspace, tmp_path: Path) -> None:
    first = import_reads_csv(workspace, _table(tmp_path, ROWS), author="reader-a").as_dict()
    assert first == {"patients": 1, "exams": 3, "lesions": 2, "reads": 6, "values_changed": 0}
    same = import_reads_csv(workspace, _table(tmp_path, ROWS), author="reader-a").as_dict()
    assert same == {"patients": 0, "exams": 0, "lesions": 0, "reads": 0, "values_changed": 0}
    edited = [*ROWS[:4], ROWS[4].replace(",40,", ",34,"), ROWS[5]]
    changed = import_reads_csv(workspace, _table(tmp_path, edited, "edit.csv"), "reader-b")
    assert changed.values_changed == 1
    with workspace.session() as session:
        entry = session.scalars(select(ChangeLogEntry)).one()
        assert (entry.field, entry.old_value, entry.new_value, entry.author) == (
            "longest_diameter_mm",
            "40",
            "34",
            "reader-b",
        )
        assert session.scalar(select(func.count()).select_from(Measurement)) == 7
        uids = {lesion.tracking_uid for lesion in session.scalars(select(Lesion))}
        assert len(uids) == 2
    recist = {
        p["timepoint"]: p for p in patient_timeline(workspace, "NET-001")["responses"]["recist1.1"]
    }
    # 34 + 25 = 59 mm: -26.25 % from baseline, +18 % from the nadir of 50 mm: no
    # longer PD; the PR of week 8 continues (the engine's default continued-PR reading).
    assert recist["week 16"]["vs_nadir"] != "PD"
    assert recist["week 16"]["overall"] == "PR"


def test_reads_join_the_imaging_exam_of_the_same_day(workspace, tmp_path: Path) -> None:
    write_study(tmp_path / "export")  # study date 2024-01-08, patient NET-001
    import_paths(workspace, [tmp_path / "export"])
    import_reads_csv(workspace, _table(tmp_path, ROWS), author="reader-a")
    with workspace.session() as session:
        exams = list(session.scalars(select(Exam).order_by(Exam.exam_date)))
        assert [e.label for e in exams] == ["baseline", "week 8", "week 16"]
    timeline = patient_timeline(workspace, "NET-001")
    assert timeline["exams"][0]["modalities"] == ["CT", "MR", "PT"]


def test_a_table_assess_refuses_is_refused_whole(workspace, tmp_path: Path) -> None:
    bad = [*ROWS, "NET-001,week 24,2024-01-01,ct,L1,liver,target,false,40,,,,,present"]
    with pytest.raises(InputError, match="dates out of order"):
        import_reads_csv(workspace, _table(tmp_path, bad), author="reader-a")
    with workspace.session() as session:
        assert session.scalar(select(func.count()).select_from(LesionRead)) == 0


def test_unknown_patient_is_one_line(workspace) -> None:
    with pytest.raises(InputError, match="no patient"):
        patient_timeline(workspace, "NOBODY")


def test_cli_lesion_import_and_timeline_json(
    workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = str(workspace.root)
    table = _table(tmp_path, ROWS)
    assert main(["lesion", "import", "--workspace", ws, str(table), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reads"] == 6
    assert main(["timeline", "--workspace", ws, "NET-001", "--json"]) == 0
    timeline = json.loads(capsys.readouterr().out)
    assert set(timeline) >= {"patient_id", "exams", "responses"}
    assert timeline["patient_id"] == "NET-001"
    assert main(["timeline", "--workspace", ws, "NET-001"]) == 0
    printed = capsys.readouterr().out
    assert "2024-04-29" in printed and "SD / PD" in printed
