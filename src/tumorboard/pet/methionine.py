"""Cerebellum-normalised uptake ratio for 11C-methionine PET of the sellar region.

Methionine uptake is read as a tumour-to-normal ratio: the lesion SUVmax (the
hottest voxel in a search region, e.g. the sella drawn on MRI) divided by the
mean SUV of normal cerebellum. Both are measured in native PET space: MRI
regions are carried onto the PET grid with the registration transform
(nearest-neighbour), so no PET value is interpolated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tumorboard.errors import EmptyResultError, InputError
from tumorboard.imaging.volume import Volume
from tumorboard.pet.registration import RigidTransform, resample


@dataclass(frozen=True)
class UptakeRatio:
    """Lesion-to-reference uptake ratio.

    Attributes
    ----------
    lesion_suv_max : float
        Hottest voxel in the search region.
    lesion_max_lps : tuple of float
        Its position (LPS mm, PET frame).
    reference_suv_mean : float
        Mean of the reference region.
    ratio : float
        ``lesion_suv_max / reference_suv_mean``.
    """

    lesion_suv_max: float
    lesion_max_lps: tuple[float, float, float]
    reference_suv_mean: float
    ratio: float

    def __post_init__(self) -> None:
        if not self.reference_suv_mean > 0:
            raise InputError(f"reference SUV mean must be > 0, got {self.reference_suv_mean}")


def labels_to_pet(labels_mri: Volume, pet: Volume, mri_to_pet: RigidTransform) -> Volume:
    """Carry an MRI label image onto the PET grid (nearest neighbour).

    Parameters
    ----------
    labels_mri : Volume
        Integer labels on the MRI grid.
    pet : Volume
        PET image (its grid is the target).
    mri_to_pet : RigidTransform
        Registration result mapping MRI points to PET points.
    """
    return resample(labels_mri, pet, mri_to_pet.inverse(), nearest=True)


def uptake_ratio(pet_suv: Volume, search_mask: Volume, reference_mask: Volume) -> UptakeRatio:
    """Lesion SUVmax in a search region over the mean SUV of a reference region.

    Parameters
    ----------
    pet_suv : Volume
        PET in SUV, native grid.
    search_mask, reference_mask : Volume
        Masks on the PET grid (e.g. sella and cerebellum from :func:`labels_to_pet`).

    Returns
    -------
    UptakeRatio
    """
    pet_suv.require_same_geometry(search_mask, "search region", "PET image")
    pet_suv.require_same_geometry(reference_mask, "reference region", "PET image")
    values = np.asarray(pet_suv.array, dtype=np.float64)
    search = np.asarray(search_mask.array) > 0
    reference = np.asarray(reference_mask.array) > 0
    if not search.any():
        raise EmptyResultError("search region does not overlap the PET image")
    if not reference.any():
        raise EmptyResultError("reference region (cerebellum) does not overlap the PET image")
    masked = np.where(search, values, -np.inf)
    flat = int(np.argmax(masked))
    index = np.unravel_index(flat, values.shape)
    position = pet_suv.index_to_lps(np.asarray(index, dtype=float))
    lesion_max = float(values[index])
    reference_mean = float(values[reference].mean())
    return UptakeRatio(
        lesion_suv_max=lesion_max,
        lesion_max_lps=(float(position[0]), float(position[1]), float(position[2])),
        reference_suv_mean=reference_mean,
        ratio=lesion_max / reference_mean,
    )


__all__ = ["UptakeRatio", "labels_to_pet", "uptake_ratio"]
