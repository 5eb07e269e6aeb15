"""Every published threshold of the criteria pinned on both sides of its edge.

The expected categories are the published rules applied by hand to the
literal numbers of each row (RECIST 1.1: Eisenhauer 2009; iRECIST: Seymour
2017; PERCIST 1.0: Wahl 2009; Choi 2007), never values computed by the code
under test. Moving any threshold by 10 % (e.g. iRECIST PD +20 % -> +25 %,
PERCIST 0.8 SUL -> 1.0 SUL, the 20 % liver tolerance -> 22 %) fails a row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from tumorboard.criteria.choi import assess_choi
from tumorboard.criteria.irecist import assess_irecist
from tumorboard.criteria.new_baseline import build_ledger
from tumorboard.criteria.options import AssessmentOptions
from tumorboard.criteria.percist import assess_percist
from tumorboard.criteria.recist import assess_recist
from tumorboard.criteria.records import PatientSeries, Response
from tumorboard.errors import InputError

R = Response
Build = Callable[..., PatientSeries]


def _date(t: int) -> dt.date:
    return dt.date(2024, 1, 1) + dt.timedelta(weeks=6 * t)


# ------------------------------------------------------- lymph nodes: one organ
def _node_rows(stations: list[str], is_node: bool = True) -> str:
    return "".join(
        f"baseline,2024-01-01,ct,N{k},{station},target,{str(is_node).lower()},25,18,,,,present\n"
        for k, station in enumerate(stations)
    )


@pytest.mark.parametrize(
    "stations",
    [
        ["peripancreatic", "para-aortic", "mesenteric"],  # is_node true, stations only
        ["lymph node hilar", "lymph node mediastinal", "lymph node axillary"],
        ["Lymph Node", "mediastinal nodes", "nodal conglomerate"],
    ],
)
def test_three_target_nodes_in_three_stations_are_refused(
    make_series: Build, stations: list[str]
) -> None:
    with pytest.raises(InputError) as caught:
        make_series(_node_rows(stations))
    message = str(caught.value)
    assert message.startswith("row 4: rule 'at most 2 target lesions per organ'")
    assert "lymph nodes (nodes are one organ" in message
    assert "\n" not in message


def test_two_target_nodes_in_two_stations_are_accepted(make_series: Build) -> None:
    rows = _node_rows(["peripancreatic", "para-aortic"]) + (
        "baseline,2024-01-01,ct,L1,liver,target,false,30,,,,,present\n"
        "baseline,2024-01-01,ct,L2,liver,target,false,20,,,,,present\n"
        "baseline,2024-01-01,ct,N9,portal,non-target,true,,12,,,,present\n"
    )
    series = make_series(rows)
    assert len([m for m in series.baseline.measurements if m.role.value == "target"]) == 4


def test_a_nodular_organ_is_not_a_lymph_node(make_series: Build) -> None:
    # "nodule" is not "node": three thyroid nodules are three targets in one organ
    rows = "".join(
        f"baseline,2024-01-01,ct,T{k},thyroid nodule {k},target,false,20,,,,,present\n"
        for k in range(3)
    )
    make_series(rows)  # three different organ texts, none a node: accepted


def test_irecist_new_lesion_targets_count_nodes_as_one_organ(make_series: Build) -> None:
    # three new measurable nodes (16 mm short axis) in three stations: only two become
    # new-lesion targets, so the third's growth (+9 mm) does not add to the new-target sum
    rows = _one_target(["50", "50", "50"])
    stations = ("peripancreatic", "para-aortic", "mesenteric")
    for t, sizes in ((1, ("16", "16", "16")), (2, ("16", "16", "25"))):
        rows += "".join(
            f"tp{t},{_date(t)},ct,X{k},{station},new,true,30,{size},,,,present\n"
            for k, (station, size) in enumerate(zip(stations, sizes, strict=True))
        )
    series = make_series(rows)
    result = assess_irecist(series, build_ledger(series))
    assert [t.overall_response for t in result.timepoints] == [None, R.IUPD, R.IUPD]


# --------------------------------------------------------------- RECIST 1.1 / iRECIST
def _one_target(sums: list[str]) -> str:
    return "".join(
        f"tp{t},{_date(t)},ct,L1,liver,target,false,{value},,,,,present\n"
        for t, value in enumerate(sums)
    )


@pytest.mark.parametrize(
    ("sums", "recist", "irecist"),
    [
        # +20 % exactly (+10 mm) over the nadir 50: PD / iUPD; +19.8 %: SD
        (["50", "60"], R.PD, R.IUPD),
        (["50", "59.9"], R.SD, R.ISD),
        # +5 mm exactly (+25 %) over 20: PD; +4.9 mm (+24.5 %): SD
        (["20", "25"], R.PD, R.IUPD),
        (["20", "24.9"], R.SD, R.ISD),
        # nadir, not baseline: 50 -> 40 -> 48 is +20 % and +8 mm over the nadir
        (["50", "40", "48"], R.PD, R.IUPD),
        (["50", "40", "47.9"], R.SD, R.ISD),
        # -30 % exactly: PR; -29.8 %: SD
        (["50", "35"], R.PR, R.IPR),
        (["50", "35.1"], R.SD, R.ISD),
    ],
)
def test_recist_and_irecist_size_edges(
    make_series: Build, sums: list[str], recist: Response, irecist: Response
) -> None:
    series = make_series(_one_target(sums))
    ledger = build_ledger(series)
    options = AssessmentOptions(continued_pr=False)
    assert assess_recist(series, ledger, options).timepoints[-1].overall_response is recist
    assert assess_irecist(series, ledger, options).timepoints[-1].overall_response is irecist


@pytest.mark.parametrize(
    ("sums", "last"),
    [
        # iUPD at 60 (+20 %): iCPD needs a further >= 5 mm over the iUPD sum
        (["50", "60", "65"], R.ICPD),
        (["50", "60", "64.9"], R.IUPD),
    ],
)
def test_icpd_needs_a_further_5_mm(make_series: Build, sums: list[str], last: Response) -> None:
    series = make_series(_one_target(sums))
    result = assess_irecist(series, build_ledger(series))
    assert [t.overall_response for t in result.timepoints] == [None, R.IUPD, last]


@pytest.mark.parametrize(("size", "last"), [("17", R.ICPD), ("16.9", R.IUPD)])
def test_icpd_new_lesion_target_sum_edge(make_series: Build, size: str, last: Response) -> None:
    rows = _one_target(["50", "50", "50"]) + (
        f"tp1,{_date(1)},ct,X1,lung,new,false,12,,,,,present\n"
        f"tp2,{_date(2)},ct,X1,lung,new,false,{size},,,,,present\n"
    )
    series = make_series(rows)
    result = assess_irecist(series, build_ledger(series))
    assert [t.overall_response for t in result.timepoints] == [None, R.IUPD, last]


@pytest.mark.parametrize(
    ("cells", "start", "grown", "expected"),
    [
        # a new lesion of >= 10 mm is a new-lesion target: +6 mm confirms (iCPD)
        ("lung,new,false,{},,,,,present", "10", "16", R.ICPD),
        ("lung,new,false,{},,,,,present", "9.9", "15.9", R.IUPD),  # a new non-target
        # a new node needs >= 15 mm short axis to be a new-lesion target
        ("lymph node,new,true,30,{},,,,present", "15", "21", R.ICPD),
        ("lymph node,new,true,30,{},,,,present", "14.9", "20.9", R.IUPD),
    ],
)
def test_new_lesion_measurability_edges(
    make_series: Build, cells: str, start: str, grown: str, expected: Response
) -> None:
    rows = _one_target(["50", "50", "50"]) + (
        f"tp1,{_date(1)},ct,X1,{cells.format(start)}\ntp2,{_date(2)},ct,X1,{cells.format(grown)}\n"
    )
    series = make_series(rows)
    result = [t.overall_response for t in assess_irecist(series, build_ledger(series)).timepoints]
    assert result == [None, R.IUPD, expected]


# ------------------------------------------------------------------------ PERCIST
def _pet(
    before: str,
    after: str,
    liver_before: str = "2.0",
    liver_after: str = "2.0",
    blood_after: str = "",
) -> str:
    return (
        f"baseline,2024-01-01,pet-fdg,L1,liver,target,false,30,,,,{before},present,,\n"
        f"baseline,2024-01-01,pet-fdg,liver-reference,liver,,,,,,,{liver_before},,0.1,\n"
        f"f,2024-03-01,pet-fdg,L1,liver,target,false,30,,,,{after},present,,\n"
        f"f,2024-03-01,pet-fdg,liver-reference,liver,,,,,,,{liver_after},,0.1,{blood_after}\n"
    )


def _percist(make_series: Build, text: str) -> tuple[Response | None, tuple[str, ...]]:
    series = make_series(text, extra="sul_sd,blood_pool_sul")
    result = assess_percist(series, build_ledger(series)).timepoints[1]
    return result.overall_response, result.notes


@pytest.mark.parametrize(
    ("liver_before", "liver_after", "comparable"),
    [
        ("2.0", "2.3", False),  # +0.3 SUL (15 %): not less than 0.3 SUL
        ("2.0", "2.29", True),  # +0.29 SUL (14.5 %)
        ("2.0", "1.7", False),  # -0.3 SUL
        ("2.0", "1.71", True),
        ("1.0", "1.2", False),  # +20 % (0.2 SUL): not less than 20 %
        ("1.0", "1.19", True),  # +19 %
        ("1.0", "0.8", False),  # -20 %
        ("1.0", "0.81", True),
    ],
)
def test_percist_liver_comparability_edges(
    make_series: Build, liver_before: str, liver_after: str, comparable: bool
) -> None:
    # lesion 10 -> 6 (-40 %, -4 SUL) is PMR whenever the scans are comparable
    response, notes = _percist(
        make_series, _pet("10", "6", liver_before=liver_before, liver_after=liver_after)
    )
    if comparable:
        assert response is R.PMR
    else:
        assert response is R.NE
        assert any("not comparable" in note for note in notes)


@pytest.mark.parametrize(
    ("after", "blood", "expected"),
    [
        ("1.5", "1.5", R.CMR),  # below the liver (2.0), at the blood pool
        ("1.5", "1.49", R.PMR),  # above the blood pool: -85 %, -8.5 SUL
        ("1.99", "2.5", R.CMR),  # just below the liver mean
        ("2.0", "2.5", R.PMR),  # equal to the liver mean is not CMR
        ("1.5", "", R.PMR),  # no blood pool given: CMR cannot be shown
    ],
)
def test_percist_cmr_needs_liver_and_blood_pool(
    make_series: Build, after: str, blood: str, expected: Response
) -> None:
    response, notes = _percist(make_series, _pet("10", after, blood_after=blood))
    assert response is expected
    if not blood:
        assert any("blood_pool_sul" in note for note in notes)


def test_percist_all_lesions_absent_is_cmr_without_blood_pool(make_series: Build) -> None:
    text = _pet("10", "1").replace("30,,,,1,present", ",,,,,absent")
    assert _percist(make_series, text)[0] is R.CMR


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        # Wahl 2009 is ambiguous at the PMD edge ("> 30 %, > 0.8 SUL" in its table, ">= 30 %"
        # in later summaries); tumorboard uses ">=" for PMR and PMD (see the module docstring).
        ("3.0", "3.9", R.PMD),  # +30 % exactly, +0.9 SUL
        ("3.0", "3.89", R.SMD),  # +29.7 %, +0.89 SUL
        ("4.0", "5.2", R.PMD),  # +30 % exactly, +1.2 SUL
        ("4.0", "5.19", R.SMD),  # +29.75 %
        ("2.4", "3.2", R.PMD),  # +33.3 %, +0.8 SUL exactly
        ("2.4", "3.19", R.SMD),  # +32.9 %, +0.79 SUL
        ("2.6", "3.4", R.PMD),  # +30.8 %, +0.8 SUL exactly
        ("2.8", "3.6", R.SMD),  # +28.6 %, +0.8 SUL: not 30 %
        ("2.0", "2.6", R.SMD),  # +30 % exactly, +0.6 SUL: below the 0.8 SUL floor
        ("2.7", "3.6", R.PMD),  # +33.3 %, +0.9 SUL: SMD if the floor were 1.0 SUL
        # decreases (PMR: "a minimum of 30 %", "at least 0.8 SUL")
        ("10", "7", R.PMR),  # -30 % exactly, -3.0 SUL
        ("10", "7.01", R.SMD),  # -29.9 %
        ("2.5", "1.7", R.PMR),  # -32 %, -0.8 SUL exactly
        ("2.5", "1.71", R.SMD),  # -31.6 %, -0.79 SUL
        ("2.0", "1.4", R.SMD),  # -30 % exactly, -0.6 SUL: below the 0.8 SUL floor
        ("2.7", "1.8", R.PMR),  # -33.3 %, -0.9 SUL: SMD if the floor were 1.0 SUL
    ],
)
def test_percist_change_edges(
    make_series: Build, before: str, after: str, expected: Response
) -> None:
    # liver mean 0.5 keeps every lesion measurable (1.5 x 0.5 + 2 x 0.1 = 0.95)
    text = _pet(before, after, liver_before="0.5", liver_after="0.5", blood_after="0.1")
    assert _percist(make_series, text)[0] is expected


def test_percist_measurability_edge(make_series: Build) -> None:
    # 1.5 x 2.0 + 2 x 0.1 = 3.2: 3.2 is measurable, 3.19 is not
    assert _percist(make_series, _pet("3.2", "3.2"))[0] is R.SMD
    response, _ = _percist(make_series, _pet("3.19", "3.19"))
    assert response is R.NE


@pytest.mark.parametrize(("tlg", "expected"), [("176", R.PMD), ("175", R.SMD)])
def test_percist_tlg_edge(make_series: Build, tlg: str, expected: Response) -> None:
    text = (
        "baseline,2024-01-01,pet-fdg,L1,liver,target,false,30,,,,10,present,,100\n"
        "baseline,2024-01-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2,\n"
        f"f,2024-03-01,pet-fdg,L1,liver,target,false,30,,,,10,present,,{tlg}\n"
        "f,2024-03-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2,\n"
    )
    series = make_series(text, extra="sul_sd,tlg_g")
    assert assess_percist(series, build_ledger(series)).timepoints[1].overall_response is expected


def test_blood_pool_only_on_the_liver_reference_row(make_series: Build) -> None:
    text = "baseline,2024-01-01,pet-fdg,L1,liver,target,false,30,,,,5,present,,1.5\n"
    with pytest.raises(InputError, match="row 2: blood_pool_sul belongs on the 'liver-reference'"):
        make_series(text, extra="sul_sd,blood_pool_sul")


# --------------------------------------------------------------------------- Choi
@pytest.mark.parametrize(
    ("size", "hu", "expected"),
    [
        ("45", "100", R.PR),  # -10 % size exactly
        ("45.1", "100", R.SD),  # -9.8 %
        ("50", "85", R.PR),  # -15 % density exactly
        ("50", "85.1", R.SD),  # -14.9 %
        ("55", "100", R.PD),  # +10 % size exactly
        ("54.9", "100", R.SD),  # +9.8 %
        ("55", "85", R.PR),  # growth with a density PR is not PD
    ],
)
def test_choi_edges(make_series: Build, size: str, hu: str, expected: Response) -> None:
    text = (
        f"tp0,{_date(0)},ct,L1,liver,target,false,50,,100,,,present\n"
        f"tp1,{_date(1)},ct,L1,liver,target,false,{size},,{hu},,,present\n"
    )
    series = make_series(text)
    assert assess_choi(series, build_ledger(series)).timepoints[1].overall_response is expected


@pytest.mark.parametrize(
    ("slice_mm", "diameter", "measurable"),
    [
        ("5", "10", True),  # at 5 mm the 10 mm floor applies
        ("5.4", "10.7", False),  # above 5 mm: twice the slice thickness (10.8 mm)
        ("5.4", "10.8", True),
        ("6", "11.9", False),
        ("6", "12", True),
    ],
)
def test_thick_slices_need_twice_the_thickness(
    slice_mm: str, diameter: str, measurable: bool
) -> None:
    """RECIST 1.1: minimum size 10 mm, or twice the slice thickness when it exceeds 5 mm."""
    from decimal import Decimal

    from tumorboard.criteria.baseline_rules import is_measurable
    from tumorboard.criteria.records import LesionMeasurement

    lesion = LesionMeasurement(
        "L1",
        "liver",
        "target",
        False,
        "present",
        longest_diameter_mm=Decimal(diameter),
        slice_thickness_mm=Decimal(slice_mm),
    )
    assert is_measurable(lesion) is measurable
