from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tumorboard.errors import EmptyResultError, GeometryError
from tumorboard.imaging.volume import Volume
from tumorboard.lesions.diameters import (
    in_plane_diameters,
    measure_lesion_intensity,
    measure_lesion_sizes,
)


def ellipsoid(
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    semi_axes_xyz_mm: tuple[float, float, float],
    angle_deg: float = 0.0,
    centre_offset: tuple[float, float, float] = (0.3, -0.2, 0.1),
) -> np.ndarray:
    z, y, x = np.indices(shape, dtype=float)
    cz, cy, cx = [(n - 1) / 2 + o for n, o in zip(shape, centre_offset, strict=True)]
    dz, dy, dx = spacing
    px, py, pz = (x - cx) * dx, (y - cy) * dy, (z - cz) * dz
    angle = math.radians(angle_deg)
    u = px * math.cos(angle) + py * math.sin(angle)
    v = -px * math.sin(angle) + py * math.cos(angle)
    a, b, c = semi_axes_xyz_mm
    inside: np.ndarray = (u / a) ** 2 + (v / b) ** 2 + (pz / c) ** 2 <= 1.0
    return inside


@pytest.mark.parametrize(
    ("spacing", "axes", "angle"),
    [
        ((2.0, 0.8, 0.8), (10.0, 6.0, 8.0), 0.0),  # ellipsoid, axis-aligned
        ((2.0, 0.8, 0.8), (12.0, 5.0, 6.0), 35.0),  # rotated in plane
        ((1.0, 1.0, 1.0), (9.0, 9.0, 9.0), 0.0),  # sphere
        ((5.0, 0.7, 0.9), (15.0, 11.0, 12.0), 60.0),  # anisotropic pixels, thick slices
    ],
)
def test_known_shapes_within_one_voxel(
    spacing: tuple[float, float, float], axes: tuple[float, float, float], angle: float
) -> None:
    mask = ellipsoid((41, 81, 81), spacing, axes, angle)
    (size,) = measure_lesion_sizes(Volume(mask.astype(np.uint8), spacing))
    # corner-based: a pixel square adds at most its diagonal along any direction
    pixel_diagonal = math.hypot(spacing[1], spacing[2])
    assert size.longest_diameter_mm == pytest.approx(2 * axes[0], abs=pixel_diagonal)
    assert size.short_axis_mm == pytest.approx(2 * axes[1], abs=pixel_diagonal)
    voxel_diagonal = math.sqrt(sum(s * s for s in spacing))
    assert size.longest_diameter_3d_mm == pytest.approx(2 * max(axes), abs=voxel_diagonal)
    truth_ml = 4 / 3 * math.pi * axes[0] * axes[1] * axes[2] / 1000
    assert size.volume_ml == pytest.approx(truth_ml, rel=0.05)
    assert size.voxel_count == int(mask.sum())


@settings(max_examples=25, deadline=None)
@given(
    radius_mm=st.floats(3.0, 20.0),
    pixel_mm=st.floats(0.5, 1.5),
)
def test_disc_diameter_property(radius_mm: float, pixel_mm: float) -> None:
    n = int(2 * radius_mm / pixel_mm) + 9
    y, x = np.indices((n, n), dtype=float)
    centre = (n - 1) / 2 + 0.25
    disc = ((x - centre) ** 2 + (y - centre) ** 2) * pixel_mm**2 <= radius_mm**2
    longest, width = in_plane_diameters(disc, (pixel_mm, pixel_mm))
    # corners of the pixel squares: never below the true diameter minus a pixel
    assert 2 * radius_mm - pixel_mm <= longest <= 2 * radius_mm + 1.5 * pixel_mm
    assert 2 * radius_mm - pixel_mm <= width <= longest + 1e-9


def test_largest_slice_is_chosen_and_labels_are_separate() -> None:
    labels = np.zeros((5, 40, 40), dtype=np.uint16)
    labels[1, 5:15, 5:25] = 3  # 20 x 10 pixels on slice 1
    labels[2, 5:10, 5:10] = 3
    labels[3, 30:33, 30:36] = 7
    sizes = measure_lesion_sizes(Volume(labels, (3.0, 1.0, 1.0)))
    assert [s.label for s in sizes] == [3, 7]
    big = sizes[0]
    assert big.slice_index == 1
    assert big.longest_diameter_mm == pytest.approx(math.hypot(20, 10))
    assert sizes[1].voxel_count == 18


def test_intensity_statistics() -> None:
    shape = (30, 40, 40)
    spacing = (2.0, 2.0, 2.0)
    mask = ellipsoid(shape, spacing, (12.0, 12.0, 12.0))
    image = np.where(mask, 8.0, 1.0)
    image[15, 20, 20] = 20.0  # one hot voxel: raises the max, barely the 1 ml peak
    labels = Volume(mask.astype(np.uint8), spacing)
    stats = measure_lesion_intensity(Volume(image, spacing), labels, 1)
    assert stats.maximum == 20.0
    assert stats.median == 8.0
    assert stats.mean == pytest.approx(8.0 + 12.0 / mask.sum())


def test_lesions_hold_no_second_uptake_peak() -> None:
    """SUVpeak has one owner (pet.uptake): the lesion module must not compute its own."""
    import tumorboard.lesions.diameters as diameters

    assert not hasattr(diameters, "peak_kernel")
    assert "peak" not in diameters.LesionIntensity.__dataclass_fields__


def test_bad_inputs() -> None:
    with pytest.raises(EmptyResultError):
        measure_lesion_sizes(Volume(np.zeros((3, 4, 4), dtype=np.uint8), (1.0, 1.0, 1.0)))
    image = Volume(np.zeros((3, 4, 4)), (1.0, 1.0, 1.0))
    labels = Volume(np.ones((3, 4, 5), dtype=np.uint8), (1.0, 1.0, 1.0))
    with pytest.raises(GeometryError, match="label map has shape"):
        measure_lesion_intensity(image, labels, 1)
