"""Walk the whole reading guide for one case and collect the result.

The steps run in the order a reader walks them: WHO grade, embryology, risk,
imaging, the diagnosis of non-resectability, therapy paths, PRRT, response
criteria, then the pituitary part when it applies. Every recommendation keeps
its inputs and its source; the facts that were missing are listed as what
would change the advice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tumorboard import __version__
from tumorboard.guide.criteria_choice import response_criteria
from tumorboard.guide.embryology import Embryology, embryology
from tumorboard.guide.facts import CaseFacts
from tumorboard.guide.imaging_choice import non_resectability, recommended_imaging
from tumorboard.guide.pituitary import Refractoriness, pituitary
from tumorboard.guide.prrt import PrrtAssessment, PrrtStatus, prrt_eligibility
from tumorboard.guide.records import DISCLAIMER, Recommendation, StepResult, cite, load_rules
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
    missing_affects : dict of str to tuple of str
        For each missing fact, the steps of the guide whose advice it would
        change (``who_grade``, ``risk``, ``imaging`` ...).
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
    missing_affects: dict[str, tuple[str, ...]] = field(default_factory=dict)

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
                {
                    "fact": name,
                    "would_change": list(self.missing_affects.get(name, ())),
                    "note": "not given; would change the advice",
                }
                for name in self.missing_facts
            ],
        }


def run_guide(facts: CaseFacts) -> GuideResult:
    """Walk every step of the reading guide for ``facts``.

    A pituitary adenoma without a gastro-entero-pancreatic primary site gets
    the pituitary part and the response criteria only: the GEP-NET steps
    (grade, origin, imaging order, risk, therapy paths, PRRT criteria) are
    reported as not applied (``who_grade`` null, ``risk`` and ``prrt``
    ``unknown`` with the reason), not guessed.
    """
    criteria, criteria_step = response_criteria(facts)
    refractoriness, sella_imaging, pituitary_step = pituitary(facts)
    named_steps: tuple[tuple[str, StepResult], ...]
    if facts.is_pituitary and facts.primary_site is None:
        grade, origin, imaging = None, None, sella_imaging
        factors: list[str] = []
        risk_class = Risk.UNKNOWN
        prrt = PrrtAssessment(
            PrrtStatus.UNKNOWN,
            ("not assessed: the GEP-NET PRRT criteria do not apply to a pituitary adenoma",),
        )
        note = load_rules("pituitary")["gep_not_applicable"]
        scope = Recommendation(
            "scope",
            str(note["text"]),
            {"pituitary_adenoma": True, "primary_site": None},
            cite(note["source"]),
        )
        named_steps = (
            ("scope", StepResult((scope,))),
            ("response_criteria", criteria_step),
            ("pituitary", pituitary_step),
        )
    else:
        grade, grade_step = who_grade(facts)
        origin, origin_step = embryology(facts)
        risk_class, factors, risk_step = risk(facts, grade)
        imaging, imaging_step = recommended_imaging(facts, origin)
        prrt, prrt_step = prrt_eligibility(facts, grade)
        named_steps = (
            ("who_grade", grade_step),
            ("embryology", origin_step),
            ("risk", risk_step),
            ("imaging", imaging_step),
            ("resectability", non_resectability(facts)),
            ("therapy_paths", therapy_paths(facts)),
            ("prrt", prrt_step),
            ("response_criteria", criteria_step),
            ("pituitary", pituitary_step),
        )
        imaging = imaging + [name for name in sella_imaging if name not in imaging]
    steps = [step for _, step in named_steps]
    affects: dict[str, list[str]] = {}
    for step_name, item in named_steps:
        for name in item.missing:
            affects.setdefault(name, [])
            if step_name not in affects[name]:
                affects[name].append(step_name)
    missing = list(affects)
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
        missing_affects={name: tuple(where) for name, where in affects.items()},
    )
