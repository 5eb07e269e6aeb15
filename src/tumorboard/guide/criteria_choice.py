"""Response criteria by drug type, and the new-baseline rule.

Which criteria fit which drug is owned by the criteria layer
(:func:`tumorboard.criteria.selection.recommended_criteria`); the guide only
translates its ``FACTS.json`` drug types into the criteria layer's
:class:`~tumorboard.criteria.selection.DrugClass` and explains the answer:

=================  ==================================================
FACTS drug_type    criteria ``DrugClass``
=================  ==================================================
``cytotoxic``      ``cytotoxic``
``targeted``       ``targeted``
``immunotherapy``  ``immunotherapy``
``radionuclide``   ``prrt`` (peptide receptor radionuclide therapy)
``hormonal``       ``somatostatin-analogue`` (hormonal therapy of NETs)
=================  ==================================================

Table 1 of the guide lists RECIST 1.1 for cytotoxic, Choi for cytostatic,
iRECIST for immune therapy and PERCIST for all drugs, while its text makes
no recommendation regarding PERCIST; tumorboard reports PERCIST whenever PET
was measured and says so (``tumorboard default``), as it does for RECIST
1.1 as the reference reading and for Choi after PRRT or somatostatin
analogues, where the guide names no criteria. A lesion first seen on a more
sensitive modality is a new baseline lesion, not progression (the rule
:mod:`tumorboard.criteria.new_baseline` applies); the response is judged
against baseline and nadir. The GEP-NET criteria table is not applied to a
pituitary adenoma alone. ``rules/criteria.json`` holds the guide's name of
each criterion, what it measures and where the guide advises it, each with
its quote; never the choice itself.
"""

from __future__ import annotations

from typing import Any

from tumorboard.criteria.records import Criteria
from tumorboard.criteria.selection import DrugClass, recommended_criteria
from tumorboard.guide.facts import CaseFacts, DrugType
from tumorboard.guide.records import Recommendation, StepResult, cite, load_rules

#: FACTS ``drug_type`` -> the criteria layer's drug class.
DRUG_CLASS_OF: dict[DrugType, DrugClass] = {
    DrugType.CYTOTOXIC: DrugClass.CYTOTOXIC,
    DrugType.TARGETED: DrugClass.TARGETED,
    DrugType.IMMUNOTHERAPY: DrugClass.IMMUNOTHERAPY,
    DrugType.RADIONUCLIDE: DrugClass.PRRT,
    DrugType.HORMONAL: DrugClass.SOMATOSTATIN_ANALOGUE,
}
#: Criteria recommended whatever the drug once PET is done.
ALL_DRUGS_WITH_PET: tuple[Criteria, ...] = (Criteria.PERCIST,)


def criteria_for_drug(drug_type: DrugType | str) -> tuple[Criteria, ...]:
    """The criteria for a FACTS drug type, as the criteria layer recommends them.

    Parameters
    ----------
    drug_type : DrugType or str
        ``cytotoxic``, ``targeted``, ``immunotherapy``, ``radionuclide`` or ``hormonal``.

    Returns
    -------
    tuple of Criteria
        The drug class's criteria in the criteria layer's order, then PERCIST.
    """
    chosen = list(recommended_criteria(DRUG_CLASS_OF[DrugType(drug_type)]))
    chosen.extend(c for c in ALL_DRUGS_WITH_PET if c not in chosen)
    return tuple(chosen)


def criterion_name(criterion: Criteria) -> str:
    """The name the guide prints for ``criterion`` (e.g. ``"Choi"``)."""
    entry = load_rules("criteria")["criteria"].get(criterion.value)
    return str(entry["name"]) if entry else criterion.display_name


def _rec(entry: dict[str, Any], inputs: dict[str, Any]) -> Recommendation:
    return Recommendation("response_criteria", str(entry["text"]), inputs, cite(entry["source"]))


def response_criteria(facts: CaseFacts) -> tuple[list[str], StepResult]:
    """Criteria names for the case's drug type and the advice explaining them.

    Returns
    -------
    names : list of str
        Guide names of the criteria (``"RECIST 1.1"``, ``"Choi"``, ``"iRECIST"``,
        ``"PERCIST"`` ...), empty when ``drug_type`` is not given or the case
        is a pituitary adenoma without a GEP primary (the GEP-NET criteria
        table does not apply to it).
    step : StepResult
        One recommendation for the choice (quoted, or labelled tumorboard's
        default), the RECIST reference reading, what the guide says (and does
        not say) about PERCIST, one per criterion with what it measures,
        response against baseline and nadir, the new-baseline-lesion rule, the
        new baseline at a change of treatment, iRECIST's confirmation rule and
        the immune-related patterns under immunotherapy, and the follow-up
        after PRRT.
    """
    rules = load_rules("criteria")
    if facts.is_pituitary and facts.primary_site is None:
        inputs: dict[str, Any] = {
            "pituitary_adenoma": True,
            "drug_type": None if facts.drug_type is None else facts.drug_type.value,
        }
        return [], StepResult((_rec(rules["pituitary_scope"], inputs),))
    if facts.drug_type is None:
        return [], StepResult(missing=("drug_type",))
    chosen = criteria_for_drug(facts.drug_type)
    names = [criterion_name(c) for c in chosen]
    drug = facts.drug_type.value
    drug_class = DRUG_CLASS_OF[facts.drug_type]
    inputs = {"drug_type": drug}
    by_drug = [c for c in chosen if c not in ALL_DRUGS_WITH_PET]
    specific = next((c for c in by_drug if c is not Criteria.RECIST11), by_drug[0])
    listing = " and ".join(criterion_name(c) for c in by_drug)
    choice = rules["drug_class_choice"].get(drug_class.value)
    choice_source = (
        choice if choice is not None else rules["criteria"][specific.value]["choice_source"]
    )
    out = [
        Recommendation(
            "response_criteria",
            f"{drug.capitalize()} treatment (criteria drug class {drug_class.value}): assess "
            f"response with {listing}.",
            inputs,
            cite(choice_source),
        )
    ]
    if specific is not Criteria.RECIST11 and Criteria.RECIST11 in by_drug:
        out.append(_rec(rules["reference_reading"], inputs))
    out.append(_rec(rules["table_by_drug"], inputs))
    out.append(_rec(rules["percist_no_recommendation"], inputs))
    out.append(_rec(rules["percist_reported"], inputs))
    for criterion in chosen:
        entry = rules["criteria"].get(criterion.value)
        if entry is None:
            continue
        out.append(
            Recommendation("response_criteria", str(entry["why"]), inputs, cite(entry["source"]))
        )
    out.append(_rec(rules["nadir_and_baseline"], inputs))
    out.append(_rec(rules["new_baseline_lesion"], inputs))
    treatments = None if facts.prior_treatments is None else list(facts.prior_treatments)
    out.append(_rec(rules["new_baseline"], {"drug_type": drug, "prior_treatments": treatments}))
    if Criteria.IRECIST in chosen:
        out.append(_rec(rules["irecist_new_lesions"], inputs))
    if facts.drug_type is DrugType.IMMUNOTHERAPY:
        out.extend(_rec(item, inputs) for item in rules["immunotherapy_patterns"])
    if facts.drug_type is DrugType.RADIONUCLIDE:
        out.extend(_rec(item, inputs) for item in rules["prrt_follow_up"])
    return names, StepResult(tuple(out))
