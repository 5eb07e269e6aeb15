"""SUVmax/mean and the PERCIST peak sphere against a brute-force search."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tumorboard.errors import EmptyResultError, GeometryError
from tumorboard.imaging.volume import Volume
from tumorboard.pet.uptake import PEAK_SPHERE_DIAMETER_MM, lesion_uptake, sphere_kernel

#: Brute force and kernel use the same sub-sampling: they agree to float32 rounding.
PEAK_RELATIVE_TOLERANCE = 1e-5


def _brute_force_peak(
    image: np.ndarray,
    mask: np.ndarray,
    spacing: tuple[float, float, float],
    diameter_mm: float,
    subsamples: int,
) -> float:
    """Independent peak search: sub-sample the whole image and average inside each sphere."""
    s = subsamples
    fine = np.repeat(np.repeat(np.repeat(image.astype(np.float64), s, 0), s, 1), s, 2)
    inside_image = np.ones_like(fine, dtype=bool)
    grids = [(np.arange(n * s) + 0.5) / s - 0.5 for n in image.shape]  # in voxel units
    best = -np.inf
    radius = diameter_mm / 2
    for centre in np.argwhere(mask):
        d2 = (
            ((grids[0][:, None, None] - centre[0]) * spacing[0]) ** 2
            + ((grids[1][None, :, None] - centre[1]) * spacing[1]) ** 2
            + ((grids[2][None, None, :] - centre[2]) * spacing[2]) ** 2
        )
        sphere = (d2 <= radius**2) & inside_image
        best = max(best, float(fine[sphere].mean()))
    return best


def test_kernel_volume_is_the_sphere_volume() -> None:
    kernel = sphere_kernel((4.0, 4.0, 4.0))
    volume_ml = kernel.weights.sum() * 64 / 1000
    assert volume_ml == pytest.approx(4 / 3 * np.pi * 0.6**3, rel=0.01)
    assert PEAK_SPHERE_DIAMETER_MM == 12.0


def test_peak_matches_brute_force(rng: np.random.Generator) -> None:
    spacing = (3.0, 2.5, 2.0)
    image = rng.gamma(2.0, 1.0, size=(14, 16, 18)).astype(np.float32)
    labels = np.zeros(image.shape, dtype=np.uint8)
    labels[4:9, 5:10, 6:12] = 1
    labels[1:3, 1:4, 12:16] = 2  # touches the border: sphere partly outside
    found = lesion_uptake(Volume(image, spacing), Volume(labels, spacing), subsamples=4)
    assert [r.label for r in found] == [1, 2]
    for record in found:
        mask = labels == record.label
        expected = _brute_force_peak(image, mask, spacing, 12.0, 4)
        assert record.peak == pytest.approx(expected, rel=PEAK_RELATIVE_TOLERANCE)
        assert record.max == pytest.approx(float(image[mask].max()))
        assert record.mean == pytest.approx(float(image[mask].mean()), rel=1e-6)
        assert record.n_voxels == int(mask.sum())


def test_uniform_lesion_peak_equals_value() -> None:
    image = np.full((20, 20, 20), 3.0, dtype=np.float32)
    labels = np.zeros(image.shape, dtype=np.uint8)
    labels[8:12, 8:12, 8:12] = 7
    (record,) = lesion_uptake(Volume(image, (4.0, 4.0, 4.0)), Volume(labels, (4.0, 4.0, 4.0)))
    assert record.label == 7
    assert record.peak == pytest.approx(3.0, rel=1e-6)
    assert record.volume_ml == pytest.approx(64 * 64 / 1000)


@settings(max_examples=20, deadline=None)
@given(scale=st.floats(min_value=0.01, max_value=100.0))
def test_uptake_linear_in_activity(scale: float) -> None:
    rng = np.random.default_rng(7)
    image = rng.gamma(2.0, 1.0, size=(10, 10, 10)).astype(np.float32)
    labels = np.zeros(image.shape, dtype=np.uint8)
    labels[3:7, 3:7, 3:7] = 1
    spacing = (4.0, 4.0, 4.0)
    (base,) = lesion_uptake(Volume(image, spacing), Volume(labels, spacing))
    (scaled,) = lesion_uptake(Volume(image * np.float32(scale), spacing), Volume(labels, spacing))
    assert scaled.peak == pytest.approx(base.peak * scale, rel=1e-5)
    assert scaled.max == pytest.approx(base.max * scale, rel=1e-5)


def test_bad_inputs() -> None:
    image = Volume(np.zeros((5, 5, 5), np.float32), (4.0, 4.0, 4.0))
    with pytest.raises(EmptyResultError, match="no lesion"):
        lesion_uptake(image, Volume(np.zeros((5, 5, 5), np.uint8), (4.0, 4.0, 4.0)))
    with pytest.raises(GeometryError, match="lesion label image has shape"):
        lesion_uptake(image, Volume(np.ones((5, 5, 6), np.uint8), (4.0, 4.0, 4.0)))
