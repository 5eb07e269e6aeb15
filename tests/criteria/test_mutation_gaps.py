"""Tests written for mutants that survived mutmut (benchmarks/README.md, "Mutation testing").

Each test states the rule it pins; expected values come from the rule applied
by hand to the literal rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest

from tumorboard.criteria.engine import assess_patient
from tumorboard.criteria.irecist import assess_irecist
from tumorboard.criteria.new_baseline import build_ledger
from tumorboard.criteria.percist import assess_percist
from tumorboard.criteria.records import PatientSeries, Response

R = Response
Build = Callable[..., PatientSeries]


def _date(t: int) -> dt.date:
    return dt.date(2024, 1, 1) + dt.timedelta(weeks=6 * t)


# ------------------------------------------------------------------ PERCIST tracer
def _tracer_rows(liver_modality: str, follow_modality: str) -> str:
    return (
        f"baseline,2024-01-01,{liver_modality},P1,liver,target,false,,,,,10,present,\n"
        f"baseline,2024-01-01,{liver_modality},liver-reference,liver,,,,,,,2.0,,0.2\n"
        f"f,2024-03-01,{liver_modality},P1,liver,target,false,,,,,6,present,\n"
        f"f,2024-03-01,{follow_modality},P2,bone,target,false,,,,,20,present,\n"
        f"f,2024-03-01,{liver_modality},liver-reference,liver,,,,,,,2.0,,0.2\n"
    )


@pytest.mark.parametrize(
    ("liver_modality", "follow_modality", "hottest", "expected"),
    [
        # another tracer's reading (DOTATATE at 20) is not compared with FDG
        ("pet-fdg", "pet-dotatate", "6", R.PMR),
        # an unnamed tracer ("pet") is taken to be the baseline tracer
        ("pet-fdg", "pet", "20", R.PMD),
        # with an unnamed baseline tracer every PET reading counts
        ("pet", "pet-dotatate", "20", R.PMD),
        # the same tracer counts
        ("pet-fdg", "pet-fdg", "20", R.PMD),
    ],
)
def test_percist_compares_one_tracer(
    make_series: Build, liver_modality: str, follow_modality: str, hottest: str, expected: Response
) -> None:
    rows = _tracer_rows(liver_modality, follow_modality)
    series = make_series(rows, extra="sul_sd")
    result = assess_percist(series, build_ledger(series)).timepoints[1]
    assert str(result.sul_peak) == hottest
    assert result.overall_response is expected


def test_percist_counts_sulpeak_on_the_ct_of_the_pet_ct(make_series: Build) -> None:
    rows = (
        "baseline,2024-01-01,pet-fdg,P1,liver,target,false,,,,,10,present,\n"
        "baseline,2024-01-01,ct,C1,bone,target,false,30,,,,5,present,\n"
        "baseline,2024-01-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2\n"
        "f,2024-03-01,pet-fdg,P1,liver,target,false,,,,,6,present,\n"
        "f,2024-03-01,ct,C1,bone,target,false,30,,,,20,present,\n"
        "f,2024-03-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2\n"
    )
    series = make_series(rows, extra="sul_sd")
    result = assess_percist(series, build_ledger(series)).timepoints[1]
    assert str(result.sul_peak) == "20"
    assert result.overall_response is R.PMD


@pytest.mark.parametrize(
    ("liver_after", "comparable"),
    [("1.199", True), ("0.801", True), ("1.2", False), ("0.8", False)],
)
def test_percist_liver_tolerance_just_inside_20_percent(
    make_series: Build, liver_after: str, comparable: bool
) -> None:
    rows = (
        "baseline,2024-01-01,pet-fdg,P1,liver,target,false,,,,,10,present,\n"
        "baseline,2024-01-01,pet-fdg,liver-reference,liver,,,,,,,1.0,,0.1\n"
        "f,2024-03-01,pet-fdg,P1,liver,target,false,,,,,6,present,\n"
        f"f,2024-03-01,pet-fdg,liver-reference,liver,,,,,,,{liver_after},,0.1\n"
    )
    series = make_series(rows, extra="sul_sd")
    result = assess_percist(series, build_ledger(series)).timepoints[1]
    assert result.overall_response is (R.PMR if comparable else R.NE)
    if not comparable:
        assert result.notes == (
            f"PERCIST: liver SUL mean {liver_after} vs 1.0 at baseline differs by more than "
            "20 % or 0.3 SUL; scans not comparable",
        )


def test_percist_note_when_blood_pool_is_missing(make_series: Build) -> None:
    rows = (
        "baseline,2024-01-01,pet-fdg,P1,liver,target,false,,,,,10,present,\n"
        "baseline,2024-01-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2\n"
        "f,2024-03-01,pet-fdg,P1,liver,target,false,,,,,1.5,present,\n"
        "f,2024-03-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2\n"
    )
    series = make_series(rows, extra="sul_sd")
    result = assess_percist(series, build_ledger(series)).timepoints[1]
    assert result.overall_response is R.PMR
    assert result.notes == (
        "PERCIST: every lesion is below the liver mean, but CMR also needs the blood-pool "
        "SUL (blood_pool_sul on the liver-reference row)",
    )


# ---------------------------------------------------------------- iRECIST new lesions
def test_too_small_new_lesion_target_counts_5_mm(make_series: Build) -> None:
    # new-lesion targets X1, X2 (12 mm each, sum 24) at the iUPD; then X1 24 mm and X2
    # too small (5 mm by rule, whatever the 3 mm written): 29 mm, +5 mm -> iCPD
    rows = "".join(
        f"tp{t},{_date(t)},ct,L1,liver,target,false,50,,,,,present\n" for t in range(3)
    ) + (
        f"tp1,{_date(1)},ct,X1,lung,new,false,12,,,,,present\n"
        f"tp1,{_date(1)},ct,X2,bone,new,false,12,,,,,present\n"
        f"tp2,{_date(2)},ct,X1,lung,new,false,24,,,,,present\n"
        f"tp2,{_date(2)},ct,X2,bone,new,false,3,,,,,too-small\n"
    )
    series = make_series(rows)
    result = assess_irecist(series, build_ledger(series))
    assert [t.overall_response for t in result.timepoints] == [None, R.IUPD, R.ICPD]
    assert "new-lesion target sum up 5 mm" in " ".join(result.timepoints[2].notes)


def test_new_lesion_target_without_a_size_counts_0_mm(make_series: Build) -> None:
    rows = "".join(
        f"tp{t},{_date(t)},ct,L1,liver,target,false,50,,,,,present\n" for t in range(3)
    ) + (
        f"tp1,{_date(1)},ct,X1,lung,new,false,12,,,,,present\n"
        f"tp2,{_date(2)},ct,X1,lung,new,false,,,,,,present\n"
    )
    series = make_series(rows)
    result = assess_irecist(series, build_ledger(series))
    assert [t.overall_response for t in result.timepoints] == [None, R.IUPD, R.IUPD]


# --------------------------------------------------- mRECIST without viable diameters
def test_not_evaluable_assessment_is_complete(make_series: Build) -> None:
    series = make_series(
        "baseline,2024-01-01,ct,L1,liver,target,false,50,,,,,present\n"
        "c,2024-03-01,ct,L1,liver,target,false,52,,,,,present\n"
    )
    (mrecist,) = assess_patient(series, ["mrecist"])
    note = "mRECIST: baseline target(s) L1 lack the required diameter; not evaluable"
    assert mrecist.patient_id == "P1"
    assert mrecist.notes == (note,)
    assert mrecist.best_response is R.NE and mrecist.best_response_timepoint is None
    base, follow = mrecist.timepoints
    assert (base.timepoint, follow.timepoint) == ("baseline", "c")
    assert (base.date, follow.date) == (dt.date(2024, 1, 1), dt.date(2024, 3, 1))
    for field in (
        "target_response",
        "overall_response",
        "response_vs_baseline",
        "response_vs_nadir",
        "strict_response",
    ):
        assert getattr(base, field) is None, field
        assert getattr(follow, field) is R.NE, field
    assert base.notes == follow.notes == (note,)
    assert base.target_sum_mm is None and follow.target_sum_mm is None


# ------------------------------------------------------- iRECIST confirmation reasons
def _irecist_rows(sums: list[str], extra: str = "", non_target: list[str] | None = None) -> str:
    statuses = non_target or ["present"] * len(sums)
    rows = "".join(
        f"tp{t},{_date(t)},ct,L1,liver,target,false,{value},,,,,present\n"
        f"tp{t},{_date(t)},ct,B1,bone,non-target,false,,,,,,{statuses[t]}\n"
        for t, value in enumerate(sums)
    )
    return rows + extra


def _irecist(make_series: Build, text: str) -> list[tuple[Response | None, tuple[str, ...]]]:
    series = make_series(text)
    result = assess_irecist(series, build_ledger(series))
    return [(t.overall_response, t.notes) for t in result.timepoints]


def test_irecist_baseline_row_carries_the_baseline_sum(make_series: Build) -> None:
    series = make_series(_irecist_rows(["50", "45"]))
    assert assess_irecist(series, build_ledger(series)).timepoints[0].target_sum_mm == 50


def test_icpd_note_names_the_further_target_growth(make_series: Build) -> None:
    last = _irecist(make_series, _irecist_rows(["50", "60", "66"]))[-1]
    assert last == (R.ICPD, ("iCPD: target sum up a further 6 mm (iUPD at tp1)",))


def test_icpd_when_target_progression_is_newly_met(make_series: Build) -> None:
    # iUPD from a new lesion only; then the target sum meets PD (+20 %, +10 mm)
    extra = (
        f"tp1,{_date(1)},ct,X1,lung,new,false,8,,,,,present\n"
        f"tp2,{_date(2)},ct,X1,lung,new,false,8,,,,,present\n"
    )
    last = _irecist(make_series, _irecist_rows(["50", "50", "60"], extra))[-1]
    assert last == (R.ICPD, ("iCPD: target progression newly met (iUPD at tp1)",))


def test_icpd_by_non_target_progression_note(make_series: Build) -> None:
    text = _irecist_rows(
        ["50", "50", "50"],
        non_target=["present", "unequivocal-progression", "unequivocal-progression"],
    )
    last = _irecist(make_series, text)[-1]
    assert last == (R.ICPD, ("iCPD: non-target progression (iUPD at tp1)",))


def test_icpd_by_new_non_target_lesion_progression(make_series: Build) -> None:
    # X1 (8 mm) is not measurable: a new-lesion non-target; its unequivocal progression confirms
    extra = (
        f"tp1,{_date(1)},ct,X1,lung,new,false,8,,,,,present\n"
        f"tp2,{_date(2)},ct,X1,lung,new,false,9,,,,,unequivocal-progression\n"
    )
    last = _irecist(make_series, _irecist_rows(["50", "50", "50"], extra))[-1]
    assert last == (R.ICPD, ("iCPD: new non-target lesion progression (iUPD at tp1)",))


def test_icpd_note_names_the_new_lesion_target_growth(make_series: Build) -> None:
    extra = (
        f"tp1,{_date(1)},ct,X1,lung,new,false,12,,,,,present\n"
        f"tp2,{_date(2)},ct,X1,lung,new,false,18,,,,,present\n"
    )
    last = _irecist(make_series, _irecist_rows(["50", "50", "50"], extra))[-1]
    assert last == (R.ICPD, ("iCPD: new-lesion target sum up 6 mm (iUPD at tp1)",))


def _new_lesions(organs: list[str], grown: int) -> str:
    """New 12 mm lesions at tp1 in ``organs`` (row order); lesion ``grown`` is 20 mm at tp2."""
    rows = ""
    for t in (1, 2):
        for k, organ in enumerate(organs):
            size = "20" if t == 2 and k == grown else "12"
            rows += f"tp{t},{_date(t)},ct,X{k},{organ},new,false,{size},,,,,present\n"
    return rows


@pytest.mark.parametrize(
    ("organs", "grown", "expected"),
    [
        # three organs: all three are new-lesion targets; the third's +8 mm confirms
        (["lung", "bone", "adrenal"], 2, R.ICPD),
        # two in one organ: both targets; the second's growth confirms
        (["lung", "lung"], 1, R.ICPD),
        # six organs: only five targets (the sixth by row order is a non-target)
        (["lung", "bone", "adrenal", "spleen", "kidney", "brain"], 5, R.IUPD),
        (["lung", "bone", "adrenal", "spleen", "kidney", "brain"], 4, R.ICPD),
        # three in one organ, ids not in row order: the first two rows are the targets
        (["skin", "muscle", "muscle", "muscle"], 1, R.ICPD),
        (["skin", "muscle", "muscle", "muscle"], 3, R.IUPD),
    ],
)
def test_new_lesion_targets_by_row_order_five_and_two_per_organ(
    make_series: Build, organs: list[str], grown: int, expected: Response
) -> None:
    last = _irecist(make_series, _irecist_rows(["50", "50", "50"], _new_lesions(organs, grown)))
    assert last[-1][0] is expected


def test_new_lesion_rows_sorted_by_row_not_id(make_series: Build) -> None:
    # Z9 (row first), A1, M5 in one organ: Z9 and A1 are targets, M5 a non-target;
    # Z9 grows +8 mm -> iCPD (sorting by id would make A1, M5 the targets)
    extra = ""
    for t in (1, 2):
        for lesion in ("Z9", "A1", "M5"):
            size = "20" if t == 2 and lesion == "Z9" else "12"
            extra += f"tp{t},{_date(t)},ct,{lesion},lung,new,false,{size},,,,,present\n"
    last = _irecist(make_series, _irecist_rows(["50", "50", "50"], extra))[-1]
    assert last[0] is R.ICPD


def test_new_lesion_first_seen_after_a_reset_is_classified(make_series: Build) -> None:
    # X1 new (iUPD), resolves (bar reset), reappears with X2 new (iUPD again);
    # X2 then grows +6 mm: a new-lesion target, so iCPD
    extra = (
        f"tp1,{_date(1)},ct,X1,lung,new,false,12,,,,,present\n"
        f"tp2,{_date(2)},ct,X1,lung,new,false,,,,,,absent\n"
        f"tp3,{_date(3)},ct,X1,lung,new,false,12,,,,,present\n"
        f"tp3,{_date(3)},ct,X2,bone,new,false,12,,,,,present\n"
        f"tp4,{_date(4)},ct,X1,lung,new,false,12,,,,,present\n"
        f"tp4,{_date(4)},ct,X2,bone,new,false,18,,,,,present\n"
    )
    result = _irecist(make_series, _irecist_rows(["50", "50", "50", "50", "50"], extra))
    assert [r for r, _ in result] == [None, R.IUPD, R.ISD, R.IUPD, R.ICPD]


def test_irecist_assessment_row_by_row(make_series: Build) -> None:
    """Every field of an iRECIST series, worked out by hand from the sums.

    50 -> 30 (-40 %: iPR) -> 33 (-34 % vs baseline: PR; +10 % vs nadir 30: SD)
    -> 35.5 (-29 %: SD vs baseline, held as iPR by the continued-PR rule; +18.3 % vs
    nadir: SD) -> 35.5 with new X1 (iUPD, category "new") -> further new X2 (iCPD)
    -> iCPD is final.
    """
    extra = (
        f"tp4,{_date(4)},ct,X1,lung,new,false,12,,,,,present\n"
        f"tp5,{_date(5)},ct,X1,lung,new,false,12,,,,,present\n"
        f"tp5,{_date(5)},ct,X2,bone,new,false,12,,,,,present\n"
        f"tp6,{_date(6)},ct,X1,lung,new,false,12,,,,,present\n"
        f"tp6,{_date(6)},ct,X2,bone,new,false,12,,,,,present\n"
    )
    series = make_series(_irecist_rows(["50", "30", "33", "35.5", "35.5", "35.5", "35.5"], extra))
    rows = assess_irecist(series, build_ledger(series)).timepoints
    D = Decimal
    assert [r.target_sum_mm for r in rows] == [D(50), D(30), D(33), D("35.5"), *[D("35.5")] * 3]
    assert [r.change_from_baseline_pct for r in rows[:4]] == [None, D(-40), D(-34), D(-29)]
    assert [r.change_from_nadir_pct for r in rows[:4]] == [None, D(-40), D(10), D(550) / D(30)]
    assert [r.target_response for r in rows] == [None, R.IPR, R.IPR, R.IPR, R.IPR, R.IPR, R.IPR]
    assert [r.response_vs_baseline for r in rows] == [
        None,
        R.IPR,
        R.IPR,
        R.ISD,
        R.IUPD,
        R.ICPD,
        R.ICPD,
    ]
    assert [r.response_vs_nadir for r in rows] == [
        None,
        R.IPR,
        R.ISD,
        R.ISD,
        R.IUPD,
        R.ICPD,
        R.ICPD,
    ]
    assert [r.overall_response for r in rows] == [None, R.IPR, R.IPR, R.IPR, R.IUPD, R.ICPD, R.ICPD]
    assert rows[4].notes[-1] == "iUPD (new): confirm at the next assessment 4-8 weeks later"
    assert rows[5].notes[-1] == (
        "iCPD: further new lesion(s) X2; new-lesion target sum up 12 mm (iUPD at tp4)"
    )
    assert rows[6].notes[-1] == "iCPD confirmed earlier; no further assessment"


def test_irecist_without_target_lesions_has_no_sums(make_series: Build) -> None:
    rows = "".join(f"tp{t},{_date(t)},ct,B1,bone,non-target,false,,,,,,present\n" for t in range(2))
    series = make_series(rows)
    follow = assess_irecist(series, build_ledger(series)).timepoints[1]
    assert follow.target_sum_mm is None
    assert follow.change_from_baseline_pct is None and follow.change_from_nadir_pct is None
    assert follow.target_response is None
    assert follow.overall_response is R.NON_CR_NON_PD
