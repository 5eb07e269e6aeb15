"""Risk stratification: MEN syndrome, high tumour grade, tumour burden, functional status.

The guide names MEN syndrome, high tumour grade and high tumour burden as the
high-risk features, and a higher morbi-mortality for functioning tumours. Any
of them makes the patient "higher" risk (treatment may be more aggressive).
With every factor known and none present the patient is "lower" risk, and
the advice is not to exhaust therapeutic options too early. Otherwise the
risk is "unknown" and the missing facts are named. The guide gives no
threshold for "high tumor grade": tumorboard counts G3 (NET or NEC) and
labels that as its default. When MEN status is unknown the guide's advice to
rule it out in young patients is shown.
"""

from __future__ import annotations

from enum import Enum

from tumorboard.guide.facts import CaseFacts, TumourBurden
from tumorboard.guide.records import Recommendation, StepResult, cite, load_rules
from tumorboard.guide.who_grade import WhoGrade

HIGH_GRADES = (WhoGrade.G3, WhoGrade.G3_NET, WhoGrade.G3_NEC)


class Risk(Enum):
    """Risk class of the case."""

    HIGHER = "higher"
    LOWER = "lower"
    UNKNOWN = "unknown"


def risk(facts: CaseFacts, grade: WhoGrade | None) -> tuple[Risk, list[str], StepResult]:
    """Risk class, the risk factors present, and the advice."""
    sources = load_rules("therapy")["sources"]
    factors: list[str] = []
    missing: list[str] = []
    out: list[Recommendation] = []
    if facts.men_syndrome is None:
        missing.append("men_syndrome")
    elif facts.men_syndrome:
        factors.append("MEN syndrome")
    if grade is None:
        missing.append("ki67_pct")
    elif grade in HIGH_GRADES:
        factors.append(f"high tumour grade ({grade.value})")
    if facts.tumour_burden is None:
        missing.append("tumour_burden")
    elif facts.tumour_burden is TumourBurden.HIGH:
        factors.append("high tumour burden")
    if facts.functioning is None:
        missing.append("functioning")
    elif facts.functioning:
        factors.append("functioning tumour" + (f" ({facts.syndrome})" if facts.syndrome else ""))
    inputs = {
        "men_syndrome": facts.men_syndrome,
        "who_grade": None if grade is None else grade.value,
        "tumour_burden": None if facts.tumour_burden is None else facts.tumour_burden.value,
        "functioning": facts.functioning,
    }
    if factors:
        result = Risk.HIGHER
        out.append(
            Recommendation(
                "risk",
                "Higher risk: " + ", ".join(factors) + "; such patients may be guided toward "
                "more aggressive treatment.",
                inputs,
                cite(sources["risk_high"]),
            )
        )
        if any(f.startswith(("MEN", "high tumour")) for f in factors):
            out.append(
                Recommendation(
                    "risk",
                    "High-risk features of the guide: MEN syndrome, high tumour grade, high "
                    "tumour burden.",
                    inputs,
                    cite(sources["risk"]),
                )
            )
        if facts.functioning:
            out.append(
                Recommendation(
                    "risk",
                    "Functioning tumour: higher morbidity and mortality than a non-functioning "
                    "one (e.g. carcinoid syndrome).",
                    {"functioning": True, "syndrome": facts.syndrome},
                    cite(sources["risk_functioning"]),
                )
            )
    elif not missing:
        result = Risk.LOWER
        out.append(
            Recommendation(
                "risk",
                "Lower risk (no MEN syndrome, no high grade, low tumour burden, non-functioning): "
                "do not exhaust therapeutic options too early.",
                inputs,
                cite(sources["risk_low"]),
            )
        )
    else:
        result = Risk.UNKNOWN
        out.append(
            Recommendation(
                "risk",
                "Risk cannot be classified yet; missing: " + ", ".join(missing) + ".",
                inputs,
                cite(sources["risk_unknown"]),
            )
        )
    if grade is not None:
        out.append(
            Recommendation(
                "risk",
                "'High tumour grade' is read as G3 (NET or NEC); G1 and G2 do not count.",
                {"who_grade": grade.value},
                cite(sources["high_grade"]),
            )
        )
    if facts.men_syndrome is None:
        out.append(
            Recommendation(
                "risk",
                "MEN syndrome not stated: 15 % of NETs are hereditary; rule MEN out in young "
                "patients, with or without a family history of cancer.",
                {"men_syndrome": None},
                cite(sources["men_rule_out"]),
            )
        )
    return result, factors, StepResult(tuple(out), tuple(missing))
