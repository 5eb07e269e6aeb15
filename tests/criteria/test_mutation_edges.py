"""Edges found by mutation testing (benchmarks/README.md, "Mutation testing").

Each test pins one comparison that a surviving mutant had flipped (``<`` to
``<=``, ``> 0`` to ``>= 0``, a default number of days moved): the expected
values are the published or documented rule applied by hand to literal inputs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest

from tumorboard.criteria.hyperprogression import SizeAtDate, assess_hyperprogression
from tumorboard.criteria.irecist import assess_irecist
from tumorboard.criteria.new_baseline import build_ledger
from tumorboard.criteria.options import AssessmentOptions
from tumorboard.criteria.percist import assess_percist
from tumorboard.criteria.pituitary import assess_prolactinoma
from tumorboard.criteria.recist import assess_recist
from tumorboard.criteria.records import PatientSeries, Response
from tumorboard.errors import InputError

R = Response
Build = Callable[..., PatientSeries]
D0 = dt.date(2024, 1, 1)


def _day(days: int) -> str:
    return str(D0 + dt.timedelta(days=days))


def _target_rows(points: list[tuple[int, str]]) -> str:
    """One liver target (and a stable bone non-target) at ``(day, diameter)`` points."""
    rows = []
    for t, (days, size) in enumerate(points):
        label = "baseline" if t == 0 else f"tp{t}"
        rows.append(f"{label},{_day(days)},ct,L1,liver,target,false,{size},,,,,present")
        rows.append(f"{label},{_day(days)},ct,B1,bone,non-target,false,,,,,,present")
    return "\n".join(rows) + "\n"


# ------------------------------------------------- RECIST: confirmation, SD duration
@pytest.mark.parametrize(("gap", "best"), [(28, R.PR), (27, R.SD)])
def test_confirmation_needs_28_days(make_series: Build, gap: int, best: Response) -> None:
    """A PR is confirmed by a PR at least 28 days later (the default interval)."""
    series = make_series(_target_rows([(0, "100"), (42, "60"), (42 + gap, "60")]))
    options = AssessmentOptions(continued_pr=False, confirmation=True)
    assert options.confirmation_interval_days == 28
    assert assess_recist(series, build_ledger(series), options).best_response is best


@pytest.mark.parametrize(("day", "best"), [(42, R.SD), (41, R.PD)])
def test_stable_disease_needs_42_days(make_series: Build, day: int, best: Response) -> None:
    """SD counts as best response only from 42 days after baseline (the default)."""
    series = make_series(_target_rows([(0, "100"), (day, "100"), (day + 42, "130")]))
    assert AssessmentOptions().sd_min_days == 42
    assert assess_recist(series, build_ledger(series)).best_response is best


# ---------------------------------------------------------- iRECIST: iUPD window
@pytest.mark.parametrize(("gap", "outside"), [(27, True), (28, False), (56, False), (57, True)])
def test_iupd_confirmation_window_is_28_to_56_days(
    make_series: Build, gap: int, outside: bool
) -> None:
    """iCPD confirmed 4-8 weeks after iUPD: 28 and 56 days are inside the window."""
    series = make_series(_target_rows([(0, "50"), (42, "60"), (42 + gap, "66")]))
    result = assess_irecist(series, build_ledger(series))
    assert [t.overall_response for t in result.timepoints] == [None, R.IUPD, R.ICPD]
    notes = " ".join(result.timepoints[2].notes)
    assert ("outside the 28-56 day window" in notes) is outside


# ------------------------------------------------------------ PERCIST: TLG rule
def test_tlg_rule_needs_a_positive_baseline_tlg(make_series: Build) -> None:
    """A baseline TLG of 0 gives no TLG progression (no relative change from zero)."""
    text = (
        "baseline,2024-01-01,pet-fdg,L1,liver,target,false,30,,,,10,present,,0\n"
        "baseline,2024-01-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2,\n"
        "f,2024-03-01,pet-fdg,L1,liver,target,false,30,,,,10,present,,50\n"
        "f,2024-03-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2,\n"
    )
    series = make_series(text, extra="sul_sd,tlg_g")
    assert assess_percist(series, build_ledger(series)).timepoints[1].overall_response is R.SMD


# ------------------------------------------------------- pituitary: prolactin ULN
def test_prolactin_at_the_upper_limit_is_normal() -> None:
    at_limit = assess_prolactinoma(Decimal(25), Decimal(25), Decimal(2), Decimal("1.5"))
    above = assess_prolactinoma(Decimal("25.1"), Decimal(25), Decimal(2), Decimal("1.5"))
    assert at_limit.biochemical_response and not above.biochemical_response


# ------------------------------------------------------- hyperprogression inputs
def _at(days: int, size: float) -> SizeAtDate:
    return SizeAtDate(D0 + dt.timedelta(days=days), size)


def test_growth_rates_need_strictly_later_scans_and_positive_sums() -> None:
    with pytest.raises(InputError, match="dates out of order"):
        assess_hyperprogression(_at(0, 50), _at(60, 55), _at(60, 60))
    assert assess_hyperprogression(_at(0, 50), _at(1, 51), _at(2, 53)).champiat  # 1 day apart
    assert assess_hyperprogression(_at(0, 0.5), _at(60, 0.6), _at(120, 0.9)).champiat


def test_slow_growth_before_still_gives_a_ratio() -> None:
    """Growth of 0.3 %/month (0.05 mm/month) before treatment is growth: the ratio is used."""
    result = assess_hyperprogression(_at(0, 50), _at(60, 50.1), _at(120, 60))
    assert result.tgr_ratio is not None and result.tgr_ratio > 2
    assert result.tgk_ratio is not None and result.tgk_ratio > 2


def test_no_growth_before_gives_no_ratio_and_no_growth_after_is_not_hyperprogression() -> None:
    flat_before = assess_hyperprogression(_at(0, 50), _at(60, 50), _at(120, 50.1))
    assert flat_before.tgr_ratio is None and flat_before.tgk_ratio is None
    # any growth after none, even 0.3 %/month (0.05 mm/month)
    assert 0 < flat_before.tgr_post_pct_per_month < 1
    assert flat_before.champiat and flat_before.tgk_ratio_met
    flat_after = assess_hyperprogression(_at(0, 60), _at(60, 55), _at(120, 55))
    assert flat_after.tgr_post_pct_per_month == 0.0
    assert not flat_after.champiat and not flat_after.tgk_ratio_met


# ------------------------------------------------ measurements table: plausibility
@pytest.mark.parametrize(
    ("diameter", "accepted"),
    [
        ("1000000", True),  # magnitude at most 1,000,000
        ("1000000.1", False),
        ("1.0000000000000000000", True),  # 20 significant digits
        ("1.00000000000000000000", False),  # 21
        ("1E+20", False),  # magnitude
        ("1000E-20", True),  # exponent -20 is at most 20 decimals
        ("1000E-21", False),
    ],
)
def test_measurement_plausibility_edges(make_series: Build, diameter: str, accepted: bool) -> None:
    text = f"baseline,2024-01-01,ct,L1,liver,non-target,false,{diameter},,,,,present\n"
    if accepted:
        make_series(text)
    else:
        with pytest.raises(InputError, match="outside the accepted range"):
            make_series(text)


@pytest.mark.parametrize(("current", "response"), [("1.0", True), ("1.06", False), ("0.9", True)])
def test_prolactinoma_needs_half_the_size(current: str, response: bool) -> None:
    """Radiological response at >= 50 % shrinkage: 2.0 -> 1.06 ml (-47 %) is not one."""
    result = assess_prolactinoma(Decimal(10), Decimal(25), Decimal(2), Decimal(current))
    assert result.radiological_response is response


# ------------------------------------------------------- hyperprogression: exact edges
# Follow-up sums found (float by float) so that Delta TGR is exactly 50.0 and 100.0
# %/month with no growth before treatment; "over" means strictly greater.
@pytest.mark.parametrize(
    ("follow_up", "delta", "over_50", "over_100"),
    [(65.26446563068377, 50.0, False, False), (78.84461827327146, 100.0, True, False)],
)
def test_delta_tgr_exactly_at_the_threshold_is_not_over(
    follow_up: float, delta: float, over_50: bool, over_100: bool
) -> None:
    result = assess_hyperprogression(_at(0, 50.0), _at(60, 50.0), _at(120, follow_up))
    assert result.delta_tgr_pct_per_month == delta
    assert result.delta_tgr_over_50 is over_50
    assert result.delta_tgr_over_100 is over_100


# ------------------------------------------------------------------ Choi: mean density
def test_choi_mean_density_is_the_mean_of_the_targets_with_hu(make_series: Build) -> None:
    from tumorboard.criteria.choi import mean_density_hu

    series = make_series(
        "baseline,2024-01-01,ct,L1,liver,target,false,30,,100,,,present\n"
        "baseline,2024-01-01,ct,L2,lung,target,false,20,,50,,,present\n"
        "baseline,2024-01-01,ct,L3,bone,target,false,20,,,,,present\n"
    )
    baseline = series.timepoints[0]
    assert mean_density_hu(baseline, tuple(baseline.measurements)) == Decimal(75)
