from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tumorboard.criteria.engine import assess_patient
from tumorboard.criteria.new_baseline import build_ledger
from tumorboard.criteria.options import AssessmentOptions
from tumorboard.criteria.recist import assess_recist
from tumorboard.criteria.records import (
    LesionMeasurement,
    LesionRole,
    LesionStatus,
    PatientSeries,
    Response,
    Timepoint,
)
from tumorboard.criteria.target_sums import overall_response

ORGANS = ("liver", "lung", "kidney", "adrenal", "spleen")
R = Response


def target_table(sizes: list[list[str]], weeks: int = 8) -> str:
    """One row per target per timepoint; a size may be a status word."""
    rows = []
    for t, values in enumerate(sizes):
        date = dt.date(2024, 1, 1) + dt.timedelta(weeks=weeks * t)
        for k, value in enumerate(values):
            if value in ("absent", "too-small", "not-evaluated"):
                size, status = "", value
            else:
                size, status = value, "present"
            rows.append(f"tp{t},{date},ct,L{k},{ORGANS[k]},target,false,{size},,,,,{status}")
    return "\n".join(rows)


def recist(series: PatientSeries, **options: object) -> list[Response | None]:
    result = assess_recist(series, build_ledger(series), AssessmentOptions(**options))  # type: ignore[arg-type]
    return [t.overall_response for t in result.timepoints]


# --------------------------------------------------------------------- tables
@pytest.mark.parametrize(
    ("target", "non_target", "new", "expected"),
    [
        (R.CR, R.CR, False, R.CR),
        (R.CR, None, False, R.CR),
        (R.CR, R.NON_CR_NON_PD, False, R.PR),
        (R.CR, R.NE, False, R.PR),
        (R.PR, R.NON_CR_NON_PD, False, R.PR),
        (R.PR, R.NE, False, R.PR),
        (R.SD, R.NON_CR_NON_PD, False, R.SD),
        (R.SD, R.NE, False, R.SD),
        (R.NE, R.NON_CR_NON_PD, False, R.NE),
        (R.PD, R.CR, False, R.PD),
        (R.SD, R.PD, False, R.PD),
        (R.CR, R.CR, True, R.PD),
        # patients without target disease
        (None, R.CR, False, R.CR),
        (None, R.NON_CR_NON_PD, False, R.NON_CR_NON_PD),
        (None, R.NE, False, R.NE),
        (None, R.PD, False, R.PD),
        (None, R.CR, True, R.PD),
    ],
)
def test_overall_response_tables(
    target: Response | None, non_target: Response | None, new: bool, expected: Response
) -> None:
    assert overall_response(target, non_target, new) is expected


# ------------------------------------------------------------ target response
def test_continued_pr_holds_until_progression(make_series: Callable[..., PatientSeries]) -> None:
    series = make_series(target_table([["60", "40"], ["42", "28"], ["42", "28"], ["50", "30"]]))
    assert recist(series) == [None, R.PR, R.PR, R.PR]
    assert recist(series, continued_pr=False) == [None, R.PR, R.PR, R.SD]


def test_float_traps_are_exact(make_series: Callable[..., PatientSeries]) -> None:
    # binary floating point misses the thresholds these cases sit exactly on
    assert 8.2 - 3.2 < 5.0
    assert (30.6 - 25.5) / 25.5 * 100 != 20.0
    assert (32.4 - 27.0) / 27.0 * 100 < 20.0
    for before, after in (("25.5", "30.6"), ("27.0", "32.4")):
        series = make_series(target_table([[before], [after]]))
        result = assess_recist(series, build_ledger(series))
        assert result.timepoints[1].change_from_baseline_pct == Decimal(20)
        assert result.timepoints[1].target_response is R.PD
    # nadir 3.2 mm (a node-sized remnant) growing to 8.2 mm: +5.0 mm exactly
    series = make_series(target_table([["20", "15"], ["3.2", "0"], ["8.2", "0"]]))
    result = assess_recist(series, build_ledger(series))
    nadir_sum, grown_sum = result.timepoints[1].target_sum_mm, result.timepoints[2].target_sum_mm
    assert nadir_sum == Decimal("3.2") and grown_sum == Decimal("8.2")
    assert grown_sum - nadir_sum == Decimal("5.0")
    assert result.timepoints[2].target_response is R.PD


def test_pd_needs_five_millimetres(make_series: Callable[..., PatientSeries]) -> None:
    # +25 % but only +4 mm: not PD
    series = make_series(target_table([["16"], ["20"]]))
    assert recist(series) == [None, R.SD]


def test_pd_is_measured_from_the_nadir(make_series: Callable[..., PatientSeries]) -> None:
    series = make_series(target_table([["100"], ["60"], ["73"]]))
    result = assess_recist(series, build_ledger(series))
    assert [t.overall_response for t in result.timepoints] == [None, R.PR, R.PD]
    last = result.timepoints[2]
    assert last.response_vs_baseline is R.SD  # -27 % against baseline
    assert last.response_vs_nadir is R.PD
    assert last.change_from_nadir_pct is not None and last.change_from_nadir_pct > 20


@pytest.mark.parametrize(("measured", "expected"), [("80", R.PD), ("40", R.NE)])
def test_missing_lesion_ne_or_pd(
    make_series: Callable[..., PatientSeries], measured: str, expected: Response
) -> None:
    half = str(Decimal(measured) / 2)
    series = make_series(target_table([["20", "20", "10"], [half, half, "not-evaluated"]]))
    result = assess_recist(series, build_ledger(series))
    assert result.timepoints[1].target_response is expected
    assert result.timepoints[1].overall_response is expected


def test_missing_row_counts_as_not_evaluated(make_series: Callable[..., PatientSeries]) -> None:
    table = target_table([["20", "20", "10"], ["10", "10", "10"]])
    kept = [line for line in table.splitlines() if not line.startswith("tp1,2024-02-26,ct,L2")]
    table = "\n".join(kept)
    assert recist(make_series(table)) == [None, R.NE]


def test_too_small_counts_five_and_absent_zero(make_series: Callable[..., PatientSeries]) -> None:
    series = make_series(target_table([["30", "20"], ["too-small", "absent"]]))
    result = assess_recist(series, build_ledger(series))
    assert result.timepoints[1].target_sum_mm == Decimal(5)
    assert result.timepoints[1].target_response is R.PR  # a 5 mm remnant is not CR


def test_complete_response_allows_nodes_below_10mm(
    make_series: Callable[..., PatientSeries],
) -> None:
    series = make_series(
        """
        baseline,2024-01-01,ct,L1,liver,target,false,25,,,,,present
        baseline,2024-01-01,ct,N1,lymph node,target,true,30,18,,,,present
        f,2024-03-01,ct,L1,liver,target,false,,,,,,absent
        f,2024-03-01,ct,N1,lymph node,target,true,12,9.9,,,,present
        g,2024-05-01,ct,L1,liver,target,false,,,,,,absent
        g,2024-05-01,ct,N1,lymph node,target,true,12,10,,,,present
        """
    )
    result = assess_recist(series, build_ledger(series))
    assert result.timepoints[0].target_sum_mm == Decimal(43)  # node counts its short axis
    assert result.timepoints[1].target_response is R.CR
    assert result.timepoints[1].target_sum_mm == Decimal("9.9")
    assert result.timepoints[2].target_response is R.PR  # node back to 10 mm: not CR


def test_split_lesion_sums_fragments_and_merged_counts_zero(
    make_series: Callable[..., PatientSeries],
) -> None:
    series = make_series(
        """
        baseline,2024-01-01,ct,L1,liver,target,false,40,,,,,present,
        baseline,2024-01-01,ct,L2,liver,target,false,20,,,,,present,
        f,2024-03-01,ct,L1,liver,target,false,,,,,,absent,
        f,2024-03-01,ct,L1a,liver,target,false,15,,,,,present,L1
        f,2024-03-01,ct,L1b,liver,target,false,12,,,,,present,L1
        f,2024-03-01,ct,L2,liver,target,false,,,,,,absent,L1
        g,2024-05-01,ct,L1,liver,target,false,52,,,,,present,
        g,2024-05-01,ct,L2,liver,target,false,,,,,,absent,L1
        """,
        extra="part_of",
    )
    result = assess_recist(series, build_ledger(series))
    assert result.timepoints[1].target_sum_mm == Decimal(27)
    assert result.timepoints[1].target_response is R.PR  # 27 vs 60 mm: -55 %
    # the fragments coalesce again into one 52 mm lesion with L2 merged into it
    assert result.timepoints[2].target_sum_mm == Decimal(52)
    assert result.timepoints[2].target_response is R.PD  # +25 mm over the nadir of 27


# ------------------------------------------------------------------ non-targets
def test_non_target_categories(make_series: Callable[..., PatientSeries]) -> None:
    series = make_series(
        """
        baseline,2024-01-01,ct,L1,liver,target,false,30,,,,,present
        baseline,2024-01-01,ct,B1,bone,non-target,false,,,,,,present
        baseline,2024-01-01,ct,N1,lymph node,non-target,true,,12,,,,present
        c,2024-03-01,ct,L1,liver,target,false,,,,,,absent
        c,2024-03-01,ct,B1,bone,non-target,false,,,,,,absent
        c,2024-03-01,ct,N1,lymph node,non-target,true,,8,,,,present
        d,2024-05-01,ct,L1,liver,target,false,,,,,,absent
        d,2024-05-01,ct,B1,bone,non-target,false,,,,,,present
        d,2024-05-01,ct,N1,lymph node,non-target,true,,8,,,,present
        e,2024-07-01,ct,L1,liver,target,false,,,,,,absent
        e,2024-07-01,ct,B1,bone,non-target,false,,,,,,not-evaluated
        e,2024-07-01,ct,N1,lymph node,non-target,true,,8,,,,present
        f,2024-09-01,ct,L1,liver,target,false,,,,,,absent
        f,2024-09-01,ct,B1,bone,non-target,false,,,,,,unequivocal-progression
        f,2024-09-01,ct,N1,lymph node,non-target,true,,8,,,,present
        """
    )
    result = assess_recist(series, build_ledger(series), AssessmentOptions(continued_pr=False))
    got = [(t.non_target_response, t.overall_response) for t in result.timepoints[1:]]
    assert got == [
        (R.CR, R.CR),
        (R.NON_CR_NON_PD, R.PR),
        (R.NE, R.PR),
        (R.PD, R.PD),
    ]


def test_patient_without_target_disease(make_series: Callable[..., PatientSeries]) -> None:
    series = make_series(
        """
        baseline,2024-01-01,ct,B1,bone,non-target,false,,,,,,present
        c,2024-03-01,ct,B1,bone,non-target,false,,,,,,present
        d,2024-05-01,ct,B1,bone,non-target,false,,,,,,absent
        """
    )
    assert recist(series) == [None, R.NON_CR_NON_PD, R.CR]


# ------------------------------------------------------------------ new lesions
def test_equivocal_new_lesion_held_then_dated_from_first_sighting(
    make_series: Callable[..., PatientSeries],
) -> None:
    series = make_series(
        target_table([["30"], ["30"], ["30"], ["30"]])
        + """
        tp1,2024-02-26,ct,X1,liver,new,false,,,,,,equivocal
        tp2,2024-04-22,ct,X1,liver,new,false,,,,,,equivocal
        tp3,2024-06-17,ct,X1,liver,new,false,8,,,,,present
        """
    )
    result = assess_recist(series, build_ledger(series))
    assert [t.overall_response for t in result.timepoints] == [None, R.PD, R.PD, R.PD]
    assert "dated from this first sighting" in " ".join(result.timepoints[1].notes)
    # never confirmed: held, not progression
    series = make_series(
        target_table([["30"], ["30"]]) + "\ntp1,2024-02-26,ct,X1,liver,new,false,,,,,,equivocal"
    )
    result = assess_recist(series, build_ledger(series))
    assert result.timepoints[1].overall_response is R.SD
    assert result.timepoints[1].new_lesions is not None
    assert result.timepoints[1].new_lesions.value == "equivocal"


def test_new_lesion_is_progression(make_series: Callable[..., PatientSeries]) -> None:
    series = make_series(
        target_table([["30"], ["15"]]) + "\ntp1,2024-02-26,ct,X1,lung,new,false,6,,,,,present"
    )
    assert recist(series) == [None, R.PD]


# ------------------------------------------------------------- best response
def test_best_response_with_and_without_confirmation(
    make_series: Callable[..., PatientSeries],
) -> None:
    series = make_series(target_table([["100"], ["60"], ["90"], ["95"]], weeks=6))
    plain = assess_recist(series, build_ledger(series), AssessmentOptions(continued_pr=False))
    assert plain.best_response is R.PR
    confirmed = assess_recist(
        series, build_ledger(series), AssessmentOptions(continued_pr=False, confirmation=True)
    )
    assert confirmed.best_response is R.SD  # PR at week 6 not confirmed; SD from week 12
    series = make_series(target_table([["100"], ["60"], ["65"], ["60"]], weeks=6))
    confirmed = assess_recist(series, build_ledger(series), AssessmentOptions(confirmation=True))
    assert confirmed.best_response is R.PR
    assert confirmed.best_response_timepoint == "tp1"


def test_sd_needs_minimum_duration(make_series: Callable[..., PatientSeries]) -> None:
    series = make_series(target_table([["100"], ["100"], ["130"]], weeks=4))
    result = assess_recist(series, build_ledger(series), AssessmentOptions(sd_min_days=42))
    assert result.best_response is R.PD  # SD at 4 weeks is too early
    result = assess_recist(series, build_ledger(series), AssessmentOptions(sd_min_days=28))
    assert result.best_response is R.SD


def test_all_criteria_run_on_one_patient(make_series: Callable[..., PatientSeries]) -> None:
    series = make_series(target_table([["30", "20"], ["25", "15"]]))
    results = assess_patient(series)
    assert [r.criteria.value for r in results] == [
        "recist1.1",
        "irecist",
        "choi",
        "mrecist",
        "percist",
    ]


# ------------------------------------------------------------- property test
SIZES = st.decimals(min_value=Decimal(0), max_value=Decimal(120), places=1)


@settings(max_examples=200, deadline=None)
@given(
    baseline=st.lists(
        st.decimals(min_value=Decimal(10), max_value=Decimal(120), places=1), min_size=1, max_size=5
    ),
    data=st.data(),
)
def test_target_response_matches_the_rule_text(
    baseline: list[Decimal], data: st.DataObject
) -> None:
    follow = data.draw(st.lists(SIZES, min_size=len(baseline), max_size=len(baseline)))

    def timepoint(label: str, day: int, sizes: list[Decimal]) -> Timepoint:
        rows = tuple(
            LesionMeasurement(
                f"L{k}",
                f"organ{k}",
                LesionRole.TARGET,
                False,
                LesionStatus.PRESENT if size else LesionStatus.ABSENT,
                longest_diameter_mm=size if size else None,
            )
            for k, size in enumerate(sizes)
        )
        return Timepoint(label, dt.date(2024, 1, 1) + dt.timedelta(days=day), rows)

    series = PatientSeries("P", (timepoint("b", 0, baseline), timepoint("f", 60, follow)))
    got = assess_recist(series, build_ledger(series)).timepoints[1].target_response
    before, after = sum(baseline), sum(follow)
    if after - before >= 5 and 100 * (after - before) >= 20 * before:
        expected = R.PD
    elif after == 0:
        expected = R.CR
    elif 100 * (after - before) <= -30 * before:
        expected = R.PR
    else:
        expected = R.SD
    assert got is expected
