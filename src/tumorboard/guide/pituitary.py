"""Refractory pituitary adenoma: domains of refractoriness, MR sequences, molecular imaging.

The review defines two domains that may co-exist: biochemical refractoriness
(persistent autonomous hormone production) and structural refractoriness
(continued growth, or failure to regress, with local mass effect). tumorboard
reads "failure to regress" as no shrinkage (its default). A medically treated
adenoma with the hormone controlled but little or no shrinkage -- for a
prolactinoma, less than the traditional 50 % goal, which the review calls
debated -- is a discordant, possibly pseudo-refractory response: molecular
imaging can identify such tumours early and avoid unnecessary dose titration.
The MR sequences by clinical question, field strength and volumetric
sequences, PET/MR co-registration and the review's four indications for
molecular imaging follow. Tables and quotes in ``rules/pituitary.json``.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from tumorboard.guide.facts import CaseFacts, TumourType
from tumorboard.guide.records import Recommendation, StepResult, cite, load_rules

#: Tumour types for which the review names D2-receptor PET (dopamine-agonist response).
D2_TYPES = (TumourType.PROLACTINOMA, TumourType.NONFUNCTIONING_PITUITARY)


class Refractoriness(Enum):
    """Kind of refractoriness of a pituitary adenoma."""

    NONE = "none"
    BIOCHEMICAL = "biochemical"
    STRUCTURAL = "structural"
    BIOCHEMICAL_AND_STRUCTURAL = "biochemical and structural"
    DISCORDANT = "discordant (possibly pseudo-refractory)"
    UNKNOWN = "unknown"


def _structural(facts: CaseFacts, rules: dict[str, Any]) -> tuple[bool | None, list[str]]:
    """Growth or no regression with local mass effect; the facts it still needs."""
    if facts.size_reduction_pct is None:
        return None, ["size_reduction_pct"]
    if facts.size_reduction_pct > float(rules["no_regression_max_reduction_pct"]):
        return False, []
    if facts.local_mass_effect is None:
        return None, ["local_mass_effect"]
    return facts.local_mass_effect, []


def _discordant(facts: CaseFacts, rules: dict[str, Any]) -> bool:
    """Hormone controlled with little or no shrinkage (a prolactinoma: below the 50 % goal)."""
    if facts.hormone_normalised is not True or facts.size_reduction_pct is None:
        return False
    if facts.tumour_type is TumourType.PROLACTINOMA:
        return facts.size_reduction_pct < float(rules["prolactinoma_goal_reduction_pct"])
    return facts.size_reduction_pct <= float(rules["no_regression_max_reduction_pct"])


def _kind(biochemical: bool | None, structural: bool | None, discordant: bool) -> Refractoriness:
    if biochemical and structural:
        return Refractoriness.BIOCHEMICAL_AND_STRUCTURAL
    if biochemical:
        return Refractoriness.BIOCHEMICAL
    if structural:
        return Refractoriness.STRUCTURAL
    if structural is None:
        return Refractoriness.UNKNOWN
    if discordant:
        return Refractoriness.DISCORDANT
    if biochemical is False and structural is False:
        return Refractoriness.NONE
    return Refractoriness.UNKNOWN


def pituitary(facts: CaseFacts) -> tuple[Refractoriness | None, list[str], StepResult]:
    """The pituitary part of the guide (None when the case is not a pituitary adenoma).

    Returns the kind of refractoriness, the imaging in order (sella MRI, then
    molecular imaging when the adenoma is refractory or discordant) and the
    advice. When neither ``pituitary_adenoma`` nor a primary site is given,
    the missing ``pituitary_adenoma`` is named: it would open this part.

    Examples
    --------
    >>> from tumorboard.guide.facts import CaseFacts
    >>> kind, imaging, _ = pituitary(CaseFacts(pituitary_adenoma=True, hormone_normalised=False,
    ...                                        size_reduction_pct=40.0))
    >>> kind.value, imaging[1].startswith("11C-methionine")
    ('biochemical', True)
    """
    if not facts.is_pituitary:
        if facts.pituitary_adenoma is None and facts.primary_site is None:
            return None, [], StepResult(missing=("pituitary_adenoma",))
        return None, [], StepResult()
    rules = load_rules("pituitary")
    sources = rules["sources"]
    missing = ["hormone_normalised"] if facts.hormone_normalised is None else []
    biochemical = None if facts.hormone_normalised is None else not facts.hormone_normalised
    structural, structural_missing = _structural(facts, rules)
    missing.extend(structural_missing)
    kind = _kind(biochemical, structural, _discordant(facts, rules))
    inputs = {
        "hormone_normalised": facts.hormone_normalised,
        "size_reduction_pct": facts.size_reduction_pct,
        "local_mass_effect": facts.local_mass_effect,
        "tumour_type": None if facts.tumour_type is None else facts.tumour_type.value,
    }
    out = _refractoriness_advice(kind, facts, missing, inputs, sources)
    out.extend(_mri_advice(rules))
    imaging = [str(rules["imaging"]["mri"])]
    if kind not in (Refractoriness.NONE, Refractoriness.UNKNOWN):
        imaging.extend(str(name) for name in rules["imaging"]["molecular"])
        if facts.tumour_type in D2_TYPES:
            imaging.append(str(rules["imaging"]["d2_pet"]))
        out.extend(_molecular_advice(kind, facts, inputs, rules))
    return kind, imaging, StepResult(tuple(out), tuple(missing))


def _refractoriness_advice(
    kind: Refractoriness,
    facts: CaseFacts,
    missing: list[str],
    inputs: dict[str, Any],
    sources: dict[str, Any],
) -> list[Recommendation]:
    out = []
    if kind in (Refractoriness.BIOCHEMICAL, Refractoriness.BIOCHEMICAL_AND_STRUCTURAL):
        text = "Biochemically refractory: persistent autonomous hormone production."
        out.append(Recommendation("pituitary", text, inputs, cite(sources["biochemical"])))
    if kind in (Refractoriness.STRUCTURAL, Refractoriness.BIOCHEMICAL_AND_STRUCTURAL):
        text = (
            "Structurally refractory: continued growth (or failure to regress) with local mass "
            "effect."
        )
        out.append(Recommendation("pituitary", text, inputs, cite(sources["structural"])))
    if facts.size_reduction_pct is not None and facts.size_reduction_pct <= 0:
        out.append(
            Recommendation(
                "pituitary",
                f"Size reduction {facts.size_reduction_pct:g} % (negative = growth): read as "
                "failure to regress (no shrinkage).",
                inputs,
                cite(sources["no_regression"]),
            )
        )
    if kind is Refractoriness.DISCORDANT:
        out.append(
            Recommendation(
                "pituitary",
                "Discordant response: hormone controlled but little or no tumour shrinkage; "
                "possibly a pseudo-refractory tumour.",
                inputs,
                cite(sources["discordant"]),
            )
        )
        if facts.tumour_type is TumourType.PROLACTINOMA:
            out.append(
                Recommendation(
                    "pituitary",
                    "Prolactinoma guidelines traditionally aim at a normal prolactin and a 50 % "
                    f"reduction in size; this one shrank {facts.size_reduction_pct:g} %.",
                    inputs,
                    cite(sources["prolactinoma_goal"]),
                )
            )
            out.append(
                Recommendation(
                    "pituitary",
                    "Whether missing the 50 % shrinkage is true refractoriness is debated; "
                    "delayed shrinkage occurs even without dose escalation.",
                    inputs,
                    cite(sources["goal_debated"]),
                )
            )
    if kind is Refractoriness.NONE:
        text = "Hormone controlled and the adenoma regressing: not refractory in either domain."
        out.append(Recommendation("pituitary", text, inputs, cite(sources["not_refractory"])))
    if kind is Refractoriness.UNKNOWN:
        text = "Refractoriness cannot be classified; missing: " + ", ".join(missing) + "."
        out.append(Recommendation("pituitary", text, inputs, cite(sources["unknown"])))
    return out


def _mri_advice(rules: dict[str, Any]) -> list[Recommendation]:
    sources = rules["sources"]
    inputs: dict[str, Any] = {"pituitary_adenoma": True}
    out = [
        Recommendation(
            "pituitary",
            "Standard sella MRI: coronal and sagittal T1 spin echo before and after gadolinium, "
            "coronal T2 fast spin echo.",
            inputs,
            cite(sources["standard_mri"]),
        ),
        Recommendation(
            "pituitary",
            "For small-volume recurrence: higher field strength (3T/7T) and volumetric "
            "sequences (3D gradient echo, 3D FSE).",
            inputs,
            cite(sources["field_strength"]),
        ),
        Recommendation(
            "pituitary",
            "Volumetric acquisition helps tell residual adenoma from postoperative remodelling "
            "and normal gland, and gives any plane for surgery or radiotherapy planning.",
            inputs,
            cite(sources["volumetric"]),
        ),
    ]
    for item in rules["sequences"]:
        out.append(
            Recommendation(
                "pituitary",
                f"For {item['question']}: {item['sequence']}.",
                inputs,
                cite(item["source"]),
            )
        )
    return out


def _molecular_advice(
    kind: Refractoriness, facts: CaseFacts, inputs: dict[str, Any], rules: dict[str, Any]
) -> list[Recommendation]:
    sources = rules["sources"]
    indications = rules["indications"]
    out = [
        Recommendation(
            "pituitary",
            "PET tracers with the greatest utility: LAT1 amino-acid tracers (11C-methionine, "
            "18F-FET) and somatostatin-receptor tracers (68Ga-DOTATATE).",
            inputs,
            cite(sources["tracers"]),
        ),
        Recommendation(
            "pituitary",
            "Co-register PET/CT with volumetric MRI (PET/MRCR), or use hybrid PET/MR, to "
            "localise abnormal uptake precisely.",
            inputs,
            cite(sources["coregistration"]),
        ),
        _indication(indications["localisation"], inputs),
    ]
    if facts.tumour_type in D2_TYPES or facts.tumour_type is None:
        out.append(_indication(indications["d2_response"], inputs))
    out.append(_indication(indications["prrt_suitability"], inputs))
    out.append(_indication(indications["extent"], inputs))
    if kind is Refractoriness.DISCORDANT:
        out.append(_indication(indications["pseudo_refractory"], inputs))
    return out


def _indication(entry: dict[str, Any], inputs: dict[str, Any]) -> Recommendation:
    return Recommendation("pituitary", str(entry["text"]), inputs, cite(entry["source"]))
