"""Voxel-wise fitting behaviour: NaN voxels, chunks, volumes, errors."""

from __future__ import annotations

import numpy as np
import pytest

from tumorboard.dce.aif import InputFunction, parker_aif
from tumorboard.dce.fit import fit_curves, kinetic_model, simulate
from tumorboard.dce.kinetic_model import DceModel
from tumorboard.dce.volume_fit import fit_volume
from tumorboard.errors import InputError
from tumorboard.imaging.volume import Volume

T = np.arange(0, 240, 4.0)
INPUTS = InputFunction(T, parker_aif(T, 10.0) / 0.55)


def _curves(rng, n):
    truth = {
        "ktrans_per_min": rng.uniform(0.05, 0.5, n),
        "ve": rng.uniform(0.1, 0.6, n),
        "vp": rng.uniform(0.0, 0.1, n),
    }
    return simulate(T, INPUTS, "extended-tofts", truth), truth


def test_nan_voxels_are_flagged_not_fatal(rng):
    curves, _ = _curves(rng, 6)
    curves[2, 5] = np.nan
    curves[4, :] = np.inf
    result = fit_curves(T, curves, INPUTS, "extended-tofts")
    assert result.converged.tolist() == [True, True, False, True, False, True]
    assert np.isnan(result.parameters["ktrans_per_min"][[2, 4]]).all()
    assert np.isfinite(result.parameters["ktrans_per_min"][[0, 1, 3, 5]]).all()
    assert result.failed.sum() == 2


def test_chunking_does_not_change_results(rng):
    curves, _ = _curves(rng, 50)
    curves += rng.normal(0, 0.01, curves.shape)
    whole = fit_curves(T, curves, INPUTS, "extended-tofts")
    chunked = fit_curves(T, curves, INPUTS, "extended-tofts", chunk_size=7)
    for name in whole.parameters:
        # identical up to BLAS blocking in the linear start
        np.testing.assert_allclose(whole.parameters[name], chunked.parameters[name], rtol=1e-9)


def test_float32_input_and_r2(rng):
    curves, truth = _curves(rng, 20)
    result = fit_curves(T, curves.astype(np.float32), INPUTS, "extended-tofts")
    np.testing.assert_allclose(
        result.parameters["ktrans_per_min"], truth["ktrans_per_min"], rtol=1e-3
    )
    assert np.all(result.r2 > 0.9999)


def test_fit_volume_writes_maps_with_nan_outside_the_mask(rng):
    curves, truth = _curves(rng, 12)
    array = curves.T.reshape(T.size, 1, 3, 4)
    volume = Volume(array, (5.0, 2.0, 2.0), times_s=T, unit="mM")
    mask = np.ones((1, 3, 4), bool)
    mask[0, 0, 0] = False
    maps = fit_volume(volume, INPUTS, "extended-tofts", mask=mask)
    assert set(maps.maps) == {"ktrans_per_min", "ve", "vp", "kep_per_min", "r2"}
    ktrans = maps.maps["ktrans_per_min"]
    assert ktrans.array.dtype == np.float32 and ktrans.unit == "/min"
    assert np.isnan(ktrans.array[0, 0, 0])
    np.testing.assert_allclose(ktrans.array[mask], truth["ktrans_per_min"][1:], rtol=1e-3)
    assert maps.failed.array.sum() == 0


def test_unknown_model_names_the_option():
    with pytest.raises(InputError, match="unknown model 'toft'"):
        kinetic_model("toft")
    assert DceModel.parse("Extended_Tofts") is DceModel.EXTENDED_TOFTS


def test_mismatched_lengths_are_rejected(rng):
    with pytest.raises(InputError, match="time points"):
        fit_curves(T, np.ones((2, T.size - 1)), INPUTS, "tofts")
    with pytest.raises(InputError, match="differs"):
        fit_curves(T + 1.0, np.ones((2, T.size)), INPUTS, "tofts")


def test_linear_method_equals_murase_and_rejects_other_models(rng):
    from tumorboard.dce.murase import murase_fit

    curves, truth = _curves(rng, 5)
    result = fit_curves(T, curves, INPUTS, "extended-tofts", method="linear")
    direct = murase_fit(T, curves, INPUTS.cp_mM)
    np.testing.assert_allclose(result.parameters["ktrans_per_min"], direct["ktrans_per_min"])
    np.testing.assert_allclose(
        result.parameters["ktrans_per_min"], truth["ktrans_per_min"], rtol=0.05
    )
    assert result.converged.all() and np.all(result.r2 > 0.99)
    patlak = fit_curves(T, curves, INPUTS, "patlak", method="linear")
    assert patlak.converged.all()
    with pytest.raises(InputError, match="supports patlak, tofts"):
        fit_curves(T, curves, INPUTS, "2cxm", method="linear")
    with pytest.raises(InputError, match="method"):
        fit_curves(T, curves, INPUTS, "tofts", method="quick")


def test_non_uniform_frame_times_are_fitted_exactly():
    # fast sampling through the first pass, slow afterwards (as many liver protocols)
    t = np.concatenate([np.arange(0, 60, 1.5), np.arange(60, 300, 10.0)])
    inputs = InputFunction(t, parker_aif(t, 10.0) / 0.55)
    truth = {
        "ktrans_per_min": np.array([0.15, 0.4]),
        "ve": np.array([0.25, 0.45]),
        "vp": np.array([0.03, 0.08]),
    }
    curves = simulate(t, inputs, "extended-tofts", truth)
    result = fit_curves(t, curves, inputs, "extended-tofts")
    for name in truth:
        np.testing.assert_allclose(result.parameters[name], truth[name], rtol=1e-4)
