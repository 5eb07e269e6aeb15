"""Response criteria by drug type, and the new-baseline rule.

RECIST 1.1 for cytotoxic drugs, Choi for targeted drugs, iRECIST for
immunotherapy, PERCIST for all; a change of treatment sets a new baseline.
The table is ``rules/criteria.json``.
"""

from __future__ import annotations

from tumorboard.guide.facts import CaseFacts, DrugType
from tumorboard.guide.records import Recommendation, StepResult, cite, load_rules


def response_criteria(facts: CaseFacts) -> tuple[list[str], StepResult]:
    """Criteria names (drug-specific first, then those for all drugs) and the advice."""
    if facts.drug_type is None:
        return [], StepResult(missing=("drug_type",))
    rules = load_rules("criteria")
    entry = rules["by_drug_type"][facts.drug_type.value]
    common = rules["all_drugs"]
    names = list(entry["criteria"]) + [c for c in common["criteria"] if c not in entry["criteria"]]
    inputs = {"drug_type": facts.drug_type.value}
    out = [
        Recommendation(
            "response_criteria",
            f"{facts.drug_type.value.capitalize()} treatment: assess response with "
            f"{' and '.join(entry['criteria'])}.",
            inputs,
            cite(entry["source"]),
        ),
        Recommendation(
            "response_criteria",
            f"{' and '.join(common['criteria'])} (metabolic response) applies whatever the drug.",
            inputs,
            cite(common["source"]),
        ),
        Recommendation(
            "response_criteria",
            str(rules["new_baseline"]["text"]),
            {
                "prior_treatments": None
                if facts.prior_treatments is None
                else list(facts.prior_treatments)
            },
            cite(rules["new_baseline"]["source"]),
        ),
    ]
    if facts.drug_type is DrugType.IMMUNOTHERAPY:
        out.append(
            Recommendation(
                "response_criteria",
                str(rules["irecist_new_lesions"]["text"]),
                inputs,
                cite(rules["irecist_new_lesions"]["source"]),
            )
        )
    return names, StepResult(tuple(out))
