"""Normal-tissue references for PERCIST and Krenning: liver, blood pool, spleen.

* Liver (PERCIST): a 3 cm diameter sphere in the right lobe. From a liver mask
  the sphere is centred at the point of the right half of the liver (patient
  right = smaller LPS x) farthest from the liver surface, so it stays inside
  the organ; or at a centre given by the reader.
* Blood pool (PERCIST alternative): a 1 cm diameter, 2 cm long cylinder along
  the body axis, centred in the descending thoracic aorta (centre given).
* Organ mean (spleen, Krenning): the mean over an organ mask.

A reference returns mean, SD (ddof=1) and max of the voxels whose centres lie
inside the region, in the units of the image (SUL for PERCIST).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from tumorboard.errors import EmptyResultError, InputError
from tumorboard.imaging.volume import Volume

LIVER_SPHERE_DIAMETER_MM = 30.0
BLOOD_POOL_DIAMETER_MM = 10.0
BLOOD_POOL_LENGTH_MM = 20.0
#: PERCIST measurability: liver 1.5 x mean + 2 SD; blood pool 2.0 x mean + 2 SD.
LIVER_MEAN_FACTOR = 1.5
BLOOD_POOL_MEAN_FACTOR = 2.0
SD_FACTOR = 2.0


class ReferenceKind(Enum):
    """Normal tissue used as reference."""

    LIVER = "liver"
    BLOOD_POOL = "blood_pool"
    SPLEEN = "spleen"
    ORGAN = "organ"


@dataclass(frozen=True)
class ReferenceRegion:
    """Statistics of a normal-tissue reference region.

    Attributes
    ----------
    kind : ReferenceKind
        Which tissue.
    mean, sd, max : float
        Statistics of the voxels inside the region (image units).
    n_voxels : int
        Number of voxels inside.
    center_lps : tuple of float
        Region centre in LPS mm.
    """

    kind: ReferenceKind
    mean: float
    sd: float
    max: float
    n_voxels: int
    center_lps: tuple[float, float, float]

    def __post_init__(self) -> None:
        if self.n_voxels < 1 or not np.isfinite(self.mean) or self.sd < 0:
            raise InputError(f"invalid reference region: {self}")

    @property
    def percist_threshold(self) -> float:
        """PERCIST minimum measurable SULpeak for a lesion (liver or blood pool rule)."""
        factor = (
            BLOOD_POOL_MEAN_FACTOR if self.kind is ReferenceKind.BLOOD_POOL else (LIVER_MEAN_FACTOR)
        )
        return factor * self.mean + SD_FACTOR * self.sd


def _stats(
    image: Volume, inside: NDArray[np.bool_], kind: ReferenceKind, centre: NDArray[np.float64]
) -> ReferenceRegion:
    values = np.asarray(image.array, dtype=np.float64)[inside]
    if values.size == 0:
        raise EmptyResultError(f"{kind.value} reference region holds no voxel")
    sd = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return ReferenceRegion(
        kind,
        float(values.mean()),
        sd,
        float(values.max()),
        int(values.size),
        (float(centre[0]), float(centre[1]), float(centre[2])),
    )


def _check_inside(image: Volume, centre_lps: Sequence[float], what: str) -> NDArray[np.float64]:
    centre = np.asarray(centre_lps, dtype=float).reshape(-1)
    if centre.shape != (3,) or not np.all(np.isfinite(centre)):
        raise InputError(f"{what}: expected three finite LPS coordinates X,Y,Z, got {centre_lps}")
    index = image.lps_to_index(centre)
    shape = np.asarray(image.spatial_shape)
    if np.any(index < -0.5) or np.any(index > shape - 0.5):
        extent_lo = image.index_to_lps(np.zeros(3))
        extent_hi = image.index_to_lps(shape - 1.0)
        raise InputError(
            f"{what} ({centre[0]:g}, {centre[1]:g}, {centre[2]:g}) mm LPS is outside the PET "
            f"image, which spans {np.round(extent_lo, 1).tolist()} to "
            f"{np.round(extent_hi, 1).tolist()} mm"
        )
    return centre


def _voxel_centres_lps(image: Volume, box: tuple[slice, ...]) -> NDArray[np.float64]:
    grids = np.meshgrid(*[np.arange(s.start, s.stop, dtype=float) for s in box], indexing="ij")
    index = np.stack(grids, axis=-1)
    return image.index_to_lps(index)


def _box_around(image: Volume, centre: NDArray[np.float64], reach_mm: float) -> tuple[slice, ...]:
    index = image.lps_to_index(centre)
    reach = reach_mm / np.asarray(image.spacing_mm) + 1
    lo = np.maximum(np.floor(index - reach), 0).astype(int)
    hi = np.minimum(np.ceil(index + reach) + 1, image.spatial_shape).astype(int)
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))


def sphere_reference(
    image: Volume,
    centre_lps: Sequence[float],
    diameter_mm: float = LIVER_SPHERE_DIAMETER_MM,
    kind: ReferenceKind = ReferenceKind.LIVER,
    what: str | None = None,
) -> ReferenceRegion:
    """Mean and SD in a sphere centred at an LPS point.

    ``what`` names the centre in messages (default ``"<kind> centre"``).

    Raises
    ------
    InputError
        If the centre lies outside the image.
    """
    centre = _check_inside(image, centre_lps, what or f"{kind.value} centre")
    box = _box_around(image, centre, diameter_mm / 2)
    points = _voxel_centres_lps(image, box)
    inside = np.zeros(image.spatial_shape, dtype=bool)
    inside[box] = np.sum((points - centre) ** 2, axis=-1) <= (diameter_mm / 2) ** 2
    return _stats(image, inside, kind, centre)


def liver_center_from_mask(
    liver_mask: Volume, diameter_mm: float = LIVER_SPHERE_DIAMETER_MM
) -> NDArray[np.float64]:
    """Centre for the liver sphere: deepest point of the right half of the liver.

    Parameters
    ----------
    liver_mask : Volume
        Boolean liver mask.
    diameter_mm : float
        Sphere diameter; a warning-free fit needs depth >= radius.

    Returns
    -------
    ndarray, shape (3,)
        LPS centre in mm.

    Raises
    ------
    EmptyResultError
        If the mask is empty.
    """
    mask = np.asarray(liver_mask.array) > 0
    if not mask.any():
        raise EmptyResultError("liver mask is empty")
    depth_mm = ndimage.distance_transform_edt(mask, sampling=liver_mask.spacing_mm)
    index = np.argwhere(mask)
    lps = liver_mask.index_to_lps(index.astype(float))
    right = lps[:, 0] <= np.median(lps[:, 0])  # LPS x grows to patient left
    candidates = index[right]
    best = candidates[int(np.argmax(depth_mm[tuple(candidates.T)]))]
    return liver_mask.index_to_lps(best.astype(float))


def liver_reference(
    image: Volume,
    *,
    liver_mask: Volume | None = None,
    center_lps: Sequence[float] | None = None,
    diameter_mm: float = LIVER_SPHERE_DIAMETER_MM,
    what: str | None = None,
) -> ReferenceRegion:
    """PERCIST liver reference: a 3 cm sphere in the right liver lobe.

    Parameters
    ----------
    image : Volume
        SUL (or SUV) image.
    liver_mask : Volume, optional
        Liver mask on the image grid; the sphere is placed automatically.
    center_lps : sequence of float, optional
        Sphere centre (LPS mm); takes precedence over the mask.
    diameter_mm : float
        Sphere diameter (3 cm).
    what : str, optional
        How a given centre is named in messages (e.g. ``"--liver-center"``).

    Returns
    -------
    ReferenceRegion

    Raises
    ------
    InputError
        If neither mask nor centre is given, or the centre is outside the image.
    """
    if center_lps is None:
        if liver_mask is None:
            raise InputError("liver reference needs a liver mask or a centre (--liver-center)")
        image.require_same_geometry(liver_mask, "liver mask", "PET image")
        center_lps = liver_center_from_mask(liver_mask, diameter_mm).tolist()
    return sphere_reference(image, center_lps, diameter_mm, ReferenceKind.LIVER, what)


def blood_pool_reference(
    image: Volume,
    center_lps: Sequence[float],
    diameter_mm: float = BLOOD_POOL_DIAMETER_MM,
    length_mm: float = BLOOD_POOL_LENGTH_MM,
    what: str = "blood-pool centre",
) -> ReferenceRegion:
    """PERCIST blood-pool reference: a cylinder along the body (z) axis in the aorta.

    Parameters
    ----------
    image : Volume
        SUL (or SUV) image.
    center_lps : sequence of float
        Cylinder centre (LPS mm), in the descending thoracic aorta.
    diameter_mm, length_mm : float
        Cylinder size (1 cm wide, 2 cm long).
    what : str
        How the centre is named in messages.

    Raises
    ------
    InputError
        If the centre is outside the image.
    """
    centre = _check_inside(image, center_lps, what)
    box = _box_around(image, centre, max(diameter_mm / 2, length_mm / 2))
    delta = _voxel_centres_lps(image, box) - centre
    inside = np.zeros(image.spatial_shape, dtype=bool)
    inside[box] = (delta[..., 0] ** 2 + delta[..., 1] ** 2 <= (diameter_mm / 2) ** 2) & (
        np.abs(delta[..., 2]) <= length_mm / 2
    )
    return _stats(image, inside, ReferenceKind.BLOOD_POOL, centre)


def organ_reference(
    image: Volume,
    organ_mask: Volume,
    kind: ReferenceKind = ReferenceKind.SPLEEN,
    *,
    erode_voxels: int = 1,
) -> ReferenceRegion:
    """Mean, SD and max over an organ mask (eroded to avoid partial-volume edges).

    Parameters
    ----------
    image : Volume
        Uptake image.
    organ_mask : Volume
        Organ mask on the same grid.
    kind : ReferenceKind
        Organ name for the record.
    erode_voxels : int
        Binary erosion iterations (skipped if it would empty the mask).
    """
    image.require_same_geometry(organ_mask, f"{kind.value} mask", "PET image")
    mask = np.asarray(organ_mask.array) > 0
    if not mask.any():
        raise EmptyResultError(f"{kind.value} mask is empty")
    if erode_voxels > 0:
        eroded = ndimage.binary_erosion(mask, iterations=erode_voxels)
        if eroded.any():
            mask = eroded
    centre = image.index_to_lps(np.argwhere(mask).mean(axis=0))
    return _stats(image, mask, kind, centre)


__all__ = [
    "LIVER_SPHERE_DIAMETER_MM",
    "ReferenceKind",
    "ReferenceRegion",
    "blood_pool_reference",
    "liver_center_from_mask",
    "liver_reference",
    "organ_reference",
    "sphere_reference",
]
