from __future__ import annotations

from pathlib import Path

import pytest

from tumorboard.criteria.measurements_csv import read_measurements_csv
from tumorboard.errors import InputError

HEADER = (
    "patient_id,timepoint,date,modality,lesion_id,organ,role,is_node,longest_diameter_mm,"
    "short_axis_mm,mean_hu,viable_diameter_mm,sul_peak,status"
)
GOOD = [
    "P1,baseline,2024-01-01,ct,L1,liver,target,false,40,,80,,,present",
    "P1,baseline,2024-01-01,ct,N1,lymph node,target,true,25,17,,,,present",
    "P1,week8,2024-03-01,ct,L1,liver,target,false,30,,60,,,present",
    "P1,week8,2024-03-01,ct,N1,lymph node,target,true,20,12,,,,present",
]


def write(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "m.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_reads_good_table(tmp_path: Path) -> None:
    (series,) = read_measurements_csv(write(tmp_path, GOOD))
    assert [tp.label for tp in series.timepoints] == ["baseline", "week8"]
    assert series.timepoints[0].by_id["N1"].short_axis_mm == 17
    assert series.timepoints[1].by_id["L1"].mean_hu == 60


def _targets(count: int, organ_of: str = "k") -> list[str]:
    return [
        f"P1,baseline,2024-01-01,ct,L{k},{organ_of if organ_of != 'k' else f'organ{k}'},"
        "target,false,20,,,,,present"
        for k in range(count)
    ]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (GOOD + [GOOD[2]], "row 6: duplicate lesion id 'L1'"),
        (_targets(6), "row 7: rule 'at most 5 target lesions'"),
        (_targets(3, "liver"), "row 4: rule 'at most 2 target lesions per organ'"),
        (
            ["P1,baseline,2024-01-01,ct,X1,liver,new,false,20,,,,,present"],
            "row 2: rule 'no new lesions at baseline'",
        ),
        (
            [GOOD[0], "P1,week8,2023-03-01,ct,L1,liver,target,false,30,,,,,present"],
            "row 3: dates out of order",
        ),
        ([GOOD[0].replace(",40,", ",-4,")], "row 2: longest_diameter_mm must not be negative"),
        (
            GOOD[:3] + [GOOD[3].replace(",12,", ",,")],
            "row 5: rule 'nodes are measured by their short axis'",
        ),
        (  # a non-target node given a longest diameter but no short axis
            GOOD + ["P1,baseline,2024-01-01,ct,N2,lymph node,non-target,true,14,,,,,present"],
            "row 6: rule 'nodes are measured by their short axis': non-target node 'N2'",
        ),
        (  # a new node at follow-up likewise
            GOOD + ["P1,week8,2024-03-01,ct,X1,lymph node,new,true,18,,,,,present"],
            "row 6: rule 'nodes are measured by their short axis': new node 'X1'",
        ),
        ([GOOD[0].replace("present", "gone")], "row 2: status must be one of"),
        ([GOOD[0].replace("target", "main")], "row 2: role must be one of"),
        ([GOOD[0].replace("2024-01-01", "01/01/2024")], "row 2: date must be ISO"),
        ([GOOD[0].replace(",40,", ",forty,")], "row 2: longest_diameter_mm: expected a number"),
        ([GOOD[0].replace(",40,", ",nan,")], "row 2: longest_diameter_mm: expected a finite"),
        ([GOOD[0].replace(",40,", ",8,")], "row 2: rule 'target lesions need a longest diameter"),
        ([GOOD[1].replace(",17,", ",14,")], "row 2: rule 'target nodes need a short axis >= 15"),
        ([GOOD[0].replace("false", "maybe")], "row 2: is_node must be true or false"),
        (
            [GOOD[0], "P1,week8,2024-03-01,ct,L9,liver,target,false,30,,,,,present"],
            "row 3: target lesion 'L9' at 'week8' is not at baseline",
        ),
        ([], "no data rows"),
        (GOOD[2:], "row 2: no baseline: the first timepoint 'week8' is a follow-up"),
        (
            GOOD + [GOOD[0].replace("baseline,2024-01-01", "BL,2024-05-01").replace("L1", "L7")],
            "row 6: two baseline timepoints",
        ),
    ],
)
def test_bad_tables_name_row_and_rule(tmp_path: Path, rows: list[str], message: str) -> None:
    with pytest.raises(InputError) as info:
        read_measurements_csv(write(tmp_path, rows))
    text = str(info.value)
    assert message in text
    assert "\n" not in text
    assert "P1" not in text  # no patient identifiers in errors


def test_no_baseline(tmp_path: Path) -> None:
    rows = ["P1,baseline,2024-01-01,ct,liver-reference,liver,,,,,,,2.0,"]
    with pytest.raises(InputError, match="no baseline"):
        read_measurements_csv(write(tmp_path, rows))


def test_header_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="row 1: missing column"):
        read_measurements_csv(write(tmp_path, GOOD, HEADER.replace(",status", "")))
    with pytest.raises(InputError, match="row 1: unknown column"):
        read_measurements_csv(write(tmp_path, [r + ",x" for r in GOOD], HEADER + ",colour"))
    with pytest.raises(InputError, match="file not found"):
        read_measurements_csv(tmp_path / "absent.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty file"):
        read_measurements_csv(empty)


def test_node_without_any_size_is_allowed_for_non_targets(tmp_path: Path) -> None:
    # a non-target node is not measured: no size at all is fine (only a lone
    # longest diameter is a mistake, since nodes count by their short axis)
    rows = GOOD + ["P1,baseline,2024-01-01,ct,N2,lymph node,non-target,true,,,,,,present"]
    (series,) = read_measurements_csv(write(tmp_path, rows))
    assert series.baseline.by_id["N2"].short_axis_mm is None


def test_unlabelled_first_timepoint_is_the_baseline(tmp_path: Path) -> None:
    rows = [row.replace("baseline", "scan1").replace("week8", "scan2") for row in GOOD]
    (series,) = read_measurements_csv(write(tmp_path, rows))
    assert [tp.label for tp in series.timepoints] == ["scan1", "scan2"]


@pytest.mark.parametrize("label", ["week8", "FU1", "cycle 3", "month 6", "C2D1"])
def test_follow_up_label_first_means_missing_baseline(tmp_path: Path, label: str) -> None:
    rows = [row.replace("week8", label) for row in GOOD[2:]]
    with pytest.raises(InputError, match=f"row 2: no baseline: the first timepoint '{label}'"):
        read_measurements_csv(write(tmp_path, rows))
