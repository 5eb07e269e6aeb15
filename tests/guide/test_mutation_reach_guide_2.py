"""Guide rules still open after round 3 of the mutation runs of issue 9 (benchmarks/README.md).

The ``FACTS.json`` parsing helpers (``guide.facts``: keys, nulls, text and
list fields, numbers, whole numbers, booleans, enum and site spellings,
non-finite values, the messages naming each key), the WHO grade's own
statements and missing facts (``guide.who_grade``), and the round-3
survivors that change a decision or a recorded input: the response criteria
by drug type with the reference reading and iRECIST's confirmation rule
(``guide.criteria_choice.response_criteria``), which step a missing fact
would change (``guide.engine``), cited sources (``guide.records``), the
listed risk factors, PRRT reasons and its threshold- and unit-bearing notes,
and the pituitary inputs. Expected values are written from the rule as the
rule tables (``guide/rules/*.json``), their quoted sources
(``../shared/sources``) and the documented ``FACTS.json`` keys state it,
never read back from the code.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

import tumorboard
from tumorboard.errors import InputError
from tumorboard.guide import parse_facts, run_guide
from tumorboard.guide.criteria_choice import response_criteria
from tumorboard.guide.embryology import embryology
from tumorboard.guide.engine import GuideResult
from tumorboard.guide.facts import (
    CaseFacts,
    Differentiation,
    DrugType,
    TumourBurden,
    TumourType,
)
from tumorboard.guide.imaging_choice import recommended_imaging
from tumorboard.guide.pituitary import Refractoriness, pituitary
from tumorboard.guide.prrt import PrrtAssessment, PrrtStatus, prrt_eligibility
from tumorboard.guide.records import DEFAULT_ID, Recommendation, Source, cite
from tumorboard.guide.risk import Risk, risk
from tumorboard.guide.who_grade import WhoGrade, who_grade

#: The keys of ``FACTS.json``, in the documented order.
KNOWN_KEYS = (
    "primary_site, tumour_type, ki67_pct, mitoses_per_2mm2, differentiation, men_syndrome, "
    "functioning, syndrome, tumour_burden, liver_predominant, resectable_fraction_pct, "
    "prior_treatments, krenning_min, fdg_positive, drug_type, largest_lesion_mm, "
    "pituitary_adenoma, hormone_normalised, size_reduction_pct, local_mass_effect"
)


def _refused(facts: Any) -> str:
    with pytest.raises(InputError) as info:
        parse_facts(facts)
    return str(info.value)


# --- FACTS parsing: keys and nulls ----------------------------------------------------------
def test_a_null_fact_is_a_missing_fact() -> None:
    """Every key is optional: ``null`` is the same as leaving the key out."""
    facts = parse_facts({key: None for key in KNOWN_KEYS.split(", ")})
    assert facts == CaseFacts()
    assert facts.given() == {}


def test_an_unknown_key_is_named_first_in_sorted_order_with_the_known_keys() -> None:
    message = _refused({"zeta": 1, "ki67_pct": 5, "alpha": 2})
    assert message == f"FACTS: unknown key 'alpha' (known keys: {KNOWN_KEYS})"


def test_errors_start_with_the_name_of_the_input() -> None:
    with pytest.raises(InputError) as info:
        parse_facts({"ki67_pct": 101}, source="FACTS case7.json")
    assert str(info.value) == "FACTS case7.json: ki67_pct must be 0-100, got 101"


def test_given_reports_the_known_facts_in_their_json_form() -> None:
    facts = parse_facts(
        {
            "primary_site": "ileum",
            "tumour_type": "net",
            "ki67_pct": 4,
            "differentiation": "well",
            "tumour_burden": "high",
            "drug_type": "hormonal",
            "prior_treatments": ["lanreotide"],
            "krenning_min": 3,
            "men_syndrome": False,
        }
    )
    assert facts.given() == {
        "primary_site": "ileum",
        "tumour_type": "net",
        "ki67_pct": 4.0,
        "differentiation": "well",
        "men_syndrome": False,
        "tumour_burden": "high",
        "prior_treatments": ["lanreotide"],
        "krenning_min": 3,
        "drug_type": "hormonal",
    }


def test_facts_must_be_a_json_object() -> None:
    assert _refused([1, 2]) == "FACTS: must be a JSON object, got list"
    assert _refused("ki67_pct") == "FACTS: must be a JSON object, got str"


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("mitoses_per_2mm2", "3", "must be a number, got '3'"),
        ("resectable_fraction_pct", "95", "must be a number, got '95'"),
        ("largest_lesion_mm", "22", "must be a number, got '22'"),
        ("size_reduction_pct", "-10", "must be a number, got '-10'"),
        ("men_syndrome", "no", "must be true or false, got 'no'"),
        ("functioning", "no", "must be true or false, got 'no'"),
        ("liver_predominant", 1, "must be true or false, got 1"),
        ("fdg_positive", 0, "must be true or false, got 0"),
        ("pituitary_adenoma", "yes", "must be true or false, got 'yes'"),
        ("hormone_normalised", "yes", "must be true or false, got 'yes'"),
        ("local_mass_effect", "yes", "must be true or false, got 'yes'"),
        ("syndrome", 7, "must be a string, got 7"),
        ("krenning_min", "3", "must be a number, got '3'"),
        ("differentiation", "moderate", "unknown value 'moderate' (expected one of well, poor)"),
        ("tumour_burden", "medium", "unknown value 'medium' (expected one of low, high)"),
    ],
)
def test_a_wrong_value_is_named_by_its_key(key: str, value: Any, rule: str) -> None:
    """Errors name the key, the rule and the value received (``guide/facts.py``)."""
    separator = ": " if rule.startswith("unknown value") else " "
    assert _refused({key: value}) == f"FACTS: {key}{separator}{rule}"


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        (
            {"tumour_type": "nec", "differentiation": "well"},
            "contradictory facts: tumour_type 'nec' (neuroendocrine carcinoma) is poorly "
            "differentiated by definition, but differentiation is 'well'",
        ),
        (
            {"tumour_type": "somatotroph", "pituitary_adenoma": False},
            "contradictory facts: tumour_type 'somatotroph' is a pituitary adenoma, but "
            "pituitary_adenoma is false",
        ),
        (
            {"tumour_type": "gastrinoma", "functioning": False},
            "contradictory facts: tumour_type 'gastrinoma' is a functioning tumour, but "
            "functioning is false",
        ),
    ],
)
def test_contradictions_name_both_facts(facts: dict[str, Any], message: str) -> None:
    """A NEC is poorly differentiated, a gastrinoma functioning, a somatotroph adenoma pituitary."""
    assert _refused(facts) == f"FACTS: {message}"


# --- FACTS parsing: text and list fields ----------------------------------------------------
def test_syndrome_text_is_trimmed_and_a_blank_one_is_missing() -> None:
    assert parse_facts({"syndrome": "  carcinoid "}).syndrome == "carcinoid"
    assert parse_facts({"syndrome": "   "}).syndrome is None
    assert _refused({"syndrome": 5}) == "FACTS: syndrome must be a string, got 5"


def test_prior_treatments_are_trimmed_and_blank_entries_dropped() -> None:
    facts = parse_facts({"prior_treatments": [" lanreotide ", "  ", "everolimus"]})
    assert facts.prior_treatments == ("lanreotide", "everolimus")


def test_an_empty_treatment_list_means_no_treatment_yet_not_unknown() -> None:
    """``[]`` says no first-line treatment was given (PRRT follows its failure)."""
    assert parse_facts({"prior_treatments": []}).prior_treatments == ()


@pytest.mark.parametrize("value", ["lanreotide", ["lanreotide", 3], {"a": "b"}])
def test_prior_treatments_must_be_a_list_of_strings(value: Any) -> None:
    message = _refused({"prior_treatments": value})
    assert message == f"FACTS: prior_treatments must be a list of strings, got {value!r}"


def test_case_facts_given_a_list_of_treatments_keeps_a_tuple() -> None:
    facts = CaseFacts(prior_treatments=["octreotide"])  # type: ignore[arg-type]
    assert facts.prior_treatments == ("octreotide",)


# --- FACTS parsing: numbers, whole numbers, booleans ------------------------------------------
def test_numbers_become_floats_and_booleans_are_not_numbers() -> None:
    facts = parse_facts({"ki67_pct": 5, "largest_lesion_mm": 22})
    assert facts.ki67_pct == 5.0 and isinstance(facts.ki67_pct, float)
    assert isinstance(facts.largest_lesion_mm, float)
    assert _refused({"ki67_pct": True}) == "FACTS: ki67_pct must be a number, got True"
    assert _refused({"ki67_pct": "5"}) == "FACTS: ki67_pct must be a number, got '5'"


def test_krenning_score_is_a_whole_number_from_0_to_4() -> None:
    facts = parse_facts({"krenning_min": 3.0})
    assert facts.krenning_min == 3 and isinstance(facts.krenning_min, int)
    assert _refused({"krenning_min": 2.5}) == "FACTS: krenning_min must be a whole number, got 2.5"
    assert _refused({"krenning_min": False}) == "FACTS: krenning_min must be a number, got False"
    assert _refused({"krenning_min": 5}) == (
        "FACTS: krenning_min must be 0-4 (Krenning scale), got 5"
    )
    assert _refused({"krenning_min": -1}) == (
        "FACTS: krenning_min must be 0-4 (Krenning scale), got -1"
    )


@pytest.mark.parametrize("value", [1, 0, "true", "yes"])
def test_booleans_must_be_true_or_false(value: Any) -> None:
    assert _refused({"functioning": value}) == (
        f"FACTS: functioning must be true or false, got {value!r}"
    )


def test_booleans_are_kept_as_given() -> None:
    facts = parse_facts({"fdg_positive": False, "liver_predominant": True})
    assert facts.fdg_positive is False
    assert facts.liver_predominant is True


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("ki67_pct", math.nan, "ki67_pct must be 0-100, got nan"),
        ("ki67_pct", math.inf, "ki67_pct must be 0-100, got inf"),
        ("mitoses_per_2mm2", math.inf, "mitoses_per_2mm2 must be >= 0, got inf"),
        ("largest_lesion_mm", math.nan, "largest_lesion_mm must be >= 0, got nan"),
        ("size_reduction_pct", -math.inf, "size_reduction_pct must be <= 100, got -inf"),
        ("resectable_fraction_pct", math.nan, "resectable_fraction_pct must be 0-100, got nan"),
    ],
)
def test_non_finite_numbers_are_refused(key: str, value: float, message: str) -> None:
    """A count, size or fraction must be a finite number within its range."""
    assert _refused({key: value}) == f"FACTS: {message}"


# --- FACTS parsing: enum and site spellings --------------------------------------------------
@pytest.mark.parametrize(
    ("key", "written", "member"),
    [
        ("tumour_type", " Nonfunctioning Pituitary ", TumourType.NONFUNCTIONING_PITUITARY),
        ("tumour_type", "nonfunctioning-pituitary", TumourType.NONFUNCTIONING_PITUITARY),
        ("tumour_type", "NEC", TumourType.NEC),
        ("differentiation", "POOR", Differentiation.POOR),
        ("tumour_burden", "High", TumourBurden.HIGH),
        ("drug_type", "Immunotherapy", DrugType.IMMUNOTHERAPY),
    ],
)
def test_enum_values_ignore_case_spaces_and_hyphens(key: str, written: str, member: Any) -> None:
    assert getattr(parse_facts({key: written}), key) is member


def test_an_enum_value_that_is_not_a_string_names_the_choices() -> None:
    assert _refused({"differentiation": 3}) == (
        "FACTS: differentiation: unknown value 3 (expected one of well, poor)"
    )
    assert _refused({"tumour_burden": "medium"}) == (
        "FACTS: tumour_burden: unknown value 'medium' (expected one of low, high)"
    )
    assert _refused({"drug_type": ["cytotoxic"]}) == (
        "FACTS: drug_type: unknown value ['cytotoxic'] (expected one of cytotoxic, targeted, "
        "immunotherapy, radionuclide, hormonal)"
    )


def test_a_site_must_be_a_string_and_a_known_site() -> None:
    assert _refused({"primary_site": 3}) == "FACTS: primary_site must be a string, got 3"
    assert _refused({"primary_site": "kidney"}) == (
        "FACTS: primary_site: unknown site 'kidney' (known: oesophagus, stomach, duodenum, "
        "ampulla, pancreas, biliary, lung, thymus, jejunum, ileum, small_intestine, appendix, "
        "caecum, ascending_colon, proximal_transverse_colon, distal_transverse_colon, "
        "descending_colon, sigmoid, rectum, unknown)"
    )


@pytest.mark.parametrize(
    ("written", "site"),
    [(" Rectal ", "rectum"), ("CUP", "unknown"), ("Cecum", "caecum"), ("Ileum", "ileum")],
)
def test_site_aliases_and_spellings(written: str, site: str) -> None:
    assert parse_facts({"primary_site": written}).primary_site == site


def test_case_facts_refuses_an_unknown_site() -> None:
    with pytest.raises(InputError) as info:
        CaseFacts(primary_site="kidney")
    assert str(info.value) == "primary_site: unknown site 'kidney'"


# --- WHO grade: its statements and the facts that would change it -----------------------------
def test_nec_is_g3_by_definition_and_says_so() -> None:
    """Quote: "Grade-3 poorly differentiated neuroendocrine carcinomas (G3 NECs)"."""
    grade, step = who_grade(CaseFacts(differentiation=Differentiation.POOR))
    assert grade is WhoGrade.G3_NEC
    (rec,) = step.recommendations
    assert rec.text == (
        "Poorly differentiated: neuroendocrine carcinoma (NEC), high grade (G3) by definition."
    )
    assert step.missing == ()  # the counts cannot change a NEC's grade


def test_g3_counts_without_differentiation_ask_for_it() -> None:
    """G3 from Ki-67 > 20 %: G3 NET if well differentiated, NEC if poorly differentiated."""
    grade, step = who_grade(CaseFacts(ki67_pct=25.0))
    assert grade is WhoGrade.G3
    (rec,) = step.recommendations
    assert rec.text == (
        "WHO 2019 grade G3 (NET or NEC: differentiation needed) from Ki-67 25 %. "
        "Differentiation decides between G3 NET and NEC."
    )
    assert step.missing == ("mitoses_per_2mm2", "differentiation")


def test_a_grade_from_one_count_names_the_other_count_as_missing() -> None:
    grade, step = who_grade(CaseFacts(mitoses_per_2mm2=1.0, differentiation=Differentiation.WELL))
    assert grade is WhoGrade.G1
    assert step.missing == ("ki67_pct",)
    assert [rec.text for rec in step.recommendations] == ["WHO 2019 grade G1 from 1 mitoses/2 mm2."]


def test_no_counts_no_grade() -> None:
    grade, step = who_grade(CaseFacts())
    assert grade is None
    assert step.recommendations == ()
    assert step.missing == ("ki67_pct", "mitoses_per_2mm2", "differentiation")


# --- response criteria: the drug's criteria, the reference reading, iRECIST -------------------
def _criteria_texts(drug_type: str, **facts: Any) -> tuple[list[str], list[str]]:
    names, step = response_criteria(CaseFacts(drug_type=DrugType(drug_type), **facts))
    return names, [rec.text for rec in step.recommendations]


#: What every drug gets, after the choice: Table 1, the guide's silence on PERCIST, tumorboard's
#: PERCIST reading (``rules/criteria.json``).
TABLE_AND_PERCIST = [
    "Table 1 of the guide lists RECIST 1.1 for cytotoxic, Choi for cytostatic, iRECIST",
    "PERCIST: the guide's text makes no recommendation regarding its use.",
    "tumorboard reports PERCIST beside the drug's criteria when the baseline has PET",
]
REFERENCE = "RECIST 1.1 is reported beside the drug's criteria as the reference reading."
RECIST_WHY = "RECIST 1.1 measures size: partial response is a > 30 % decrease"
CHOI_WHY = "Choi criteria measure size and CT attenuation"
IRECIST_WHY = "iRECIST: a first progression is unconfirmed (iUPD)"
PERCIST_WHY = "PERCIST measures metabolic response"
BASELINES = [
    "Judge the response against both the baseline and the nadir",
    "New-baseline-lesion rule: a lesion first seen on a new, more sensitive modality",
    "A change of treatment sets a new baseline",
]
IRECIST_CONFIRMATION = "Under immunotherapy a first progression is unconfirmed (iUPD)"
IMMUNE_PATTERNS = ["Hyperprogression:", "Pseudoprogression:", "Abscopal effect:", "Immune-related"]
AFTER_PRRT = ["After PRRT, response shows as tumour lysis", "Follow up with SSTR PET"]


def _starts(texts: list[str], prefixes: list[str]) -> bool:
    return len(texts) == len(prefixes) and all(
        text.startswith(prefix) for text, prefix in zip(texts, prefixes, strict=True)
    )


def test_cytotoxic_drugs_get_recist_alone_without_a_reference_reading() -> None:
    """Quote: "Tumor shrinkage (vs. growth) on anatomical imaging defines treatment response
    (vs. failure) to cytotoxic drugs"; RECIST 1.1 is then the drug's own reading."""
    names, texts = _criteria_texts("cytotoxic")
    assert names == ["RECIST 1.1", "PERCIST"]
    assert _starts(
        texts,
        [
            "Cytotoxic treatment (criteria drug class cytotoxic): assess response with RECIST 1.1.",
            *TABLE_AND_PERCIST,
            RECIST_WHY,
            PERCIST_WHY,
            *BASELINES,
        ],
    )
    assert REFERENCE not in texts
    assert not any(text.startswith(IRECIST_CONFIRMATION) for text in texts)


def test_immunotherapy_gets_irecist_its_confirmation_rule_and_the_immune_patterns() -> None:
    """Quote: "In immunotherapy, treatment beyond progression is allowed and iRECIST criteria
    should be used"; RECIST 1.1 is reported beside it as the reference reading (default)."""
    names, texts = _criteria_texts("immunotherapy")
    assert names == ["RECIST 1.1", "iRECIST", "PERCIST"]
    assert _starts(
        texts,
        [
            "Immunotherapy treatment (criteria drug class immunotherapy): assess response with "
            "RECIST 1.1 and iRECIST.",
            REFERENCE,
            *TABLE_AND_PERCIST,
            RECIST_WHY,
            IRECIST_WHY,
            PERCIST_WHY,
            *BASELINES,
            IRECIST_CONFIRMATION,
            *IMMUNE_PATTERNS,
        ],
    )


def test_radionuclide_therapy_gets_choi_the_reference_reading_and_the_prrt_follow_up() -> None:
    """tumorboard default: Choi after PRRT ("tumor lysis and cellular-integrity loss rather than
    tumor-size reduction"), RECIST 1.1 as the reference reading; no iRECIST rule."""
    names, texts = _criteria_texts("radionuclide")
    assert names == ["RECIST 1.1", "Choi", "PERCIST"]
    assert _starts(
        texts,
        [
            "Radionuclide treatment (criteria drug class prrt): assess response with RECIST 1.1 "
            "and Choi.",
            REFERENCE,
            *TABLE_AND_PERCIST,
            RECIST_WHY,
            CHOI_WHY,
            PERCIST_WHY,
            *BASELINES,
            *AFTER_PRRT,
        ],
    )


def test_the_new_baseline_advice_records_the_prior_treatments() -> None:
    _, step = response_criteria(
        CaseFacts(drug_type=DrugType.TARGETED, prior_treatments=("lanreotide", "everolimus"))
    )
    (rec,) = [r for r in step.recommendations if r.text.startswith(BASELINES[2])]
    assert rec.inputs == {"drug_type": "targeted", "prior_treatments": ["lanreotide", "everolimus"]}
    _, unknown = response_criteria(CaseFacts(drug_type=DrugType.TARGETED))
    (rec,) = [r for r in unknown.recommendations if r.text.startswith(BASELINES[2])]
    assert rec.inputs == {"drug_type": "targeted", "prior_treatments": None}


def test_pituitary_scope_records_the_adenoma_and_the_drug() -> None:
    """The GEP-NET criteria table is not applied to a pituitary adenoma alone."""
    names, step = response_criteria(CaseFacts(pituitary_adenoma=True, drug_type=DrugType.HORMONAL))
    assert names == []
    (rec,) = step.recommendations
    assert rec.inputs == {"pituitary_adenoma": True, "drug_type": "hormonal"}
    assert step.missing == ()


# --- engine: which step a missing fact would change --------------------------------------------
def _would_change(facts: dict[str, Any]) -> dict[str, list[str]]:
    out = run_guide(parse_facts(facts)).as_dict()
    return {item["fact"]: item["would_change"] for item in out["missing_facts"]}


def test_missing_adenoma_facts_would_change_the_pituitary_part() -> None:
    """Hormone control and shrinkage decide biochemical and structural refractoriness."""
    alone = _would_change({"pituitary_adenoma": True})
    assert alone["hormone_normalised"] == ["pituitary"]
    assert alone["size_reduction_pct"] == ["pituitary"]
    with_gep = _would_change({"pituitary_adenoma": True, "primary_site": "pancreas"})
    assert with_gep["hormone_normalised"] == ["pituitary"]


def test_an_unstated_adenoma_would_open_the_pituitary_part() -> None:
    assert _would_change({})["pituitary_adenoma"] == ["pituitary"]


def test_a_result_without_recorded_steps_lists_no_changed_step() -> None:
    result = GuideResult(
        facts=CaseFacts(),
        who_grade=None,
        risk=Risk.UNKNOWN,
        risk_factors=(),
        embryology=None,
        recommended_imaging=(),
        response_criteria=(),
        prrt=PrrtAssessment(PrrtStatus.UNKNOWN, ()),
        pituitary=None,
        recommendations=(),
        missing_facts=("ki67_pct",),
    )
    assert result.as_dict()["missing_facts"] == [
        {"fact": "ki67_pct", "would_change": [], "note": "not given; would change the advice"}
    ]


# --- records: cited sources -----------------------------------------------------------------
def test_a_default_reference_keeps_its_section_and_needs_a_reason() -> None:
    """Every tumorboard default is labelled with its reason (``rules/sources.json``)."""
    default = cite({"id": DEFAULT_ID, "section": "PERCIST on the form", "reason": "why"})
    assert (default.paper, default.section, default.reason) == (
        "tumorboard default",
        "PERCIST on the form",
        "why",
    )
    with pytest.raises(InputError, match="a tumorboard default needs a reason"):
        cite({"id": DEFAULT_ID, "section": "PERCIST on the form"})


def test_a_quoted_reference_names_its_paper_and_needs_a_quote() -> None:
    quote = "ENETS guidelines recommended PRRT in G1 and G2 NETs after failure"
    quoted = cite({"id": "pituitary-review", "section": "s", "quote": quote})
    assert quoted.paper.startswith("Review of imaging in refractory pituitary adenomas")
    assert quoted.file == "pituitary_refractory_adenomas_imaging_review_excerpt.txt"
    assert quoted.quote == quote
    with pytest.raises(InputError, match="quote of 8-40 words, got 0$"):
        cite({"id": "gep-guide", "section": "s"})


# --- separators of the listed facts -----------------------------------------------------------
def test_risk_lists_every_factor_present_and_every_factor_missing() -> None:
    higher, factors, step = risk(
        CaseFacts(men_syndrome=True, tumour_burden=TumourBurden.HIGH), WhoGrade.G1
    )
    assert higher is Risk.HIGHER
    assert factors == ["MEN syndrome", "high tumour burden"]
    assert step.recommendations[0].text.startswith(
        "Higher risk: MEN syndrome, high tumour burden; such patients"
    )
    unknown, _, step = risk(CaseFacts(functioning=False), WhoGrade.G2)
    assert unknown is Risk.UNKNOWN
    assert step.recommendations[0].text == (
        "Risk cannot be classified yet; missing: men_syndrome, tumour_burden."
    )


def test_prrt_names_every_prior_treatment() -> None:
    assessment, _ = prrt_eligibility(
        CaseFacts(ki67_pct=5.0, prior_treatments=("lanreotide", "everolimus"), krenning_min=3),
        WhoGrade.G2,
    )
    assert assessment.reasons == (
        "grade G2",
        "after lanreotide, everolimus",
        "uptake above liver in all lesions (Krenning 3)",
    )


def test_unclassified_adenoma_names_every_missing_fact() -> None:
    kind, _, step = pituitary(CaseFacts(pituitary_adenoma=True))
    assert kind is Refractoriness.UNKNOWN
    texts = [rec.text for rec in step.recommendations]
    assert (
        "Refractoriness cannot be classified; missing: hormone_normalised, size_reduction_pct."
        in texts
    )
    assert step.missing == ("hormone_normalised", "size_reduction_pct")


def test_pituitary_advice_records_the_tumour_type() -> None:
    _, _, step = pituitary(
        CaseFacts(
            pituitary_adenoma=True,
            tumour_type=TumourType.PROLACTINOMA,
            hormone_normalised=False,
            size_reduction_pct=60.0,
        )
    )
    first = step.recommendations[0]
    assert first.text.startswith("Biochemically refractory")
    assert first.inputs == {
        "hormone_normalised": False,
        "size_reduction_pct": 60.0,
        "local_mass_effect": None,
        "tumour_type": "prolactinoma",
    }


# --- PRRT statements that carry a threshold or a unit ------------------------------------------
#: G2, after a somatostatin analogue, uptake above the liver: eligible (``rules/therapy.json``).
ELIGIBLE = CaseFacts(
    ki67_pct=5.0, prior_treatments=("lanreotide",), krenning_min=3, fdg_positive=False
)
KRENNING_NOTE = (
    "Lowest Krenning score 3: PRRT is considered when the score is greater than 2, an uptake "
    "higher than the physiological liver uptake."
)
SSTR_PET_NOTE = (
    "If the Krenning score was read on SSTR PET/CT rather than 111In-pentetreotide: SSTR PET "
    "gives higher scores, especially for lesions <= 2 cm, and the score is not validated for "
    "PET; interpret it with caution."
)


def test_krenning_notes_state_the_cut_and_the_pet_caveat() -> None:
    """Quotes: "PRRT is considered when the Krenning score is greater than 2"; "SSTR-PET/CT
    result in higher Krenning scores compared to 111In-pentetreotide, especially for lesions
    <= 2cm"."""
    _, step = prrt_eligibility(ELIGIBLE, WhoGrade.G2)
    texts = [rec.text for rec in step.recommendations]
    assert texts[2:4] == [KRENNING_NOTE, SSTR_PET_NOTE]


def test_radionuclide_texts_state_the_penetration_depths() -> None:
    """Quote: "Y-90 has high tissue penetration (11 mm) and is used in large tumors; Lu-177
    provides better irradiation of small tumors because of its small tissue-penetration depth
    (2 mm)"; the 20 mm cut is tumorboard's."""
    _, unsized = prrt_eligibility(ELIGIBLE, WhoGrade.G2)
    assert [rec.text for rec in unsized.recommendations][4:] == [
        "Radionuclide: 90Y (11 mm tissue penetration) is used in large tumours; give "
        "largest_lesion_mm to choose.",
        "Radionuclide: 177Lu (2 mm penetration) irradiates small tumours better.",
    ]
    large = CaseFacts(**{**ELIGIBLE.given(), "largest_lesion_mm": 25.0})
    _, sized = prrt_eligibility(large, WhoGrade.G2)
    assert [rec.text for rec in sized.recommendations][4:] == [
        "Largest lesion 25 mm: 90Y (11 mm tissue penetration) suits large tumours.",
        "Large means >= 20 mm here: the guide gives no size.",
    ]


# --- guide.json: version and the pituitary-only PRRT reason ------------------------------------
def test_guide_json_names_the_tumorboard_version() -> None:
    out = run_guide(CaseFacts()).as_dict()
    assert out["tumorboard_version"] == tumorboard.__version__


def test_pituitary_only_case_says_why_prrt_is_not_assessed() -> None:
    out = run_guide(CaseFacts(pituitary_adenoma=True)).as_dict()
    assert out["prrt"] == {
        "status": "unknown",
        "reasons": ["not assessed: the GEP-NET PRRT criteria do not apply to a pituitary adenoma"],
    }


# --- records: the messages of refused sources --------------------------------------------------
def test_refused_sources_and_texts_say_what_is_needed() -> None:
    with pytest.raises(InputError) as info:
        Source("", "section", reason="why")
    assert str(info.value) == "a guide source needs both a paper and a section"
    with pytest.raises(InputError) as info:
        Source("tumorboard default", "grading")
    assert str(info.value) == (
        "guide source 'grading': a tumorboard default needs a reason and no quote"
    )
    with pytest.raises(InputError) as info:
        Recommendation("risk", " ", {}, Source("tumorboard default", "s", reason="r"))
    assert str(info.value) == "a recommendation needs a text"


@pytest.mark.parametrize(
    ("facts", "grade"),
    [
        (CaseFacts(differentiation=Differentiation.POOR), None),
        (CaseFacts(tumour_type=TumourType.NEC, ki67_pct=50.0), WhoGrade.G3),
        (CaseFacts(ki67_pct=50.0), WhoGrade.G3_NEC),
    ],
)
def test_prrt_is_never_for_a_carcinoma_by_its_facts_or_by_its_grade(
    facts: CaseFacts, grade: WhoGrade | None
) -> None:
    """Quote: "ENETS guidelines recommended PRRT in G1 and G2 NETs"; a poorly differentiated
    carcinoma (NEC) is not a NET, whether the facts or the grade say so."""
    assessment, _ = prrt_eligibility(
        CaseFacts(**{**facts.given(), "prior_treatments": ["lanreotide"], "krenning_min": 4}),
        grade,
    )
    assert assessment.status is PrrtStatus.NOT_ELIGIBLE
    assert assessment.reasons == ("poorly differentiated carcinoma (NEC)",)


# --- bugs the mutation round found --------------------------------------------------------
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_krenning_score_is_refused_by_name(value: float) -> None:
    """A NaN or infinite Krenning score is refused naming the key (it used to crash)."""
    assert "krenning_min must be a whole number" in _refused({"krenning_min": value})


#: The start of each imaging entry's name (``rules/imaging.json`` "modalities").
_IMAGING_PREFIXES = {
    "ct": "Multiphase contrast-enhanced CT",
    "mri": "MRI (T2",
    "nm": "Nuclear medicine imaging after CT/MRI",
    "fdg_pet": "18F-FDG PET/CT",
    "dopa_pet": "18F-DOPA PET/CT",
    "sstr_pet": "SSTR PET/CT",
}


@pytest.mark.parametrize(
    ("site", "expected"),
    [
        # Table 2, hindgut: "CT/MRI > NM": FDG PET is nuclear medicine, after CT and MRI
        ("rectum", ["ct", "mri", "fdg_pet", "nm"]),
        ("sigmoid", ["ct", "mri", "fdg_pet", "nm"]),
        # unknown primary: CT and MRI are the first-line techniques, FDG after them
        ("unknown", ["ct", "mri", "fdg_pet"]),
        # with SSTR PET in the order, FDG goes before it ("more suitable than 68Ga-DOTATATE")
        ("ileum", ["dopa_pet", "fdg_pet", "sstr_pet", "ct", "mri"]),
        # insulinoma (18F-DOPA PET first, no SSTR PET): after the first tracer
        ("pancreas:insulinoma", ["dopa_pet", "fdg_pet", "ct", "mri"]),
    ],
)
def test_high_ki67_fdg_pet_never_comes_before_the_anatomical_imaging_of_hindgut(
    site: str, expected: list[str]
) -> None:
    """Ki-67 12 %: where FDG PET lands in each order of Table 2."""
    site, _, tumour_type = site.partition(":")
    facts = parse_facts({"primary_site": site, "ki67_pct": 12, "tumour_type": tumour_type or "net"})
    order, _ = recommended_imaging(facts, embryology(facts)[0])
    assert [_IMAGING_PREFIXES[key] for key in expected] == [
        name[: len(_IMAGING_PREFIXES[key])] for key, name in zip(expected, order, strict=False)
    ]
    assert len(order) >= len(expected)
