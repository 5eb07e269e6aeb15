"""Therapy-path flags: debulking, thermal ablation, intra-arterial therapy, SIRT.

* surgical debulking only when more than 90 % of the burden is removable;
* thermal ablation for small oligometastatic (low-burden) liver disease;
* intra-arterial therapy for symptomatic (functioning) liver-predominant
  disease, conventional TACE (or TAE) before drug-eluting beads;
* SIRT with its work-up (when it is shown is tumorboard's default).

Every recommendation quotes its sentence of the guide (``rules/therapy.json``).
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
                "Symptomatic liver-predominant disease: intra-arterial interventional radiology "
                "(embolisation) is reserved for such patients.",
                {"liver_predominant": True, "functioning": True},
                cite(sources["intra_arterial"]),
            )
        )
        out.append(
            Recommendation(
                "liver",
                "Embolisation technique: conventional TACE (or bland TAE for metastases of "
                "intestinal origin) in first intention rather than drug-eluting beads "
                "(DEB-TACE), which carry a higher risk of biliary injury.",
                {"liver_predominant": True, "functioning": True},
                cite(sources["tace_first"]),
            )
        )
    elif facts.functioning is None:
        missing.append("functioning")
    if burden is TumourBurden.HIGH or facts.functioning:
        sirt_inputs = {
            "liver_predominant": True,
            "tumour_burden": None if burden is None else burden.value,
            "functioning": facts.functioning,
        }
        out.append(
            Recommendation(
                "liver",
                "SIRT (90Y microspheres) can be discussed: unlike other intra-arterial "
                "treatments, the number and sites of liver metastases do not limit its use.",
                sirt_inputs,
                cite(sources["sirt"]),
            )
        )
        out.append(
            Recommendation(
                "liver",
                "SIRT is shown for liver-predominant disease with a high burden or a syndrome.",
                sirt_inputs,
                cite(sources["sirt_when"]),
            )
        )
        out.append(
            Recommendation(
                "liver",
                "SIRT work-up a few weeks before treatment: hepatic angiography, embolisation of "
                "branches to the gut, then technetium macro-aggregated albumin (MAA) with SPECT "
                "to detect shunting to the lungs and deposition in the gut.",
                sirt_inputs,
                cite(sources["sirt_workup"]),
            )
        )
    return StepResult(tuple(out), tuple(missing))
