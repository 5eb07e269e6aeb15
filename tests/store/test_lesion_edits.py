"""``tumorboard lesion`` edits on SQLite and on PostgreSQL.

Every expected response is worked out by hand below from RECIST 1.1
(Eisenhauer 2009): PR is a decrease of the target sum of at least 30 % from
baseline; PD an increase of at least 20 % and at least 5 mm over the smallest
sum so far (the nadir), or an unequivocal new lesion; a target not evaluated
makes the target response NE unless the others already show PD. Split
lesions count the sum of their fragments' longest diameters; of coalesced
lesions the coalesced one counts its longest diameter and the others 0 mm.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tumorboard.cli.main import main
from tumorboard.store import init_workspace
from tumorboard.store.models import Base, ChangeLogEntry, Lesion, LesionRead, Measurement
from tumorboard.store.workspace import Workspace
from tumorboard.workflow.lesion_edits import EditRefused, Value, lesion_history, split_lesion
from tumorboard.workflow.lesion_reads import import_reads_csv
from tumorboard.workflow.timeline import patient_timeline

PATIENT = "NET-001"
HEADER = (
    "patient_id,timepoint,date,modality,lesion_id,organ,role,is_node,longest_diameter_mm,"
    "short_axis_mm,mean_hu,viable_diameter_mm,sul_peak,status"
)
BASELINE, WEEK8, WEEK16 = "2024-01-08", "2024-03-04", "2024-04-29"


def _row(timepoint: str, date: str, lesion: str, organ: str, size: str) -> str:
    return f"{PATIENT},{timepoint},{date},ct,{lesion},{organ},target,false,{size},,,,,present"


#: L2 (lung) read at every exam: 20, 10, 14 mm; L1 only at baseline (40 mm).
SPLIT_ROWS = [
    _row("baseline", BASELINE, "L1", "liver", "40"),
    _row("baseline", BASELINE, "L2", "lung", "20"),
    _row("week 8", WEEK8, "L2", "lung", "10"),
    _row("week 16", WEEK16, "L2", "lung", "14"),
]


@pytest.fixture
def workspace(workspace_dir: Path, database_url: str | None) -> Iterator[Workspace]:
    ws = init_workspace(workspace_dir, database_url)
    yield ws
    ws.close()


@pytest.fixture
def cli(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> Any:  # a function: cli(action, *args) -> (status, stdout, stderr)
    def run(action: str, *args: str, author: str | None = "dr-a") -> tuple[int, str, str]:
        command = ["lesion", action, "--workspace", str(workspace.root), *args]
        if author is not None:
            command += ["--author", author]
        status = main(command)
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def _import(workspace: Workspace, tmp_path: Path, rows: list[str], extra: str = "") -> None:
    path = tmp_path / "reads.csv"
    path.write_text("\n".join([HEADER + extra, *rows]) + "\n")
    import_reads_csv(workspace, path, author="importer")


def _recist(workspace: Workspace) -> dict[str, dict[str, str | None]]:
    points = patient_timeline(workspace, PATIENT)["responses"]["recist1.1"]
    return {p["date"]: p for p in points}


def _snapshot(workspace: Workspace) -> dict[str, list[str]]:
    """Every row of every table, to show that a refused edit changed nothing."""
    with workspace.session() as session:
        return {
            table.name: sorted(repr(tuple(row)) for row in session.execute(select(table)))
            for table in Base.metadata.sorted_tables
        }


def _log(workspace: Workspace) -> list[tuple[str, str, str | None, str | None, str]]:
    with workspace.session() as session:
        return [
            (e.table_name, e.field, e.old_value, e.new_value, e.author)
            for e in session.scalars(select(ChangeLogEntry).order_by(ChangeLogEntry.id))
        ]


def _lesion(workspace: Workspace, label: str) -> Lesion:
    with workspace.session() as session:
        return session.scalars(select(Lesion).where(Lesion.label == label)).one()


def _read(workspace: Workspace, label: str, date: str) -> LesionRead | None:
    from tumorboard.store.models import Exam

    with workspace.session() as session:
        return session.scalars(
            select(LesionRead)
            .join(Lesion, LesionRead.lesion_id == Lesion.id)
            .join(Exam, LesionRead.exam_id == Exam.id)
            .where(Lesion.label == label, Exam.exam_date == _date(date))
        ).one_or_none()


def _date(text: str) -> Any:
    import datetime as dt

    return dt.date.fromisoformat(text)


# ---------------------------------------------------------------- add, measure
def test_add_and_measure_reach_the_timeline_and_the_change_log(workspace, cli, tmp_path) -> None:
    _import(workspace, tmp_path, SPLIT_ROWS[1:])  # L2 only: 20, 10, 14 mm
    status, out, err = cli(
        "add", PATIENT, "--label", "L1", "--organ", "liver", "--role", "target",
        "--exam", BASELINE, "--long-axis-mm", "40",
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert "L1" in out and PATIENT not in out
    assert cli("measure", PATIENT, "--label", "L1", "--exam", WEEK8, "--long-axis-mm", "24")[0] == 0
    assert (
        cli("measure", PATIENT, "--label", "L1", "--exam", WEEK16, "--long-axis-mm", "30")[0] == 0
    )
    # Sums 60 -> 34 -> 44 mm. Week 8: -43.3 % (PR). Week 16: -26.7 % from baseline (SD),
    # +10 mm and +29.4 % over the nadir of 34 (PD).
    recist = _recist(workspace)
    assert recist[WEEK8]["vs_baseline"] == "PR" and recist[WEEK8]["overall"] == "PR"
    assert recist[WEEK16]["vs_baseline"] == "SD" and recist[WEEK16]["vs_nadir"] == "PD"
    assert recist[WEEK16]["overall"] == "PD"

    status, out, _ = cli(
        "measure", PATIENT, "--label", "L1", "--exam", WEEK16, "--long-axis-mm", "26", "--json",
        author="dr-b",
    )  # fmt: skip
    assert status == 0 and json.loads(out) == {
        "action": "measure",
        "lesions": ["L1"],
        "exam": WEEK16,
        "changes": 1,
    }
    assert _log(workspace)[-1] == ("measurements", "longest_diameter_mm", "30", "26", "dr-b")
    # 26 + 14 = 40 mm: -33.3 % from baseline (PR); +6 mm but +17.6 % over the nadir (no PD).
    recist = _recist(workspace)
    assert recist[WEEK16]["vs_baseline"] == "PR" and recist[WEEK16]["overall"] == "PR"
    # the same value again changes nothing
    logged = len(_log(workspace))
    assert (
        cli("measure", PATIENT, "--label", "L1", "--exam", WEEK16, "--long-axis-mm", "26")[0] == 0
    )
    assert len(_log(workspace)) == logged
    with workspace.session() as session:
        values = session.scalars(
            select(Measurement.value_text).where(Measurement.source == "manual")
        ).all()
        assert sorted(values, key=float) == ["24", "26", "30", "40"]


def test_measure_another_quantity_and_a_status(workspace, cli, tmp_path) -> None:
    _import(workspace, tmp_path, SPLIT_ROWS)
    args = ("--label", "L2", "--exam", WEEK8)
    assert cli("measure", PATIENT, *args, "--quantity", "mean_hu", "--value", "-12.5")[0] == 0
    assert cli(
        "measure", PATIENT, *args, "--quantity", "ktrans_median", "--value", "0.12",
        "--unit", "/min",
    )[0] == 0  # fmt: skip
    with workspace.session() as session:
        units = dict(session.execute(select(Measurement.quantity, Measurement.unit)).all())
    assert units["mean_hu"] == "[hnsf'U]" and units["ktrans_median"] == "/min"
    patient_timeline(workspace, PATIENT)  # a quantity outside the table leaves it valid
    assert cli("measure", PATIENT, "--label", "L1", "--exam", WEEK8, "--status", "absent")[0] == 0
    # L1 absent (0) + L2 10 = 10 mm of 60: -83 % (PR)
    assert _recist(workspace)[WEEK8]["vs_baseline"] == "PR"
    read = _read(workspace, "L1", WEEK8)
    assert read is not None and (read.status, read.source, read.author) == (
        "absent",
        "manual",
        "dr-a",
    )


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        ("--long-axis-mm", "nan", "longest_diameter_mm"),
        ("--long-axis-mm", "inf", "longest_diameter_mm"),
        ("--long-axis-mm", "-5", "longest_diameter_mm"),
        ("--long-axis-mm", "0", "longest_diameter_mm"),
        ("--long-axis-mm", "1001", "longest_diameter_mm"),
        ("--long-axis-mm", "1e9", "longest_diameter_mm"),
        ("--long-axis-mm", "12,5", "longest_diameter_mm"),
        ("--long-axis-mm", "\u0661\u0662", "longest_diameter_mm"),
        ("--short-axis-mm", "", "short_axis_mm"),
    ],
)
def test_bad_numbers_are_one_line_exit_2_and_change_nothing(
    workspace, cli, tmp_path, option: str, value: str, field: str
) -> None:
    _import(workspace, tmp_path, SPLIT_ROWS)
    before = _snapshot(workspace)
    status, out, err = cli("measure", PATIENT, "--label", "L2", "--exam", WEEK8, option, value)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and field in err and "Traceback" not in err
    assert _snapshot(workspace) == before


def test_quantity_units_are_checked(workspace, cli, tmp_path) -> None:
    _import(workspace, tmp_path, SPLIT_ROWS)
    before = _snapshot(workspace)
    args = ("--label", "L2", "--exam", WEEK8)
    wrong_unit = cli(
        "measure", PATIENT, *args, "--quantity", "sul_peak", "--value", "3", "--unit", "mm"
    )
    assert wrong_unit[0] == 2 and "g/mL" in wrong_unit[2]
    no_unit = cli("measure", PATIENT, *args, "--quantity", "ktrans", "--value", "0.1")
    assert no_unit[0] == 2 and "--unit" in no_unit[2]
    negative = cli("measure", PATIENT, *args, "--quantity", "volume_ml", "--value", "-1")
    assert negative[0] == 2 and "volume_ml" in negative[2]
    inverted = cli("measure", PATIENT, *args, "--short-axis-mm", "30")  # longest is 10
    assert inverted[0] == 2 and "short_axis_mm" in inverted[2]
    assert _snapshot(workspace) == before


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    "command",
    [
        ["measure", "NOBODY", "--label", "L1", "--exam", WEEK8, "--long-axis-mm", "3"],
        ["measure", PATIENT, "--label", "L9", "--exam", WEEK8, "--long-axis-mm", "3"],
        ["measure", PATIENT, "--label", "L1", "--exam", "2024-03-05", "--long-axis-mm", "3"],
        ["measure", PATIENT, "--label", "L1", "--exam", "03/04/2024", "--long-axis-mm", "3"],
        ["ne", PATIENT, "--label", "L9", "--exam", WEEK8],
        ["rename", "NOBODY", "--label", "L1", "--to", "L7"],
        ["rename", PATIENT, "--label", "L9", "--to", "L7"],
        ["split", PATIENT, "--label", "L9", "--exam", WEEK8, "--fragment", "a", "5",
         "--fragment", "b", "6"],
        ["merge", PATIENT, "--label", "L9", "--into", "L1", "--exam", WEEK8],
        ["new", PATIENT, "--label", "X1", "--organ", "bone", "--exam", "2025-01-01"],
        ["add", "NOBODY", "--label", "L5", "--organ", "liver", "--role", "target"],
    ],
)  # fmt: skip
def test_unknown_patient_lesion_or_exam_is_refused_whole(
    workspace, cli, tmp_path, command: list[str]
) -> None:
    _import(workspace, tmp_path, SPLIT_ROWS)
    before = _snapshot(workspace)
    status, out, err = cli(*command)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"tumorboard lesion {command[0]}: error: ")
    assert "NOBODY" not in err and PATIENT not in err  # the patient id is never echoed
    assert _snapshot(workspace) == before


def test_labels_are_unique_per_patient(workspace, cli, tmp_path) -> None:
    _import(workspace, tmp_path, SPLIT_ROWS)
    before = _snapshot(workspace)
    taken = cli("add", PATIENT, "--label", "L2", "--organ", "lung", "--role", "non-target")
    assert taken[0] == 2 and "already in use" in taken[2]
    assert cli("rename", PATIENT, "--label", "L1", "--to", "L2")[0] == 2
    split = cli(
        "split", PATIENT, "--label", "L1", "--exam", WEEK8, "--fragment", "L1a", "15",
        "--fragment", "L2", "12",
    )  # fmt: skip
    assert split[0] == 2 and "already in use" in split[2]
    assert _snapshot(workspace) == before
    # another patient may use the same label
    other = [r.replace(PATIENT, "NET-002") for r in SPLIT_ROWS]
    path = tmp_path / "other.csv"
    path.write_text("\n".join([HEADER, *other]) + "\n")
    import_reads_csv(workspace, path, author="importer")
    assert cli("rename", "NET-002", "--label", "L1", "--to", "liver-1")[0] == 0
    assert cli("rename", PATIENT, "--label", "L1", "--to", "liver-1")[0] == 0


def test_an_edit_that_breaks_a_table_rule_is_refused(workspace, cli, tmp_path) -> None:
    rows = [*SPLIT_ROWS, _row("baseline", BASELINE, "L3", "liver", "25")]
    _import(workspace, tmp_path, rows)
    before = _snapshot(workspace)
    third = cli(
        "add", PATIENT, "--label", "L4", "--organ", "liver", "--role", "target",
        "--exam", BASELINE, "--long-axis-mm", "30",
    )  # fmt: skip
    assert third[0] == 2 and "at most 2 target lesions per organ" in third[2]
    unsized = cli(
        "add", PATIENT, "--label", "L4", "--organ", "bone", "--role", "target", "--exam", BASELINE
    )
    assert unsized[0] == 2 and "need a longest diameter" in unsized[2]
    late = cli(
        "add", PATIENT, "--label", "L4", "--organ", "bone", "--role", "target", "--exam", WEEK8,
        "--long-axis-mm", "30",
    )  # fmt: skip
    assert late[0] == 2 and "lesion new" in late[2]
    at_baseline = cli("new", PATIENT, "--label", "X1", "--organ", "bone", "--exam", BASELINE)
    assert at_baseline[0] == 2 and "after the baseline" in at_baseline[2]
    assert _snapshot(workspace) == before


# ---------------------------------------------------------------- rename
def test_rename_keeps_identity_and_lineage(workspace, cli, tmp_path) -> None:
    _import(workspace, tmp_path, SPLIT_ROWS)
    uid = _lesion(workspace, "L1").tracking_uid
    assert cli(
        "split", PATIENT, "--label", "L1", "--exam", WEEK8, "--fragment", "L1a", "15",
        "--fragment", "L1b", "12",
    )[0] == 0  # fmt: skip
    responses = _recist(workspace)
    assert cli("rename", PATIENT, "--label", "L1", "--to", "liver-1", author="dr-b")[0] == 0
    assert _lesion(workspace, "liver-1").tracking_uid == uid
    fragment_read = _read(workspace, "L1a", WEEK8)
    assert fragment_read is not None and fragment_read.notes == {"part_of": "liver-1"}
    assert _recist(workspace) == responses
    history = lesion_history(workspace, PATIENT, "liver-1")
    assert history[-1]["field"] == "label" and history[-1]["author"] == "dr-b"
    assert (history[-1]["old"], history[-1]["new"]) == ("L1", "liver-1")
    assert ("lesion_reads", "part_of", "L1", "liver-1", "dr-b") in _log(workspace)


# ---------------------------------------------------------------- split
def test_split_sums_the_fragments_in_the_timeline(workspace, cli, tmp_path) -> None:
    _import(workspace, tmp_path, SPLIT_ROWS)
    status, out, _ = cli(
        "split", PATIENT, "--label", "L1", "--exam", WEEK8, "--fragment", "L1a", "15",
        "--fragment", "L1b", "12", "--json",
    )  # fmt: skip
    assert status == 0 and json.loads(out)["lesions"] == ["L1", "L1a", "L1b"]
    parent, fragment = _lesion(workspace, "L1"), _lesion(workspace, "L1a")
    assert parent.status == "split" and fragment.status == "active"
    assert (fragment.organ, fragment.role, fragment.is_node) == ("liver", "target", False)
    assert fragment.tracking_uid != parent.tracking_uid
    read = _read(workspace, "L1b", WEEK8)
    assert read is not None and read.notes == {"part_of": "L1"}
    assert ("lesions", "status", "active", "split", "dr-a") in _log(workspace)
    # Baseline 40 + 20 = 60 mm. Week 8: 15 + 12 + 10 = 37 mm, -38.3 % (PR).
    recist = _recist(workspace)
    assert recist[WEEK8]["vs_baseline"] == "PR" and recist[WEEK8]["overall"] == "PR"
    # Week 16 with one fragment read: the other is unknown, so the sum is (NE).
    assert (
        cli("measure", PATIENT, "--label", "L1a", "--exam", WEEK16, "--long-axis-mm", "20")[0] == 0
    )
    assert _recist(workspace)[WEEK16]["vs_baseline"] == "NE"
    # Both read: 20 + 18 + 14 = 52 mm: -13.3 % from baseline (SD); +15 mm and +40.5 %
    # over the nadir of 37 (PD).
    assert (
        cli("measure", PATIENT, "--label", "L1b", "--exam", WEEK16, "--long-axis-mm", "18")[0] == 0
    )
    recist = _recist(workspace)
    assert recist[WEEK16]["vs_baseline"] == "SD" and recist[WEEK16]["vs_nadir"] == "PD"
    assert recist[WEEK16]["overall"] == "PD"
    later = _read(workspace, "L1a", WEEK16)
    assert later is not None and later.notes == {"part_of": "L1"}  # a fragment stays one
    # the parent is not measured besides its fragments at the same exam
    double = cli("measure", PATIENT, "--label", "L1", "--exam", WEEK16, "--long-axis-mm", "40")
    assert double[0] == 2 and "fragments" in double[2]


def test_split_refusals(workspace, cli, tmp_path) -> None:
    rows = [
        *SPLIT_ROWS,
        f"{PATIENT},baseline,{BASELINE},ct,N1,lymph node,target,true,25,16,,,,present",
        f"{PATIENT},baseline,{BASELINE},ct,B1,bone,non-target,false,,,,,,present",
    ]
    _import(workspace, tmp_path, rows)
    before = _snapshot(workspace)
    fragments = ["--fragment", "a", "8", "--fragment", "b", "9"]
    node = cli("split", PATIENT, "--label", "N1", "--exam", WEEK8, *fragments)
    assert node[0] == 2 and "lymph nodes are not split" in node[2]
    non_target = cli("split", PATIENT, "--label", "B1", "--exam", WEEK8, *fragments)
    assert non_target[0] == 2 and "only target lesions" in non_target[2]
    at_baseline = cli("split", PATIENT, "--label", "L1", "--exam", BASELINE, *fragments)
    assert at_baseline[0] == 2 and "follow-up" in at_baseline[2]
    one = cli("split", PATIENT, "--label", "L1", "--exam", WEEK8, "--fragment", "a", "8")
    assert one[0] == 2 and "at least two" in one[2]
    with pytest.raises(EditRefused, match="longest_diameter_mm"):
        split_lesion(workspace, PATIENT, "L1", WEEK8, [("a", "8"), ("b", "nan")], author="dr-a")
    assert _snapshot(workspace) == before


# ---------------------------------------------------------------- merge
#: L1 30 and L2 20 (liver), L3 25 (lung) at baseline; L3 read at every exam: 25, 25, 20.
MERGE_ROWS = [
    _row("baseline", BASELINE, "L1", "liver", "30"),
    _row("baseline", BASELINE, "L2", "liver", "20"),
    _row("baseline", BASELINE, "L3", "lung", "25"),
    _row("week 8", WEEK8, "L3", "lung", "25"),
    _row("week 16", WEEK16, "L3", "lung", "20"),
]


def test_merge_counts_the_coalesced_lesion_and_zero_for_the_others(
    workspace, cli, tmp_path
) -> None:
    _import(workspace, tmp_path, MERGE_ROWS)
    status, out, _ = cli(
        "merge", PATIENT, "--label", "L2", "--into", "L1", "--exam", WEEK8, "--long-axis-mm", "40"
    )
    assert status == 0 and "L1, L2" in out
    survivor, merged = _lesion(workspace, "L1"), _lesion(workspace, "L2")
    assert (merged.status, merged.merged_into_id) == ("merged", survivor.id)
    assert survivor.status == "active"
    read = _read(workspace, "L2", WEEK8)
    assert read is not None and (read.status, read.notes) == ("absent", {"part_of": "L1"})
    # Baseline 30 + 20 + 25 = 75 mm. Week 8: 40 + 0 + 25 = 65 mm, -13.3 % (SD).
    recist = _recist(workspace)
    assert recist[WEEK8]["vs_baseline"] == "SD" and recist[WEEK8]["overall"] == "SD"
    # Week 16: the coalesced L1 30 mm, L2 still 0 (no read of its own), L3 20:
    # 50 mm, -33.3 % from baseline (PR).
    assert (
        cli("measure", PATIENT, "--label", "L1", "--exam", WEEK16, "--long-axis-mm", "30")[0] == 0
    )
    recist = _recist(workspace)
    assert recist[WEEK16]["vs_baseline"] == "PR" and recist[WEEK16]["overall"] == "PR"
    # the merged lesion is edited through the lesion it merged into
    before = _snapshot(workspace)
    late = cli("measure", PATIENT, "--label", "L2", "--exam", WEEK16, "--long-axis-mm", "9")
    assert late[0] == 2 and "merged into L1" in late[2]
    again = cli("merge", PATIENT, "--label", "L2", "--into", "L3", "--exam", WEEK16,
                "--long-axis-mm", "50")  # fmt: skip
    assert again[0] == 2 and "already merged" in again[2]
    assert _snapshot(workspace) == before
    fields = [(e["field"], e["old"], e["new"]) for e in lesion_history(workspace, PATIENT, "L2")]
    assert ("status", "active", "merged") in fields
    assert ("merged_into_id", None, str(survivor.id)) in fields
    assert ("part_of", None, "L1") in fields


def test_merge_refusals(workspace, cli, tmp_path) -> None:
    rows = [
        *MERGE_ROWS,
        f"{PATIENT},baseline,{BASELINE},ct,B1,liver,non-target,false,,,,,,present",
        f"{PATIENT},baseline,{BASELINE},ct,N1,lymph node,target,true,25,16,,,,present",
    ]
    _import(workspace, tmp_path, rows)
    before = _snapshot(workspace)
    size = ("--exam", WEEK8, "--long-axis-mm", "40")
    roles = cli("merge", PATIENT, "--label", "B1", "--into", "L1", *size)
    assert roles[0] == 2 and "non-target" in roles[2]
    node = cli("merge", PATIENT, "--label", "N1", "--into", "L1", *size)
    assert node[0] == 2 and "lymph node" in node[2]
    itself = cli("merge", PATIENT, "--label", "L1", "--into", "L1", *size)
    assert itself[0] == 2
    unsized = cli("merge", PATIENT, "--label", "L2", "--into", "L1", "--exam", WEEK8)
    assert unsized[0] == 2 and "present target lesions have a size" in unsized[2]
    assert _snapshot(workspace) == before


# ---------------------------------------------------------------- NE, new
def test_not_evaluable_target_makes_the_response_ne(workspace, cli, tmp_path) -> None:
    _import(workspace, tmp_path, SPLIT_ROWS)
    assert cli("measure", PATIENT, "--label", "L1", "--exam", WEEK8, "--long-axis-mm", "20")[0] == 0
    # 20 + 10 = 30 of 60 mm: -50 % (PR)
    assert _recist(workspace)[WEEK8]["vs_baseline"] == "PR"
    assert cli("ne", PATIENT, "--label", "L1", "--exam", WEEK8, author="dr-b")[0] == 0
    # L1 unknown, L2 10 mm: no PD from the known part, so NE
    recist = _recist(workspace)
    assert recist[WEEK8]["vs_baseline"] == "NE" and recist[WEEK8]["overall"] == "NE"
    assert _log(workspace)[-1] == ("lesion_reads", "status", "present", "not-evaluated", "dr-b")
    # its number stays in the record
    with workspace.session() as session:
        assert "20" in session.scalars(select(Measurement.value_text)).all()
    # measuring it again makes it present: PR again
    assert cli("measure", PATIENT, "--label", "L1", "--exam", WEEK8, "--long-axis-mm", "21")[0] == 0
    assert _recist(workspace)[WEEK8]["vs_baseline"] == "PR"


def test_new_lesion_is_progression(workspace, cli, tmp_path) -> None:
    _import(workspace, tmp_path, SPLIT_ROWS)
    assert cli("measure", PATIENT, "--label", "L1", "--exam", WEEK8, "--long-axis-mm", "20")[0] == 0
    status, _, err = cli(
        "new", PATIENT, "--label", "X1", "--organ", "bone", "--exam", WEEK8, "--equivocal"
    )
    assert (status, err) == (0, "")
    # 30 of 60 mm is PR; an equivocal new lesion is not yet progression
    assert _recist(workspace)[WEEK8]["overall"] == "PR"
    assert cli("new", PATIENT, "--label", "X2", "--organ", "liver", "--exam", WEEK8,
               "--long-axis-mm", "8")[0] == 0  # fmt: skip
    # an unequivocal new lesion is PD whatever the sum
    assert _recist(workspace)[WEEK8]["overall"] == "PD"
    assert _lesion(workspace, "X2").role == "new"


# ---------------------------------------------------------------- history, import
def test_history_shows_who_when_old_new(workspace, cli, tmp_path) -> None:
    _import(workspace, tmp_path, SPLIT_ROWS)
    cli("measure", PATIENT, "--label", "L2", "--exam", WEEK8, "--long-axis-mm", "11", author="dr-b")
    cli("rename", PATIENT, "--label", "L1", "--to", "liver-1", author="dr-c")
    status, out, _ = cli("history", PATIENT, "--json", author=None)
    assert status == 0 and PATIENT not in out
    changes = json.loads(out)["changes"]
    assert [
        (c["lesion"], c["exam"], c["field"], c["old"], c["new"], c["author"]) for c in changes
    ] == [
        ("L2", WEEK8, "longest_diameter_mm", "10", "11", "dr-b"),
        ("liver-1", None, "label", "L1", "liver-1", "dr-c"),
    ]
    assert all(c["changed_at"].endswith("+00:00") for c in changes)
    status, out, _ = cli("history", PATIENT, "--label", "L2", "--json", author=None)
    assert [c["lesion"] for c in json.loads(out)["changes"]] == ["L2"]
    status, out, _ = cli("history", PATIENT, author=None)
    assert status == 0 and "dr-c" in out and "liver-1" in out
    assert cli("history", PATIENT, "--label", "L9", author=None)[0] == 2


def test_a_table_with_part_of_sets_the_lineage(workspace, tmp_path) -> None:
    rows = [
        f"{PATIENT},baseline,{BASELINE},ct,L1,liver,target,false,40,,,,,present,",
        f"{PATIENT},baseline,{BASELINE},ct,L2,liver,target,false,20,,,,,present,",
        f"{PATIENT},week 8,{WEEK8},ct,L1,liver,target,false,,,,,,absent,",
        f"{PATIENT},week 8,{WEEK8},ct,L1a,liver,target,false,15,,,,,present,L1",
        f"{PATIENT},week 8,{WEEK8},ct,L1b,liver,target,false,12,,,,,present,L1",
        f"{PATIENT},week 8,{WEEK8},ct,L2,liver,target,false,,,,,,absent,L1",
        f"{PATIENT},week 16,{WEEK16},ct,L1,liver,target,false,52,,,,,present,",
    ]
    _import(workspace, tmp_path, rows, extra=",part_of")
    assert _lesion(workspace, "L1").status == "split"
    merged = _lesion(workspace, "L2")
    assert (merged.status, merged.merged_into_id) == ("merged", _lesion(workspace, "L1").id)
    assert _lesion(workspace, "L1a").status == "active"
    assert ("lesions", "status", "active", "merged", "importer") in _log(workspace)
    # 60 -> 15 + 12 + 0 = 27 mm (-55 %, PR) -> 52 mm with L2 still merged (0 mm, its row
    # implied): +25 mm and +92.6 % over the nadir of 27 (PD).
    recist = _recist(workspace)
    assert recist[WEEK8]["vs_baseline"] == "PR"
    assert recist[WEEK16]["vs_nadir"] == "PD" and recist[WEEK16]["overall"] == "PD"


def test_library_values_are_validated_too(workspace, tmp_path) -> None:
    from tumorboard.workflow.lesion_edits import measure_lesion

    _import(workspace, tmp_path, SPLIT_ROWS)
    before = _snapshot(workspace)
    with pytest.raises(EditRefused, match="each quantity is given once"):
        measure_lesion(
            workspace,
            PATIENT,
            "L1",
            WEEK8,
            [Value("longest_diameter_mm", "5"), Value("longest_diameter_mm", "6")],
            author="dr-a",
        )
    with pytest.raises(EditRefused, match="--author"):
        measure_lesion(
            workspace, PATIENT, "L1", WEEK8, [Value("longest_diameter_mm", "5")], author=" "
        )
    assert _snapshot(workspace) == before
