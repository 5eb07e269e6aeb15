"""Therapy-path flags: debulking, thermal ablation, intra-arterial therapy, SIRT.

* surgical debulking only when more than 90 % of the burden is removable;
* thermal ablation for small oligometastatic (low-burden) liver disease;
* intra-arterial therapy for symptomatic (functioning) liver-predominant
  disease, bland TAE or conventional TACE before drug-eluting beads;
* SIRT as an alternative with its work-up.
"""

from __future__ import annotations

from tumorboard.guide.facts import CaseFacts, TumourBurden
from tumorboard.guide.records import Recommendation, StepResult, cite, load_rules


def therapy_paths(facts: CaseFacts) -> StepResult:
    """Flags for surgery and liver-directed therapy."""
    rules = load_rules("therapy")
    sources = rules["sources"]
    out: list[Recommendation] = []
    missing: list[str] = []
    threshold = float(rules["debulking_min_resectable_pct"])
    fraction = facts.resectable_fraction_pct
    if fraction is None:
        missing.append("resectable_fraction_pct")
    elif fraction > threshold:
        out.append(
            Recommendation(
                "surgery",
                f"Surgical debulking can be discussed: {fraction:g} % of the tumour burden is "
                f"removable (> {threshold:g} %).",
                {"resectable_fraction_pct": fraction},
                cite(sources["debulking"]),
            )
        )
    else:
        out.append(
            Recommendation(
                "surgery",
                f"Surgical debulking not advised: only {fraction:g} % of the tumour burden is "
                f"removable (needs > {threshold:g} %).",
                {"resectable_fraction_pct": fraction},
                cite(sources["debulking"]),
            )
        )
    liver = facts.liver_predominant
    burden = facts.tumour_burden
    if liver is None:
        missing.append("liver_predominant")
        return StepResult(tuple(out), tuple(missing))
    if not liver:
        return StepResult(tuple(out), tuple(missing))
    if burden is TumourBurden.LOW:
        out.append(
            Recommendation(
                "liver",
                "Small oligometastatic liver disease: consider thermal ablation.",
                {"liver_predominant": True, "tumour_burden": "low"},
                cite(sources["ablation"]),
            )
        )
    elif burden is None:
        missing.append("tumour_burden")
    if facts.functioning:
        out.append(
            Recommendation(
                "liver",
                "Symptomatic liver-predominant disease: intra-arterial therapy; bland "
                "transarterial embolisation (TAE) or conventional TACE before drug-eluting beads.",
                {"liver_predominant": True, "functioning": True},
                cite(sources["intra_arterial"]),
            )
        )
    elif facts.functioning is None:
        missing.append("functioning")
    if burden is TumourBurden.HIGH or facts.functioning:
        out.append(
            Recommendation(
                "liver",
                "SIRT (90Y microspheres) is an alternative for liver-predominant disease; it needs "
                "a work-up: hepatic angiography and 99mTc-MAA scintigraphy (lung shunt fraction, "
                "extrahepatic deposition).",
                {
                    "liver_predominant": True,
                    "tumour_burden": None if burden is None else burden.value,
                    "functioning": facts.functioning,
                },
                cite(sources["sirt"]),
            )
        )
    return StepResult(tuple(out), tuple(missing))
