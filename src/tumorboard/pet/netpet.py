"""NETPET grade from paired SSTR and FDG PET lesion measurements.

Chan et al., Theranostics 2017;7:1149 (validated in Br J Cancer 2023;128:549):

* P0 no SSTR- or FDG-avid disease;
* P1 SSTR-positive, FDG-negative disease;
* P2-P4 dual-positive disease, by the FDG avidity relative to SSTR of the
  FDG-positive lesions: P2 FDG < SSTR, P3 FDG ~ SSTR, P4 FDG > SSTR, split
  into P4a (1-2 such lesions) and P4b (3 or more);
* P5 at least one FDG-positive, SSTR-negative lesion.

Quantification (this project's choices, as constants): a lesion is SSTR-positive
when its SSTR SUVmax is at least half the SSTR liver mean (modified Krenning >= 2,
"above background"); FDG-positive when its FDG SUVmax exceeds the FDG liver mean.
Avidities are compared as tumour-to-liver ratios; "similar" means within a
factor :data:`SIMILAR_FACTOR`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from tumorboard.errors import EmptyResultError, InputError
from tumorboard.pet.krenning import VERY_LOW_TLR

SSTR_POSITIVE_TLR = VERY_LOW_TLR
FDG_POSITIVE_TLR = 1.0
SIMILAR_FACTOR = 1.5
P4B_MIN_LESIONS = 3


class NetpetGrade(Enum):
    """NETPET grade."""

    P0 = "P0"
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4A = "P4a"
    P4B = "P4b"
    P5 = "P5"


class LesionPattern(Enum):
    """Dual-tracer pattern of one lesion."""

    NEGATIVE = "negative"
    SSTR_ONLY = "SSTR+/FDG-"
    FDG_LOWER = "FDG<SSTR"
    SIMILAR = "FDG~SSTR"
    FDG_HIGHER = "FDG>SSTR"
    FDG_ONLY = "SSTR-/FDG+"


@dataclass(frozen=True)
class DualTracerLesion:
    """One lesion measured on both SSTR and FDG PET.

    Attributes
    ----------
    label : int
        Lesion label.
    sstr_suv_max, sstr_liver_mean : float
        SSTR PET lesion SUVmax and liver reference mean.
    fdg_suv_max, fdg_liver_mean : float
        FDG PET lesion SUVmax and liver reference mean.
    """

    label: int
    sstr_suv_max: float
    sstr_liver_mean: float
    fdg_suv_max: float
    fdg_liver_mean: float

    def __post_init__(self) -> None:
        for name in ("sstr_suv_max", "sstr_liver_mean", "fdg_suv_max", "fdg_liver_mean"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise InputError(
                    f"lesion {self.label}: {name} must be finite and >= 0, got {value}"
                )
        if self.sstr_liver_mean <= 0 or self.fdg_liver_mean <= 0:
            raise InputError(f"lesion {self.label}: liver reference means must be > 0")

    @property
    def sstr_tlr(self) -> float:
        """SSTR tumour-to-liver ratio."""
        return self.sstr_suv_max / self.sstr_liver_mean

    @property
    def fdg_tlr(self) -> float:
        """FDG tumour-to-liver ratio."""
        return self.fdg_suv_max / self.fdg_liver_mean

    @property
    def pattern(self) -> LesionPattern:
        """Dual-tracer pattern of the lesion."""
        sstr = self.sstr_tlr >= SSTR_POSITIVE_TLR
        fdg = self.fdg_tlr > FDG_POSITIVE_TLR
        if fdg and not sstr:
            return LesionPattern.FDG_ONLY
        if not fdg:
            return LesionPattern.SSTR_ONLY if sstr else LesionPattern.NEGATIVE
        ratio = self.fdg_tlr / self.sstr_tlr
        if ratio > SIMILAR_FACTOR:
            return LesionPattern.FDG_HIGHER
        if ratio < 1.0 / SIMILAR_FACTOR:
            return LesionPattern.FDG_LOWER
        return LesionPattern.SIMILAR


@dataclass(frozen=True)
class NetpetResult:
    """Patient-level NETPET grade with the lesion patterns behind it."""

    grade: NetpetGrade
    patterns: tuple[tuple[int, LesionPattern], ...]


def netpet_grade(lesions: Sequence[DualTracerLesion]) -> NetpetResult:
    """Grade a patient's dual-tracer PET.

    Parameters
    ----------
    lesions : sequence of DualTracerLesion
        Every lesion seen on either scan.

    Returns
    -------
    NetpetResult
    """
    if len(lesions) == 0:
        raise EmptyResultError("NETPET grade needs at least one lesion")
    patterns = tuple((lesion.label, lesion.pattern) for lesion in lesions)
    found = [p for _, p in patterns]
    if LesionPattern.FDG_ONLY in found:
        grade = NetpetGrade.P5
    elif LesionPattern.FDG_HIGHER in found:
        n = found.count(LesionPattern.FDG_HIGHER)
        grade = NetpetGrade.P4B if n >= P4B_MIN_LESIONS else NetpetGrade.P4A
    elif LesionPattern.SIMILAR in found:
        grade = NetpetGrade.P3
    elif LesionPattern.FDG_LOWER in found:
        grade = NetpetGrade.P2
    elif LesionPattern.SSTR_ONLY in found:
        grade = NetpetGrade.P1
    else:
        grade = NetpetGrade.P0
    return NetpetResult(grade, patterns)


__all__ = ["DualTracerLesion", "LesionPattern", "NetpetGrade", "NetpetResult", "netpet_grade"]
