"""Edges of the criteria code reached by the mutation runs of issue 9 (benchmarks/README.md).

Each test pins a rule a surviving (or never-tested) mutant had changed: the
expected values are the published rule (RECIST 1.1, Eisenhauer et al. 2009, as
quoted in the module docstrings) or the documented output contract applied by
hand to literal inputs, never a value read back from the code under test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest

from tumorboard.criteria.choi import assess_choi
from tumorboard.criteria.decimal_math import (
    change_at_least,
    change_at_most,
    display,
    percent_change,
    to_decimal,
)
from tumorboard.criteria.new_baseline import build_ledger
from tumorboard.criteria.options import AssessmentOptions, ProgressionReference
from tumorboard.criteria.percist import assess_percist
from tumorboard.criteria.recist import assess_recist
from tumorboard.criteria.records import (
    Criteria,
    NewLesionFinding,
    PatientAssessment,
    PatientSeries,
    Response,
    TimepointAssessment,
)
from tumorboard.criteria.response_table import RESPONSE_COLUMNS, response_rows
from tumorboard.errors import InputError

R = Response


# ------------------------------------------------------------------ response.csv
def _assessment() -> PatientAssessment:
    baseline = TimepointAssessment(
        timepoint="baseline",
        date=dt.date(2024, 1, 2),
        criteria=Criteria.CHOI,
        target_sum_mm=Decimal("60.25"),
        change_from_baseline_pct=None,
        change_from_nadir_pct=None,
        target_response=None,
        non_target_response=None,
        new_lesions=None,
        overall_response=None,
        response_vs_baseline=None,
        response_vs_nadir=None,
        mean_hu=Decimal("80"),
    )
    follow_up = TimepointAssessment(
        timepoint="FU1",
        date=dt.date(2024, 3, 1),
        criteria=Criteria.CHOI,
        target_sum_mm=Decimal("54.15"),
        change_from_baseline_pct=Decimal("-10.04"),
        change_from_nadir_pct=Decimal("-0.04"),
        target_response=R.PR,
        non_target_response=R.NON_CR_NON_PD,
        new_lesions=NewLesionFinding.EQUIVOCAL,
        overall_response=R.PR,
        response_vs_baseline=R.PR,
        response_vs_nadir=R.SD,
        strict_response=R.PD,
        mean_hu=Decimal("60"),
        change_in_hu_pct=Decimal("-25"),
        sul_peak=Decimal("3.25"),
        new_baseline_lesions=("N1", "N2"),
        notes=("first note", "second note"),
    )
    return PatientAssessment("P7", Criteria.CHOI, (baseline, follow_up), R.PR, "FU1")


def test_response_rows_fill_every_column_of_the_contract() -> None:
    """One row per timepoint; codes are the contract values, numbers half-even to 0.1."""
    rows = response_rows([_assessment()])
    assert [list(row) for row in rows] == [list(RESPONSE_COLUMNS)] * 2
    assert rows[0] == {
        "patient_id": "P7",
        "timepoint": "baseline",
        "criteria": "choi",
        "target_sum_mm": "60.2",  # 60.25 half-even to a tenth
        "change_from_baseline_pct": "",
        "change_from_nadir_pct": "",
        "target_response": "",
        "non_target_response": "",
        "new_lesions": "",
        "overall_response": "",
        "response_vs_baseline": "",
        "response_vs_nadir": "",
        "date": "2024-01-02",
        "strict_response": "",
        "mean_hu": "80.0",
        "change_in_hu_pct": "",
        "sul_peak": "",
        "new_baseline_lesions": "",
        "best_response": "PR",
        "notes": "",
    }
    assert rows[1] == {
        "patient_id": "P7",
        "timepoint": "FU1",
        "criteria": "choi",
        "target_sum_mm": "54.2",  # 54.15 half-even: the 1 is odd, so up
        "change_from_baseline_pct": "-10.0",
        "change_from_nadir_pct": "0.0",  # -0.04 rounds to zero, shown without a sign
        "target_response": "PR",
        "non_target_response": "NON-CR/NON-PD",
        "new_lesions": "equivocal",
        "overall_response": "PR",
        "response_vs_baseline": "PR",
        "response_vs_nadir": "SD",
        "date": "2024-03-01",
        "strict_response": "PD",
        "mean_hu": "60.0",
        "change_in_hu_pct": "-25.0",
        "sul_peak": "3.25",  # SULpeak is written as read, not rounded
        "new_baseline_lesions": "N1;N2",
        "best_response": "PR",
        "notes": "first note | second note",
    }


def test_response_rows_pseudonym_replaces_the_patient_id() -> None:
    rows = response_rows([_assessment()], patient_label="anon-1")
    assert {row["patient_id"] for row in rows} == {"anon-1"}
    assert response_rows([]) == []


# ------------------------------------------------------------------ decimal math
def test_display_rounds_half_even_to_a_tenth() -> None:
    assert display(None) == ""
    assert display(Decimal("0.05")) == "0.0"
    assert display(Decimal("0.15")) == "0.2"
    assert display(Decimal("-0.05")) == "0.0"
    assert display(Decimal("-0.06")) == "-0.1"
    assert display(Decimal("12")) == "12.0"


def test_to_decimal_reads_the_decimal_text() -> None:
    """3.2 is Decimal('3.2'), not its binary expansion; text is stripped; non-finite refused."""
    assert to_decimal(3.2, "d") == Decimal("3.2")
    assert str(to_decimal(3.2, "d")) == "3.2"
    assert to_decimal(" 8.2 ", "d") == Decimal("8.2")
    assert to_decimal(7, "d") == Decimal(7)
    given = Decimal("1.50")
    assert to_decimal(given, "d") is given
    with pytest.raises(InputError, match="diameter: expected a number, got 'abc'"):
        to_decimal("abc", "diameter")
    with pytest.raises(InputError, match="diameter: expected a finite number"):
        to_decimal("NaN", "diameter")
    with pytest.raises(InputError, match="expected a finite number"):
        to_decimal(float("inf"), "diameter")


def test_percent_change_is_exact_and_none_from_zero() -> None:
    # (30.6 - 25.5) / 25.5 = 20 % exactly in decimal arithmetic
    assert percent_change(Decimal("30.6"), Decimal("25.5")) == Decimal(20)
    assert percent_change(Decimal("5"), Decimal("0")) is None
    assert percent_change(Decimal("0"), Decimal("5")) == Decimal(-100)


def test_change_from_a_zero_reference() -> None:
    """From 0, any increase is infinite growth; no change counts only for a limit <= 0 %."""
    zero = Decimal(0)
    assert change_at_least(Decimal("0.1"), zero, Decimal(20))
    assert not change_at_least(zero, zero, Decimal(20))
    assert change_at_least(zero, zero, zero)
    assert change_at_least(zero, zero, Decimal(-30))
    assert not change_at_most(zero, zero, Decimal(-30))
    assert not change_at_most(zero, zero, Decimal(0))


def test_change_thresholds_are_inclusive_and_exact() -> None:
    """20 % growth is "at least 20 %"; a 30 % fall is "at most -30 %" (exact decimals)."""
    assert change_at_least(Decimal("30.6"), Decimal("25.5"), Decimal(20))
    assert not change_at_least(Decimal("30.5"), Decimal("25.5"), Decimal(20))
    assert change_at_most(Decimal("70"), Decimal("100"), Decimal(-30))
    assert not change_at_most(Decimal("70.1"), Decimal("100"), Decimal(-30))


# ------------------------------------------------------------------ table order
def test_baseline_listed_after_a_follow_up_is_still_the_first_timepoint(
    make_series: Callable[..., PatientSeries],
) -> None:
    """The baseline is the reference of every later scan, whatever the row order."""
    series = make_series(
        """
        FU1,2024-03-01,ct,L1,liver,target,false,40,,,,,present
        baseline,2024-01-02,ct,L1,liver,target,false,50,,,,,present
        FU2,2024-05-01,ct,L1,liver,target,false,30,,,,,present
        """
    )
    assert [tp.label for tp in series.timepoints] == ["baseline", "FU1", "FU2"]
    assert series.baseline.date == dt.date(2024, 1, 2)


# ------------------------------------------------------------------ options
def test_documented_option_defaults() -> None:
    """RECIST 1.1 confirmation after 4 weeks; iRECIST confirmation 4-8 weeks after iUPD;
    continued PR and the new-baseline rule on, modified Choi off, Choi PD from the nadir
    (``tumorboard assess`` flags ``--no-continued-pr``, ``--no-new-baseline-rule``,
    ``--modified-choi``, ``--confirm``, ``--choi-reference`` default nadir)."""
    options = AssessmentOptions()
    assert options.confirmation_interval_days == 28
    assert options.sd_min_days == 42
    assert options.iupd_window_days == (28, 56)
    assert options.continued_pr is True
    assert options.new_baseline_rule is True
    assert options.confirmation is False
    assert options.choi_modified is False
    assert options.choi_pd_reference is ProgressionReference.NADIR
    assert options.percist_tlg_rule is True


def test_option_limits_are_inclusive_at_zero() -> None:
    AssessmentOptions(confirmation_interval_days=0, sd_min_days=0, iupd_window_days=(0, 0))
    AssessmentOptions(iupd_window_days=(40, 40))
    for bad in ({"confirmation_interval_days": -1}, {"sd_min_days": -1}):
        with pytest.raises(InputError, match="must be >= 0"):
            AssessmentOptions(**bad)  # type: ignore[arg-type]
    for window in ((-1, 5), (29, 28)):
        with pytest.raises(InputError, match="0 <= low <= high"):
            AssessmentOptions(iupd_window_days=window)


def test_choi_reference_is_parsed_from_its_name() -> None:
    options = AssessmentOptions(choi_pd_reference="baseline")  # type: ignore[arg-type]
    assert options.choi_pd_reference is ProgressionReference.BASELINE
    with pytest.raises(InputError, match="choi_pd_reference must be 'baseline' or 'nadir'"):
        AssessmentOptions(choi_pd_reference="median")  # type: ignore[arg-type]


# ------------------------------------------------------------------ PERCIST non-targets
def _percist_rows(bone_status: str) -> str:
    """SULpeak 10 -> 10 (no metabolic change) and an FDG-avid bone non-target."""
    return (
        "baseline,2024-01-01,pet-fdg,L1,liver,target,false,30,,,,10,present,\n"
        "baseline,2024-01-01,pet-fdg,B1,bone,non-target,false,,,,,,present,\n"
        "baseline,2024-01-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2\n"
        "f,2024-03-01,pet-fdg,L1,liver,target,false,30,,,,10,present,\n"
        f"f,2024-03-01,pet-fdg,B1,bone,non-target,false,,,,,,{bone_status},\n"
        "f,2024-03-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2\n"
    )


@pytest.mark.parametrize(
    ("status", "expected"), [("unequivocal-progression", R.PMD), ("present", R.SMD)]
)
def test_percist_unequivocal_non_target_progression_is_pmd(
    make_series: Callable[..., PatientSeries], status: str, expected: Response
) -> None:
    """PERCIST 1.0 (Wahl 2009) as ``criteria.percist`` states it: "PMD: ... a new lesion,
    unequivocal non-target progression"; an unchanged non-target leaves SMD."""
    series = make_series(_percist_rows(status), extra="sul_sd")
    follow_up = assess_percist(series, build_ledger(series)).timepoints[1]
    assert follow_up.overall_response is expected
    assert ("unequivocal non-target progression" in follow_up.notes) is (expected is R.PMD)
    # the target response is the SULpeak change alone: 10 -> 10 is stable
    assert follow_up.target_response is R.SMD


def test_percist_new_baseline_lesion_is_pmd_only_in_the_strict_reading(
    make_series: Callable[..., PatientSeries],
) -> None:
    """A lesion first seen on a tracer not used at baseline is a new baseline lesion, not
    progression; the strict reading (new lesion, PMD) is kept beside it
    (``criteria.new_baseline``)."""
    rows = _percist_rows("present") + (
        "f,2024-03-01,pet-dotatate,N1,liver,new,false,,,,,5,present,\n"
    )
    series = make_series(rows, extra="sul_sd")
    follow_up = assess_percist(series, build_ledger(series)).timepoints[1]
    assert follow_up.new_baseline_lesions == ("N1",)
    assert follow_up.overall_response is R.SMD
    assert follow_up.strict_response is R.PMD
    progressed = make_series(
        _percist_rows("unequivocal-progression")
        + "f,2024-03-01,pet-dotatate,N1,liver,new,false,,,,,5,present,\n",
        extra="sul_sd",
    )
    follow_up = assess_percist(progressed, build_ledger(progressed)).timepoints[1]
    assert (follow_up.overall_response, follow_up.strict_response) == (R.PMD, R.PMD)


# ------------------------------------------------------------------ Choi
@pytest.mark.parametrize(("hu", "noted"), [("", True), ("80", False)])
def test_choi_notes_a_missing_baseline_density(
    make_series: Callable[..., PatientSeries], hu: str, noted: bool
) -> None:
    series = make_series(
        f"baseline,2024-01-01,ct,L1,liver,target,false,50,,{hu},,,present\n"
        f"FU1,2024-03-01,ct,L1,liver,target,false,50,,{hu},,,present\n"
    )
    notes = assess_choi(series, build_ledger(series)).notes
    assert ("Choi: no mean HU at baseline; density rule not applied" in notes) is noted


# ------------------------------------------------------------------ RECIST 1.1 nodes, best response
@pytest.mark.parametrize(("short_axis", "overall"), [("9.9", R.CR), ("10", R.PR)])
def test_non_target_node_of_10_mm_is_still_pathological(
    make_series: Callable[..., PatientSeries], short_axis: str, overall: Response
) -> None:
    """RECIST 1.1 CR: "All lymph nodes must be non-pathological in size (<10 mm short
    axis)"; target CR with a non-target node at 10 mm is non-CR/non-PD, overall PR."""
    series = make_series(
        "baseline,2024-01-01,ct,L1,liver,target,false,30,,,,,present\n"
        "baseline,2024-01-01,ct,N1,mediastinum,non-target,true,,20,,,,present\n"
        "FU1,2024-03-01,ct,L1,liver,target,false,,,,,,absent\n"
        f"FU1,2024-03-01,ct,N1,mediastinum,non-target,true,,{short_axis},,,,present\n"
    )
    follow_up = assess_recist(series, build_ledger(series)).timepoints[1]
    assert follow_up.target_response is R.CR
    assert follow_up.non_target_response is (R.CR if overall is R.CR else R.NON_CR_NON_PD)
    assert follow_up.overall_response is overall


def test_one_follow_up_gives_a_best_response(make_series: Callable[..., PatientSeries]) -> None:
    """Baseline and a single follow-up (PR, -40 %, no confirmation asked): best response PR."""
    series = make_series(
        "baseline,2024-01-01,ct,L1,liver,target,false,100,,,,,present\n"
        "FU1,2024-03-01,ct,L1,liver,target,false,60,,,,,present\n"
    )
    result = assess_recist(series, build_ledger(series))
    assert (result.best_response, result.best_response_timepoint) == (R.PR, "FU1")
    only_baseline = make_series("baseline,2024-01-01,ct,L1,liver,target,false,100,,,,,present\n")
    assert assess_recist(only_baseline, build_ledger(only_baseline)).best_response is None
