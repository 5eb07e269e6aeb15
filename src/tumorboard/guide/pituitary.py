"""Refractory pituitary adenoma: kind of refractoriness, MR sequences, molecular imaging.

Biochemical refractoriness: the hormone excess persists. Structural
refractoriness: the adenoma grows or shrinks by less than 50 %. A prolactinoma
with normal prolactin but < 50 % shrinkage is discordant and possibly
pseudo-refractory (e.g. cystic or haemorrhagic change): check before escalating
the dose. Tables in ``rules/pituitary.json``.
"""

from __future__ import annotations

from enum import Enum

from tumorboard.guide.facts import CaseFacts, TumourType
from tumorboard.guide.records import Recommendation, StepResult, cite, load_rules


class Refractoriness(Enum):
    """Kind of refractoriness of a pituitary adenoma."""

    NONE = "none"
    BIOCHEMICAL = "biochemical"
    STRUCTURAL = "structural"
    BIOCHEMICAL_AND_STRUCTURAL = "biochemical and structural"
    DISCORDANT = "discordant (possibly pseudo-refractory)"
    UNKNOWN = "unknown"


def pituitary(facts: CaseFacts) -> tuple[Refractoriness | None, list[str], StepResult]:
    """The pituitary part of the guide (None when the case is not a pituitary adenoma).

    Returns the kind of refractoriness, the imaging in order (sella MRI, then
    molecular imaging when the hormone excess persists) and the advice.

    When neither ``pituitary_adenoma`` nor a primary site is given, the
    missing ``pituitary_adenoma`` is named: it would open this part.
    """
    if not facts.is_pituitary:
        if facts.pituitary_adenoma is None and facts.primary_site is None:
            return None, [], StepResult(missing=("pituitary_adenoma",))
        return None, [], StepResult()
    rules = load_rules("pituitary")
    sources = rules["sources"]
    threshold = float(rules["structural_min_reduction_pct"])
    missing = [
        name
        for name in ("hormone_normalised", "size_reduction_pct")
        if getattr(facts, name) is None
    ]
    biochemical = None if facts.hormone_normalised is None else not facts.hormone_normalised
    structural = None if facts.size_reduction_pct is None else facts.size_reduction_pct < threshold
    inputs = {
        "hormone_normalised": facts.hormone_normalised,
        "size_reduction_pct": facts.size_reduction_pct,
        "tumour_type": None if facts.tumour_type is None else facts.tumour_type.value,
    }
    out: list[Recommendation] = []
    if biochemical is None and structural is None:
        kind = Refractoriness.UNKNOWN
    elif biochemical and structural:
        kind = Refractoriness.BIOCHEMICAL_AND_STRUCTURAL
    elif biochemical:
        kind = Refractoriness.BIOCHEMICAL
    elif structural and biochemical is False and facts.tumour_type is TumourType.PROLACTINOMA:
        kind = Refractoriness.DISCORDANT
    elif structural:
        kind = Refractoriness.STRUCTURAL
    elif biochemical is False and structural is False:
        kind = Refractoriness.NONE
    else:
        kind = Refractoriness.UNKNOWN
    texts = {
        Refractoriness.NONE: "Hormone normalised and adenoma shrinking: not refractory.",
        Refractoriness.BIOCHEMICAL: "Biochemically refractory: hormone excess persists.",
        Refractoriness.STRUCTURAL: f"Structurally refractory: shrinkage below {threshold:g} % "
        "or growth.",
        Refractoriness.BIOCHEMICAL_AND_STRUCTURAL: "Biochemically and structurally refractory.",
        Refractoriness.DISCORDANT: (
            f"Discordant prolactinoma: prolactin normal but shrinkage below {threshold:g} %. "
            "Possibly pseudo-refractory (e.g. cystic or haemorrhagic change, fibrosis): review "
            "the MRI before escalating the dopamine-agonist dose."
        ),
        Refractoriness.UNKNOWN: "Refractoriness cannot be classified; missing: "
        + ", ".join(missing)
        + ".",
    }
    source = sources["discordant"] if kind is Refractoriness.DISCORDANT else sources["refractory"]
    out.append(Recommendation("pituitary", texts[kind], inputs, cite(source)))
    for item in rules["sequences"]:
        out.append(
            Recommendation(
                "pituitary",
                f"For {item['question']}: {item['sequence']}.",
                {"pituitary_adenoma": True},
                cite(sources["sequences"]),
            )
        )
    imaging = [str(rules["imaging"]["mri"])]
    if kind in (Refractoriness.BIOCHEMICAL, Refractoriness.BIOCHEMICAL_AND_STRUCTURAL):
        imaging.extend(str(name) for name in rules["imaging"]["molecular"])
        out.append(
            Recommendation(
                "pituitary",
                "Hormone excess persists: when MRI does not show the (residual) adenoma clearly, "
                "molecular imaging is suggested: 11C-methionine PET (or 18F-FET PET) to locate "
                "functioning tissue; 68Ga-DOTATATE PET for somatostatin-receptor expression.",
                inputs,
                cite(sources["molecular"]),
            )
        )
    return kind, imaging, StepResult(tuple(out), tuple(missing))
