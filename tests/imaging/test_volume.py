import numpy as np
import pytest

from tumorboard.errors import GeometryError, InputError
from tumorboard.imaging.volume import Volume


def oblique_direction() -> np.ndarray:
    angle = np.deg2rad(20)
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    return rotation


def test_index_to_lps_round_trip_on_oblique_grid(rng):
    volume = Volume(np.zeros((5, 6, 7)), (3.0, 1.5, 2.0), (10.0, -20.0, 30.0), oblique_direction())
    index = rng.uniform(0, 5, size=(20, 3))
    np.testing.assert_allclose(volume.lps_to_index(volume.index_to_lps(index)), index, atol=1e-9)


def test_index_to_lps_uses_spacing_along_each_axis():
    volume = Volume(np.zeros((4, 4, 4)), (5.0, 2.0, 1.0), (1.0, 2.0, 3.0))
    # one step in z (array axis 0) moves 5 mm along +z; one step in x moves 1 mm along +x
    np.testing.assert_allclose(volume.index_to_lps([1, 0, 0]), [1.0, 2.0, 8.0])
    np.testing.assert_allclose(volume.index_to_lps([0, 0, 1]), [2.0, 2.0, 3.0])
    assert volume.voxel_volume_ml == pytest.approx(0.01)


def test_constructor_rejects_invalid_geometry():
    with pytest.raises(InputError, match="spacing_mm must be positive"):
        Volume(np.zeros((2, 2, 2)), (0.0, 1.0, 1.0))
    with pytest.raises(InputError, match="orthonormal"):
        Volume(np.zeros((2, 2, 2)), (1.0, 1.0, 1.0), direction=np.ones((3, 3)))
    with pytest.raises(InputError, match="times_s"):
        Volume(np.zeros((3, 2, 2, 2)), (1.0, 1.0, 1.0))
    with pytest.raises(InputError, match="3-D or 4-D"):
        Volume(np.zeros((2, 2)), (1.0, 1.0, 1.0))


def test_require_same_geometry_names_what_differs():
    a = Volume(np.zeros((40, 96, 96)), (5.0, 2.0, 2.0))
    b = Volume(np.zeros((40, 96, 128)), (5.0, 2.0, 2.0))
    with pytest.raises(
        GeometryError,
        match=r"b600 image has shape \(40, 96, 128\), expected \(40, 96, 96\) like b50",
    ):
        a.require_same_geometry(b, "b600 image", "b50")
    c = Volume(np.zeros((40, 96, 96)), (5.0, 2.5, 2.0))
    with pytest.raises(GeometryError, match="spacing"):
        a.require_same_geometry(c, "mask", "b50")
    a.require_same_geometry(Volume(np.ones((40, 96, 96)), (5.0, 2.0, 2.0)), "same", "b50")


def test_slab_keeps_position_in_space():
    volume = Volume(np.arange(60.0).reshape(5, 3, 4), (2.0, 1.0, 1.0), (0.0, 0.0, -10.0))
    part = volume.slab(2, 4)
    assert part.shape == (2, 3, 4)
    np.testing.assert_allclose(part.origin_mm, [0.0, 0.0, -6.0])
    np.testing.assert_array_equal(part.array, volume.array[2:4])
    with pytest.raises(InputError):
        volume.slab(4, 9)
