"""Metabolic tumour volume (MTV) and total lesion glycolysis (TLG).

Within a lesion's volume of interest the metabolically active voxels are those
at or above a threshold: 41 % of the lesion's SUVmax (EANM), a fixed SUV
(commonly 2.5), or the PERCIST liver threshold ``1.5 x liver SULmean + 2 SD``
(given in the units of the image). MTV is their volume; TLG = MTV x their
mean uptake (ml x g/ml = g).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import NDArray

from tumorboard.errors import EmptyResultError, InputError
from tumorboard.imaging.volume import Volume

#: The EANM fraction of SUVmax for MTV.
FRACTION_OF_MAX = 0.41
#: A common fixed SUV threshold.
FIXED_SUV_THRESHOLD = 2.5


class MtvMethod(Enum):
    """How the MTV threshold is chosen."""

    PERCENT_OF_MAX = "41pct_max"
    FIXED = "fixed"
    PERCIST_LIVER = "percist_liver"

    @classmethod
    def parse(cls, value: MtvMethod | str) -> MtvMethod:
        """Convert a name or a :class:`MtvMethod`."""
        if isinstance(value, MtvMethod):
            return value
        for member in cls:
            if member.value == str(value).strip().lower():
                return member
        names = ", ".join(m.value for m in cls)
        raise InputError(f"MTV method: expected one of {names}, got {value!r}")


@dataclass(frozen=True)
class MetabolicVolume:
    """MTV and TLG of one lesion.

    Attributes
    ----------
    method : MtvMethod
        Threshold rule.
    threshold : float
        Threshold used, in the image's units.
    mtv_ml : float
        Volume of voxels at or above the threshold (0 when none).
    mean_in_mtv : float
        Mean uptake of those voxels (0 when none).
    tlg : float
        ``mtv_ml * mean_in_mtv`` (g for SUV images).
    """

    method: MtvMethod
    threshold: float
    mtv_ml: float
    mean_in_mtv: float
    tlg: float

    def __post_init__(self) -> None:
        if self.mtv_ml < 0 or not np.isfinite(self.threshold):
            raise InputError(f"invalid metabolic volume record: {self}")


def metabolic_volume_from_values(
    values: NDArray[np.floating],
    voxel_volume_ml: float,
    method: MtvMethod | str = MtvMethod.PERCENT_OF_MAX,
    *,
    threshold: float | None = None,
) -> MetabolicVolume:
    """MTV and TLG from the uptake values of one lesion's voxels.

    Parameters
    ----------
    values : ndarray
        Uptake of every voxel of the lesion's volume of interest.
    voxel_volume_ml : float
        Volume of one voxel.
    method : MtvMethod or str
        ``"41pct_max"``, ``"fixed"`` or ``"percist_liver"``.
    threshold : float, optional
        The threshold for ``fixed`` (default 2.5) and ``percist_liver``
        (required: ``1.5 x liver mean + 2 SD``).

    Returns
    -------
    MetabolicVolume
    """
    method = MtvMethod.parse(method)
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise EmptyResultError("MTV: the lesion has no voxels")
    if method is MtvMethod.PERCENT_OF_MAX:
        level = FRACTION_OF_MAX * float(values.max())
    elif method is MtvMethod.FIXED:
        level = FIXED_SUV_THRESHOLD if threshold is None else float(threshold)
    else:
        if threshold is None:
            raise InputError("MTV with the PERCIST liver threshold needs the threshold value")
        level = float(threshold)
    active = values[values >= level]
    mtv_ml = float(active.size * voxel_volume_ml)
    mean = float(active.mean()) if active.size else 0.0
    return MetabolicVolume(method, level, mtv_ml, mean, mtv_ml * mean)


def metabolic_volume(
    image: Volume,
    lesion_mask: Volume,
    method: MtvMethod | str = MtvMethod.PERCENT_OF_MAX,
    *,
    threshold: float | None = None,
) -> MetabolicVolume:
    """MTV and TLG of the lesion given by a boolean mask on the image grid.

    Parameters
    ----------
    image : Volume
        Uptake image (SUVbw or SUL).
    lesion_mask : Volume
        Boolean (or 0/1) mask of the lesion's volume of interest.
    method, threshold
        See :func:`metabolic_volume_from_values`.

    Returns
    -------
    MetabolicVolume
    """
    image.require_same_geometry(lesion_mask, "lesion mask", "PET image")
    mask = np.asarray(lesion_mask.array) > 0
    return metabolic_volume_from_values(
        np.asarray(image.array)[mask], image.voxel_volume_ml, method, threshold=threshold
    )


__all__ = [
    "FIXED_SUV_THRESHOLD",
    "FRACTION_OF_MAX",
    "MetabolicVolume",
    "MtvMethod",
    "metabolic_volume",
    "metabolic_volume_from_values",
]
