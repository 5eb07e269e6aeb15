"""Recommended anatomical and molecular imaging, in order.

SSTR PET first for foregut tumours, 18F-DOPA PET first for midgut tumours,
CT/MRI for hindgut tumours; FDG PET first for poorly differentiated tumours
and added when Ki-67 >= 10 %; the tumour type (insulinoma, gastrinoma) can
override the origin. The orders are data (``rules/imaging.json``).
"""

from __future__ import annotations

from tumorboard.guide.embryology import Embryology
from tumorboard.guide.facts import CaseFacts
from tumorboard.guide.records import Recommendation, StepResult, cite, load_rules


def recommended_imaging(
    facts: CaseFacts, origin: Embryology | None
) -> tuple[list[str], StepResult]:
    """The ordered imaging list (names from ``rules/imaging.json``) and its reasons."""
    rules = load_rules("imaging")
    names = rules["modalities"]
    recommendations = []
    missing: list[str] = []
    inputs: dict[str, str | None]
    tumour_type = None if facts.tumour_type is None else facts.tumour_type.value
    if facts.poorly_differentiated:
        entry = rules["poorly_differentiated"]
        why = "Poorly differentiated tumour"
        inputs = {
            "differentiation": None
            if facts.differentiation is None
            else facts.differentiation.value,
            "tumour_type": tumour_type,
        }
    elif tumour_type in rules["order_by_tumour_type"]:
        entry = rules["order_by_tumour_type"][tumour_type]
        why = f"Tumour type {tumour_type}"
        inputs = {"tumour_type": tumour_type}
    elif origin is not None:
        entry = rules["order_by_origin"][origin.value]
        why = f"{origin.value.capitalize()} origin"
        inputs = {"primary_site": facts.primary_site, "embryology": origin.value}
    else:
        unknown = {
            "primary_site": facts.primary_site,
            "tumour_type": facts.tumour_type,
            "differentiation": facts.differentiation,
        }
        return [], StepResult(missing=tuple(k for k, v in unknown.items() if v is None))
    if facts.tumour_type is None and not facts.poorly_differentiated:
        missing.append("tumour_type")  # insulinoma and gastrinoma have their own order
    order = list(entry["order"])
    ki67_threshold = float(rules["fdg_ki67_min_pct"])
    if facts.ki67_pct is None and not facts.poorly_differentiated:
        missing.append("ki67_pct")
    if facts.ki67_pct is not None and facts.ki67_pct >= ki67_threshold and "fdg_pet" not in order:
        order.insert(1, "fdg_pet")
        recommendations.append(
            Recommendation(
                "imaging",
                f"Ki-67 {facts.ki67_pct:g} % (>= {ki67_threshold:g} %): add {names['fdg_pet']} "
                "to find aggressive, dedifferentiated clones.",
                {"ki67_pct": facts.ki67_pct},
                cite(rules["fdg_high_ki67_source"]),
            )
        )
    listing = [names[key] for key in order]
    recommendations.insert(
        0,
        Recommendation(
            "imaging",
            f"{why}: image in this order: " + "; ".join(listing) + ".",
            inputs,
            cite(entry["source"]),
        ),
    )
    return listing, StepResult(tuple(recommendations), tuple(missing))
