from __future__ import annotations

import datetime as dt
import math

import pytest

from tumorboard.criteria.hyperprogression import (
    SizeAtDate,
    assess_hyperprogression,
    tumour_growth_rate_pct_per_month,
)
from tumorboard.errors import InputError

D0 = dt.date(2024, 1, 1)


def at(days: int, size: float) -> SizeAtDate:
    return SizeAtDate(D0 + dt.timedelta(days=days), size)


def test_growth_rate_formula() -> None:
    # doubling of the diameter sum in one month: volume x 8 -> TGR = 700 %/month
    month = 365.25 / 12
    days = round(month)
    rate = tumour_growth_rate_pct_per_month(at(0, 50), at(days, 100))
    expected = 100 * (math.exp(3 * math.log(2) / (days / month)) - 1)
    assert rate == pytest.approx(expected, rel=1e-12)


def test_champiat_and_variants() -> None:
    result = assess_hyperprogression(at(0, 50), at(60, 55), at(120, 80))
    assert result.tgr_ratio is not None and result.tgr_ratio >= 2
    assert result.champiat and result.tgk_ratio_met
    assert result.delta_tgr_over_50
    slow = assess_hyperprogression(at(0, 50), at(60, 55), at(120, 60))
    assert not slow.champiat and not slow.delta_tgr_over_50


def test_growth_after_shrinkage_counts_without_ratio() -> None:
    result = assess_hyperprogression(at(0, 60), at(60, 55), at(120, 70))
    assert result.tgr_ratio is None and result.champiat


def test_bad_inputs() -> None:
    with pytest.raises(InputError, match="dates out of order"):
        assess_hyperprogression(at(60, 50), at(0, 55), at(120, 80))
    with pytest.raises(InputError, match="must be > 0"):
        at(0, 0)


def _size_after(days: int, start: float, tgr_pct_per_month: float) -> float:
    """Diameter sum ``days`` after ``start`` at a given Ferté TGR (inverse of the formula)."""
    months = days / (365.25 / 12)
    return start * (1.0 + tgr_pct_per_month / 100.0) ** (months / 3.0)


def _three_scans(tgr_pre: float, tgr_post: float) -> tuple[SizeAtDate, SizeAtDate, SizeAtDate]:
    baseline = _size_after(60, 50.0, tgr_pre)
    return at(0, 50.0), at(60, baseline), at(120, _size_after(60, baseline, tgr_post))


@pytest.mark.parametrize(("ratio", "champiat"), [(2.04, True), (1.96, False)])
def test_champiat_tgr_ratio_edge(ratio: float, champiat: bool) -> None:
    """Champiat 2017: hyperprogression at a TGR ratio of 2 or more."""
    result = assess_hyperprogression(*_three_scans(10.0, 10.0 * ratio))
    assert result.tgr_ratio == pytest.approx(ratio, rel=1e-9)
    assert result.champiat is champiat


@pytest.mark.parametrize(("ratio", "met"), [(2.04, True), (2.0, True), (1.96, False)])
def test_tgk_ratio_edge(ratio: float, met: bool) -> None:
    """The kinetics ratio (Saâda-Bouzid) uses the same factor 2, met at exactly 2."""
    result = assess_hyperprogression(at(0, 50.0), at(60, 56.0), at(120, 56.0 + 6.0 * ratio))
    assert result.tgk_ratio == pytest.approx(ratio, rel=1e-9)
    assert result.tgk_ratio_met is met


@pytest.mark.parametrize(
    ("delta", "over_50", "over_100"),
    [(47.0, False, False), (53.0, True, False), (96.0, True, False), (104.0, True, True)],
)
def test_delta_tgr_edges(delta: float, over_50: bool, over_100: bool) -> None:
    """Delta TGR above 50 and above 100 %/month, each pinned on both sides."""
    result = assess_hyperprogression(*_three_scans(5.0, 5.0 + delta))
    assert result.delta_tgr_pct_per_month == pytest.approx(delta, rel=1e-9)
    assert result.delta_tgr_over_50 is over_50
    assert result.delta_tgr_over_100 is over_100
