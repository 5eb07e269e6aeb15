"""Voxel-wise diffusion response classes against a pre-treatment exam.

Every tumour voxel of a follow-up exam is coloured by its ADC (um^2/s):

* **green** -- ADC >= 1500: highly likely responding (cell kill, necrosis);
* **yellow** -- between the reference exam's own 95th-centile ADC and 1500:
  likely responding;
* **red** -- below the reference 95th centile: no detected response.

This follows the published WB-DWI tumour-load reading ("MR Total Tumor Load"
case report) in which the yellow band's lower bound is read from the
pre-treatment exam of the same patient.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tumorboard.errors import InputError

#: ADC (um^2/s) at and above which a voxel is classed green.
GREEN_LOWER_UM2_PER_S = 1500.0


class ResponseClass(enum.IntEnum):
    """Label values of the class map (``classes.nii.gz``)."""

    NONE = 0
    RED = 1
    YELLOW = 2
    GREEN = 3


@dataclass(frozen=True)
class ClassBounds:
    """ADC bounds of the classes, um^2/s.

    Attributes
    ----------
    yellow_lower_um2_per_s : float
        The reference exam's 95th-centile tumour ADC.
    green_lower_um2_per_s : float
        Fixed at 1500 um^2/s by default.
    """

    yellow_lower_um2_per_s: float
    green_lower_um2_per_s: float = GREEN_LOWER_UM2_PER_S

    def __post_init__(self) -> None:
        if not np.isfinite(self.yellow_lower_um2_per_s) or self.yellow_lower_um2_per_s <= 0:
            raise InputError(
                "yellow lower bound (reference p95 ADC) must be a positive number, "
                f"got {self.yellow_lower_um2_per_s!r}"
            )


def classify_response(
    adc_um2_per_s: NDArray[np.floating], tumour: NDArray[np.bool_], bounds: ClassBounds
) -> NDArray[np.uint8]:
    """Label every tumour voxel red, yellow or green.

    Parameters
    ----------
    adc_um2_per_s : ndarray, shape (nz, ny, nx)
        ADC map of the follow-up exam.
    tumour : ndarray of bool, same shape
        Tumour mask of the follow-up exam.
    bounds : ClassBounds
        Class limits from the reference exam.

    Returns
    -------
    ndarray of uint8
        :class:`ResponseClass` values; 0 outside the tumour. When the
        reference p95 is at or above the green bound, no voxel is yellow.
    """
    classes = np.zeros(tumour.shape, dtype=np.uint8)
    classes[tumour] = ResponseClass.RED
    classes[tumour & (adc_um2_per_s >= bounds.yellow_lower_um2_per_s)] = ResponseClass.YELLOW
    classes[tumour & (adc_um2_per_s >= bounds.green_lower_um2_per_s)] = ResponseClass.GREEN
    return classes
