"""Walk the whole reading guide for one case and collect the result.

The steps run in the order a reader walks them: WHO grade, embryology, risk,
imaging, therapy paths, PRRT, response criteria, then the pituitary part when
it applies. Every recommendation keeps its inputs and its source; the facts
that were missing are listed as what would change the advice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tumorboard import __version__
from tumorboard.guide.criteria_choice import response_criteria
from tumorboard.guide.embryology import Embryology, embryology
from tumorboard.guide.facts import CaseFacts
from tumorboard.guide.imaging_choice import recommended_imaging
from tumorboard.guide.pituitary import Refractoriness, pituitary
from tumorboard.guide.prrt import PrrtAssessment, prrt_eligibility
from tumorboard.guide.records import DISCLAIMER, Recommendation, StepResult, load_rules
from tumorboard.guide.risk import Risk, risk
from tumorboard.guide.therapy_paths import therapy_paths
from tumorboard.guide.who_grade import WhoGrade, who_grade

#: Rule tables whose versions are reported with every result.
RULE_TABLES = ("sources", "who_grade", "embryology", "imaging", "criteria", "therapy", "pituitary")


@dataclass(frozen=True)
class GuideResult:
    """The guide's walk through one case.

    Attributes
    ----------
    facts : CaseFacts
        The facts it started from.
    who_grade : WhoGrade or None
    risk : Risk
    risk_factors : tuple of str
    embryology : Embryology or None
    recommended_imaging : tuple of str
        In the order to perform them.
    response_criteria : tuple of str
    prrt : PrrtAssessment
    pituitary : Refractoriness or None
        None when the case is not a pituitary adenoma.
    recommendations : tuple of Recommendation
    missing_facts : tuple of str
        Facts not given that would change the advice.
    """

    facts: CaseFacts
    who_grade: WhoGrade | None
    risk: Risk
    risk_factors: tuple[str, ...]
    embryology: Embryology | None
    recommended_imaging: tuple[str, ...]
    response_criteria: tuple[str, ...]
    prrt: PrrtAssessment
    pituitary: Refractoriness | None
    recommendations: tuple[Recommendation, ...]
    missing_facts: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """The ``guide.json`` content."""
        return {
            "disclaimer": DISCLAIMER,
            "tumorboard_version": __version__,
            "rules_versions": {name: load_rules(name)["version"] for name in RULE_TABLES},
            "facts": self.facts.given(),
            "who_grade": None if self.who_grade is None else self.who_grade.value,
            "risk": self.risk.value,
            "risk_factors": list(self.risk_factors),
            "embryology": None if self.embryology is None else self.embryology.value,
            "recommended_imaging": list(self.recommended_imaging),
            "response_criteria": list(self.response_criteria),
            "prrt": self.prrt.as_dict(),
            "pituitary": None
            if self.pituitary is None
            else {"refractoriness": self.pituitary.value},
            "recommendations": [item.as_dict() for item in self.recommendations],
            "missing_facts": [
                {"fact": name, "note": "not given; would change the advice"}
                for name in self.missing_facts
            ],
        }


def run_guide(facts: CaseFacts) -> GuideResult:
    """Walk every step of the reading guide for ``facts``."""
    steps: list[StepResult] = []
    grade, step = who_grade(facts)
    steps.append(step)
    origin, step = embryology(facts)
    steps.append(step)
    risk_class, factors, step = risk(facts, grade)
    steps.append(step)
    imaging, step = recommended_imaging(facts, origin)
    steps.append(step)
    steps.append(therapy_paths(facts))
    prrt, step = prrt_eligibility(facts, grade)
    steps.append(step)
    criteria, step = response_criteria(facts)
    steps.append(step)
    refractoriness, step = pituitary(facts)
    steps.append(step)
    missing: list[str] = []
    for item in steps:
        missing.extend(name for name in item.missing if name not in missing)
    return GuideResult(
        facts=facts,
        who_grade=grade,
        risk=risk_class,
        risk_factors=tuple(factors),
        embryology=origin,
        recommended_imaging=tuple(imaging),
        response_criteria=tuple(criteria),
        prrt=prrt,
        pituitary=refractoriness,
        recommendations=tuple(rec for item in steps for rec in item.recommendations),
        missing_facts=tuple(missing),
    )
