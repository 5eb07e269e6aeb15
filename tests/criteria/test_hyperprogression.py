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
