"""Connected components of a mask and their measurement table.

Components are labelled with full (26-) connectivity by
:func:`scipy.ndimage.label`, in raster order, so the same mask always gives
the same ids: a reader can curate a result by id and run it again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from tumorboard.imaging.volume import Volume

FULL_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)


@dataclass(frozen=True)
class Component:
    """One connected component of a segmentation.

    Attributes
    ----------
    component_id : int
        1-based id in raster order of the labelled mask.
    voxel_count : int
        Number of voxels.
    volume_ml : float
        Volume in millilitres.
    centroid_lps_mm : tuple of float
        Centroid ``(x, y, z)`` in LPS millimetres.
    mean_adc_um2_per_s : float
        Mean ADC of its voxels.
    kept : bool
        Whether it counts as tumour after curation.
    reason : str
        Why it was removed (``""`` when kept): ``"min-volume"`` or ``"curated"``.
    """

    component_id: int
    voxel_count: int
    volume_ml: float
    centroid_lps_mm: tuple[float, float, float]
    mean_adc_um2_per_s: float
    kept: bool = True
    reason: str = ""

    def as_row(self) -> dict[str, object]:
        """Flat dictionary for CSV/JSON output."""
        x, y, z = self.centroid_lps_mm
        return {
            "component_id": self.component_id,
            "voxels": self.voxel_count,
            "volume_ml": round(self.volume_ml, 4),
            "centroid_x_mm": round(x, 2),
            "centroid_y_mm": round(y, 2),
            "centroid_z_mm": round(z, 2),
            "mean_adc_um2_per_s": round(self.mean_adc_um2_per_s, 2),
            "kept": self.kept,
            "reason": self.reason,
        }


def label_components(mask: NDArray[np.bool_]) -> tuple[NDArray[np.int32], int]:
    """Label the 26-connected components of ``mask``.

    Parameters
    ----------
    mask : ndarray of bool, shape (nz, ny, nx)
        Voxels to group.

    Returns
    -------
    labels : ndarray of int32, same shape
        Component ids 1..count in raster order (0 = background).
    count : int
        Number of components.
    """
    labels, count = ndimage.label(mask, structure=FULL_CONNECTIVITY)
    return labels.astype(np.int32, copy=False), int(count)


def measure_components(
    labels: NDArray[np.int32], count: int, grid: Volume, adc_um2_per_s: NDArray[np.floating]
) -> list[Component]:
    """Measure every labelled component.

    Parameters
    ----------
    labels : ndarray of int32, shape (nz, ny, nx)
        Component labels 1..count (0 = background).
    count : int
        Number of components.
    grid : Volume
        Any volume on the same grid (for spacing and LPS placement).
    adc_um2_per_s : ndarray, same shape
        ADC map used for the mean ADC column.

    Returns
    -------
    list of Component
        One per label, in id order, all marked kept.
    """
    if count == 0:
        return []
    flat = labels.ravel()
    inside = flat > 0
    ids = flat[inside]
    voxel_counts = np.bincount(ids, minlength=count + 1)[1:]
    zyx = np.unravel_index(np.flatnonzero(inside), labels.shape)
    sums = [np.bincount(ids, weights=axis, minlength=count + 1)[1:] for axis in zyx]
    centroid_index = np.stack(sums, axis=1) / voxel_counts[:, None]
    centroids = grid.index_to_lps(centroid_index)
    adc_sum = np.bincount(
        ids, weights=adc_um2_per_s.ravel()[inside].astype(np.float64), minlength=count + 1
    )[1:]
    voxel_ml = grid.voxel_volume_ml
    return [
        Component(
            component_id=i + 1,
            voxel_count=int(voxel_counts[i]),
            volume_ml=float(voxel_counts[i] * voxel_ml),
            centroid_lps_mm=(
                float(centroids[i, 0]),
                float(centroids[i, 1]),
                float(centroids[i, 2]),
            ),
            mean_adc_um2_per_s=float(adc_sum[i] / voxel_counts[i]),
        )
        for i in range(count)
    ]


@dataclass(frozen=True)
class LargestComponent:
    """The largest connected component of a mask.

    Attributes
    ----------
    voxels : int
        Its number of voxels.
    volume_ml : float
        Its volume in millilitres.
    centroid_lps_mm : tuple of float
        Its centroid ``(x, y, z)`` in LPS millimetres.
    fraction_of_mask : float
        Its share of all the mask's voxels (0..1).
    """

    voxels: int
    volume_ml: float
    centroid_lps_mm: tuple[float, float, float]
    fraction_of_mask: float


def largest_component(mask: NDArray[np.bool_], grid: Volume) -> LargestComponent | None:
    """The largest 26-connected component of ``mask``, or ``None`` when it is empty.

    Parameters
    ----------
    mask : ndarray of bool, shape (nz, ny, nx)
        E.g. the red (non-responding) voxels of a class map.
    grid : Volume
        Any volume on the same grid (for voxel volume and LPS placement).
    """
    total = int(np.count_nonzero(mask))
    if total == 0:
        return None
    labels, count = label_components(mask)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    biggest = int(np.argmax(sizes))
    x, y, z = grid.index_to_lps(np.argwhere(labels == biggest).mean(axis=0))
    return LargestComponent(
        voxels=int(sizes[biggest]),
        volume_ml=float(sizes[biggest] * grid.voxel_volume_ml),
        centroid_lps_mm=(float(x), float(y), float(z)),
        fraction_of_mask=float(sizes[biggest] / total),
    )
