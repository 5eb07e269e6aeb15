"""Edges of the guide's rule code that mutmut showed no test pinned (issue 9).

Each test builds the facts at an edge by hand and states the expected advice
from the rule's quoted source (``guide/rules/*.json``, ``../shared/sources``)
or from tumorboard's labelled default; benchmarks/README.md ("Mutation
testing") lists the mutant each test kills.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tumorboard.errors import InputError
from tumorboard.guide import parse_facts, run_guide
from tumorboard.guide.facts import FACT_KEYS, CaseFacts, load_facts_json
from tumorboard.guide.therapy_paths import therapy_paths

NOT_GIVEN = "Refractoriness cannot be classified; missing: "
BIOCHEMICAL = "Biochemically refractory: persistent autonomous hormone production."
STRUCTURAL = (
    "Structurally refractory: continued growth (or failure to regress) with local mass effect."
)
NOT_REFRACTORY = "Hormone controlled and the adenoma regressing: not refractory in either domain."
DISCORDANT = "Discordant response: hormone controlled but little or no tumour shrinkage"
PROLACTIN_GOAL = "Prolactinoma guidelines traditionally aim at a normal prolactin and a 50 %"
GOAL_DEBATED = "Whether missing the 50 % shrinkage is true refractoriness is debated"
NO_REGRESSION = "(negative = growth): read as failure to regress"
D2_INDICATION = "D2-receptor PET (11C-raclopride, 18F-fallypride) may predict the response"
PSEUDO_INDICATION = "Molecular imaging, indication 4 (pseudo-refractory tumours)"
D2_PET = "D2-receptor PET (11C-raclopride or 18F-fallypride)"
METHIONINE = "11C-methionine PET/CT"

#: Topic of each step's advice (``Recommendation.topic``: the step it belongs to).
TOPICS = {
    "scope",
    "who_grade",
    "embryology",
    "risk",
    "imaging",
    "resectability",
    "surgery",
    "liver",
    "prrt",
    "response_criteria",
    "pituitary",
}


def _guide(facts: dict[str, Any]) -> dict[str, Any]:
    return run_guide(parse_facts(facts)).as_dict()


def _texts(out: dict[str, Any], topic: str) -> list[str]:
    return [rec["text"] for rec in out["recommendations"] if rec["topic"] == topic]


def _has(texts: list[str], fragment: str) -> bool:
    return any(fragment in text for text in texts)


def _pituitary(**facts: Any) -> dict[str, Any]:
    return _guide({"pituitary_adenoma": True, **facts})


# --- pituitary: the review's two domains, the discordant response ----------------------------


def test_unknown_hormone_with_shrinkage_is_unknown() -> None:
    """Hormone status not given, adenoma shrinking 30 %, no mass effect.

    Structural refractoriness is ruled out (it regresses), but biochemical
    refractoriness ("persistent autonomous hormone production") is unknown,
    so the case is neither "none" (both domains absent) nor "discordant"
    (that needs "endocrine remission"): unknown, naming the missing fact.
    """
    out = _pituitary(tumour_type="somatotroph", size_reduction_pct=30.0, local_mass_effect=False)
    assert out["pituitary"] == {"refractoriness": "unknown"}
    texts = _texts(out, "pituitary")
    assert NOT_GIVEN + "hormone_normalised." in texts
    for fragment in (BIOCHEMICAL, STRUCTURAL, NOT_REFRACTORY, DISCORDANT, NO_REGRESSION):
        assert not _has(texts, fragment), fragment
    assert [item["fact"] for item in out["missing_facts"]] == ["hormone_normalised"]
    assert not any(METHIONINE in name for name in out["recommended_imaging"])


def test_zero_shrinkage_with_hormone_controlled_is_discordant() -> None:
    """0 % shrinkage is "little to no tumor shrinkage" (no regression: reduction <= 0 %).

    Hormone normalised, no mass effect, a somatotroph adenoma: a discordant,
    possibly pseudo-refractory response; the 50 % goal notes are for
    prolactinomas only.
    """
    out = _pituitary(
        tumour_type="somatotroph",
        hormone_normalised=True,
        size_reduction_pct=0.0,
        local_mass_effect=False,
    )
    assert out["pituitary"] == {"refractoriness": "discordant (possibly pseudo-refractory)"}
    texts = _texts(out, "pituitary")
    assert _has(texts, "Size reduction 0 % " + NO_REGRESSION)
    assert _has(texts, DISCORDANT) and _has(texts, PSEUDO_INDICATION)
    assert not _has(texts, PROLACTIN_GOAL) and not _has(texts, GOAL_DEBATED)
    for fragment in (BIOCHEMICAL, STRUCTURAL, NOT_REFRACTORY, NOT_GIVEN):
        assert not _has(texts, fragment), fragment


def test_small_shrinkage_with_hormone_controlled_is_not_refractory() -> None:
    """0.5 % shrinkage is regression (> 0 %): a somatotroph adenoma is then not refractory."""
    out = _pituitary(
        tumour_type="somatotroph",
        hormone_normalised=True,
        size_reduction_pct=0.5,
        local_mass_effect=False,
    )
    assert out["pituitary"] == {"refractoriness": "none"}
    texts = _texts(out, "pituitary")
    assert NOT_REFRACTORY in texts
    for fragment in (NO_REGRESSION, DISCORDANT, BIOCHEMICAL, STRUCTURAL, NOT_GIVEN):
        assert not _has(texts, fragment), fragment
    assert not any(METHIONINE in name for name in out["recommended_imaging"])


def test_prolactinoma_below_the_goal_gets_the_goal_notes() -> None:
    """Prolactin normal, 30 % shrinkage: below the 50 % goal, discordant, with both notes."""
    out = _pituitary(tumour_type="prolactinoma", hormone_normalised=True, size_reduction_pct=30.0)
    assert out["pituitary"] == {"refractoriness": "discordant (possibly pseudo-refractory)"}
    texts = _texts(out, "pituitary")
    assert _has(texts, PROLACTIN_GOAL + " reduction in size; this one shrank 30 %.")
    assert _has(texts, GOAL_DEBATED) and _has(texts, DISCORDANT)
    assert not _has(texts, NO_REGRESSION)


@pytest.mark.parametrize(
    ("facts", "kind", "present", "absent"),
    [
        (
            {"hormone_normalised": False, "size_reduction_pct": 40.0},
            "biochemical",
            [BIOCHEMICAL],
            [STRUCTURAL, NOT_REFRACTORY, NOT_GIVEN, DISCORDANT],
        ),
        (
            {"hormone_normalised": True, "size_reduction_pct": -5.0, "local_mass_effect": True},
            "structural",
            [STRUCTURAL, "Size reduction -5 % " + NO_REGRESSION],
            [BIOCHEMICAL, NOT_REFRACTORY, NOT_GIVEN, DISCORDANT],
        ),
        (
            {"hormone_normalised": False, "size_reduction_pct": 0.0, "local_mass_effect": True},
            "biochemical and structural",
            [BIOCHEMICAL, STRUCTURAL],
            [NOT_REFRACTORY, NOT_GIVEN, DISCORDANT],
        ),
    ],
)
def test_each_domain_gets_its_own_statement(
    facts: dict[str, Any], kind: str, present: list[str], absent: list[str]
) -> None:
    """Biochemical: persistent hormone production; structural: no regression + mass effect."""
    out = _pituitary(tumour_type="corticotroph", **facts)
    assert out["pituitary"] == {"refractoriness": kind}
    texts = _texts(out, "pituitary")
    for fragment in present:
        assert _has(texts, fragment), fragment
    for fragment in absent:
        assert not _has(texts, fragment), fragment


@pytest.mark.parametrize(
    ("tumour_type", "d2_indication", "d2_pet"),
    [
        ("somatotroph", False, False),
        ("corticotroph", False, False),
        ("prolactinoma", True, True),
        ("nonfunctioning_pituitary", True, True),
        (None, True, False),
    ],
)
def test_d2_receptor_pet_is_for_prolactinomas_and_nonfunctioning_adenomas(
    tumour_type: str | None, d2_indication: bool, d2_pet: bool
) -> None:
    """D2 tracers "may predict" the dopamine-agonist response of these two types only.

    With the type unknown the indication is shown (it may apply) but the
    D2 PET is not put on the imaging list.
    """
    facts: dict[str, Any] = {"hormone_normalised": False, "size_reduction_pct": 10.0}
    if tumour_type is not None:
        facts["tumour_type"] = tumour_type
    out = _pituitary(**facts)
    assert out["pituitary"] == {"refractoriness": "biochemical"}
    assert _has(_texts(out, "pituitary"), D2_INDICATION) is d2_indication
    assert (D2_PET in out["recommended_imaging"]) is d2_pet


def test_sella_mri_advice_records_the_pituitary_adenoma() -> None:
    out = _pituitary(hormone_normalised=False, size_reduction_pct=10.0)
    mri = [rec for rec in out["recommendations"] if rec["text"].startswith("Standard sella MRI")]
    assert len(mri) == 1 and mri[0]["inputs"] == {"pituitary_adenoma": True}
    assert mri[0]["topic"] == "pituitary"


# --- PRRT radionuclide ----------------------------------------------------------------------

_ELIGIBLE = {"ki67_pct": 5.0, "krenning_min": 3, "prior_treatments": ["lanreotide"]}


@pytest.mark.parametrize(
    ("largest_mm", "nuclide", "quoted"),
    [(25.0, "90Y", "Y-90 has high tissue penetration"), (15.0, "177Lu", "Lu-177 provides")],
)
def test_radionuclide_advice_cites_its_own_sentence(
    largest_mm: float, nuclide: str, quoted: str
) -> None:
    """90Y "is used in large tumors", 177Lu irradiates "small tumors" better (both quoted)."""
    out = _guide({**_ELIGIBLE, "largest_lesion_mm": largest_mm})
    assert out["prrt"]["status"] == "eligible"
    chosen = [rec for rec in out["recommendations"] if rec["text"].startswith("Largest lesion")]
    assert len(chosen) == 1
    assert chosen[0]["text"].startswith(f"Largest lesion {largest_mm:g} mm: {nuclide}")
    assert quoted in chosen[0]["source"]["quote"]
    assert chosen[0]["topic"] == "prrt"
    assert chosen[0]["inputs"] == {"largest_lesion_mm": largest_mm}


def test_eligible_without_lesion_size_names_the_size_as_missing() -> None:
    out = _guide({**_ELIGIBLE, "fdg_positive": False})
    assert out["prrt"]["status"] == "eligible"
    missing = {item["fact"]: item["would_change"] for item in out["missing_facts"]}
    assert missing.get("largest_lesion_mm") == ["prrt"]
    both = [rec for rec in out["recommendations"] if rec["text"].startswith("Radionuclide:")]
    assert len(both) == 2
    assert all(rec["inputs"] == {"largest_lesion_mm": None} for rec in both)
    assert all(rec["topic"] == "prrt" for rec in both)


# --- therapy paths: debulking, ablation, intra-arterial therapy, SIRT ------------------------

ABLATION = "Small oligometastatic liver disease: consider thermal ablation."
INTRA_ARTERIAL = "Symptomatic liver-predominant disease: intra-arterial interventional radiology"
TACE = "Embolisation technique: conventional TACE"
SIRT = ("SIRT (90Y microspheres) can be discussed", "SIRT is shown for", "SIRT work-up")


def _paths(**facts: Any) -> tuple[list[tuple[str, str, dict[str, Any]]], tuple[str, ...]]:
    step = therapy_paths(CaseFacts(**facts))
    return [(rec.topic, rec.text, rec.inputs) for rec in step.recommendations], step.missing


def _starting(recs: list[tuple[str, str, dict[str, Any]]], prefix: str) -> list[Any]:
    return [rec for rec in recs if rec[1].startswith(prefix)]


def test_small_oligometastatic_liver_disease_gets_ablation_only() -> None:
    """Low burden, liver-predominant, non-functioning: thermal ablation ("small
    oligometastatic disease"); no intra-arterial therapy (reserved for symptomatic
    patients) and no SIRT (tumorboard shows it for a high burden or a syndrome)."""
    recs, missing = _paths(
        liver_predominant=True,
        tumour_burden="low",
        functioning=False,
        resectable_fraction_pct=95.0,
    )
    assert missing == ()
    assert [rec[0] for rec in recs] == ["surgery", "liver"]
    assert recs[0][1].startswith("Surgical debulking can be discussed: 95 %")
    assert recs[0][2] == {"resectable_fraction_pct": 95.0}
    assert recs[1] == ("liver", ABLATION, {"liver_predominant": True, "tumour_burden": "low"})


def test_symptomatic_high_burden_liver_disease_gets_embolisation_and_sirt() -> None:
    """Functioning, high burden: intra-arterial therapy, cTACE first, SIRT with its
    work-up; no ablation (not small oligometastatic); 90 % removable is not
    "greater than 90%", so no debulking."""
    recs, missing = _paths(
        liver_predominant=True,
        tumour_burden="high",
        functioning=True,
        syndrome="carcinoid",
        resectable_fraction_pct=90.0,
    )
    assert missing == ()
    assert recs[0][0] == "surgery" and recs[0][1].startswith("Surgical debulking not advised")
    assert recs[0][2] == {"resectable_fraction_pct": 90.0}
    assert all(rec[0] == "liver" for rec in recs[1:])
    assert not _starting(recs, ABLATION)
    embolisation = {"liver_predominant": True, "functioning": True}
    assert [rec[2] for rec in _starting(recs, INTRA_ARTERIAL)] == [embolisation]
    assert [rec[2] for rec in _starting(recs, TACE)] == [embolisation]
    sirt_inputs = {"liver_predominant": True, "tumour_burden": "high", "functioning": True}
    for prefix in SIRT:
        assert [rec[2] for rec in _starting(recs, prefix)] == [sirt_inputs], prefix
    assert len(recs) == 6


@pytest.mark.parametrize(
    ("burden", "functioning", "sirt"),
    [("high", False, True), ("low", False, False), ("low", True, True), (None, True, True)],
)
def test_sirt_is_shown_for_a_high_burden_or_a_syndrome(
    burden: str | None, functioning: bool, sirt: bool
) -> None:
    """tumorboard's default (labelled): SIRT for liver-predominant disease with a high
    burden or a syndrome; embolisation only for symptomatic (functioning) disease."""
    recs, _ = _paths(liver_predominant=True, tumour_burden=burden, functioning=functioning)
    assert all(bool(_starting(recs, prefix)) is sirt for prefix in SIRT)
    assert bool(_starting(recs, INTRA_ARTERIAL)) is functioning
    assert bool(_starting(recs, TACE)) is functioning


@pytest.mark.parametrize(
    ("facts", "missing"),
    [
        ({}, ("resectable_fraction_pct", "liver_predominant")),
        ({"liver_predominant": False}, ("resectable_fraction_pct",)),
        (
            {"liver_predominant": True},
            ("resectable_fraction_pct", "tumour_burden", "functioning"),
        ),
        (
            {"liver_predominant": True, "tumour_burden": "high", "functioning": False},
            ("resectable_fraction_pct",),
        ),
        (
            {
                "liver_predominant": True,
                "tumour_burden": "low",
                "functioning": True,
                "resectable_fraction_pct": 20.0,
            },
            (),
        ),
        ({"liver_predominant": False, "resectable_fraction_pct": 50.0}, ()),
    ],
)
def test_therapy_paths_name_the_facts_that_would_change_them(
    facts: dict[str, Any], missing: tuple[str, ...]
) -> None:
    """Liver-directed therapy needs liver predominance, then burden and symptoms;
    the debulking rule needs the removable fraction."""
    recs, named = _paths(**facts)
    assert named == missing
    if not facts.get("liver_predominant"):
        assert all(rec[0] == "surgery" for rec in recs)


def test_missing_burden_and_symptoms_would_change_risk_and_therapy_paths() -> None:
    out = _guide({"liver_predominant": True, "primary_site": "ileum"})
    affects = {item["fact"]: item["would_change"] for item in out["missing_facts"]}
    assert affects["tumour_burden"] == ["risk", "therapy_paths"]
    assert affects["functioning"] == ["risk", "therapy_paths"]
    assert affects["resectable_fraction_pct"] == ["therapy_paths"]
    out = _guide({"primary_site": "ileum"})
    affects = {item["fact"]: item["would_change"] for item in out["missing_facts"]}
    assert affects["liver_predominant"] == ["therapy_paths"]


# --- imaging order (Table 2) and FDG for Ki-67 >= 10 % -------------------------------------

FDG = "18F-FDG PET/CT"
SSTR = "SSTR PET/CT (68Ga-DOTATOC/-DOTATATE) or SSTR scintigraphy"
DOPA = "18F-DOPA PET/CT"


def _imaging(out: dict[str, Any]) -> list[dict[str, Any]]:
    return [rec for rec in out["recommendations"] if rec["topic"] == "imaging"]


def test_midgut_ki67_12_puts_fdg_before_sstr_pet() -> None:
    """Midgut: 18F-DOPA, then SSTR PET (Table 2); Ki-67 12 % adds FDG, "more suitable
    than 68Ga-DOTATATE" for Ki67 >= 10 %, so it comes before SSTR PET. The order is
    the step's first advice and names the origin."""
    out = _guide({"primary_site": "ileum", "tumour_type": "net", "ki67_pct": 12.0})
    assert out["recommended_imaging"][:3] == [DOPA, FDG, SSTR]
    first = _imaging(out)[0]
    assert first["text"].startswith("Midgut origin: image in this order: " + DOPA + "; " + FDG)
    assert first["inputs"] == {"primary_site": "ileum", "embryology": "midgut"}
    fdg = [rec for rec in _imaging(out) if rec["text"].startswith("Ki-67 12 % (>= 10 %)")]
    assert len(fdg) == 1 and fdg[0]["inputs"] == {"ki67_pct": 12.0}
    site = [rec for rec in _imaging(out) if rec["text"].startswith("Small-bowel NET")]
    assert len(site) == 1 and site[0]["inputs"] == {"primary_site": "ileum"}
    assert all(rec["inputs"] == {"primary_site": "ileum"} for rec in _resectability(out))


def test_foregut_ki67_12_puts_fdg_before_sstr_pet_too() -> None:
    """Foregut: SSTR PET first (Table 2); FDG is "more suitable than 68Ga-DOTATATE" for
    Ki67 >= 10 %, so it goes before SSTR PET, not after it."""
    out = _guide({"primary_site": "pancreas", "tumour_type": "net", "ki67_pct": 12.0})
    assert out["recommended_imaging"][:3] == [FDG, SSTR, DOPA]
    low = _guide({"primary_site": "pancreas", "tumour_type": "net", "ki67_pct": 9.0})
    assert FDG not in low["recommended_imaging"] and low["recommended_imaging"][0] == SSTR


def _resectability(out: dict[str, Any]) -> list[dict[str, Any]]:
    return [rec for rec in out["recommendations"] if rec["topic"] == "resectability"]


def test_poorly_differentiated_gets_fdg_once_and_needs_no_type_or_ki67() -> None:
    """Poorly differentiated: 18F-FDG PET first (Table 2); a high Ki-67 adds no second
    FDG PET; tumour type and Ki-67 would not change the order."""
    out = _guide({"primary_site": "pancreas", "differentiation": "poor", "ki67_pct": 60.0})
    assert out["recommended_imaging"].count(FDG) == 1
    assert out["recommended_imaging"][0] == FDG
    first = _imaging(out)[0]
    assert first["text"].startswith("Poorly differentiated tumour: image in this order: " + FDG)
    assert first["inputs"] == {"differentiation": "poor", "tumour_type": None}
    affects = {item["fact"]: item["would_change"] for item in out["missing_facts"]}
    assert "imaging" not in affects.get("tumour_type", [])
    out = _guide({"primary_site": "pancreas", "tumour_type": "nec"})
    affects = {item["fact"]: item["would_change"] for item in out["missing_facts"]}
    assert "ki67_pct" not in affects
    assert _imaging(out)[0]["inputs"] == {"differentiation": None, "tumour_type": "nec"}


def test_a_given_tumour_type_is_not_missing_and_an_absent_one_is() -> None:
    """Insulinoma and gastrinoma have their own order, so an absent type would change it."""
    out = _guide({"primary_site": "pancreas", "tumour_type": "insulinoma", "ki67_pct": 2.0})
    affects = {item["fact"]: item["would_change"] for item in out["missing_facts"]}
    assert "tumour_type" not in affects
    first = _imaging(out)[0]
    assert first["text"].startswith("Tumour type insulinoma: image in this order: " + DOPA)
    assert first["inputs"] == {"tumour_type": "insulinoma"}
    out = _guide({"primary_site": "pancreas"})
    affects = {item["fact"]: item["would_change"] for item in out["missing_facts"]}
    assert affects["tumour_type"] == ["imaging"]
    assert "imaging" in affects["ki67_pct"]


def test_rectal_primary_adds_its_locoregional_text() -> None:
    out = _guide({"primary_site": "rectum", "tumour_type": "net", "ki67_pct": 1.0})
    assert _imaging(out)[0]["text"].startswith("Hindgut origin: image in this order:")
    rectal = [rec for rec in _imaging(out) if rec["text"].startswith("Rectal NET:")]
    assert len(rectal) == 1 and rectal[0]["inputs"] == {"primary_site": "rectum"}


# --- WHO grade: the two counts --------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "text"),
    [
        (
            {"ki67_pct": 5.0, "mitoses_per_2mm2": 1.0},
            "WHO 2019 grade G2 from Ki-67 5 % and 1 mitoses/2 mm2 "
            "(the counts disagree; the higher grade applies).",
        ),
        (
            {"ki67_pct": 5.0, "mitoses_per_2mm2": 3.0},
            "WHO 2019 grade G2 from Ki-67 5 % and 3 mitoses/2 mm2.",
        ),
        ({"ki67_pct": 1.0}, "WHO 2019 grade G1 from Ki-67 1 %."),
        ({"mitoses_per_2mm2": 3.0}, "WHO 2019 grade G2 from 3 mitoses/2 mm2."),
    ],
)
def test_who_grade_text_names_both_counts_and_their_disagreement(
    facts: dict[str, Any], text: str
) -> None:
    """G1 Ki-67 < 3 % and < 2 mitoses, G2 3-20 % or 2-20 mitoses; the higher grade applies."""
    out = _guide(facts)
    texts = [rec["text"] for rec in out["recommendations"] if rec["topic"] == "who_grade"]
    assert texts == [text]


def test_nec_grade_records_the_tumour_type() -> None:
    out = _guide({"tumour_type": "nec", "ki67_pct": 60.0})
    assert out["who_grade"] == "G3 NEC"
    recs = [rec for rec in out["recommendations"] if rec["topic"] == "who_grade"]
    assert len(recs) == 1
    assert recs[0]["inputs"] == {
        "ki67_pct": 60.0,
        "mitoses_per_2mm2": None,
        "differentiation": None,
        "tumour_type": "nec",
    }


def test_who_grade_records_the_differentiation() -> None:
    out = _guide({"ki67_pct": 25.0, "differentiation": "well"})
    assert out["who_grade"] == "G3 NET"
    recs = [rec for rec in out["recommendations"] if rec["topic"] == "who_grade"]
    assert [rec["inputs"] for rec in recs] == [
        {"ki67_pct": 25.0, "mitoses_per_2mm2": None, "differentiation": "well"}
    ]


# --- every step: topics and inputs ----------------------------------------------------------

_SWEEP: list[dict[str, Any]] = [
    {},
    {"pituitary_adenoma": True},
    {"pituitary_adenoma": True, "tumour_type": "prolactinoma", "hormone_normalised": True},
    {
        "pituitary_adenoma": True,
        "tumour_type": "prolactinoma",
        "hormone_normalised": True,
        "size_reduction_pct": 20.0,
    },
    {
        "pituitary_adenoma": True,
        "hormone_normalised": False,
        "size_reduction_pct": -10.0,
        "local_mass_effect": True,
    },
    {
        "pituitary_adenoma": True,
        "hormone_normalised": True,
        "size_reduction_pct": 30.0,
        "local_mass_effect": False,
    },
    {"pituitary_adenoma": True, "hormone_normalised": True, "size_reduction_pct": 0.0},
    {**_ELIGIBLE, "largest_lesion_mm": 30.0, "drug_type": "radionuclide"},
    {**_ELIGIBLE, "drug_type": "immunotherapy", "fdg_positive": True},
    {
        "primary_site": "ileum",
        "ki67_pct": 12.0,
        "differentiation": "well",
        "men_syndrome": False,
        "functioning": True,
        "syndrome": "carcinoid",
        "tumour_burden": "high",
        "liver_predominant": True,
        "resectable_fraction_pct": 95.0,
        "prior_treatments": [],
        "krenning_min": 2,
        "fdg_positive": True,
        "drug_type": "targeted",
    },
    {
        "primary_site": "pancreas",
        "tumour_type": "nec",
        "ki67_pct": 60.0,
        "men_syndrome": True,
        "tumour_burden": "low",
        "liver_predominant": True,
        "functioning": False,
        "resectable_fraction_pct": 50.0,
        "krenning_min": 4,
        "fdg_positive": True,
        "drug_type": "cytotoxic",
    },
    {
        "primary_site": "rectum",
        "tumour_type": "insulinoma",
        "ki67_pct": 1.0,
        "mitoses_per_2mm2": 1.0,
        "men_syndrome": False,
        "tumour_burden": "low",
        "liver_predominant": False,
        "drug_type": "hormonal",
        "pituitary_adenoma": True,
        "hormone_normalised": True,
        "size_reduction_pct": 60.0,
    },
]


@pytest.mark.parametrize("facts", _SWEEP)
def test_every_recommendation_names_its_step_and_only_facts_as_inputs(
    facts: dict[str, Any],
) -> None:
    """Topic: the step the advice belongs to; inputs: facts (plus the derived grade/origin).

    A missing fact is a fact key that was not given.
    """
    allowed_inputs = set(FACT_KEYS) | {"who_grade", "embryology"}
    out = _guide(facts)
    assert out["recommendations"]
    for rec in out["recommendations"]:
        assert rec["topic"] in TOPICS, rec
        assert set(rec["inputs"]) <= allowed_inputs, rec
    missing = [item["fact"] for item in out["missing_facts"]]
    assert set(missing) <= set(FACT_KEYS) - set(out["facts"]), missing


# --- FACTS parsing: spellings and the messages that name the rule ---------------------------


@pytest.mark.parametrize(
    ("written", "site"),
    [
        ("Small-Bowel", "small_intestine"),
        ("right-colon", "ascending_colon"),
        ("Proximal-Transverse Colon", "proximal_transverse_colon"),
    ],
)
def test_hyphens_and_spaces_spell_the_same_site(written: str, site: str) -> None:
    assert parse_facts({"primary_site": written}).primary_site == site


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        (
            {"differentiation": "poor", "ki67_pct": 2, "mitoses_per_2mm2": 1},
            "differentiation 'poor' (neuroendocrine carcinoma, high grade by definition) "
            "with Ki-67 2 % and 1 mitoses/2 mm2, which is WHO grade G1",
        ),
        (
            {"tumour_type": "nec", "mitoses_per_2mm2": 5},
            "tumour_type 'nec' (neuroendocrine carcinoma, high grade by definition) "
            "with 5 mitoses/2 mm2, which is WHO grade G2",
        ),
        (
            {"tumour_type": "nec", "ki67_pct": 15},
            "tumour_type 'nec' (neuroendocrine carcinoma, high grade by definition) "
            "with Ki-67 15 %, which is WHO grade G2",
        ),
    ],
)
def test_carcinoma_with_low_grade_counts_names_the_counts(
    facts: dict[str, Any], message: str
) -> None:
    """WHO: G1 Ki-67 < 3 % and < 2 mitoses, G2 up to 20; a NEC is high grade by definition."""
    with pytest.raises(InputError) as info:
        parse_facts(facts)
    assert str(info.value) == "FACTS: contradictory facts: " + message


def test_missing_facts_file_is_named_as_facts(tmp_path: Path) -> None:
    absent = tmp_path / "absent.json"
    with pytest.raises(InputError) as info:
        load_facts_json(absent)
    assert str(info.value) == f"FACTS {absent}: file not found"
