"""Lesion uptake: SUVmax, SUVmean and the PERCIST peak (SULpeak) per label.

The peak is the highest mean of a sphere of 1.2 cm diameter (about 1 cm^3)
whose centre is placed on any voxel centre of the lesion; the sphere itself may
extend beyond the lesion, as PERCIST intends. Each voxel enters the mean with
the fraction of its volume inside the sphere (partial-voxel weights, found by
sub-sampling every voxel ``PEAK_SUBSAMPLES``^3 times). Near the image border
the weights of voxels outside the image are dropped and the mean renormalised.

Speed: a whole-body PET of 200 x 200 x 500 voxels with 50 lesions must give all
peaks in under a second. ``scipy.ndimage.correlate`` over the whole image does
~100 multiply-adds for each of 20 million voxels, most of them outside any
lesion; so one hand-written (numba) pass visits only labelled voxels and
gathers max, sum, count and the best sphere mean of every label at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numpy.typing import NDArray

from tumorboard.errors import EmptyResultError, GeometryError, InputError
from tumorboard.imaging.volume import Volume

#: Diameter of the PERCIST peak sphere (1.2 cm, about 1 cm^3).
PEAK_SPHERE_DIAMETER_MM = 12.0
#: Sub-samples per voxel axis when computing partial-voxel weights.
PEAK_SUBSAMPLES = 20


@dataclass(frozen=True)
class SphereKernel:
    """Voxel offsets and partial-volume weights of a sphere centred on a voxel.

    Attributes
    ----------
    offsets : ndarray of int64, shape (n, 3)
        ``(dz, dy, dx)`` offsets of voxels overlapping the sphere.
    weights : ndarray of float64, shape (n,)
        Fraction of each voxel's volume inside the sphere, in (0, 1].
    diameter_mm : float
        Sphere diameter.
    """

    offsets: NDArray[np.int64]
    weights: NDArray[np.float64]
    diameter_mm: float

    def __post_init__(self) -> None:
        offsets = np.ascontiguousarray(self.offsets, dtype=np.int64).reshape(-1, 3)
        weights = np.ascontiguousarray(self.weights, dtype=np.float64).reshape(-1)
        if offsets.shape[0] != weights.shape[0] or weights.size == 0:
            raise InputError("sphere kernel needs one weight per offset and at least one voxel")
        if np.any(weights <= 0) or np.any(weights > 1 + 1e-12):
            raise InputError("sphere kernel weights must lie in (0, 1]")
        object.__setattr__(self, "offsets", offsets)
        object.__setattr__(self, "weights", weights)


def sphere_kernel(
    spacing_mm: tuple[float, float, float],
    diameter_mm: float = PEAK_SPHERE_DIAMETER_MM,
    subsamples: int = PEAK_SUBSAMPLES,
) -> SphereKernel:
    """Partial-voxel weights of a sphere centred on a voxel centre.

    Parameters
    ----------
    spacing_mm : tuple of float
        Voxel spacing ``(z, y, x)``.
    diameter_mm : float
        Sphere diameter.
    subsamples : int
        Sub-samples per voxel axis (``subsamples**3`` points per voxel).

    Returns
    -------
    SphereKernel
    """
    if diameter_mm <= 0 or subsamples < 1:
        raise InputError(
            f"sphere diameter must be > 0 and subsamples >= 1, got {diameter_mm}, {subsamples}"
        )
    radius = diameter_mm / 2.0
    spacing = np.asarray(spacing_mm, dtype=float)
    reach = np.ceil(radius / spacing + 0.5).astype(int)
    axes = [np.arange(-r, r + 1) for r in reach]
    index = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    centre_mm = index * spacing
    # Nearest and farthest point of each voxel box from the sphere centre.
    near = np.maximum(np.abs(centre_mm) - spacing / 2, 0.0)
    far = np.abs(centre_mm) + spacing / 2
    inside = np.sum(far**2, axis=1) <= radius**2
    boundary = ~inside & (np.sum(near**2, axis=1) < radius**2)
    fraction = inside.astype(float)
    # Sub-sample only the voxels the sphere surface crosses.
    steps = (np.arange(subsamples) + 0.5) / subsamples - 0.5
    sub = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), axis=-1).reshape(-1, 3)
    points = centre_mm[boundary][:, None, :] + sub[None, :, :] * spacing
    fraction[boundary] = np.mean(np.sum(points**2, axis=-1) <= radius**2, axis=1)
    keep = fraction > 0
    offsets = index[keep]
    return SphereKernel(offsets, fraction[keep], float(diameter_mm))


@numba.njit(cache=True, nogil=True)
def _scan_labels(
    image: NDArray[np.float32],
    labels: NDArray[np.int32],
    n_labels: int,
    offsets: NDArray[np.int64],
    weights: NDArray[np.float64],
) -> tuple[
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.int64],
    NDArray[np.float64],
    NDArray[np.int64],
]:  # pragma: no cover - compiled
    nz, ny, nx = image.shape
    maxima = np.full(n_labels + 1, -np.inf)
    sums = np.zeros(n_labels + 1)
    counts = np.zeros(n_labels + 1, dtype=np.int64)
    peaks = np.full(n_labels + 1, -np.inf)
    peak_at = np.full((n_labels + 1, 3), -1, dtype=np.int64)
    n_kernel = weights.shape[0]
    for z in range(nz):
        for y in range(ny):
            for x in range(nx):
                label = labels[z, y, x]
                if label <= 0 or label > n_labels:
                    continue
                value = image[z, y, x]
                counts[label] += 1
                sums[label] += value
                if value > maxima[label]:
                    maxima[label] = value
                total = 0.0
                weight = 0.0
                for k in range(n_kernel):
                    zz = z + offsets[k, 0]
                    yy = y + offsets[k, 1]
                    xx = x + offsets[k, 2]
                    if 0 <= zz < nz and 0 <= yy < ny and 0 <= xx < nx:
                        total += weights[k] * image[zz, yy, xx]
                        weight += weights[k]
                mean = total / weight
                if mean > peaks[label]:
                    peaks[label] = mean
                    peak_at[label, 0] = z
                    peak_at[label, 1] = y
                    peak_at[label, 2] = x
    return maxima, sums, counts, peaks, peak_at


@dataclass(frozen=True)
class LesionUptake:
    """Uptake statistics of one labelled lesion (in the units of the image given).

    Attributes
    ----------
    label : int
        Lesion label value.
    n_voxels : int
        Number of voxels carrying the label.
    volume_ml : float
        Lesion volume.
    max : float
        Highest voxel value (e.g. SUVmax).
    mean : float
        Mean voxel value over the lesion.
    peak : float
        Highest partial-volume-weighted sphere mean (e.g. SUVpeak).
    peak_index_zyx : tuple of int
        Voxel on which the peak sphere is centred.
    peak_center_lps : tuple of float
        LPS position of that voxel centre, in mm.
    """

    label: int
    n_voxels: int
    volume_ml: float
    max: float
    mean: float
    peak: float
    peak_index_zyx: tuple[int, int, int]
    peak_center_lps: tuple[float, float, float]

    def __post_init__(self) -> None:
        if self.label <= 0 or self.n_voxels <= 0:
            raise InputError(f"lesion label and voxel count must be positive, got {self}")


def _label_array(labels: Volume, image: Volume) -> NDArray[np.int32]:
    image.require_same_geometry(labels, "lesion label image", "PET image")
    array = np.asarray(labels.array)
    if array.ndim != 3:
        raise GeometryError(f"lesion labels must be 3-D, got shape {array.shape}")
    if array.dtype == bool:
        return np.ascontiguousarray(array, dtype=np.int32)
    if not np.issubdtype(array.dtype, np.integer):
        rounded = np.rint(array)
        if not np.array_equal(rounded, array):
            raise InputError("lesion labels must be integer label values")
        array = rounded
    if array.size and array.min() < 0:
        raise InputError(f"lesion labels must be >= 0, found {int(array.min())}")
    return np.ascontiguousarray(array, dtype=np.int32)


def lesion_uptake(
    image: Volume,
    labels: Volume,
    *,
    diameter_mm: float = PEAK_SPHERE_DIAMETER_MM,
    subsamples: int = PEAK_SUBSAMPLES,
) -> list[LesionUptake]:
    """Max, mean and sphere peak of every label of ``labels`` in ``image``.

    Parameters
    ----------
    image : Volume
        3-D uptake image (SUVbw, SUL, Bq/ml).
    labels : Volume
        Integer label image (0 = background) or boolean mask on the same grid.
    diameter_mm : float
        Peak sphere diameter (1.2 cm for PERCIST SULpeak).
    subsamples : int
        Sub-samples per voxel axis for partial-voxel weights.

    Returns
    -------
    list of LesionUptake
        One record per label present, in increasing label order.

    Raises
    ------
    GeometryError
        If the label image is not on the PET grid.
    EmptyResultError
        If no voxel carries a label.
    """
    if image.array.ndim != 3:
        raise InputError(f"uptake image must be 3-D, got shape {image.shape}")
    label_array = _label_array(labels, image)
    n_labels = int(label_array.max()) if label_array.size else 0
    if n_labels == 0:
        raise EmptyResultError("lesion label image holds no lesion (all voxels are 0)")
    kernel = sphere_kernel(image.spacing_mm, diameter_mm, subsamples)
    values = np.ascontiguousarray(image.array, dtype=np.float32)
    maxima, sums, counts, peaks, peak_at = _scan_labels(
        values, label_array, n_labels, kernel.offsets, kernel.weights
    )
    results = []
    voxel_ml = image.voxel_volume_ml
    for label in range(1, n_labels + 1):
        if counts[label] == 0:
            continue
        index = (int(peak_at[label, 0]), int(peak_at[label, 1]), int(peak_at[label, 2]))
        centre = image.index_to_lps(np.asarray(index, dtype=float))
        results.append(
            LesionUptake(
                label=label,
                n_voxels=int(counts[label]),
                volume_ml=float(counts[label] * voxel_ml),
                max=float(maxima[label]),
                mean=float(sums[label] / counts[label]),
                peak=float(peaks[label]),
                peak_index_zyx=index,
                peak_center_lps=(float(centre[0]), float(centre[1]), float(centre[2])),
            )
        )
    return results


__all__ = [
    "PEAK_SPHERE_DIAMETER_MM",
    "PEAK_SUBSAMPLES",
    "LesionUptake",
    "SphereKernel",
    "lesion_uptake",
    "sphere_kernel",
]
