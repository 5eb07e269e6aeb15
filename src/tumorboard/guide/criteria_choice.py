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

PERCIST (metabolic response) is added for every drug, since the criteria
layer recommends it whatever the drug once PET is done. A lesion first seen
on a more sensitive modality is a new baseline lesion, not progression (the
rule :mod:`tumorboard.criteria.new_baseline` applies), and a change of
treatment sets a new baseline. ``rules/criteria.json`` holds only the
guide's name of each criterion, what it measures (cited by its defining
paper) and where the reading guide advises it; never the choice itself.
"""

from __future__ import annotations

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


def response_criteria(facts: CaseFacts) -> tuple[list[str], StepResult]:
    """Criteria names for the case's drug type and the advice explaining them.

    Returns
    -------
    names : list of str
        Guide names of the criteria (``"RECIST 1.1"``, ``"Choi"``, ``"iRECIST"``,
        ``"PERCIST"`` ...), empty when ``drug_type`` is not given.
    step : StepResult
        One recommendation for the choice, one per criterion with its source,
        the new-baseline-lesion rule, the new baseline at a change of treatment,
        and iRECIST's confirmation rule under immunotherapy.
    """
    if facts.drug_type is None:
        return [], StepResult(missing=("drug_type",))
    rules = load_rules("criteria")
    chosen = criteria_for_drug(facts.drug_type)
    names = [criterion_name(c) for c in chosen]
    drug = facts.drug_type.value
    drug_class = DRUG_CLASS_OF[facts.drug_type].value
    inputs = {"drug_type": drug}
    by_drug = [c for c in chosen if c not in ALL_DRUGS_WITH_PET]
    specific = next((c for c in by_drug if c is not Criteria.RECIST11), by_drug[0])
    listing = " and ".join(criterion_name(c) for c in by_drug)
    with_pet = " and ".join(criterion_name(c) for c in ALL_DRUGS_WITH_PET)
    out = [
        Recommendation(
            "response_criteria",
            f"{drug.capitalize()} treatment (criteria drug class {drug_class}): assess response "
            f"with {listing}; add {with_pet} when PET is done.",
            inputs,
            cite(rules["criteria"][specific.value]["choice_source"]),
        )
    ]
    for criterion in chosen:
        entry = rules["criteria"].get(criterion.value)
        if entry is None:
            continue
        out.append(
            Recommendation("response_criteria", str(entry["why"]), inputs, cite(entry["source"]))
        )
    out.append(
        Recommendation(
            "response_criteria",
            str(rules["new_baseline_lesion"]["text"]),
            inputs,
            cite(rules["new_baseline_lesion"]["source"]),
        )
    )
    out.append(
        Recommendation(
            "response_criteria",
            str(rules["new_baseline"]["text"]),
            {
                "drug_type": drug,
                "prior_treatments": None
                if facts.prior_treatments is None
                else list(facts.prior_treatments),
            },
            cite(rules["new_baseline"]["source"]),
        )
    )
    if Criteria.IRECIST in chosen:
        out.append(
            Recommendation(
                "response_criteria",
                str(rules["irecist_new_lesions"]["text"]),
                inputs,
                cite(rules["irecist_new_lesions"]["source"]),
            )
        )
    return names, StepResult(tuple(out))
