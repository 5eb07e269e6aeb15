"""Stitch the stations of a multi-station (whole-body) acquisition into one volume.

A whole-body MRI exam is acquired as several stations (head/neck, chest,
abdomen, pelvis, ...), each its own series, that overlap a little along the
body axis. :func:`stitch_stations` puts them on one uniform grid along the
slice normal. Where stations overlap, each output slice is taken from the
station whose centre is nearest, which cuts the overlap in its middle and
avoids the stations' edge slices, where coil sensitivity and distortion are
worst. A station whose slices are off the output grid is linearly
interpolated between its two neighbouring slices; an output slice that falls
in a gap of at most one slice spacing between two stations is interpolated
between their facing edge slices. Larger gaps are an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tumorboard.errors import GeometryError, InputError
from tumorboard.imaging.volume import Volume

#: Largest difference in direction cosines between stations.
DIRECTION_TOLERANCE = 1e-3
#: Largest in-plane shift (mm) between stations' grids, and absolute spacing tolerance.
IN_PLANE_TOLERANCE_MM = 0.01
#: Relative tolerance between the stations' slice spacings and pixel spacings.
SPACING_RELATIVE_TOLERANCE = 0.01
#: Interpolation weights this close to 0 or 1 are snapped (exact on-grid copies).
_WEIGHT_SNAP = 1e-6


def stitch_stations(stations: Sequence[Volume], *, what: str) -> Volume:
    """Combine overlapping stations of one acquisition into one volume.

    Parameters
    ----------
    stations : sequence of Volume
        3-D volumes in any order, sharing direction, in-plane spacing, matrix
        and in-plane position, with (nearly) equal slice spacing.
    what : str
        How the image is named in messages (e.g. ``"DICOM folder X b600"``).

    Returns
    -------
    Volume
        A single station is returned unchanged. Otherwise the grid runs from the
        lowest to the highest slice position along the normal with the stations'
        (median) slice spacing; values are float32 when the stations are.

    Raises
    ------
    GeometryError
        If the stations differ in orientation, in-plane grid or slice spacing,
        or leave a gap of more than one slice spacing.
    InputError
        If no station is given or a station is 4-D.
    """
    if not stations:
        raise InputError(f"{what}: no station to stitch")
    for index, station in enumerate(stations):
        if station.array.ndim != 3:
            raise InputError(f"{what}: station {index + 1} is not 3-D (shape {station.shape})")
    if len(stations) == 1:
        return stations[0]
    reference = stations[0]
    normal = reference.direction[:, 2]
    starts = np.array([float(np.dot(s.origin_mm, normal)) for s in stations])
    order = np.argsort(starts, kind="stable")
    ordered = [stations[i] for i in order]
    starts = starts[order]
    _check_compatible(ordered, what)
    spacings = np.array([s.spacing_mm[0] for s in ordered])
    dz = float(np.median(spacings))
    counts = np.array([s.spatial_shape[0] for s in ordered])
    ends = starts + (counts - 1) * spacings
    centres = (starts + ends) / 2
    tolerance = max(1e-3 * dz, 1e-6)

    reach = ends[0]
    for index in range(1, len(ordered)):
        gap = starts[index] - reach
        if gap > dz + tolerance:
            raise GeometryError(
                f"{what}: gap of {gap - dz:.2f} mm between stations (a station ends at "
                f"{reach:.2f} mm and the next starts at {starts[index]:.2f} mm along the normal, "
                f"slice spacing {dz:.2f} mm)"
            )
        reach = max(reach, ends[index])

    n_out = int(np.floor((reach - starts[0]) / dz + SPACING_RELATIVE_TOLERANCE)) + 1
    positions = starts[0] + np.arange(n_out) * dz
    covered = (positions[None, :] >= starts[:, None] - tolerance) & (
        positions[None, :] <= ends[:, None] + tolerance
    )
    distance = np.where(covered, np.abs(positions[None, :] - centres[:, None]), np.inf)
    choice = np.argmin(distance, axis=0)
    any_cover = covered.any(axis=0)

    dtype = np.result_type(*[s.array.dtype for s in ordered], np.float32)
    ny, nx = reference.spatial_shape[1:]
    out = np.empty((n_out, ny, nx), dtype=dtype)
    for index, station in enumerate(ordered):
        targets = np.flatnonzero(any_cover & (choice == index))
        if targets.size:
            fractional = (positions[targets] - starts[index]) / spacings[index]
            out[targets] = _interpolate(station.array, fractional)
    for target in np.flatnonzero(~any_cover):
        below = int(np.flatnonzero(ends < positions[target]).max(initial=-1))
        above_candidates = np.flatnonzero(starts > positions[target])
        if below < 0 or not above_candidates.size:
            raise GeometryError(f"{what}: output slice {target} is outside every station")
        above = int(above_candidates.min())
        weight = (positions[target] - ends[below]) / (starts[above] - ends[below])
        out[target] = (1 - weight) * ordered[below].array[-1] + weight * ordered[above].array[0]
    return Volume(
        array=out,
        spacing_mm=(dz, reference.spacing_mm[1], reference.spacing_mm[2]),
        origin_mm=ordered[0].origin_mm,
        direction=reference.direction,
        unit=reference.unit,
    )


def _interpolate(array: NDArray[Any], fractional: NDArray[np.float64]) -> NDArray[Any]:
    """Linear interpolation of ``array`` at fractional slice indices (vectorised)."""
    n = array.shape[0]
    if n == 1:
        return np.repeat(array[:1], fractional.size, axis=0)
    fractional = np.clip(fractional, 0.0, n - 1.0)
    lower = np.minimum(np.floor(fractional).astype(np.intp), n - 2)
    weight = fractional - lower
    weight[weight < _WEIGHT_SNAP] = 0.0
    weight[weight > 1 - _WEIGHT_SNAP] = 1.0
    exact_low = weight == 0.0
    exact_high = weight == 1.0
    result = np.empty((fractional.size,) + array.shape[1:], dtype=np.result_type(array, np.float32))
    blend = ~(exact_low | exact_high)
    result[exact_low] = array[lower[exact_low]]
    result[exact_high] = array[lower[exact_high] + 1]
    if blend.any():
        w = weight[blend][:, None, None].astype(result.dtype)
        result[blend] = (1 - w) * array[lower[blend]] + w * array[lower[blend] + 1]
    return result


def _check_compatible(stations: Sequence[Volume], what: str) -> None:
    reference = stations[0]
    ref_direction = reference.direction
    ny, nx = reference.spatial_shape[1:]
    ref_dz = reference.spacing_mm[0]
    for index, station in enumerate(stations[1:], start=2):
        name = f"{what}: station {index} (by position)"
        if not np.allclose(station.direction, ref_direction, atol=DIRECTION_TOLERANCE):
            raise GeometryError(f"{name} has a different orientation than station 1")
        if station.spatial_shape[1:] != (ny, nx):
            raise GeometryError(
                f"{name} has an in-plane matrix of {station.spatial_shape[1:]}, expected "
                f"{(ny, nx)} like station 1"
            )
        if not np.allclose(
            station.spacing_mm[1:], reference.spacing_mm[1:], rtol=SPACING_RELATIVE_TOLERANCE / 10
        ):
            raise GeometryError(
                f"{name} has in-plane spacing {station.spacing_mm[1:]} mm, expected "
                f"{reference.spacing_mm[1:]} mm like station 1"
            )
        dz = station.spacing_mm[0]
        if abs(dz - ref_dz) > max(IN_PLANE_TOLERANCE_MM, SPACING_RELATIVE_TOLERANCE * ref_dz):
            raise GeometryError(
                f"{name} has slice spacing {dz:g} mm, expected {ref_dz:g} mm like station 1"
            )
        offset = np.asarray(station.origin_mm) - np.asarray(reference.origin_mm)
        shift = offset @ ref_direction[:, :2]
        if np.max(np.abs(shift)) > IN_PLANE_TOLERANCE_MM:
            raise GeometryError(
                f"{name} is shifted in-plane by ({shift[0]:.3f}, {shift[1]:.3f}) mm from "
                "station 1; stations must share the in-plane grid"
            )
