"""WHO 2019 grade of a gastro-entero-pancreatic neuroendocrine neoplasm.

Well-differentiated NET: G1 Ki-67 < 3 % and < 2 mitoses/2 mm^2; G2 Ki-67
3-20 % or 2-20 mitoses; G3 Ki-67 > 20 % or > 20 mitoses. When the two counts
disagree the higher grade applies. A poorly differentiated neoplasm is a
neuroendocrine carcinoma (NEC), high grade by definition. Thresholds are in
``rules/who_grade.json``. The step-by-step guide names the four categories
(quoted); the thresholds are the WHO 2019 ones, which are not among the
source texts, so they are labelled ``tumorboard default``.
"""

from __future__ import annotations

from enum import Enum

from tumorboard.guide.facts import CaseFacts, Differentiation
from tumorboard.guide.records import Recommendation, StepResult, cite, load_rules


class WhoGrade(Enum):
    """WHO 2019 grade (and category) of a GEP neuroendocrine neoplasm."""

    G1 = "G1"
    G2 = "G2"
    G3_NET = "G3 NET"
    G3_NEC = "G3 NEC"
    G3 = "G3 (NET or NEC: differentiation needed)"


def grade_from_counts(ki67_pct: float | None, mitoses_per_2mm2: float | None) -> str | None:
    """Grade ``"G1"``/``"G2"``/``"G3"`` from Ki-67 and mitoses (higher of the two), or None."""
    rules = load_rules("who_grade")
    grades = []
    if ki67_pct is not None:
        if ki67_pct < rules["g1_ki67_below_pct"]:
            grades.append(1)
        elif ki67_pct <= rules["g2_ki67_max_pct"]:
            grades.append(2)
        else:
            grades.append(3)
    if mitoses_per_2mm2 is not None:
        if mitoses_per_2mm2 < rules["g1_mitoses_below"]:
            grades.append(1)
        elif mitoses_per_2mm2 <= rules["g2_mitoses_max"]:
            grades.append(2)
        else:
            grades.append(3)
    return f"G{max(grades)}" if grades else None


def who_grade(facts: CaseFacts) -> tuple[WhoGrade | None, StepResult]:
    """The WHO grade of the case, with its explanation and the missing facts."""
    rules = load_rules("who_grade")
    source = cite(rules["source"])
    inputs = {
        "ki67_pct": facts.ki67_pct,
        "mitoses_per_2mm2": facts.mitoses_per_2mm2,
        "differentiation": None if facts.differentiation is None else facts.differentiation.value,
    }
    missing = [name for name, value in inputs.items() if value is None]
    if facts.poorly_differentiated:
        inputs["tumour_type"] = None if facts.tumour_type is None else facts.tumour_type.value
        text = (
            "Poorly differentiated: neuroendocrine carcinoma (NEC), high grade (G3) by definition."
        )
        categories = cite(rules["categories_source"])
        return WhoGrade.G3_NEC, StepResult((Recommendation("who_grade", text, inputs, categories),))
    counts = grade_from_counts(facts.ki67_pct, facts.mitoses_per_2mm2)
    if counts is None:
        return None, StepResult(missing=tuple(missing))
    if counts == "G3":
        grade = WhoGrade.G3_NET if facts.differentiation is Differentiation.WELL else WhoGrade.G3
    else:
        grade = WhoGrade(counts)
    parts = []
    if facts.ki67_pct is not None:
        parts.append(f"Ki-67 {facts.ki67_pct:g} %")
    if facts.mitoses_per_2mm2 is not None:
        parts.append(f"{facts.mitoses_per_2mm2:g} mitoses/2 mm2")
    text = f"WHO 2019 grade {grade.value} from {' and '.join(parts)}"
    if len(parts) == 2 and grade_from_counts(facts.ki67_pct, None) != grade_from_counts(
        None, facts.mitoses_per_2mm2
    ):
        text += " (the counts disagree; the higher grade applies)"
    text += "."
    if grade is WhoGrade.G3:
        text += " Differentiation decides between G3 NET and NEC."
    return grade, StepResult((Recommendation("who_grade", text, inputs, source),), tuple(missing))
