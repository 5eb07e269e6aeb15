"""Fail-on-bias: noise-free DCE fits give the generating parameters within 1 %.

The curves come from the phantom's own closed forms
(:mod:`tumorboard.phantoms.dce_forward`), not from ``dce.fit.simulate``, so a
bias shared by the library's forward model and its fit (a unit slip in the
convolution, a Ktrans reported x 1.01) cannot cancel out. On noise-free data
the fits are exact to ~1e-10, so any systematic bias of 1 % or more fails.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tumorboard.dce.aif import InputFunction
from tumorboard.dce.fit import fit_curves
from tumorboard.phantoms import dce_forward

#: Largest relative error a noise-free fit may have on any parameter.
BIAS_TOLERANCE = 0.01

T = np.arange(0.0, 300.0, 2.0)
CP = dce_forward.parker_blood_mM(T, 12.0) / 0.55
CV = dce_forward.portal_plasma_mM(T, CP)
TOFTS_GRID = list(itertools.product([0.02, 0.1, 0.3, 0.8], [0.1, 0.3, 0.6], [0.0, 0.05, 0.15]))
DUAL_GRID = list(itertools.product([20.0, 60.0, 150.0], [0.1, 0.5, 0.9], [0.15, 0.4]))


def _relative_bias(fitted: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Signed relative error; absolute where the truth is 0 (vp = 0)."""
    scale = np.where(truth != 0.0, np.abs(truth), 1.0)
    return (np.asarray(fitted) - truth) / scale


def _assert_unbiased(fitted: np.ndarray, truth: np.ndarray, name: str) -> None:
    bias = _relative_bias(fitted, truth)
    worst = float(np.max(np.abs(bias)))
    assert worst < BIAS_TOLERANCE, f"{name}: relative error {worst:.3%} >= 1 %"


def test_the_check_fails_on_a_one_percent_bias():
    truth = np.array([0.1, 0.3, 0.8])
    _assert_unbiased(truth * (1 + 1e-9), truth, "exact")
    with pytest.raises(AssertionError, match="ktrans"):
        _assert_unbiased(truth * 1.01 * (1 + 1e-9), truth, "ktrans")
    with pytest.raises(AssertionError, match="ve"):
        _assert_unbiased(truth * 0.99 * (1 - 1e-9), truth, "ve")


def test_extended_tofts_is_unbiased_on_noise_free_curves():
    curves = np.array([dce_forward.extended_tofts_mM(T, CP, *p) for p in TOFTS_GRID])
    result = fit_curves(T, curves, InputFunction(T, CP), "extended-tofts")
    assert result.converged.all()
    for index, name in enumerate(("ktrans_per_min", "ve", "vp")):
        truth = np.array([p[index] for p in TOFTS_GRID])
        _assert_unbiased(result.parameters[name], truth, name)


def test_tofts_is_unbiased_on_noise_free_curves():
    grid = [p for p in TOFTS_GRID if p[2] == 0.0]
    curves = np.array([dce_forward.extended_tofts_mM(T, CP, k, ve, 0.0) for k, ve, _ in grid])
    result = fit_curves(T, curves, InputFunction(T, CP), "tofts")
    assert result.converged.all()
    for index, name in enumerate(("ktrans_per_min", "ve")):
        _assert_unbiased(result.parameters[name], np.array([p[index] for p in grid]), name)


def test_dual_input_is_unbiased_on_noise_free_curves():
    curves = np.array([dce_forward.dual_input_mM(T, CP, CV, *p) for p in DUAL_GRID])
    result = fit_curves(T, curves, InputFunction(T, CP, CV), "dual-input")
    assert result.converged.all()
    names = ("fp_ml_per_100ml_per_min", "arterial_fraction", "distribution_volume")
    for index, name in enumerate(names):
        _assert_unbiased(result.parameters[name], np.array([p[index] for p in DUAL_GRID]), name)
