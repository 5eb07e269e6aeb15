"""Krenning score of somatostatin-receptor uptake, adapted to PET.

The Krenning scale (Krenning et al. 1994, planar scintigraphy) grades lesion
uptake against normal liver and spleen: 0 none, 1 very low, 2 at most liver,
3 above liver, 4 above spleen. On SSTR PET the lesion SUVmax is compared with
the liver reference mean (3 cm sphere) and the spleen mean; the tumour-to-liver
ratio (TLR = lesion SUVmax / liver SUVmean) is reported with it. The limits
between 0, 1 and 2 are not defined quantitatively in the literature; this
module uses TLR < 0.25 for "none" and < 0.5 for "very low" (constants below).
Lesions of 2 cm or less are flagged: partial-volume loss lowers their measured
uptake, so the score may be too low.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tumorboard.errors import InputError

NO_UPTAKE_TLR = 0.25
VERY_LOW_TLR = 0.5
SMALL_LESION_DIAMETER_MM = 20.0


@dataclass(frozen=True)
class KrenningResult:
    """Krenning grade of one lesion.

    Attributes
    ----------
    label : int
        Lesion label.
    score : int
        0-4.
    tumour_to_liver : float
        Lesion SUVmax / liver SUVmean.
    tumour_to_spleen : float
        Lesion SUVmax / spleen SUVmean.
    small_lesion_caution : bool
        Lesion diameter <= 2 cm: partial-volume effect may lower the score.
    """

    label: int
    score: int
    tumour_to_liver: float
    tumour_to_spleen: float
    small_lesion_caution: bool

    def __post_init__(self) -> None:
        if self.score not in range(5):
            raise InputError(f"Krenning score must be 0-4, got {self.score}")

    @property
    def above_liver(self) -> bool:
        """Uptake higher than liver (score >= 3), the PRRT uptake criterion."""
        return self.score >= 3


def krenning_score(
    label: int,
    lesion_suv_max: float,
    liver_suv_mean: float,
    spleen_suv_mean: float,
    diameter_mm: float,
) -> KrenningResult:
    """Grade one lesion's SSTR uptake on the Krenning scale.

    Parameters
    ----------
    label : int
        Lesion label.
    lesion_suv_max : float
        Lesion SUVmax on SSTR PET.
    liver_suv_mean, spleen_suv_mean : float
        Normal liver and spleen SUVmean (same normalisation).
    diameter_mm : float
        Lesion diameter (for the small-lesion caution).

    Returns
    -------
    KrenningResult
    """
    for name, value in (("liver SUVmean", liver_suv_mean), ("spleen SUVmean", spleen_suv_mean)):
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"Krenning score: {name} must be > 0, got {value}")
    if not math.isfinite(lesion_suv_max):
        raise InputError(f"Krenning score: lesion SUVmax must be finite, got {lesion_suv_max}")
    tlr = lesion_suv_max / liver_suv_mean
    tsr = lesion_suv_max / spleen_suv_mean
    if lesion_suv_max > spleen_suv_mean and lesion_suv_max > liver_suv_mean:
        score = 4
    elif tlr > 1.0:
        score = 3
    elif tlr >= VERY_LOW_TLR:
        score = 2
    elif tlr >= NO_UPTAKE_TLR:
        score = 1
    else:
        score = 0
    return KrenningResult(label, score, tlr, tsr, diameter_mm <= SMALL_LESION_DIAMETER_MM)


def equivalent_diameter_mm(volume_ml: float) -> float:
    """Diameter of the sphere with the given volume (mm)."""
    if volume_ml < 0:
        raise InputError(f"volume must be >= 0 ml, got {volume_ml}")
    return float((6.0 * volume_ml * 1000.0 / math.pi) ** (1.0 / 3.0))


__all__ = ["KrenningResult", "equivalent_diameter_mm", "krenning_score"]
