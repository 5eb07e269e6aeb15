"""Hyperprogression from tumour growth before and after the start of treatment.

Three scans are needed: a pre-baseline scan, the baseline (treatment start)
and the first follow-up. With ``D`` the sum of target diameters and ``t`` the
interval in months (30.4375 days):

* tumour growth rate (Ferté et al., Eur Urol 2014): ``TG = 3 ln(D1/D0) / t``
  (volume from diameters, assuming spheres), ``TGR = 100 (exp(TG) - 1)`` in
  % volume per month;
* Champiat et al. (Clin Cancer Res 2017): hyperprogression when
  ``TGR_post / TGR_pre >= 2``;
* Ferrara et al. (JAMA Oncol 2018): ``TGR_post - TGR_pre > 50``; the stricter
  ``> 100`` variant is reported beside it;
* tumour growth kinetics (Saâda-Bouzid et al., Ann Oncol 2017):
  ``TGK = (D1 - D0) / t`` in mm per month, hyperprogression when the ratio
  ``TGK_post / TGK_pre >= 2``.

A ratio is undefined when the pre-treatment rate is not positive; then the
ratio criteria count as met only when the tumour shrank or stood still before
and grows now. Floats are used here: the rates involve ``exp`` and ``log``,
and no decision sits on a decimal threshold of a measured diameter.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal

from tumorboard.errors import InputError

DAYS_PER_MONTH = 365.25 / 12
RATIO_THRESHOLD = 2.0
DELTA_TGR_THRESHOLD = 50.0
DELTA_TGR_STRICT_THRESHOLD = 100.0


@dataclass(frozen=True, slots=True)
class SizeAtDate:
    """Sum of target diameters at one scan date."""

    date: dt.date
    sum_mm: Decimal | float

    def __post_init__(self) -> None:
        if not float(self.sum_mm) > 0:
            raise InputError(f"sum_mm must be > 0 for growth rates; got {self.sum_mm}")


def tumour_growth_rate_pct_per_month(start: SizeAtDate, end: SizeAtDate) -> float:
    """Ferté tumour growth rate between two scans, % volume per month."""
    months = _months(start, end)
    growth = 3.0 * math.log(float(end.sum_mm) / float(start.sum_mm)) / months
    return 100.0 * (math.exp(growth) - 1.0)


def tumour_growth_kinetics_mm_per_month(start: SizeAtDate, end: SizeAtDate) -> float:
    """Saâda-Bouzid tumour growth kinetics between two scans, mm per month."""
    return (float(end.sum_mm) - float(start.sum_mm)) / _months(start, end)


def _months(start: SizeAtDate, end: SizeAtDate) -> float:
    days = (end.date - start.date).days
    if days <= 0:
        raise InputError("dates out of order: growth rates need strictly later scans")
    return days / DAYS_PER_MONTH


@dataclass(frozen=True, slots=True)
class HyperprogressionResult:
    """Growth before and after treatment start and the hyperprogression verdicts."""

    tgr_pre_pct_per_month: float
    tgr_post_pct_per_month: float
    tgr_ratio: float | None
    delta_tgr_pct_per_month: float
    tgk_pre_mm_per_month: float
    tgk_post_mm_per_month: float
    tgk_ratio: float | None
    champiat: bool
    tgk_ratio_met: bool
    delta_tgr_over_50: bool
    delta_tgr_over_100: bool


def _ratio(pre: float, post: float) -> tuple[float | None, bool]:
    if pre > 0:
        ratio = post / pre
        return ratio, ratio >= RATIO_THRESHOLD
    return None, post > 0


def assess_hyperprogression(
    pre_baseline: SizeAtDate, baseline: SizeAtDate, follow_up: SizeAtDate
) -> HyperprogressionResult:
    """Compare growth before and after treatment start.

    Parameters
    ----------
    pre_baseline, baseline, follow_up : SizeAtDate
        Sums of target diameters at the three scans, in date order.

    Returns
    -------
    HyperprogressionResult
    """
    tgr_pre = tumour_growth_rate_pct_per_month(pre_baseline, baseline)
    tgr_post = tumour_growth_rate_pct_per_month(baseline, follow_up)
    tgk_pre = tumour_growth_kinetics_mm_per_month(pre_baseline, baseline)
    tgk_post = tumour_growth_kinetics_mm_per_month(baseline, follow_up)
    tgr_ratio, champiat = _ratio(tgr_pre, tgr_post)
    tgk_ratio, tgk_met = _ratio(tgk_pre, tgk_post)
    delta = tgr_post - tgr_pre
    return HyperprogressionResult(
        tgr_pre_pct_per_month=tgr_pre,
        tgr_post_pct_per_month=tgr_post,
        tgr_ratio=tgr_ratio,
        delta_tgr_pct_per_month=delta,
        tgk_pre_mm_per_month=tgk_pre,
        tgk_post_mm_per_month=tgk_post,
        tgk_ratio=tgk_ratio,
        champiat=champiat,
        tgk_ratio_met=tgk_met,
        delta_tgr_over_50=delta > DELTA_TGR_THRESHOLD,
        delta_tgr_over_100=delta > DELTA_TGR_STRICT_THRESHOLD,
    )
