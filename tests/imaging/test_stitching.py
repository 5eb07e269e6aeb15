from __future__ import annotations

import numpy as np
import pytest
from dicom_helpers import oblique_direction

from tumorboard.errors import GeometryError, InputError
from tumorboard.imaging.stitching import stitch_stations
from tumorboard.imaging.volume import Volume

DZ = 5.0


def _field(z_mm: np.ndarray, shape_yx=(3, 4)) -> np.ndarray:
    """A linear ramp along the normal (so linear interpolation is exact) plus in-plane structure."""
    ny, nx = shape_yx
    return (
        2.0 * z_mm[:, None, None]
        + np.arange(ny)[None, :, None] * 10.0
        + np.arange(nx)[None, None, :]
    ).astype(np.float32)


def _station(start_mm: float, n: int, direction=None, offset=0.0, dz=DZ, shape_yx=(3, 4)):
    direction = np.eye(3) if direction is None else direction
    along = start_mm + np.arange(n) * dz
    base = np.array([-10.0, 20.0, 0.0])
    origin = base - np.dot(base, direction[:, 2]) * direction[:, 2] + start_mm * direction[:, 2]
    return Volume(_field(along, shape_yx) + offset, (dz, 2.0, 2.0), tuple(origin), direction)


def _positions(volume: Volume) -> np.ndarray:
    normal = volume.direction[:, 2]
    return np.dot(volume.origin_mm, normal) + np.arange(volume.shape[0]) * volume.spacing_mm[0]


def test_single_station_is_returned_unchanged():
    station = _station(0.0, 5)
    assert stitch_stations([station], what="b50") is station


@pytest.mark.parametrize("direction", [np.eye(3), oblique_direction(25.0)])
def test_overlap_on_grid_is_exact_and_cut_at_the_middle(direction):
    # stations of 10 slices overlapping by 4; the lower station carries +1000 so we can see
    # which station each output slice came from.
    low = _station(0.0, 10, direction, offset=1000.0)
    high = _station(30.0, 10, direction)
    stitched = stitch_stations([high, low], what="b600")  # any order
    assert stitched.shape == (16, 3, 4)
    positions = _positions(stitched)
    np.testing.assert_allclose(positions, np.arange(16) * DZ, atol=1e-9)
    truth = _field(positions)
    from_low = stitched.array[:, 0, 0] >= 1000.0
    # overlap 30..45 mm; centres at 22.5 and 52.5 mm: the cut is at 37.5 mm
    np.testing.assert_array_equal(from_low, positions < 37.5)
    np.testing.assert_allclose(stitched.array - 1000.0 * from_low[:, None, None], truth, atol=1e-4)
    np.testing.assert_allclose(stitched.origin_mm, low.origin_mm)
    np.testing.assert_allclose(stitched.direction, direction)


def test_off_grid_station_is_interpolated_linearly_and_exactly():
    low = _station(0.0, 10)
    high = _station(33.0, 10)  # 3 mm off the lower station's grid
    stitched = stitch_stations([low, high], what="b900")
    positions = _positions(stitched)
    assert positions[-1] <= 78.0 + 1e-9 and positions[-1] > 78.0 - DZ
    np.testing.assert_allclose(stitched.array, _field(positions), rtol=1e-6, atol=1e-4)


def test_touching_off_grid_stations_fill_the_seam_between_their_edge_slices():
    low = _station(0.0, 6)  # last slice at 25 mm
    high = _station(27.5, 6)  # first slice at 27.5 mm, off grid, gap < one spacing
    stitched = stitch_stations([low, high], what="b50")
    positions = _positions(stitched)
    np.testing.assert_allclose(stitched.array, _field(positions), rtol=1e-6, atol=1e-4)


def test_three_stations():
    stations = [_station(s, 12) for s in (0.0, 50.0, 100.0)]
    stitched = stitch_stations(stations, what="b50")
    assert stitched.shape[0] == 32
    np.testing.assert_array_equal(stitched.array, _field(_positions(stitched)))


def test_gap_between_stations():
    with pytest.raises(GeometryError, match=r"gap of 5\.00 mm between stations"):
        stitch_stations([_station(0.0, 5), _station(30.0, 5)], what="b50")


def test_in_plane_shift():
    shifted = _station(40.0, 5)
    moved = Volume(shifted.array, shifted.spacing_mm, tuple(np.add(shifted.origin_mm, (1.0, 0, 0))))
    with pytest.raises(GeometryError, match="shifted in-plane by"):
        stitch_stations([_station(0.0, 10), moved], what="b50")


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (dict(direction=oblique_direction(5.0)), "different orientation"),
        (dict(shape_yx=(3, 5)), "in-plane matrix"),
        (dict(dz=6.0), "slice spacing"),
    ],
)
def test_incompatible_stations(other, message):
    with pytest.raises(GeometryError, match=message):
        stitch_stations([_station(0.0, 10), _station(40.0, 5, **other)], what="b50")


def test_in_plane_spacing_mismatch():
    station = _station(40.0, 5)
    odd = Volume(station.array, (DZ, 2.0, 2.5), station.origin_mm)
    with pytest.raises(GeometryError, match="in-plane spacing"):
        stitch_stations([_station(0.0, 10), odd], what="b50")


def test_bad_input():
    with pytest.raises(InputError, match="no station"):
        stitch_stations([], what="b50")
    four_d = Volume(np.zeros((2, 3, 3, 4)), (DZ, 2.0, 2.0), times_s=np.arange(2.0))
    with pytest.raises(InputError, match="not 3-D"):
        stitch_stations([_station(0.0, 3), four_d], what="b50")
