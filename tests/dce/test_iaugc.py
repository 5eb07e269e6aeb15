from __future__ import annotations

import numpy as np
import pytest

from tumorboard.dce.iaugc import iaugc
from tumorboard.errors import InputError


def test_iaugc_of_a_ramp_is_exact():
    t = np.arange(0, 200, 3.0)
    curve = np.clip(t - 21.0, 0, None) * 0.01  # mM, linear after onset at 21 s
    # integral_21^81 0.01 (t - 21) dt = 0.01 * 60^2 / 2; also with an onset between samples
    assert iaugc(t, curve, 21.0) == pytest.approx(18.0, rel=1e-12)
    assert iaugc(t, curve, 22.5) == pytest.approx(0.01 * (61.5**2 - 1.5**2) / 2, rel=1e-12)


def test_iaugc_vectorised_and_window_checked():
    t = np.arange(0, 100, 1.0)
    curves = np.stack([np.ones_like(t), 2 * np.ones_like(t)])
    np.testing.assert_allclose(iaugc(t, curves, 10.0), [60.0, 120.0])
    with pytest.raises(InputError, match="window"):
        iaugc(t, curves, 50.0)


def test_iaugc_matches_per_curve_interpolation(rng):
    t = np.cumsum(rng.uniform(0.5, 4.0, 90))  # non-uniform frames
    curves = rng.uniform(0.0, 2.0, (7, t.size))
    for onset in (t[0], t[3] + 0.3, t[-1] - 60.0):
        end = onset + 60.0
        grid = np.concatenate([[onset], t[(t > onset) & (t < end)], [end]])
        expected = [np.trapezoid(np.interp(grid, t, c), grid) for c in curves]
        np.testing.assert_allclose(iaugc(t, curves, onset), expected, rtol=1e-12)


def test_iaugc_map_flags_nan_voxels_and_respects_the_mask():
    from tumorboard.dce.iaugc import iaugc_map
    from tumorboard.imaging.volume import Volume

    t = np.arange(0, 100, 2.0)
    array = np.ones((t.size, 1, 2, 2))
    array[5, 0, 0, 1] = np.nan
    volume = Volume(array, (1.0, 1.0, 1.0), times_s=t, unit="mM")
    mask = np.array([[[True, True], [True, False]]])
    result = iaugc_map(volume, 10.0, mask=mask)
    assert result.unit == "mM s"
    np.testing.assert_allclose(result.array[0], [[60.0, np.nan], [60.0, np.nan]])
