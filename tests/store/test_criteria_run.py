"""``tumorboard run`` stores the responses of every criteria and the reading guide.

Truth: the published thresholds applied to the numbers typed below and to the
generating HU of the CT phantom (:mod:`test_lesion_measurements`), and the
stored assessments must equal what ``tumorboard assess`` writes for the same
measurement table.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import select
from test_lesion_measurements import BOXES, write_ct, write_seg

from tumorboard.cli.main import main
from tumorboard.store import init_workspace
from tumorboard.store.models import Analysis, Assessment, CaseFacts, Exam, Patient
from tumorboard.workflow import import_paths
from tumorboard.workflow.analysis_runs import run_analyses
from tumorboard.workflow.lesion_reads import import_reads_csv, measurement_rows
from tumorboard.workflow.timeline import patient_timeline

PATIENT = "CT-001"
HEADER = (
    "patient_id,timepoint,date,modality,lesion_id,organ,role,is_node,longest_diameter_mm,"
    "short_axis_mm,mean_hu,viable_diameter_mm,sul_peak,status\n"
)
#: Baseline HU of L1 is 45 (BOXES); at week 8 the SEG box holds 30 HU (-33 %).
FOLLOW_UP_HU = 30


def _reads(follow_up_mm: int) -> str:
    return HEADER + (
        f"{PATIENT},baseline,2024-01-08,ct,L1,liver,target,false,50,,,,,present\n"
        f"{PATIENT},week 8,2024-03-04,ct,L1,liver,target,false,{follow_up_mm},,,,,present\n"
    )


@pytest.fixture
def workspace(workspace_dir: Path, database_url: str | None, tmp_path: Path):  # type: ignore[no-untyped-def]
    ws = init_workspace(workspace_dir, database_url)
    baseline = tmp_path / "baseline"
    follow_up = tmp_path / "week8"
    write_seg(write_ct(baseline), baseline / "seg", {"L1": BOXES["L1"]})
    (z, y, x, _) = BOXES["L1"]
    boxes = {"L1": (z, y, x, FOLLOW_UP_HU)}
    write_seg(write_ct(follow_up, "20240304", boxes), follow_up / "seg", boxes)
    import_paths(ws, [baseline, follow_up])
    yield ws
    ws.close()


def _stored(workspace) -> dict[tuple[str, str], tuple[str | None, str | None, str | None, int]]:  # type: ignore[no-untyped-def]
    with workspace.session() as session:
        rows = session.execute(
            select(Assessment, Exam.exam_date).join(Exam, Exam.id == Assessment.exam_id)
        ).all()
    return {
        (a.criteria, date.isoformat()): (a.vs_baseline, a.vs_nadir, a.overall, a.analysis_id)
        for a, date in rows
    }


def test_stored_responses_equal_assess_on_the_same_rows(workspace, tmp_path: Path) -> None:
    (tmp_path / "reads.csv").write_text(_reads(48))
    import_reads_csv(workspace, tmp_path / "reads.csv", author="reader-a", source="manual")
    summary = run_analyses(workspace)
    assert summary.failed == []
    assert summary.analyses_run == 2 + 1  # two SEGs, then the criteria
    with workspace.session() as session:
        criteria = session.scalars(select(Analysis).where(Analysis.kind == "criteria")).one()
        patient = session.scalars(select(Patient)).one()
        rows, fields = measurement_rows(session, patient)
    stored = _stored(workspace)
    assert {analysis_id for *_, analysis_id in stored.values()} == {criteria.id}
    # the reader's diameters with the SEG's HU: 50 -> 48 mm (-4 %) is stable disease under
    # RECIST 1.1 (PR needs -30 %), 45 -> 30 HU (-33 %) a Choi partial response (-15 % HU)
    assert stored[("recist1.1", "2024-03-04")][2] == "SD"
    assert stored[("choi", "2024-03-04")][2] == "PR"
    # the same table through 'tumorboard assess'
    table = tmp_path / "record.csv"
    with open(table, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    assert main(["assess", str(table), "--out", str(tmp_path / "assess")]) == 0
    with open(tmp_path / "assess" / "response.csv", newline="", encoding="utf-8") as handle:
        assessed = {
            (row["criteria"], row["date"]): (
                row["response_vs_baseline"] or None,
                row["response_vs_nadir"] or None,
                row["overall_response"] or None,
            )
            for row in csv.DictReader(handle)
            if row["overall_response"]
        }
    assert assessed and {k: v[:3] for k, v in stored.items()} == assessed
    # and the timeline computes the same
    timeline = patient_timeline(workspace, PATIENT)["responses"]
    computed = {
        (name, point["date"]): (point["vs_baseline"], point["vs_nadir"], point["overall"])
        for name, points in timeline.items()
        for point in points
    }
    assert computed == {k: v[:3] for k, v in stored.items()}


def test_criteria_rerun_only_when_the_reads_change(workspace, tmp_path: Path) -> None:
    (tmp_path / "reads.csv").write_text(_reads(30))
    import_reads_csv(workspace, tmp_path / "reads.csv", author="reader-a", source="manual")
    assert run_analyses(workspace).failed == []
    first = _stored(workspace)
    assert first[("recist1.1", "2024-03-04")][2] == "PR"  # 50 -> 30 mm: -40 %
    again = run_analyses(workspace)
    assert (again.analyses_run, again.analyses_reused) == (0, 3)
    (tmp_path / "reads.csv").write_text(_reads(70))
    import_reads_csv(workspace, tmp_path / "reads.csv", author="reader-a", source="manual")
    changed = run_analyses(workspace)
    assert (changed.analyses_run, changed.analyses_reused, changed.failed) == (1, 2, [])
    second = _stored(workspace)
    assert second[("recist1.1", "2024-03-04")][2] == "PD"  # 50 -> 70 mm: +40 %
    with workspace.session() as session:
        analyses = {
            a.id: a.status
            for a in session.scalars(select(Analysis).where(Analysis.kind == "criteria"))
        }
    (old,) = {analysis_id for *_, analysis_id in first.values()}
    (new,) = {analysis_id for *_, analysis_id in second.values()}
    assert analyses == {old: "superseded", new: "done"}


def test_guide_runs_on_the_newest_case_facts(workspace) -> None:
    with workspace.session() as session:
        patient = session.scalars(select(Patient)).one()
        session.add(
            CaseFacts(
                patient_id=patient.id,
                facts={"primary_site": "pancreas", "ki67_pct": 12.0},
                author="reader-a",
            )
        )
    summary = run_analyses(workspace)
    assert summary.failed == [] and summary.analyses_run == 2 + 1  # no reads: no criteria

    def guides() -> dict[int, tuple[str, object]]:
        with workspace.session() as session:
            return {
                a.id: (a.status, (a.result or {}).get("who_grade"))
                for a in session.scalars(select(Analysis).where(Analysis.kind == "guide"))
            }

    # WHO 2019 digestive NET grades by Ki-67: G2 from 3 to 20 %, a well-differentiated
    # tumour above 20 % is a G3 NET
    assert list(guides().values()) == [("done", "G2")]
    assert run_analyses(workspace).analyses_reused == 3
    with workspace.session() as session:
        patient = session.scalars(select(Patient)).one()
        session.add(
            CaseFacts(
                patient_id=patient.id,
                facts={"primary_site": "pancreas", "ki67_pct": 25.0, "differentiation": "well"},
                author="reader-a",
            )
        )
    assert run_analyses(workspace).analyses_run == 1
    assert sorted(guides().values()) == [("done", "G3 NET"), ("superseded", "G2")]


def test_bad_case_facts_fail_only_the_guide(workspace) -> None:
    with workspace.session() as session:
        patient = session.scalars(select(Patient)).one()
        session.add(CaseFacts(patient_id=patient.id, facts={"ki67_pct": 140.0}, author="a"))
    summary = run_analyses(workspace)
    (failure,) = summary.failed
    assert failure["kind"] == "guide" and "ki67_pct" in failure["error"]
    assert "\n" not in failure["error"] and PATIENT not in failure["error"]
    assert summary.analyses_run == 3
