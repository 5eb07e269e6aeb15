"""Lesion size and intensity from an image and a lesion label map.

Definitions (all distances in millimetres, in the grid's own physical axes):

* **Longest in-plane diameter** -- the maximum over the acquired (axial)
  slices of the maximum Feret diameter of the lesion's cross-section, where a
  cross-section is the union of its pixel squares: the largest distance
  between two vertices of the convex hull of the *corners* of the lesion's
  pixels. For a digitised shape it lies within one pixel (one pixel
  diagonal for oblique axes) of the true diameter, never below the extent of
  the pixel centres.
* **Short axis** -- on the slice of the longest diameter, the longest chord
  of the cross-section's convex hull perpendicular to the long axis (RECIST's
  short axis). The chord length of a convex polygon is concave along the
  long axis, so its maximum is found at one of the hull's vertices.
* **3-D longest diameter** -- the largest distance between two corners of
  the lesion's voxels (convex hull of boundary-voxel corners in LPS).
* **Volume** -- voxel count times voxel volume, in ml.

PET uptake (SUVmax, SUVmean, SULpeak) has one owner,
:func:`tumorboard.pet.uptake.lesion_uptake`; this module measures sizes and
plain intensity statistics (HU, ADC).

The convex hull comes from :mod:`scipy.spatial` (Qhull); only the pairwise
search over hull vertices, which are few, is written here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from tumorboard.errors import EmptyResultError, GeometryError, InputError
from tumorboard.imaging.volume import Volume


@dataclass(frozen=True, slots=True)
class LesionSize:
    """Geometry of one labelled lesion.

    Attributes
    ----------
    label : int
        Label value in the map.
    voxel_count : int
        Number of voxels.
    volume_ml : float
        Volume in millilitres.
    longest_diameter_mm : float
        Longest in-plane (axial) diameter.
    short_axis_mm : float
        Width perpendicular to the long axis on the same slice.
    longest_diameter_3d_mm : float
        Longest 3-D diameter.
    slice_index : int
        Array ``z`` index of the slice with the longest in-plane diameter.
    """

    label: int
    voxel_count: int
    volume_ml: float
    longest_diameter_mm: float
    short_axis_mm: float
    longest_diameter_3d_mm: float
    slice_index: int


@dataclass(frozen=True, slots=True)
class LesionIntensity:
    """Voxel-value statistics of one lesion (in the image's unit)."""

    mean: float
    sd: float
    median: float
    maximum: float


def _farthest_pair(points: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
    """Largest pairwise distance among ``points`` (n, d) and the unit vector along it."""
    if len(points) > 3:
        try:
            points = points[ConvexHull(points).vertices]
        except QhullError:  # flat or degenerate set: search all points
            points = np.unique(points, axis=0)
    differences = points[:, None, :] - points[None, :, :]
    squared = np.einsum("ijk,ijk->ij", differences, differences)
    i, j = np.unravel_index(int(np.argmax(squared)), squared.shape)
    length = float(math.sqrt(squared[i, j]))
    direction = differences[i, j] / length if length > 0 else np.zeros(points.shape[1])
    return length, direction


def _pixel_corners(
    rows: NDArray[np.intp], cols: NDArray[np.intp], dy: float, dx: float
) -> NDArray[np.float64]:
    offsets = np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]])
    centres = np.stack([rows, cols], axis=1).astype(float)
    corners = (centres[:, None, :] + offsets[None, :, :]).reshape(-1, 2)
    return np.unique(corners * np.array([dy, dx]), axis=0)


def in_plane_diameters(
    mask: NDArray[np.bool_], spacing_yx_mm: tuple[float, float]
) -> tuple[float, float]:
    """Longest Feret diameter and perpendicular width of a 2-D mask.

    Parameters
    ----------
    mask : ndarray of bool, shape (ny, nx)
        One slice of the lesion.
    spacing_yx_mm : tuple of float
        Pixel spacing ``(dy, dx)``.

    Returns
    -------
    (float, float)
        ``(longest_mm, perpendicular_width_mm)``; ``(0, 0)`` for an empty mask.
    """
    eroded = ndimage.binary_erosion(mask)
    rows, cols = np.nonzero(mask & ~eroded)
    if rows.size == 0:
        return 0.0, 0.0
    corners = _pixel_corners(rows, cols, *spacing_yx_mm)
    longest, direction = _farthest_pair(corners)
    return longest, _perpendicular_chord(corners, direction)


def _perpendicular_chord(points: NDArray[np.float64], direction: NDArray[np.float64]) -> float:
    """Longest chord of the convex hull of ``points`` perpendicular to ``direction``."""
    normal = np.array([-direction[1], direction[0]])
    try:
        hull = points[ConvexHull(points).vertices]  # counter-clockwise polygon
    except QhullError:
        projection = points @ normal
        return float(projection.max() - projection.min())
    u = hull @ direction
    v = hull @ normal
    u_next = np.roll(u, -1)
    v_next = np.roll(v, -1)
    best = 0.0
    for position in u:
        low = np.minimum(u, u_next)
        high = np.maximum(u, u_next)
        crossing = (low <= position) & (position <= high) & (high > low)
        t = (position - u[crossing]) / (u_next[crossing] - u[crossing])
        heights = v[crossing] + t * (v_next[crossing] - v[crossing])
        if heights.size:
            best = max(best, float(heights.max() - heights.min()))
    return best


def measure_lesion_sizes(labels: Volume) -> list[LesionSize]:
    """Measure every non-zero label of a label map.

    Parameters
    ----------
    labels : Volume
        Integer label map, 3-D.

    Returns
    -------
    list of LesionSize
        Sorted by label.

    Raises
    ------
    InputError
        If the map is not 3-D or not integer-valued.
    EmptyResultError
        If no voxel is labelled.
    """
    array = np.asarray(labels.array)
    if array.ndim != 3:
        raise InputError(f"label map must be 3-D, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise InputError("label map must hold integer labels")
        array = array.astype(np.int64)
    values = np.unique(array)
    values = values[values != 0]
    if values.size == 0:
        raise EmptyResultError("label map has no labelled voxel")
    if values.min() < 0:
        raise InputError(f"label map holds negative label {int(values.min())}")
    dz, dy, dx = labels.spacing_mm
    objects = ndimage.find_objects(array.astype(np.int64, copy=False))
    results = []
    for value in values:
        box = objects[int(value) - 1]
        assert box is not None
        mask = array[box] == value
        best = (-1.0, 0.0, 0)
        for z in range(mask.shape[0]):
            if not mask[z].any():
                continue
            longest, width = in_plane_diameters(mask[z], (dy, dx))
            if longest > best[0]:
                best = (longest, width, z + box[0].start)
        results.append(
            LesionSize(
                label=int(value),
                voxel_count=int(mask.sum()),
                volume_ml=float(mask.sum()) * labels.voxel_volume_ml,
                longest_diameter_mm=best[0],
                short_axis_mm=best[1],
                longest_diameter_3d_mm=_longest_3d(labels, mask, box),
                slice_index=best[2],
            )
        )
    return results


def _longest_3d(labels: Volume, mask: NDArray[np.bool_], box: tuple[slice, ...]) -> float:
    boundary = mask & ~ndimage.binary_erosion(mask)
    index = np.argwhere(boundary).astype(float) + np.array([s.start for s in box])
    offsets = np.array([[a, b, c] for a in (-0.5, 0.5) for b in (-0.5, 0.5) for c in (-0.5, 0.5)])
    corners = (index[:, None, :] + offsets[None, :, :]).reshape(-1, 3)
    points = labels.index_to_lps(np.unique(corners, axis=0))
    return _farthest_pair(points)[0]


def measure_lesion_intensity(image: Volume, labels: Volume, label: int) -> LesionIntensity:
    """Mean, SD, median and maximum of ``image`` inside ``label``.

    Raises
    ------
    GeometryError
        If the label map is not on the image's grid.
    EmptyResultError
        If the label is absent.
    """
    if not image.same_geometry(labels):
        image.require_same_geometry(labels, "label map", "the image")
    if image.array.ndim != 3:
        raise GeometryError(f"image must be 3-D for lesion measurement, got {image.shape}")
    mask = np.asarray(labels.array) == label
    values = np.asarray(image.array, dtype=float)[mask]
    if values.size == 0:
        raise EmptyResultError(f"label {label} has no voxel")
    return LesionIntensity(
        mean=float(values.mean()),
        sd=float(values.std(ddof=1)) if values.size > 1 else 0.0,
        median=float(np.median(values)),
        maximum=float(values.max()),
    )
