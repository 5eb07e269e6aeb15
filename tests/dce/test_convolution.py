import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tumorboard.dce.convolution import cumulative_integral, exp_conv
from tumorboard.errors import InputError

EXACT_RTOL = 1e-10


def test_constant_input_matches_closed_form():
    t = np.linspace(0, 10, 41)
    k = 0.7
    expected = (1 - np.exp(-k * t)) / k
    np.testing.assert_allclose(exp_conv(t, np.ones_like(t), k), expected, rtol=EXACT_RTOL)


def test_ramp_input_is_exact_on_a_non_uniform_grid(rng):
    t = np.sort(np.concatenate([[0.0], rng.uniform(0, 8, 30)]))
    k = 1.3
    # conv(s, exp(-k t)) = t/k - (1 - exp(-k t))/k^2
    expected = t / k - (1 - np.exp(-k * t)) / k**2
    np.testing.assert_allclose(exp_conv(t, t, k), expected, rtol=1e-9, atol=1e-13)


def test_zero_rate_is_the_running_integral(rng):
    t = np.cumsum(rng.uniform(0.1, 1.0, 25))
    x = rng.uniform(0, 5, 25)
    np.testing.assert_allclose(exp_conv(t, x, 0.0), cumulative_integral(t, x), rtol=1e-12)


def test_tiny_rates_are_continuous():
    t = np.linspace(0, 5, 20)
    x = np.sin(t) + 1
    below = exp_conv(t, x, 0.999e-2 / 0.263)
    above = exp_conv(t, x, 1.001e-2 / 0.263)
    np.testing.assert_allclose(below, above, rtol=1e-3)


def test_rate_derivative_matches_finite_difference(rng):
    from tumorboard.dce.convolution import exp_conv_into

    t = np.cumsum(rng.uniform(0.05, 0.5, 50))
    x = rng.uniform(0, 3, 50)
    out = np.empty(50)
    dout = np.empty(50)
    exp_conv_into(t, x, 0.8, out, dout)
    h = 1e-6
    numeric = (exp_conv(t, x, 0.8 + h) - exp_conv(t, x, 0.8 - h)) / (2 * h)
    np.testing.assert_allclose(dout, numeric, rtol=1e-6, atol=1e-9)


def test_vectorised_over_rates_equals_one_by_one(rng):
    t = np.linspace(0, 6, 30)
    x = rng.uniform(0, 2, 30)
    rates = np.array([0.0, 0.1, 2.0, 30.0])
    many = exp_conv(t, x, rates)
    for i, k in enumerate(rates):
        np.testing.assert_allclose(many[i], exp_conv(t, x, k), rtol=1e-14)


@settings(max_examples=30, deadline=None)
@given(
    a=st.floats(-5, 5),
    b=st.floats(-5, 5),
    k=st.floats(0, 50),
    seed=st.integers(0, 2**16),
)
def test_linear_in_the_input(a, b, k, seed):
    g = np.random.default_rng(seed)
    t = np.cumsum(g.uniform(0.01, 1.0, 15))
    x, y = g.normal(size=15), g.normal(size=15)
    lhs = exp_conv(t, a * x + b * y, k)
    rhs = a * exp_conv(t, x, k) + b * exp_conv(t, y, k)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9, atol=1e-9)


def test_rejects_non_increasing_times_and_negative_rates():
    with pytest.raises(InputError, match="strictly increasing"):
        exp_conv([0, 2, 1], [0, 1, 2], 1.0)
    with pytest.raises(InputError, match=">= 0"):
        exp_conv([0, 1, 2], [0, 1, 2], -1.0)
    with pytest.raises(InputError, match="samples"):
        exp_conv([0, 1, 2], [0, 1], 1.0)
