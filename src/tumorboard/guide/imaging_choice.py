"""Recommended anatomical and molecular imaging, in order, and the non-resectability work-up.

Table 2 of the step-by-step guide orders the tracers by embryological origin
(foregut: SSTR PET or scintigraphy, then 18F-DOPA PET; midgut: 18F-DOPA PET,
then SSTR PET; hindgut: CT/MRI before nuclear medicine) and by tumour type
(insulinoma: 18F-DOPA PET and IACIG if hard to localise; gastrinoma:
68Ga-DOTATOC PET and IACIG; poorly differentiated: 18F-FDG PET). FDG PET is
added for Ki-67 >= 10 %. The primary site adds its locoregional technique
(endoscopic ultrasound, rectal EUS and pelvic MRI, CT-enteroclysis), and
every GEP case gets the steps of the diagnosis of non-resectability. The
orders and texts are data (``rules/imaging.json``), each with its quote.
"""

from __future__ import annotations

from typing import Any

from tumorboard.guide.embryology import Embryology
from tumorboard.guide.facts import CaseFacts
from tumorboard.guide.records import Recommendation, StepResult, cite, load_rules


def _entry(
    facts: CaseFacts, origin: Embryology | None
) -> tuple[dict[str, Any], str, dict[str, Any]] | None:
    rules = load_rules("imaging")
    tumour_type = None if facts.tumour_type is None else facts.tumour_type.value
    if facts.poorly_differentiated:
        differentiation = None if facts.differentiation is None else facts.differentiation.value
        return (
            rules["poorly_differentiated"],
            "Poorly differentiated tumour",
            {"differentiation": differentiation, "tumour_type": tumour_type},
        )
    if tumour_type in rules["order_by_tumour_type"]:
        return (
            rules["order_by_tumour_type"][tumour_type],
            f"Tumour type {tumour_type}",
            {"tumour_type": tumour_type},
        )
    if origin is not None:
        why = (
            "Primary site unknown (Table 2 orders tracers only by origin, so no tracer order)"
            if origin is Embryology.UNKNOWN
            else f"{origin.value.capitalize()} origin"
        )
        return (
            rules["order_by_origin"][origin.value],
            why,
            {"primary_site": facts.primary_site, "embryology": origin.value},
        )
    return None


#: Anatomical imaging, which Table 2 puts before nuclear medicine for hindgut tumours.
_ANATOMICAL = ("ct", "mri")


def _fdg_position(order: list[str]) -> int:
    """Where FDG PET goes in an order when Ki-67 is high.

    Before SSTR PET where the order has it (the guide: FDG "more suitable than
    68Ga-DOTATATE" for a high proliferative capacity). Otherwise tumorboard's
    own choice, as the guide places FDG only against SSTR PET: after the CT
    and MRI an order starts with (hindgut, "CT/MRI > NM", and an unknown
    primary: FDG PET is nuclear medicine), else after the first tracer.

    Examples
    --------
    >>> _fdg_position(["dopa_pet", "sstr_pet", "ct", "mri"])
    1
    >>> _fdg_position(["ct", "mri", "nm"]), _fdg_position(["ct", "mri"])
    (2, 2)
    >>> _fdg_position(["dopa_pet", "ct", "mri"])
    1
    """
    if "sstr_pet" in order:
        return order.index("sstr_pet")
    leading = 0
    while leading < len(order) and order[leading] in _ANATOMICAL:
        leading += 1
    return leading if leading else min(1, len(order))


def recommended_imaging(
    facts: CaseFacts, origin: Embryology | None
) -> tuple[list[str], StepResult]:
    """The ordered imaging list (names from ``rules/imaging.json``) and its reasons."""
    rules = load_rules("imaging")
    names = rules["modalities"]
    recommendations: list[Recommendation] = []
    missing: list[str] = []
    chosen = _entry(facts, origin)
    if chosen is None:
        unknown = {
            "primary_site": facts.primary_site,
            "tumour_type": facts.tumour_type,
            "differentiation": facts.differentiation,
        }
        return [], StepResult(missing=tuple(k for k, v in unknown.items() if v is None))
    entry, why, inputs = chosen
    if facts.tumour_type is None and not facts.poorly_differentiated:
        missing.append("tumour_type")  # insulinoma and gastrinoma have their own order
    order = list(entry["order"])
    ki67_threshold = float(rules["fdg_ki67_min_pct"])
    if facts.ki67_pct is None and not facts.poorly_differentiated:
        missing.append("ki67_pct")
    if facts.ki67_pct is not None and facts.ki67_pct >= ki67_threshold and "fdg_pet" not in order:
        order.insert(_fdg_position(order), "fdg_pet")
        recommendations.append(
            Recommendation(
                "imaging",
                f"Ki-67 {facts.ki67_pct:g} % (>= {ki67_threshold:g} %): add {names['fdg_pet']}; "
                "FDG suits tumours with a high proliferative capacity better than SSTR PET.",
                {"ki67_pct": facts.ki67_pct},
                cite(rules["fdg_high_ki67_source"]),
            )
        )
    site_entry = rules["locoregional_by_site"].get(facts.primary_site or "")
    if site_entry is not None:
        order.extend(key for key in site_entry["add"] if key not in order)
        recommendations.append(
            Recommendation(
                "imaging",
                str(site_entry["text"]),
                {"primary_site": facts.primary_site},
                cite(site_entry["source"]),
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
    for item in rules["technique"]:
        recommendations.append(
            Recommendation("imaging", str(item["text"]), inputs, cite(item["source"]))
        )
    return listing, StepResult(tuple(recommendations), tuple(missing))


def non_resectability(facts: CaseFacts) -> StepResult:
    """The guide's steps of the diagnosis of non-resectability and metastatic staging.

    Examples
    --------
    >>> from tumorboard.guide.facts import CaseFacts
    >>> step = non_resectability(CaseFacts(primary_site="pancreas"))
    >>> any("perineural" in item.text for item in step.recommendations)
    True
    """
    rules = load_rules("imaging")
    inputs = {"primary_site": facts.primary_site}
    return StepResult(
        tuple(
            Recommendation("resectability", str(item["text"]), inputs, cite(item["source"]))
            for item in rules["non_resectability"]
        )
    )
