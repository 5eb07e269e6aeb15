"""Eligibility for peptide receptor radionuclide therapy (PRRT).

Eligible: well-differentiated G1/G2 tumour, after failure of first-line
therapy, with uptake above the liver in all lesions (lowest Krenning score
> 2); for low uptake or large necrosis PRRT can be palliative. Lesions are
examined on planar and SPECT images; a Krenning score read on SSTR PET runs
higher, especially for lesions <= 2 cm. The dual-tracer reading (SSTR against
FDG) favours or warns against PRRT, and SSTR-positive FDG-avid G3 disease has
been treated with PRRT plus capecitabine. 90Y reaches further and suits large
lesions, 177Lu small lesions (the 20 mm cut is tumorboard's). Quotes and
thresholds: ``rules/therapy.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

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
            f"lowest Krenning score {facts.krenning_min} (uptake must exceed the liver, > 2; "
            "palliative PRRT remains possible)"
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
        ),
        Recommendation(
            "prrt",
            "Examine the treatable lesions on both planar and SPECT images (as in NETTER-1).",
            inputs,
            cite(sources["prrt_planar_spect"]),
        ),
    ]
    recommendations.extend(_uptake_notes(facts, grade, status, sources))
    if facts.fdg_positive is None and status is not PrrtStatus.NOT_ELIGIBLE:
        missing.append("fdg_positive")
    if status is PrrtStatus.ELIGIBLE:
        recommendations.extend(_radionuclide(facts, rules, missing))
    return PrrtAssessment(status, tuple(reasons)), StepResult(
        tuple(recommendations), tuple(missing)
    )


def _uptake_notes(
    facts: CaseFacts, grade: WhoGrade | None, status: PrrtStatus, sources: dict[str, Any]
) -> list[Recommendation]:
    """Krenning on SSTR PET, palliative PRRT for low uptake, and the dual-tracer reading."""
    out = []
    if facts.krenning_min is not None:
        out.append(
            Recommendation(
                "prrt",
                f"Lowest Krenning score {facts.krenning_min}: PRRT is considered when the score "
                "is greater than 2, an uptake higher than the physiological liver uptake.",
                {"krenning_min": facts.krenning_min},
                cite(sources["prrt_krenning"]),
            )
        )
        out.append(
            Recommendation(
                "prrt",
                "If the Krenning score was read on SSTR PET/CT rather than 111In-pentetreotide: "
                "SSTR PET gives "
                "higher scores, especially for lesions <= 2 cm, and the score is not validated "
                "for PET; interpret it with caution.",
                {"krenning_min": facts.krenning_min, "largest_lesion_mm": facts.largest_lesion_mm},
                cite(sources["prrt_sstr_pet_krenning"]),
            )
        )
        if facts.krenning_min < int(load_rules("therapy")["prrt_min_krenning"]):
            out.append(
                Recommendation(
                    "prrt",
                    "For lesions with low uptake or large necrosis, PRRT can still be done with "
                    "palliative intent.",
                    {"krenning_min": facts.krenning_min},
                    cite(sources["prrt_palliative"]),
                )
            )
    if facts.fdg_positive:
        out.append(
            Recommendation(
                "prrt",
                "FDG-positive disease: compare SSTR and FDG PET lesion by lesion (dual tracer). "
                "High SSTR uptake relative to FDG favours PRRT; a high FDG-to-SSTR ratio "
                "predicts resistance to PRRT.",
                {"fdg_positive": True, "krenning_min": facts.krenning_min},
                cite(sources["prrt_dual_tracer"]),
            )
        )
        g3 = grade in (WhoGrade.G3, WhoGrade.G3_NET, WhoGrade.G3_NEC)
        sstr_positive = facts.krenning_min is not None and facts.krenning_min >= 3
        if g3 and sstr_positive and status is PrrtStatus.NOT_ELIGIBLE:
            out.append(
                Recommendation(
                    "prrt",
                    "SSTR-positive, FDG-avid G3 disease: some authors combined PRRT with "
                    "chemotherapy (capecitabine, 5-FU) with clinically relevant disease control; "
                    "the guide presents this as a combination for the future.",
                    {
                        "who_grade": None if grade is None else grade.value,
                        "fdg_positive": True,
                        "krenning_min": facts.krenning_min,
                    },
                    cite(sources["prrt_g3_combination"]),
                )
            )
    return out


def _radionuclide(
    facts: CaseFacts, rules: dict[str, Any], missing: list[str]
) -> list[Recommendation]:
    """90Y for large, 177Lu for small lesions; the size between them is tumorboard's cut."""
    sources = rules["sources"]
    large_mm = float(rules["prrt_large_lesion_mm"])
    inputs = {"largest_lesion_mm": facts.largest_lesion_mm}
    if facts.largest_lesion_mm is None:
        missing.append("largest_lesion_mm")
        return [
            Recommendation(
                "prrt",
                "Radionuclide: 90Y (11 mm tissue penetration) is used in large tumours; give "
                "largest_lesion_mm to choose.",
                inputs,
                cite(sources["prrt_90y"]),
            ),
            Recommendation(
                "prrt",
                "Radionuclide: 177Lu (2 mm penetration) irradiates small tumours better.",
                inputs,
                cite(sources["prrt_177lu"]),
            ),
        ]
    large = facts.largest_lesion_mm >= large_mm
    text = (
        f"Largest lesion {facts.largest_lesion_mm:g} mm: 90Y (11 mm tissue penetration) suits "
        "large tumours."
        if large
        else f"Largest lesion {facts.largest_lesion_mm:g} mm: 177Lu (2 mm penetration) suits "
        "small tumours."
    )
    return [
        Recommendation("prrt", text, inputs, cite(sources["prrt_90y" if large else "prrt_177lu"])),
        Recommendation(
            "prrt",
            f"Large means >= {large_mm:g} mm here: the guide gives no size.",
            inputs,
            cite(sources["prrt_size_cut"]),
        ),
    ]
