import numpy as np
import pytest
from scipy import stats

from tumorboard.errors import EmptyResultError
from tumorboard.lesions.adc_histogram import adc_histogram, adc_statistics


def test_statistics_match_their_definitions(rng):
    values = rng.gamma(9.0, 80.0, size=5000)
    s = adc_statistics(values)
    assert s.mean == pytest.approx(values.mean())
    assert s.median == pytest.approx(np.median(values))
    assert s.sd == pytest.approx(values.std(ddof=1))
    assert s.p05 == pytest.approx(np.percentile(values, 5))
    assert s.p95 == pytest.approx(np.percentile(values, 95))
    assert s.skewness == pytest.approx(stats.skew(values))
    assert s.kurtosis == pytest.approx(stats.kurtosis(values))  # excess


def test_kurtosis_is_excess_normal_is_zero(rng):
    assert adc_statistics(rng.normal(1000, 100, 200_000)).kurtosis == pytest.approx(0.0, abs=0.05)


def test_known_percentile_by_linear_interpolation():
    s = adc_statistics(np.array([100.0, 200.0, 300.0, 400.0, 500.0]))
    assert s.p25 == 200.0 and s.p75 == 400.0 and s.p10 == pytest.approx(140.0)


def test_histogram_has_fixed_50_bins_and_relative_frequency():
    h = adc_histogram(np.array([0.0, 49.9, 50.0, 120.0, 120.0]))
    assert h.lower_um2_per_s.tolist() == [0.0, 50.0, 100.0]
    assert h.counts.tolist() == [2, 1, 2]
    np.testing.assert_allclose(h.relative_frequency, [0.4, 0.2, 0.4])


def test_empty_sample_is_an_error():
    with pytest.raises(EmptyResultError):
        adc_statistics(np.array([]))


def test_negative_adc_counts_in_the_first_bin():
    h = adc_histogram(np.array([-20.0, 10.0, 75.0]))
    assert h.counts.tolist() == [2, 1]
    assert h.relative_frequency.sum() == pytest.approx(1.0)


def test_single_voxel_statistics_are_finite():
    s = adc_statistics(np.array([812.0]))
    assert s.mean == s.median == s.p05 == s.p95 == 812.0
    assert s.sd == 0.0 and s.skewness == 0.0 and s.kurtosis == 0.0
