"""The facts of a case (``FACTS.json``), parsed into one validated record.

Every key is optional: a missing fact is ``None`` and the guide names it as
what would change its advice. What is given must make sense: Ki-67 within
0-100 %, a known primary site and drug type, booleans as booleans, and no
contradiction (a poorly differentiated carcinoma cannot have grade-1 counts).
Errors name the key, the rule and the value received.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from tumorboard.errors import InputError
from tumorboard.guide.records import load_rules
from tumorboard.imaging.input_limits import load_json_file


class Differentiation(Enum):
    """Histological differentiation."""

    WELL = "well"
    POOR = "poor"


class TumourBurden(Enum):
    """Overall tumour burden as the board judges it."""

    LOW = "low"
    HIGH = "high"


class DrugType(Enum):
    """Class of the (planned or current) systemic treatment."""

    CYTOTOXIC = "cytotoxic"
    TARGETED = "targeted"
    IMMUNOTHERAPY = "immunotherapy"
    RADIONUCLIDE = "radionuclide"
    HORMONAL = "hormonal"


class TumourType(Enum):
    """Tumour type as far as it steers imaging and treatment."""

    NET = "net"
    INSULINOMA = "insulinoma"
    GASTRINOMA = "gastrinoma"
    GLUCAGONOMA = "glucagonoma"
    VIPOMA = "vipoma"
    SOMATOSTATINOMA = "somatostatinoma"
    NEC = "nec"
    PROLACTINOMA = "prolactinoma"
    SOMATOTROPH = "somatotroph"
    CORTICOTROPH = "corticotroph"
    NONFUNCTIONING_PITUITARY = "nonfunctioning_pituitary"


#: Tumour types that are functioning by definition.
FUNCTIONING_TYPES = frozenset(
    {
        TumourType.INSULINOMA,
        TumourType.GASTRINOMA,
        TumourType.GLUCAGONOMA,
        TumourType.VIPOMA,
        TumourType.SOMATOSTATINOMA,
        TumourType.PROLACTINOMA,
        TumourType.SOMATOTROPH,
        TumourType.CORTICOTROPH,
    }
)
PITUITARY_TYPES = frozenset(
    {
        TumourType.PROLACTINOMA,
        TumourType.SOMATOTROPH,
        TumourType.CORTICOTROPH,
        TumourType.NONFUNCTIONING_PITUITARY,
    }
)

_E = TypeVar("_E", bound=Enum)


@dataclass(frozen=True)
class CaseFacts:
    """The facts of one case; ``None`` means "not known".

    Attributes
    ----------
    primary_site : str or None
        Canonical primary site (see ``rules/embryology.json``), e.g. ``"ileum"``.
    tumour_type : TumourType or None
        Enum fields also accept their string values (``"nec"``, ``"poor"``...).
    ki67_pct : float or None
        Ki-67 proliferation index, 0-100 %.
    mitoses_per_2mm2 : float or None
        Mitotic count per 2 mm^2, >= 0.
    differentiation : Differentiation or None
    men_syndrome : bool or None
        Multiple endocrine neoplasia syndrome.
    functioning : bool or None
        Hormonal syndrome present.
    syndrome : str or None
        Name of the syndrome (e.g. ``"carcinoid"``).
    tumour_burden : TumourBurden or None
    liver_predominant : bool or None
    resectable_fraction_pct : float or None
        Fraction of the tumour burden surgery could remove, 0-100 %.
    prior_treatments : tuple of str or None
        Treatments already given (e.g. ``("somatostatin analogue",)``).
    krenning_min : int or None
        Lowest Krenning score (0-4) over all lesions on SSTR imaging.
    fdg_positive : bool or None
    drug_type : DrugType or None
    largest_lesion_mm : float or None
        Largest lesion diameter (steers the PRRT radionuclide).
    pituitary_adenoma : bool or None
    hormone_normalised : bool or None
    size_reduction_pct : float or None
        Shrinkage of a pituitary adenoma under treatment (negative = growth).
    local_mass_effect : bool or None
        The pituitary adenoma exerts a local mass effect (part of the review's
        definition of structural refractoriness).
    """

    primary_site: str | None = None
    tumour_type: TumourType | None = None
    ki67_pct: float | None = None
    mitoses_per_2mm2: float | None = None
    differentiation: Differentiation | None = None
    men_syndrome: bool | None = None
    functioning: bool | None = None
    syndrome: str | None = None
    tumour_burden: TumourBurden | None = None
    liver_predominant: bool | None = None
    resectable_fraction_pct: float | None = None
    prior_treatments: tuple[str, ...] | None = None
    krenning_min: int | None = None
    fdg_positive: bool | None = None
    drug_type: DrugType | None = None
    largest_lesion_mm: float | None = None
    pituitary_adenoma: bool | None = None
    hormone_normalised: bool | None = None
    size_reduction_pct: float | None = None
    local_mass_effect: bool | None = None

    def __post_init__(self) -> None:
        for name, kind in _ENUM_FIELDS.items():
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                object.__setattr__(self, name, _enum(kind, name, value))
        if isinstance(self.prior_treatments, list):
            object.__setattr__(self, "prior_treatments", tuple(self.prior_treatments))
        _check_range("ki67_pct", self.ki67_pct, 0.0, 100.0)
        _check_range("mitoses_per_2mm2", self.mitoses_per_2mm2, 0.0, math.inf)
        _check_range("resectable_fraction_pct", self.resectable_fraction_pct, 0.0, 100.0)
        _check_range("size_reduction_pct", self.size_reduction_pct, -math.inf, 100.0)
        _check_range("largest_lesion_mm", self.largest_lesion_mm, 0.0, math.inf)
        if self.krenning_min is not None and not 0 <= self.krenning_min <= 4:
            raise InputError(f"krenning_min must be 0-4 (Krenning scale), got {self.krenning_min}")
        if self.primary_site is not None:
            sites = load_rules("embryology")["sites"]
            if self.primary_site not in sites:
                raise InputError(f"primary_site: unknown site {self.primary_site!r}")
        self._check_contradictions()

    def _check_contradictions(self) -> None:
        from tumorboard.guide.who_grade import grade_from_counts

        if self.tumour_type is TumourType.NEC and self.differentiation is Differentiation.WELL:
            raise InputError(
                "contradictory facts: tumour_type 'nec' (neuroendocrine carcinoma) is poorly "
                "differentiated by definition, but differentiation is 'well'"
            )
        if self.poorly_differentiated:
            counts = grade_from_counts(self.ki67_pct, self.mitoses_per_2mm2)
            if counts in ("G1", "G2"):
                what = (
                    "differentiation 'poor'"
                    if self.differentiation is Differentiation.POOR
                    else "tumour_type 'nec'"
                )
                raise InputError(
                    f"contradictory facts: {what} (neuroendocrine carcinoma, high grade by "
                    f"definition) with {_counts(self.ki67_pct, self.mitoses_per_2mm2)}, "
                    f"which is WHO grade {counts}"
                )
        if self.tumour_type in FUNCTIONING_TYPES and self.functioning is False:
            assert self.tumour_type is not None
            raise InputError(
                f"contradictory facts: tumour_type {self.tumour_type.value!r} is a functioning "
                "tumour, but functioning is false"
            )
        if self.syndrome and self.functioning is False:
            raise InputError(
                f"contradictory facts: syndrome {self.syndrome!r} given, but functioning is false"
            )
        if self.tumour_type in PITUITARY_TYPES and self.pituitary_adenoma is False:
            assert self.tumour_type is not None
            raise InputError(
                f"contradictory facts: tumour_type {self.tumour_type.value!r} is a pituitary "
                "adenoma, but pituitary_adenoma is false"
            )

    @property
    def poorly_differentiated(self) -> bool:
        """Whether the tumour is a poorly differentiated carcinoma (NEC).

        True for ``differentiation`` ``poor`` and for ``tumour_type`` ``nec``,
        which is poorly differentiated by definition.
        """
        return self.differentiation is Differentiation.POOR or self.tumour_type is TumourType.NEC

    @property
    def is_pituitary(self) -> bool:
        """Whether the pituitary part of the guide applies."""
        return bool(self.pituitary_adenoma) or self.tumour_type in PITUITARY_TYPES

    def given(self) -> dict[str, Any]:
        """The facts that are known, as JSON-ready values."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            if isinstance(value, Enum):
                value = value.value
            elif isinstance(value, tuple):
                value = list(value)
            out[item.name] = value
        return out


def _counts(ki67_pct: float | None, mitoses_per_2mm2: float | None) -> str:
    parts = []
    if ki67_pct is not None:
        parts.append(f"Ki-67 {ki67_pct:g} %")
    if mitoses_per_2mm2 is not None:
        parts.append(f"{mitoses_per_2mm2:g} mitoses/2 mm2")
    return " and ".join(parts)


def _check_range(name: str, value: float | None, low: float, high: float) -> None:
    if value is None:
        return
    if not math.isfinite(value) or not low <= value <= high:
        bounds = (
            f"{low:g}-{high:g}"
            if math.isfinite(low) and math.isfinite(high)
            else (f">= {low:g}" if math.isfinite(low) else f"<= {high:g}")
        )
        raise InputError(f"{name} must be {bounds}, got {value:g}")


FACT_KEYS = tuple(item.name for item in fields(CaseFacts))
_ENUM_FIELDS: dict[str, type[Enum]] = {
    "tumour_type": TumourType,
    "differentiation": Differentiation,
    "tumour_burden": TumourBurden,
    "drug_type": DrugType,
}


def parse_facts(data: Any, source: str = "FACTS") -> CaseFacts:
    """Validate a decoded ``FACTS.json`` object into :class:`CaseFacts`.

    Parameters
    ----------
    data : Any
        The decoded JSON; must be an object.
    source : str
        What to call the input in error messages (e.g. ``"FACTS case.json"``).

    Raises
    ------
    InputError
        For an unknown key, a value of the wrong type, a value out of range,
        an unknown site, tumour type or drug type, or contradictory facts. The
        message starts with ``source`` and names the key and the rule.
    """
    try:
        return _parse_facts(data)
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None


def _parse_facts(data: Any) -> CaseFacts:
    if not isinstance(data, dict):
        raise InputError(f"must be a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(FACT_KEYS))
    if unknown:
        raise InputError(f"unknown key {unknown[0]!r} (known keys: {', '.join(FACT_KEYS)})")
    values = {key: value for key, value in data.items() if value is not None}
    return CaseFacts(
        primary_site=_site(values.get("primary_site")),
        tumour_type=_enum(TumourType, "tumour_type", values.get("tumour_type")),
        ki67_pct=_number("ki67_pct", values.get("ki67_pct")),
        mitoses_per_2mm2=_number("mitoses_per_2mm2", values.get("mitoses_per_2mm2")),
        differentiation=_enum(Differentiation, "differentiation", values.get("differentiation")),
        men_syndrome=_bool("men_syndrome", values.get("men_syndrome")),
        functioning=_bool("functioning", values.get("functioning")),
        syndrome=_text("syndrome", values.get("syndrome")),
        tumour_burden=_enum(TumourBurden, "tumour_burden", values.get("tumour_burden")),
        liver_predominant=_bool("liver_predominant", values.get("liver_predominant")),
        resectable_fraction_pct=_number(
            "resectable_fraction_pct", values.get("resectable_fraction_pct")
        ),
        prior_treatments=_text_list("prior_treatments", values.get("prior_treatments")),
        krenning_min=_integer("krenning_min", values.get("krenning_min")),
        fdg_positive=_bool("fdg_positive", values.get("fdg_positive")),
        drug_type=_enum(DrugType, "drug_type", values.get("drug_type")),
        largest_lesion_mm=_number("largest_lesion_mm", values.get("largest_lesion_mm")),
        pituitary_adenoma=_bool("pituitary_adenoma", values.get("pituitary_adenoma")),
        hormone_normalised=_bool("hormone_normalised", values.get("hormone_normalised")),
        size_reduction_pct=_number("size_reduction_pct", values.get("size_reduction_pct")),
        local_mass_effect=_bool("local_mass_effect", values.get("local_mass_effect")),
    )


def load_facts_json(path: str | os.PathLike[str]) -> CaseFacts:
    """Read and validate a ``FACTS.json`` file.

    Raises
    ------
    InputError
        If the file is missing, not a regular file, not JSON, beyond the JSON
        limits of :func:`tumorboard.imaging.input_limits.load_json_file`
        (size, nesting depth, number length, non-finite numbers), or breaks a
        rule of :func:`parse_facts`.
    """
    path = Path(path)
    data = load_json_file(path, what="FACTS")  # size, depth and number-length limits
    return parse_facts(data, source=f"FACTS {path.name}")


def _key(value: str) -> str:
    return "_".join(value.strip().lower().replace("-", " ").split())


def _site(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"primary_site must be a string, got {value!r}")
    rules = load_rules("embryology")
    key = _key(value)
    key = rules["aliases"].get(key, key)
    if key not in rules["sites"]:
        raise InputError(
            f"primary_site: unknown site {value!r} (known: {', '.join(rules['sites'])})"
        )
    return str(key)


def _enum(kind: type[_E], name: str, value: Any) -> _E | None:
    if value is None:
        return None
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        key = _key(value)
        for member in kind:
            if member.value == key:
                return member
    choices = ", ".join(str(member.value) for member in kind)
    raise InputError(f"{name}: unknown value {value!r} (expected one of {choices})")


def _bool(name: str, value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise InputError(f"{name} must be true or false, got {value!r}")


def _number(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{name} must be a number, got {value!r}")
    return float(value)


def _integer(name: str, value: Any) -> int | None:
    number = _number(name, value)
    if number is None:
        return None
    if not math.isfinite(number) or number != int(number):
        raise InputError(f"{name} must be a whole number, got {value!r}")
    return int(number)


def _text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string, got {value!r}")
    return value.strip() or None


def _text_list(name: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(f"{name} must be a list of strings, got {value!r}")
    return tuple(item.strip() for item in value if item.strip())
