"""A PET image in a named uptake unit, and the per-lesion SUV/SUL values measured on it.

Every face that prints a lesion's SUVmax, SUVmean or SULpeak (``pet suv``,
``measure``, ``radiomics``, the report) takes them from one function,
:func:`tumorboard.pet.uptake.lesion_uptake`; this module only states the
unit of the image it is given and scales the result:

* a PET DICOM series is converted to SUVbw by the PET header rules
  (:func:`~tumorboard.pet.series_io.read_pet_series`), and SUL = SUVbw x
  lean body mass / weight;
* a NIfTI image carries no dose or weight, so its unit must be stated
  (``suvbw`` or ``sul``); an image whose unit or values say it still holds
  activity (Bq/ml) is refused, since its SULpeak would be a count rate.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from tumorboard.errors import InputError
from tumorboard.imaging.volume import Volume
from tumorboard.pet.body_size import LbmFormula
from tumorboard.pet.uptake import lesion_uptake

#: Highest voxel value accepted as SUV or SUL. Clinical SUVmax rarely exceeds
#: 100 (kidneys and bladder of SSTR/PSMA PET reach about 200); activity in
#: Bq/ml is in the thousands to hundreds of thousands.
MAX_PLAUSIBLE_SUV = 500.0
_ACTIVITY_UNITS = ("bq", "cnts", "counts", "kbq", "mbq")


class UptakeUnit(StrEnum):
    """Unit of a PET image given to lesion measurement."""

    SUVBW = "suvbw"
    SUL = "sul"


@dataclass(frozen=True)
class UptakeImage:
    """A PET image with its unit.

    Attributes
    ----------
    image : Volume
        Voxel values in ``unit``.
    unit : UptakeUnit
        SUVbw or SUL.
    sul_per_suvbw : float or None
        Lean body mass / weight; needed for SULpeak of an SUVbw image.
    """

    image: Volume
    unit: UptakeUnit
    sul_per_suvbw: float | None = None

    def __post_init__(self) -> None:
        ratio = self.sul_per_suvbw
        if ratio is not None and not (math.isfinite(ratio) and 0.2 <= ratio <= 1.5):
            raise InputError(f"SUL/SUVbw ratio must lie between 0.2 and 1.5, got {ratio!r}")


@dataclass(frozen=True)
class LesionUptakeValues:
    """SUVbw max and mean and SULpeak of one lesion (None where the unit does not allow).

    Attributes
    ----------
    label : int
        Lesion label.
    suvbw_max, suvbw_mean : float or None
        Highest and mean voxel SUVbw (None on an SUL image).
    sul_peak : float or None
        PERCIST SULpeak (None on an SUVbw image without the SUL ratio).
    """

    label: int
    suvbw_max: float | None
    suvbw_mean: float | None
    sul_peak: float | None


def check_uptake_values(volume: Volume, what: str) -> None:
    """Refuse an image that still holds activity (Bq/ml) or non-finite voxels.

    Parameters
    ----------
    volume : Volume
        The image said to be in SUVbw or SUL.
    what : str
        How the image is named in messages.

    Raises
    ------
    InputError
        If the header unit names an activity, a voxel is NaN or infinite, or
        the largest voxel exceeds :data:`MAX_PLAUSIBLE_SUV`.

    Examples
    --------
    >>> import numpy as np
    >>> image = Volume(np.full((2, 2, 2), 31934.0, dtype=np.float32), (2.0, 2.0, 2.0))
    >>> check_uptake_values(image, "image pet.nii.gz")
    Traceback (most recent call last):
    ...
    tumorboard.errors.InputError: image pet.nii.gz: largest voxel 31934 is not a plausible SUV \
or SUL (> 500): it looks like unconverted activity (Bq/ml); convert the PET DICOM with \
'tumorboard pet suv' and measure its suvbw.nii.gz or sul.nii.gz
    """
    unit = (volume.unit or "").strip().lower()
    if unit.startswith(_ACTIVITY_UNITS):
        raise InputError(
            f"{what}: unit {volume.unit!r} is activity, not SUV or SUL; convert the PET DICOM "
            "with 'tumorboard pet suv' and measure its suvbw.nii.gz or sul.nii.gz"
        )
    values = np.asarray(volume.array)
    if values.size == 0:
        raise InputError(f"{what}: the image holds no voxel")
    if not np.all(np.isfinite(values)):
        raise InputError(f"{what}: the image holds NaN or infinite voxels")
    largest = float(values.max())
    if largest > MAX_PLAUSIBLE_SUV:
        raise InputError(
            f"{what}: largest voxel {largest:.6g} is not a plausible SUV or SUL "
            f"(> {MAX_PLAUSIBLE_SUV:g}): it looks like unconverted activity (Bq/ml); convert "
            "the PET DICOM with 'tumorboard pet suv' and measure its suvbw.nii.gz or sul.nii.gz"
        )


def pet_dicom_uptake(
    folder: str | os.PathLike[str],
    *,
    weight_kg: float | None = None,
    formula: LbmFormula | str = LbmFormula.JANMAHASATIAN,
    what: str = "PET folder",
) -> UptakeImage:
    """Read a PET DICOM series as SUVbw with its SUL ratio (the PET header rules).

    Raises
    ------
    DicomError
        If the folder does not hold exactly one PET series or its header
        does not allow SUV conversion.
    InputError
        If the lean body mass is unknown (no height or sex): SULpeak needs it.
    """
    from tumorboard.pet.series_io import read_pet_series

    series = read_pet_series(folder, weight_kg=weight_kg, what=what)
    try:
        ratio = series.conversion.sul_per_suvbw(formula)
    except InputError as exc:
        raise InputError(f"{what} {folder}: SULpeak needs the lean body mass: {exc}") from None
    return UptakeImage(series.suvbw, UptakeUnit.SUVBW, ratio)


def lesion_uptake_values(uptake: UptakeImage, labels: Volume) -> list[LesionUptakeValues]:
    """SUVbw max/mean and SULpeak of every label, from :func:`~tumorboard.pet.uptake.lesion_uptake`.

    Parameters
    ----------
    uptake : UptakeImage
        The PET image and its unit.
    labels : Volume
        Lesion labels on the PET grid.

    Returns
    -------
    list of LesionUptakeValues
        One per label present, in increasing label order.

    Examples
    --------
    >>> import numpy as np
    >>> suv = np.ones((9, 9, 9), dtype=np.float32)
    >>> suv[4, 4, 4] = 9.0
    >>> labels = np.zeros((9, 9, 9), dtype=np.uint8)
    >>> labels[4, 4, 4] = 1
    >>> grid = (4.0, 4.0, 4.0)
    >>> image = UptakeImage(Volume(suv, grid), UptakeUnit.SUVBW, sul_per_suvbw=0.75)
    >>> [value] = lesion_uptake_values(image, Volume(labels, grid))
    >>> value.suvbw_max, value.suvbw_mean
    (9.0, 9.0)
    """
    to_suvbw = 1.0 if uptake.unit is UptakeUnit.SUVBW else None
    to_sul = 1.0 if uptake.unit is UptakeUnit.SUL else uptake.sul_per_suvbw
    return [
        LesionUptakeValues(
            label=item.label,
            suvbw_max=None if to_suvbw is None else item.max,
            suvbw_mean=None if to_suvbw is None else item.mean,
            sul_peak=None if to_sul is None else item.peak * to_sul,
        )
        for item in lesion_uptake(uptake.image, labels)
    ]


__all__ = [
    "MAX_PLAUSIBLE_SUV",
    "LesionUptakeValues",
    "UptakeImage",
    "UptakeUnit",
    "check_uptake_values",
    "lesion_uptake_values",
    "pet_dicom_uptake",
]
