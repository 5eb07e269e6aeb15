"""Eligibility for peptide receptor radionuclide therapy (PRRT).

Eligible: well-differentiated G1/G2 tumour, after failure of first-line
therapy, with uptake above the liver in all lesions (lowest Krenning score
> 2). FDG uptake exceeding SSTR uptake is a warning. 90Y reaches further and
suits large lesions, 177Lu small lesions. Thresholds: ``rules/therapy.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tumorboard.guide.facts import CaseFacts
from tumorboard.guide.records import Recommendation, StepResult, cite, load_rules
from tumorboard.guide.who_grade import WhoGrade


class PrrtStatus(Enum):
    """PRRT eligibility."""

    ELIGIBLE = "eligible"
    NOT_ELIGIBLE = "not-eligible"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PrrtAssessment:
    """PRRT eligibility and the reasons for it."""

    status: PrrtStatus
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        """JSON form: ``{"status": ..., "reasons": [...]}``."""
        return {"status": self.status.value, "reasons": list(self.reasons)}


def prrt_eligibility(facts: CaseFacts, grade: WhoGrade | None) -> tuple[PrrtAssessment, StepResult]:
    """Assess PRRT eligibility from grade, prior treatment and Krenning score."""
    rules = load_rules("therapy")
    sources = rules["sources"]
    min_krenning = int(rules["prrt_min_krenning"])
    against: list[str] = []
    unknown: list[str] = []
    support: list[str] = []
    missing: list[str] = []
    if facts.poorly_differentiated or grade is WhoGrade.G3_NEC:
        against.append("poorly differentiated carcinoma (NEC)")
    elif grade is None:
        unknown.append("WHO grade unknown")
        missing.append("ki67_pct")
    elif grade.value in rules["prrt_eligible_grades"]:
        support.append(f"grade {grade.value}")
    else:
        against.append(f"grade {grade.value} (PRRT is for G1/G2)")
    if facts.prior_treatments is None:
        unknown.append("prior treatment unknown")
        missing.append("prior_treatments")
    elif not facts.prior_treatments:
        against.append("no first-line treatment yet (PRRT follows failure of first-line therapy)")
    else:
        support.append("after " + ", ".join(facts.prior_treatments))
    if facts.krenning_min is None:
        unknown.append("SSTR uptake (Krenning score) unknown")
        missing.append("krenning_min")
    elif facts.krenning_min >= min_krenning:
        support.append(f"uptake above liver in all lesions (Krenning {facts.krenning_min})")
    else:
        against.append(
            f"lowest Krenning score {facts.krenning_min} (uptake must exceed the liver, > 2)"
        )
    if against:
        status, reasons = PrrtStatus.NOT_ELIGIBLE, against
        missing = []  # no missing fact can make the patient eligible
    elif unknown:
        status, reasons = PrrtStatus.UNKNOWN, unknown + support
    else:
        status, reasons = PrrtStatus.ELIGIBLE, support
    inputs = {
        "who_grade": None if grade is None else grade.value,
        "prior_treatments": None
        if facts.prior_treatments is None
        else list(facts.prior_treatments),
        "krenning_min": facts.krenning_min,
    }
    recommendations = [
        Recommendation(
            "prrt",
            f"PRRT {status.value}: " + "; ".join(reasons) + ".",
            inputs,
            cite(sources["prrt"]),
        )
    ]
    if facts.fdg_positive:
        recommendations.append(
            Recommendation(
                "prrt",
                "Warning: FDG-positive disease. Lesions with FDG uptake exceeding SSTR uptake "
                "respond poorly to PRRT; compare FDG and SSTR PET lesion by lesion.",
                {"fdg_positive": True},
                cite(sources["fdg_warning"]),
            )
        )
    elif facts.fdg_positive is None and status is not PrrtStatus.NOT_ELIGIBLE:
        missing.append("fdg_positive")
    if status is PrrtStatus.ELIGIBLE:
        large_mm = float(rules["prrt_large_lesion_mm"])
        if facts.largest_lesion_mm is None:
            text = (
                "Radionuclide: 90Y (longer range) for large lesions, 177Lu for small lesions; "
                "give largest_lesion_mm to choose."
            )
            missing.append("largest_lesion_mm")
        elif facts.largest_lesion_mm >= large_mm:
            text = (
                f"Largest lesion {facts.largest_lesion_mm:g} mm: 90Y (longer range) "
                f"suits large lesions (>= {large_mm:g} mm is tumorboard's cut; the guide "
                "gives no size)."
            )
        else:
            text = (
                f"Largest lesion {facts.largest_lesion_mm:g} mm: 177Lu suits small lesions "
                f"(< {large_mm:g} mm is tumorboard's cut; the guide gives no size)."
            )
        recommendations.append(
            Recommendation(
                "prrt",
                text,
                {"largest_lesion_mm": facts.largest_lesion_mm},
                cite(sources["prrt_isotope"]),
            )
        )
    return PrrtAssessment(status, tuple(reasons)), StepResult(
        tuple(recommendations), tuple(missing)
    )
