"""Risk stratification: MEN syndrome, grade, tumour burden, functional status.

Any risk factor makes the patient "higher" risk. With every factor known and
none present the patient is "lower" risk, and the guide's advice is not to
exhaust therapeutic options too early. Otherwise the risk is "unknown" and the
missing facts are named. A grade counts as a risk factor from G2 with Ki-67
>= 10 % (the threshold at which the guide adds FDG PET) and for every G3.
"""

from __future__ import annotations

from enum import Enum

from tumorboard.guide.facts import CaseFacts, TumourBurden
from tumorboard.guide.records import Recommendation, StepResult, cite, load_rules
from tumorboard.guide.who_grade import WhoGrade


class Risk(Enum):
    """Risk class of the case."""

    HIGHER = "higher"
    LOWER = "lower"
    UNKNOWN = "unknown"


def risk(facts: CaseFacts, grade: WhoGrade | None) -> tuple[Risk, list[str], StepResult]:
    """Risk class, the risk factors present, and the advice."""
    rules = load_rules("therapy")
    ki67_threshold = float(load_rules("imaging")["fdg_ki67_min_pct"])
    factors: list[str] = []
    missing: list[str] = []
    if facts.men_syndrome is None:
        missing.append("men_syndrome")
    elif facts.men_syndrome:
        factors.append("MEN syndrome")
    if grade is None:
        missing.append("ki67_pct")
    elif grade in (WhoGrade.G3, WhoGrade.G3_NET, WhoGrade.G3_NEC):
        factors.append(f"grade {grade.value}")
    elif grade is WhoGrade.G2 and facts.ki67_pct is not None and facts.ki67_pct >= ki67_threshold:
        factors.append(f"grade G2 with Ki-67 {facts.ki67_pct:g} %")
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
        "ki67_pct": facts.ki67_pct,
        "tumour_burden": None if facts.tumour_burden is None else facts.tumour_burden.value,
        "functioning": facts.functioning,
    }
    if factors:
        result = Risk.HIGHER
        text = "Higher risk: " + ", ".join(factors) + "."
        source = cite(rules["sources"]["risk"])
    elif not missing:
        result = Risk.LOWER
        text = (
            "Lower risk (no MEN syndrome, low grade, low tumour burden, non-functioning): do not "
            "exhaust therapeutic options too early; keep effective options for later lines."
        )
        source = cite(rules["sources"]["risk_low"])
    else:
        result = Risk.UNKNOWN
        text = "Risk cannot be classified yet; missing: " + ", ".join(missing) + "."
        source = cite(rules["sources"]["risk"])
    return (
        result,
        factors,
        StepResult((Recommendation("risk", text, inputs, source),), tuple(missing)),
    )
