"""PERCIST inputs of one PET scan and the comparability checks between two scans.

PERCIST 1.0 (Wahl et al., J Nucl Med 2009) measures the SULpeak of the hottest
lesion, requires it to exceed the measurability threshold of the liver
(1.5 x SULmean + 2 SD) or blood pool (2.0 x mean + 2 SD) at baseline, and
requires two scans to be comparable: liver SULmean differing by less than
20 % and less than 0.3 SUL units (strict: 2.0 -> 2.3 is not comparable),
uptake time within 15 minutes, both scans 50-70 min after injection (FDG),
the injected dose within 20 %.

Floating point: a change equal to a limit up to rounding (``2.3 - 2.0`` is
``0.29999999999999982``) counts as reaching the limit (:func:`_below`).

These records carry no pixels; the response category is decided in
:mod:`tumorboard.criteria` from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tumorboard.errors import InputError

LIVER_MAX_RELATIVE_CHANGE = 0.20
LIVER_MAX_ABSOLUTE_CHANGE_SUL = 0.3
UPTAKE_TIME_MAX_DIFFERENCE_S = 15 * 60.0
UPTAKE_TIME_WINDOW_S = (50 * 60.0, 70 * 60.0)
DOSE_MAX_RELATIVE_CHANGE = 0.20


@dataclass(frozen=True)
class PercistScan:
    """The PERCIST measurements of one scan.

    Attributes
    ----------
    hottest_sul_peak : float
        SULpeak of the hottest lesion.
    hottest_label : int
        Its label.
    liver_sul_mean, liver_sul_sd : float
        Liver reference (3 cm sphere).
    uptake_time_s : float
        Injection-to-scan time.
    injected_dose_bq : float
        Injected activity.
    """

    hottest_sul_peak: float
    hottest_label: int
    liver_sul_mean: float
    liver_sul_sd: float
    uptake_time_s: float
    injected_dose_bq: float

    def __post_init__(self) -> None:
        for name in (
            "hottest_sul_peak",
            "liver_sul_mean",
            "liver_sul_sd",
            "uptake_time_s",
            "injected_dose_bq",
        ):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise InputError(f"PercistScan.{name} must be a finite value >= 0, got {value}")
        if self.liver_sul_mean <= 0:
            raise InputError(f"PercistScan.liver_sul_mean must be > 0, got {self.liver_sul_mean}")

    @property
    def measurability_threshold(self) -> float:
        """1.5 x liver SULmean + 2 SD."""
        return 1.5 * self.liver_sul_mean + 2.0 * self.liver_sul_sd

    @property
    def measurable(self) -> bool:
        """Whether the hottest lesion exceeds the liver threshold."""
        return self.hottest_sul_peak >= self.measurability_threshold


@dataclass(frozen=True)
class Comparability:
    """Whether a follow-up PET can be compared with its baseline under PERCIST.

    Attributes
    ----------
    liver_ok, uptake_time_ok, uptake_window_ok, dose_ok : bool
        The individual checks.
    sul_peak_change_percent : float
        Percentage change of the hottest-lesion SULpeak.
    notes : tuple of str
        A sentence for every failed check.
    """

    liver_ok: bool
    uptake_time_ok: bool
    uptake_window_ok: bool
    dose_ok: bool
    sul_peak_change_percent: float
    notes: tuple[str, ...]

    @property
    def comparable(self) -> bool:
        """All checks passed."""
        return self.liver_ok and self.uptake_time_ok and self.dose_ok


def _below(value: float, limit: float) -> bool:
    """``value < limit``, with a value equal to ``limit`` up to rounding not below it."""
    return value < limit and not math.isclose(value, limit, rel_tol=1e-9, abs_tol=1e-12)


def compare_scans(baseline: PercistScan, follow_up: PercistScan) -> Comparability:
    """Apply the PERCIST comparability checks and the SULpeak change.

    Parameters
    ----------
    baseline, follow_up : PercistScan
        The two scans.

    Returns
    -------
    Comparability
    """
    notes = []
    liver_delta = follow_up.liver_sul_mean - baseline.liver_sul_mean
    liver_ok = _below(
        abs(liver_delta) / baseline.liver_sul_mean, LIVER_MAX_RELATIVE_CHANGE
    ) and _below(abs(liver_delta), LIVER_MAX_ABSOLUTE_CHANGE_SUL)
    if not liver_ok:
        notes.append(
            f"liver SULmean changed from {baseline.liver_sul_mean:.2f} to "
            f"{follow_up.liver_sul_mean:.2f} (must differ by less than 20 % and 0.3 SUL)"
        )
    uptake_delta = abs(follow_up.uptake_time_s - baseline.uptake_time_s)
    uptake_ok = uptake_delta <= UPTAKE_TIME_MAX_DIFFERENCE_S
    if not uptake_ok:
        notes.append(f"uptake times differ by {uptake_delta / 60:.0f} min (limit 15)")
    low, high = UPTAKE_TIME_WINDOW_S
    window_ok = all(low <= s.uptake_time_s <= high for s in (baseline, follow_up))
    if not window_ok:
        notes.append("an uptake time is outside 50-70 min (FDG)")
    dose_ok = (
        abs(follow_up.injected_dose_bq - baseline.injected_dose_bq) / baseline.injected_dose_bq
        <= DOSE_MAX_RELATIVE_CHANGE
        if baseline.injected_dose_bq > 0
        else False
    )
    if not dose_ok:
        notes.append("injected doses differ by more than 20 %")
    if baseline.hottest_sul_peak <= 0:
        raise InputError("baseline SULpeak must be > 0 to compute a percentage change")
    change = 100.0 * (follow_up.hottest_sul_peak / baseline.hottest_sul_peak - 1.0)
    return Comparability(liver_ok, uptake_ok, window_ok, dose_ok, change, tuple(notes))


__all__ = ["Comparability", "PercistScan", "compare_scans"]
