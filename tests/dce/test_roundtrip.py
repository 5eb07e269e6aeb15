"""Property tests: simulate -> fit -> recover, for every model (noise-free)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tumorboard.dce.aif import InputFunction, parker_aif, portal_venous_input
from tumorboard.dce.fit import fit_curves, simulate

T = np.arange(0, 300, 2.0)
CP = parker_aif(T, 12.0) / 0.55
INPUTS = InputFunction(T, CP, portal_venous_input(T, CP))
#: Noise-free recovery within 1 % (OSIPI allows 10 %).
RTOL = 0.01
SETTINGS = settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def _recovered(model, truth, names, rtol=RTOL, atol=1e-4):
    curve = simulate(T, INPUTS, model, truth)
    result = fit_curves(T, curve, INPUTS, model)
    assert result.converged[0]
    assert result.r2[0] > 0.9999
    for name in names:
        np.testing.assert_allclose(
            result.parameters[name][0], truth[name], rtol=rtol, atol=atol, err_msg=name
        )


@SETTINGS
@given(ktrans=st.floats(0.01, 1.0), ve=st.floats(0.05, 0.8))
def test_tofts(ktrans, ve):
    _recovered("tofts", {"ktrans_per_min": ktrans, "ve": ve}, ("ktrans_per_min", "ve"))


@SETTINGS
@given(ktrans=st.floats(0.01, 1.0), ve=st.floats(0.05, 0.8), vp=st.floats(0.0, 0.2))
def test_extended_tofts(ktrans, ve, vp):
    _recovered(
        "extended-tofts",
        {"ktrans_per_min": ktrans, "ve": ve, "vp": vp},
        ("ktrans_per_min", "ve", "vp"),
    )


@SETTINGS
@given(ktrans=st.floats(0.005, 0.5), vp=st.floats(0.0, 0.5))
def test_patlak(ktrans, vp):
    _recovered("patlak", {"ktrans_per_min": ktrans, "vp": vp}, ("ktrans_per_min", "vp"))


@SETTINGS
@given(
    fp=st.floats(10.0, 150.0),
    ps=st.floats(0.02, 0.3),
    ve=st.floats(0.1, 0.5),
    vp=st.floats(0.02, 0.2),
)
def test_2cxm(fp, ps, ve, vp):
    truth = {"fp_ml_per_100ml_per_min": fp, "ps_per_min": ps, "ve": ve, "vp": vp}
    _recovered("2cxm", truth, tuple(truth), rtol=0.02)


@SETTINGS
@given(fp=st.floats(10.0, 150.0), ps=st.floats(0.01, 0.3), vp=st.floats(0.02, 0.3))
def test_2cum(fp, ps, vp):
    truth = {"fp_ml_per_100ml_per_min": fp, "ps_per_min": ps, "vp": vp}
    _recovered("2cum", truth, tuple(truth))


@SETTINGS
@given(fp=st.floats(20.0, 200.0), fraction=st.floats(0.05, 0.95), volume=st.floats(0.1, 0.6))
def test_dual_input(fp, fraction, volume):
    truth = {
        "fp_ml_per_100ml_per_min": fp,
        "arterial_fraction": fraction,
        "distribution_volume": volume,
    }
    _recovered("dual-input", truth, tuple(truth))
