"""The liver DCE phantom's own forward model against the library, and the library against it.

The phantom (:mod:`tumorboard.phantoms.dce_forward`) is written from the
closed forms without importing :mod:`tumorboard.dce`; here the two are held
to each other: the phantom reproduces ``dce`` to 1e-6, and ``dce``'s fits
recover the phantom's generating parameters on noise-free curves.
"""

import numpy as np
import pytest

from tumorboard.dce.aif import InputFunction, blood_to_plasma, parker_aif, portal_venous_input
from tumorboard.dce.convolution import exp_conv
from tumorboard.dce.fit import fit_curves, simulate
from tumorboard.dce.signal_to_concentration import concentration_to_signal
from tumorboard.phantoms import dce_forward, liver_dce


@pytest.fixture(scope="module")
def inputs():
    phantom, blood = liver_dce.true_inputs()
    return phantom, blood, InputFunction(phantom.times_s, phantom.cp_mM, phantom.cv_mM)


def test_inputs_reproduce_the_library(inputs):
    phantom, blood, _ = inputs
    times = phantom.times_s
    library_blood = parker_aif(times, liver_dce.AIF_DELAY_S)
    np.testing.assert_allclose(blood, library_blood, rtol=0, atol=1e-12)
    library_cp = blood_to_plasma(library_blood, liver_dce.HCT)
    np.testing.assert_allclose(phantom.cp_mM, library_cp, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        phantom.cv_mM, portal_venous_input(times, library_cp), rtol=0, atol=1e-9
    )


@pytest.mark.parametrize("rate", [0.0, 1e-6, 0.01, 0.5, 3.0, 40.0])
def test_convolution_reproduces_the_library(rate):
    times = np.concatenate([np.arange(0.0, 100.0, 4.0), np.arange(125.0, 301.0, 25.0)]) / 60.0
    curve = parker_aif(times * 60.0, 20.0)
    ours = dce_forward.exponential_convolution(times, curve, rate)
    np.testing.assert_allclose(ours, exp_conv(times, curve, rate), rtol=0, atol=1e-9)


def test_tissue_curves_reproduce_simulate_to_1e6(inputs):
    phantom, _, library = inputs
    times = phantom.times_s
    for lesion in liver_dce.LESIONS:
        for visit in liver_dce.Visit:
            params = lesion.parameters(visit)
            ours = liver_dce.lesion_curve_mM(phantom, params)
            theirs = simulate(times, library, "dual-input", params)[0]
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
            tofts = liver_dce.tofts_equivalent(params)
            ours_tofts = dce_forward.extended_tofts_mM(
                times, phantom.cp_mM, tofts["ktrans_per_min"], tofts["ve"], tofts["vp"]
            )
            theirs_tofts = simulate(times, library, "extended-tofts", tofts)[0]
            np.testing.assert_allclose(ours_tofts, theirs_tofts, rtol=0, atol=1e-6)
            np.testing.assert_allclose(ours_tofts, ours, rtol=0, atol=1e-9)
    liver = liver_dce.lesion_curve_mM(phantom, liver_dce.LIVER_PARAMETERS)
    np.testing.assert_allclose(
        liver, simulate(times, library, "dual-input", liver_dce.LIVER_PARAMETERS)[0], atol=1e-6
    )


def test_signal_reproduces_the_library():
    conc = np.linspace(0.0, 3.0, 12).reshape(2, 6)
    kwargs = {"s0": [1000.0, 800.0], "t1_s": [1.1, 0.6], "flip_deg": 15.0, "tr_s": 0.004}
    ours = dce_forward.spgr_signal(conc, r1_per_mM_s=4.5, **kwargs)
    theirs = concentration_to_signal(conc, r1_per_mM_s=4.5, **kwargs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("visit", list(liver_dce.Visit))
def test_library_fits_recover_the_generating_parameters(inputs, visit):
    """Noise-free phantom curves: extended Tofts and dual-input fits give the truth to 1 %."""
    phantom, _, _ = inputs
    times = phantom.times_s
    curves = np.array(
        [
            liver_dce.lesion_curve_mM(phantom, lesion.parameters(visit))
            for lesion in liver_dce.LESIONS
        ]
    )
    arterial = InputFunction(times, phantom.cp_mM, None)
    tofts = fit_curves(times, curves, arterial, "extended-tofts").parameters
    truth = [liver_dce.tofts_equivalent(lesion.parameters(visit)) for lesion in liver_dce.LESIONS]
    np.testing.assert_allclose(
        tofts["ktrans_per_min"], [t["ktrans_per_min"] for t in truth], rtol=0.01
    )
    np.testing.assert_allclose(tofts["ve"], [t["ve"] for t in truth], rtol=0.01)
    np.testing.assert_allclose(tofts["vp"], 0.0, atol=0.005)
    dual = fit_curves(
        times, curves, InputFunction(times, phantom.cp_mM, phantom.cv_mM), "dual-input"
    ).parameters
    np.testing.assert_allclose(
        dual["fp_ml_per_100ml_per_min"],
        [lesion.parameters(visit)["fp_ml_per_100ml_per_min"] for lesion in liver_dce.LESIONS],
        rtol=0.01,
    )


def test_reference_ktrans_is_the_generating_flow():
    for visit in liver_dce.Visit:
        ktrans = liver_dce.reference_ktrans(visit)
        for lesion in liver_dce.LESIONS:
            flow = lesion.parameters(visit)["fp_ml_per_100ml_per_min"]
            assert ktrans[lesion.label] == flow / 100.0
