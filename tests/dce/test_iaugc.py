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
