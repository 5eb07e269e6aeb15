"""Embryological origin (foregut, midgut, hindgut) of the primary site."""

from __future__ import annotations

from enum import Enum

from tumorboard.guide.facts import CaseFacts
from tumorboard.guide.records import Recommendation, StepResult, cite, load_rules


class Embryology(Enum):
    """Embryological origin of the primary tumour."""

    FOREGUT = "foregut"
    MIDGUT = "midgut"
    HINDGUT = "hindgut"
    UNKNOWN = "unknown"


def embryology(facts: CaseFacts) -> tuple[Embryology | None, StepResult]:
    """Origin of ``facts.primary_site`` per ``rules/embryology.json`` (None when no site)."""
    if facts.primary_site is None:
        return None, StepResult(missing=("primary_site",))
    rules = load_rules("embryology")
    origin = Embryology(rules["sites"][facts.primary_site])
    site = facts.primary_site.replace("_", " ")
    inputs = {"primary_site": facts.primary_site}
    if origin is Embryology.UNKNOWN:
        text = "Primary site unknown: the embryological origin cannot steer the tracer choice."
        source = cite(rules["origin_source"])
    else:
        text = f"Primary in the {site}: {origin.value} origin."
        source = cite(rules["source"])
    step = StepResult((Recommendation("embryology", text, inputs, source),))
    return origin, step
