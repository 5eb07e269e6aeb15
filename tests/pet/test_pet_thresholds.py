"""PET rule thresholds pinned on both sides of each edge (mutation-testing targets).

Truth comes from the published rule applied by hand to literal numbers, or
from an independent computation (numerical integration of the decay curve),
never from the function under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tumorboard.errors import DicomError, InputError
from tumorboard.pet.decay_rules import (
    MAX_HALF_LIVES,
    average_count_time_s,
    check_decay_time,
    dose_bq,
)
from tumorboard.pet.krenning import equivalent_diameter_mm, krenning_score
from tumorboard.pet.percist_inputs import PercistScan, compare_scans

F18_HALF_LIFE_S = 6586.2


# ------------------------------------------------------------------------ Krenning
@pytest.mark.parametrize(
    ("suv_max", "score"),
    [
        (0.0, 0),
        (0.999, 0),  # TLR 0.2498 < 0.25
        (1.0, 1),  # TLR 0.25 exactly: very low
        (1.999, 1),  # TLR 0.49975
        (2.0, 2),  # TLR 0.5 exactly: at most liver
        (4.0, 2),  # TLR 1.0 exactly: equal to the liver is not above it
        (4.001, 3),  # just above the liver, below the spleen (8.0)
        (8.0, 3),  # equal to the spleen is not above it
        (8.001, 4),  # above spleen and liver
    ],
)
def test_krenning_grade_edges(suv_max: float, score: int) -> None:
    result = krenning_score(1, suv_max, liver_suv_mean=4.0, spleen_suv_mean=8.0, diameter_mm=30.0)
    assert result.score == score
    assert result.above_liver is (score >= 3)
    assert result.tumour_to_liver == pytest.approx(suv_max / 4.0, rel=1e-12)
    assert result.tumour_to_spleen == pytest.approx(suv_max / 8.0, rel=1e-12)


def test_krenning_spleen_below_liver_needs_both() -> None:
    # spleen 3.0 below liver 4.0: a lesion of 3.5 is above the spleen but not the liver
    assert krenning_score(1, 3.5, 4.0, 3.0, 30.0).score == 2
    assert krenning_score(1, 4.5, 4.0, 3.0, 30.0).score == 4


@pytest.mark.parametrize(("diameter", "caution"), [(20.0, True), (20.01, False), (19.0, True)])
def test_krenning_small_lesion_edge(diameter: float, caution: bool) -> None:
    assert krenning_score(1, 10.0, 4.0, 8.0, diameter).small_lesion_caution is caution


def test_equivalent_diameter_of_a_sphere() -> None:
    # a sphere of radius 10 mm holds 4/3 pi 1000 mm^3 = 4.18879 ml
    assert equivalent_diameter_mm(4.0 / 3.0 * math.pi) == pytest.approx(20.0, rel=1e-12)
    assert equivalent_diameter_mm(0.0) == 0.0
    with pytest.raises(InputError, match="volume must be >= 0 ml"):
        equivalent_diameter_mm(-0.001)


@pytest.mark.parametrize(("liver", "spleen"), [(0.0, 8.0), (4.0, 0.0), (float("nan"), 8.0)])
def test_krenning_needs_positive_references(liver: float, spleen: float) -> None:
    with pytest.raises(InputError, match="must be > 0"):
        krenning_score(1, 5.0, liver, spleen, 30.0)


# ------------------------------------------------------------------ PERCIST inputs
def _scan(
    peak: float = 10.0,
    liver: float = 2.0,
    sd: float = 0.2,
    uptake_min: float = 60.0,
    dose: float = 3e8,
) -> PercistScan:
    return PercistScan(peak, 1, liver, sd, uptake_min * 60.0, dose)


@pytest.mark.parametrize(
    ("liver_before", "liver_after", "ok"),
    [
        (2.0, 2.3, False),  # +0.3 SUL: not less than 0.3 (0.29999999999999982 in floats)
        (2.0, 2.29, True),
        (2.0, 1.7, False),
        (2.0, 1.71, True),
        (1.0, 1.2, False),  # +20 % exactly (0.2 SUL)
        (1.0, 1.19, True),
        (1.0, 0.8, False),
        (1.0, 0.81, True),
    ],
)
def test_liver_comparability_edges(liver_before: float, liver_after: float, ok: bool) -> None:
    result = compare_scans(_scan(liver=liver_before), _scan(6.0, liver=liver_after))
    assert result.liver_ok is ok
    assert result.comparable is ok
    assert any("liver SULmean" in note for note in result.notes) is not ok


@pytest.mark.parametrize(("minutes", "ok"), [(75.0, True), (75.1, False), (45.0, True)])
def test_uptake_time_difference_edge(minutes: float, ok: bool) -> None:
    # baseline 60 min: a follow-up within 15 min of it is comparable
    result = compare_scans(_scan(), _scan(6.0, uptake_min=minutes))
    assert result.uptake_time_ok is ok
    assert result.comparable is ok


@pytest.mark.parametrize(
    ("minutes", "ok"), [(50.0, True), (49.9, False), (70.0, True), (70.1, False)]
)
def test_uptake_window_edge(minutes: float, ok: bool) -> None:
    result = compare_scans(_scan(uptake_min=minutes), _scan(6.0, uptake_min=minutes))
    assert result.uptake_window_ok is ok
    assert any("50-70 min" in note for note in result.notes) is not ok


@pytest.mark.parametrize(
    ("dose", "ok"), [(3.6e8, True), (3.61e8, False), (2.4e8, True), (2.39e8, False)]
)
def test_injected_dose_edge(dose: float, ok: bool) -> None:
    result = compare_scans(_scan(), _scan(6.0, dose=dose))
    assert result.dose_ok is ok
    assert result.comparable is ok


@pytest.mark.parametrize(("peak", "measurable"), [(3.4, True), (3.3999, False), (3.5, True)])
def test_measurability_edge(peak: float, measurable: bool) -> None:
    # 1.5 x 2.0 + 2 x 0.2 = 3.4
    assert _scan(peak).measurable is measurable


def test_measurability_threshold_weights_mean_and_sd_separately() -> None:
    assert _scan(liver=2.0, sd=0.0).measurability_threshold == pytest.approx(3.0, rel=1e-12)
    assert _scan(liver=1.0, sd=0.5).measurability_threshold == pytest.approx(2.5, rel=1e-12)


def test_sul_peak_change_percent() -> None:
    result = compare_scans(_scan(8.0), _scan(10.0))
    assert result.sul_peak_change_percent == pytest.approx(25.0, rel=1e-12)


def test_zero_baseline_dose_is_not_comparable() -> None:
    result = compare_scans(_scan(dose=0.0), _scan(6.0, dose=0.0))
    assert not result.dose_ok


def test_zero_baseline_peak_is_refused() -> None:
    with pytest.raises(InputError, match="baseline SULpeak must be > 0"):
        compare_scans(_scan(0.0), _scan(6.0))


# --------------------------------------------------------------------- decay rules
def test_average_count_time_matches_numerical_integration() -> None:
    decay = math.log(2.0) / F18_HALF_LIFE_S
    for duration in (60.0, 600.0, 3600.0):
        t = np.linspace(0.0, duration, 200_001)
        average_rate = np.trapezoid(np.exp(-decay * t), t) / duration
        expected = -math.log(average_rate) / decay
        assert average_count_time_s(decay, duration) == pytest.approx(expected, rel=1e-9)
        assert 0.0 < expected < duration / 2.0  # decay pulls the average before the midpoint
    assert average_count_time_s(1e-15, 100.0) == 50.0


@pytest.mark.parametrize(
    ("value", "bq"),
    [(370.0, 370e6), (99_999.0, 99_999e6), (100_000.0, 100_000.0), (3.7e8, 3.7e8)],
)
def test_dose_units_edge(value: float, bq: float) -> None:
    from pydicom.dataset import Dataset

    item = Dataset()
    item.RadionuclideTotalDose = value
    assert dose_bq(item, "series") == bq


def test_decay_time_edges() -> None:
    half_life = F18_HALF_LIFE_S
    check_decay_time(0.0, half_life, "the scan time", "series")
    check_decay_time(MAX_HALF_LIVES * half_life, half_life, "the scan time", "series")
    with pytest.raises(DicomError, match="1 s before the injection"):
        check_decay_time(-1.0, half_life, "the scan time", "series")
    with pytest.raises(DicomError, match="more than 20 half-lives"):
        check_decay_time(MAX_HALF_LIVES * half_life + 1.0, half_life, "the scan time", "series")
    assert MAX_HALF_LIVES == 20.0


# ------------------------------------------------------- edges found by mutation testing
def test_krenning_lesion_equal_to_the_liver_is_not_grade_4() -> None:
    # spleen 3.0 below liver 4.0: a lesion equal to the liver is above the spleen only
    assert krenning_score(1, 4.0, 4.0, 3.0, 30.0).score == 2


def test_krenning_accepts_small_positive_references_and_scores_0_to_4() -> None:
    from tumorboard.pet.krenning import KrenningResult

    assert (
        krenning_score(1, 1.0, liver_suv_mean=0.5, spleen_suv_mean=0.8, diameter_mm=30).score == 4
    )
    KrenningResult(1, 4, 1.0, 1.0, False)
    with pytest.raises(InputError, match="Krenning score must be 0-4, got 5"):
        KrenningResult(1, 5, 1.0, 1.0, False)


def test_liver_limit_is_kept_through_float_rounding_noise() -> None:
    # 0.3 SUL less 1e-11: within 1e-9 of the limit, so not "less than 0.3 SUL"
    result = compare_scans(_scan(liver=2.0), _scan(6.0, liver=2.0 + 0.3 - 1e-11))
    assert not result.liver_ok


def test_uptake_time_note_is_in_minutes() -> None:
    # 90 min = 5400 s: a wrong divisor shows (5400 / 61 = 88.5)
    result = compare_scans(_scan(), _scan(6.0, uptake_min=150.0))
    assert "uptake times differ by 90 min (limit 15)" in result.notes


def test_small_positive_baseline_dose_and_peak_are_used() -> None:
    # 1 Bq and SULpeak 0.5 are odd but positive: the rules apply, nothing is refused
    result = compare_scans(_scan(0.5, dose=1.0), _scan(0.4, dose=1.0))
    assert result.dose_ok
    assert result.sul_peak_change_percent == pytest.approx(-20.0)
