"""Exact Moran's I / Geary's C by FFT against the brute-force pair sums."""

from __future__ import annotations

import numpy as np
import pytest

from tumorboard.errors import InputError
from tumorboard.radiomics.spatial_autocorrelation import moran_geary

#: FFT sums agree with direct pair sums to rounding.
RELATIVE_TOLERANCE = 1e-9


def brute_force(
    indices: np.ndarray, values: np.ndarray, spacing: tuple[float, float, float]
) -> tuple[float, float]:
    positions = indices * np.asarray(spacing)
    distance = np.sqrt(((positions[:, None, :] - positions[None, :, :]) ** 2).sum(-1))
    weights = np.where(distance > 0, 1.0 / np.where(distance > 0, distance, 1.0), 0.0)
    x = values - values.mean()
    n = len(values)
    moran = n * (weights * np.outer(x, x)).sum() / (weights.sum() * (x**2).sum())
    geary = (
        (n - 1)
        * (weights * (x[:, None] - x[None, :]) ** 2).sum()
        / (2 * weights.sum() * (x**2).sum())
    )
    return float(moran), float(geary)


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (3.0, 0.8, 1.1)])
def test_matches_brute_force(rng: np.random.Generator, spacing: tuple[float, float, float]) -> None:
    indices = np.argwhere(rng.random((6, 9, 7)) < 0.5)
    values = rng.normal(50.0, 20.0, len(indices))
    got = moran_geary(indices, values, spacing)
    want = brute_force(indices, values, spacing)
    assert got == pytest.approx(want, rel=RELATIVE_TOLERANCE)


def test_constant_and_degenerate() -> None:
    indices = np.array([[0, 0, 0], [0, 1, 0], [1, 1, 1]])
    assert moran_geary(indices, np.full(3, 7.0), (1.0, 1.0, 1.0)) == (1.0, 1.0)
    moran, geary = moran_geary(indices[:1], np.ones(1), (1.0, 1.0, 1.0))
    assert np.isnan(moran) and np.isnan(geary)
    with pytest.raises(InputError, match="3 voxel positions but 2 values"):
        moran_geary(indices, np.ones(2), (1.0, 1.0, 1.0))


def test_checkerboard_is_negatively_autocorrelated() -> None:
    indices = np.argwhere(np.ones((4, 6, 6), dtype=bool))
    values = (indices.sum(axis=1) % 2).astype(float)
    moran, geary = moran_geary(indices, values, (1.0, 1.0, 1.0))
    assert moran < 0 < geary and geary > 1
