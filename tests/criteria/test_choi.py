from __future__ import annotations

from collections.abc import Callable

from tumorboard.criteria.choi import assess_choi
from tumorboard.criteria.new_baseline import build_ledger
from tumorboard.criteria.options import AssessmentOptions, ProgressionReference
from tumorboard.criteria.recist import assess_recist
from tumorboard.criteria.records import PatientSeries, Response

R = Response


def two_timepoints(before: tuple[str, str], after: tuple[str, str]) -> str:
    return (
        f"baseline,2024-01-01,ct,L1,liver,target,false,{before[0]},,{before[1]},,,present\n"
        f"f,2024-03-01,ct,L1,liver,target,false,{after[0]},,{after[1]},,,present"
    )


def test_necrotic_growth_is_recist_pd_but_choi_pr(
    make_series: Callable[..., PatientSeries],
) -> None:
    series = make_series(two_timepoints(("40", "100"), ("50", "60")))
    ledger = build_ledger(series)
    assert assess_recist(series, ledger).timepoints[1].overall_response is R.PD
    choi = assess_choi(series, ledger)
    assert choi.timepoints[1].overall_response is R.PR
    assert choi.timepoints[1].change_in_hu_pct == -40
    modified = assess_choi(series, ledger, AssessmentOptions(choi_modified=True))
    assert modified.timepoints[1].overall_response is R.SD  # size did not fall 10 %


def test_choi_thresholds(make_series: Callable[..., PatientSeries]) -> None:
    cases = [
        (("50", "100"), ("45", "100"), R.PR),  # -10 % size
        (("50", "100"), ("46", "86"), R.SD),  # -8 % size, -14 % density
        (("50", "100"), ("50", "85"), R.PR),  # -15 % density
        (("50", "100"), ("55", "100"), R.PD),  # +10 % size (no 5 mm floor in Choi)
        (("50", "100"), ("54", "90"), R.SD),
    ]
    for before, after, expected in cases:
        series = make_series(two_timepoints(before, after))
        got = assess_choi(series, build_ledger(series)).timepoints[1].overall_response
        assert got is expected, (before, after)


def test_choi_progression_reference(make_series: Callable[..., PatientSeries]) -> None:
    series = make_series(
        "baseline,2024-01-01,ct,L1,liver,target,false,50,,100,,,present\n"
        "c,2024-03-01,ct,L1,liver,target,false,40,,100,,,present\n"
        "d,2024-05-01,ct,L1,liver,target,false,46,,100,,,present"
    )
    ledger = build_ledger(series)
    by_nadir = assess_choi(series, ledger).timepoints[2].overall_response
    by_baseline = (
        assess_choi(
            series, ledger, AssessmentOptions(choi_pd_reference=ProgressionReference.BASELINE)
        )
        .timepoints[2]
        .overall_response
    )
    assert (by_nadir, by_baseline) == (R.PD, R.SD)


def test_intratumoral_nodule_is_progression(make_series: Callable[..., PatientSeries]) -> None:
    series = make_series(
        "baseline,2024-01-01,ct,L1,liver,target,false,50,,100,,,present,false\n"
        "c,2024-03-01,ct,L1,liver,target,false,40,,70,,,present,true",
        extra="intratumoral_nodule",
    )
    assert assess_choi(series, build_ledger(series)).timepoints[1].overall_response is R.PD
