"""Response of a prolactinoma to dopamine-agonist treatment.

Response needs both a normal prolactin (at or below the laboratory's upper
limit of normal) and a tumour shrinkage of at least 50 % (volume, or the
product the reader measures consistently). A discordant result -- prolactin
normalised without shrinkage, or shrinkage while prolactin stays high -- is
flagged as *possibly pseudo-refractory*: an assay hook effect, a cystic or
haemorrhagic component, or a non-secreting portion can make one reading
misleading, and the case needs review before it is called resistant.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tumorboard.criteria.decimal_math import change_at_most, percent_change
from tumorboard.errors import InputError

SHRINKAGE_PCT = Decimal(50)


class PituitaryResponse(StrEnum):
    """Combined biochemical and radiological category."""

    RESPONSE = "response"
    DISCORDANT = "discordant"
    NO_RESPONSE = "no-response"


@dataclass(frozen=True, slots=True)
class ProlactinomaReading:
    """Biochemical and radiological readings of a prolactinoma (e.g. from ``PATIENT.json``).

    Parameters
    ----------
    prolactin_ug_per_l, upper_limit_normal_ug_per_l : Decimal
        Current serum prolactin and the assay's upper limit of normal.
    baseline_size_ml, current_size_ml : Decimal
        Tumour volume before treatment and now.
    """

    prolactin_ug_per_l: Decimal
    upper_limit_normal_ug_per_l: Decimal
    baseline_size_ml: Decimal
    current_size_ml: Decimal

    def __post_init__(self) -> None:
        self.assess()  # validates the values

    def assess(self) -> ProlactinomaAssessment:
        """Classify the response (see :func:`assess_prolactinoma`)."""
        return assess_prolactinoma(
            self.prolactin_ug_per_l,
            self.upper_limit_normal_ug_per_l,
            self.baseline_size_ml,
            self.current_size_ml,
        )


@dataclass(frozen=True, slots=True)
class ProlactinomaAssessment:
    """Result of :func:`assess_prolactinoma`."""

    category: PituitaryResponse
    biochemical_response: bool
    radiological_response: bool
    size_change_pct: Decimal | None
    possibly_pseudo_refractory: bool
    reason: str


def assess_prolactinoma(
    prolactin_ug_per_l: Decimal,
    upper_limit_normal_ug_per_l: Decimal,
    baseline_size: Decimal,
    current_size: Decimal,
) -> ProlactinomaAssessment:
    """Classify a prolactinoma's response.

    Parameters
    ----------
    prolactin_ug_per_l : Decimal
        Current serum prolactin.
    upper_limit_normal_ug_per_l : Decimal
        Upper limit of normal of the assay.
    baseline_size, current_size : Decimal
        Tumour size before treatment and now, in the same unit (e.g. ml).

    Returns
    -------
    ProlactinomaAssessment

    Raises
    ------
    InputError
        On negative values or a zero baseline size.
    """
    for name, value in (
        ("prolactin_ug_per_l", prolactin_ug_per_l),
        ("upper_limit_normal_ug_per_l", upper_limit_normal_ug_per_l),
        ("baseline_size", baseline_size),
        ("current_size", current_size),
    ):
        if value < 0:
            raise InputError(f"{name} must not be negative; got {value}")
    if baseline_size == 0:
        raise InputError("baseline_size must be > 0")
    biochemical = prolactin_ug_per_l <= upper_limit_normal_ug_per_l
    radiological = change_at_most(current_size, baseline_size, -SHRINKAGE_PCT)
    change = percent_change(current_size, baseline_size)
    if biochemical and radiological:
        category, reason = PituitaryResponse.RESPONSE, "normal prolactin and >= 50 % shrinkage"
    elif biochemical or radiological:
        category = PituitaryResponse.DISCORDANT
        reason = (
            "prolactin normal without >= 50 % shrinkage"
            if biochemical
            else "shrinkage >= 50 % while prolactin stays above normal"
        ) + ": possibly pseudo-refractory, review (hook effect, cystic change)"
    else:
        category, reason = PituitaryResponse.NO_RESPONSE, "prolactin high, < 50 % shrinkage"
    return ProlactinomaAssessment(
        category=category,
        biochemical_response=biochemical,
        radiological_response=radiological,
        size_change_pct=change,
        possibly_pseudo_refractory=category is PituitaryResponse.DISCORDANT,
        reason=reason,
    )
