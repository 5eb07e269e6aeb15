"""Body-size normalisers for SUV: lean body mass, body surface area, ideal body weight.

The formulas are the ones DICOM (PS3.3 C.8.9.1.1, SUV Type) and the IBSI SUV
manual name:

* lean body mass, James 1976 (DICOM ``LBMJAMES128``):
  men ``1.10 W - 128 (W/H)^2``, women ``1.07 W - 148 (W/H)^2``;
* the James variant with 120 for men used by several vendors (DICOM ``LBM``):
  men ``1.10 W - 120 (W/H)^2``, women as James 128;
* Janmahasatian 2005 (DICOM ``LBMJANMA``), the PERCIST-recommended default:
  men ``9270 W / (6680 + 216 BMI)``, women ``9270 W / (8780 + 244 BMI)``;
* body surface area, Du Bois: ``0.007184 W^0.425 H^0.725`` m^2;
* ideal body weight: men ``48.0 + 1.06 (H - 152)``, women ``45.5 + 0.91 (H - 152)``;

with ``W`` in kg and ``H`` in cm (BMI in kg/m^2). For sex "other" (DICOM
``O``) the mean of the male and female value is used, as the IBSI SUV manual
does for IBW.
"""

from __future__ import annotations

import math
from enum import Enum

from tumorboard.errors import InputError


class Sex(Enum):
    """DICOM PatientSex (0010,0040)."""

    MALE = "M"
    FEMALE = "F"
    OTHER = "O"

    @classmethod
    def parse(cls, value: Sex | str | None, where: str = "PatientSex") -> Sex:
        """Convert ``"M"``, ``"F"``, ``"O"`` (any case) or a :class:`Sex`."""
        if isinstance(value, Sex):
            return value
        text = str(value or "").strip().upper()
        for member in cls:
            if member.value == text:
                return member
        raise InputError(f"{where}: expected M, F or O, got {value!r}")


class LbmFormula(Enum):
    """Lean-body-mass formula used for SUL (SUV normalised by lean body mass)."""

    JANMAHASATIAN = "janmahasatian"
    JAMES128 = "james128"
    JAMES120 = "james120"

    @classmethod
    def parse(cls, value: LbmFormula | str) -> LbmFormula:
        """Convert a name (case-insensitive) or a :class:`LbmFormula`."""
        if isinstance(value, LbmFormula):
            return value
        text = str(value).strip().lower()
        for member in cls:
            if member.value == text:
                return member
        names = ", ".join(m.value for m in cls)
        raise InputError(f"SUL formula: expected one of {names}, got {value!r}")


def _check_size(weight_kg: float, height_m: float | None, what: str) -> float:
    if not (math.isfinite(weight_kg) and weight_kg > 0):
        raise InputError(f"{what}: patient weight must be a positive number of kg, got {weight_kg}")
    if height_m is None:
        raise InputError(f"{what}: needs the patient height (PatientSize), which is missing")
    if not (math.isfinite(height_m) and 0.3 < height_m < 3.0):
        raise InputError(f"{what}: patient height must be in metres (0.3-3), got {height_m}")
    return height_m * 100.0


def _by_sex(sex: Sex, male: float, female: float) -> float:
    if sex is Sex.MALE:
        return male
    if sex is Sex.FEMALE:
        return female
    return 0.5 * (male + female)


def lean_body_mass_kg(
    weight_kg: float,
    height_m: float | None,
    sex: Sex | str,
    formula: LbmFormula | str = LbmFormula.JANMAHASATIAN,
) -> float:
    """Lean body mass in kg.

    Parameters
    ----------
    weight_kg : float
        Body weight.
    height_m : float
        Body height in metres.
    sex : Sex or str
        ``"M"``, ``"F"`` or ``"O"`` (mean of both formulas).
    formula : LbmFormula or str
        ``"janmahasatian"`` (default), ``"james128"`` or ``"james120"``.

    Returns
    -------
    float
        Lean body mass in kg.

    Raises
    ------
    InputError
        If weight or height is missing or implausible, or the formula is unknown.
    """
    formula = LbmFormula.parse(formula)
    sex = Sex.parse(sex)
    height_cm = _check_size(weight_kg, height_m, f"lean body mass ({formula.value})")
    w = weight_kg
    if formula is LbmFormula.JANMAHASATIAN:
        bmi = w / (height_cm / 100.0) ** 2
        male = 9270.0 * w / (6680.0 + 216.0 * bmi)
        female = 9270.0 * w / (8780.0 + 244.0 * bmi)
    else:
        male_constant = 128.0 if formula is LbmFormula.JAMES128 else 120.0
        male = 1.10 * w - male_constant * (w / height_cm) ** 2
        female = 1.07 * w - 148.0 * (w / height_cm) ** 2
    value = _by_sex(sex, male, female)
    if value <= 0:
        raise InputError(
            f"lean body mass ({formula.value}) is not positive for weight {w} kg and "
            f"height {height_m} m; the James formula fails for high BMI, use janmahasatian"
        )
    return value


def body_surface_area_m2(weight_kg: float, height_m: float | None) -> float:
    """Body surface area in m^2 by Du Bois and Du Bois (1916).

    Parameters
    ----------
    weight_kg : float
        Body weight.
    height_m : float
        Body height in metres.

    Returns
    -------
    float
        ``0.007184 W^0.425 H_cm^0.725``.
    """
    height_cm = _check_size(weight_kg, height_m, "body surface area")
    return float(0.007184 * weight_kg**0.425 * height_cm**0.725)


def ideal_body_weight_kg(weight_kg: float, height_m: float | None, sex: Sex | str) -> float:
    """Ideal body weight in kg (Devine-type formula used for DICOM SUV Type IBW).

    Parameters
    ----------
    weight_kg : float
        Body weight (checked for plausibility only; IBW depends on height and sex).
    height_m : float
        Body height in metres.
    sex : Sex or str
        ``"M"``, ``"F"`` or ``"O"`` (mean of both).

    Returns
    -------
    float
        Ideal body weight; not capped at the body weight.
    """
    height_cm = _check_size(weight_kg, height_m, "ideal body weight")
    sex = Sex.parse(sex)
    male = 48.0 + 1.06 * (height_cm - 152.0)
    female = 45.5 + 0.91 * (height_cm - 152.0)
    return _by_sex(sex, male, female)


__all__ = [
    "LbmFormula",
    "Sex",
    "body_surface_area_m2",
    "ideal_body_weight_kg",
    "lean_body_mass_kg",
]
