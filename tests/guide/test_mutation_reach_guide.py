"""Guide rule code first reached by the mutation runs of issue 9 (benchmarks/README.md).

Risk stratification, embryological origin, the walk of the engine and the
source records. Expected advice is stated from the quoted rule
(``guide/rules/*.json``; the GEP-NET step-by-step guide in
``../shared/sources/gep_net_step_by_step_imaging_guide_rozenblum_2020.txt``) or
from tumorboard's labelled default, never read back from the code.
"""

from __future__ import annotations

from typing import Any

import pytest

from tumorboard.errors import InputError
from tumorboard.guide import parse_facts, run_guide
from tumorboard.guide.embryology import Embryology, embryology
from tumorboard.guide.facts import CaseFacts
from tumorboard.guide.records import (
    DEFAULT_ID,
    QUOTE_MAX_WORDS,
    QUOTE_MIN_WORDS,
    TUMORBOARD_DEFAULT,
    Recommendation,
    Source,
    cite,
)
from tumorboard.guide.risk import Risk, risk
from tumorboard.guide.who_grade import WhoGrade

#: Known and absent: no MEN, Ki-67 1 % (G1), low burden, non-functioning.
LOW_RISK: dict[str, Any] = {
    "men_syndrome": False,
    "ki67_pct": 1.0,
    "tumour_burden": "low",
    "functioning": False,
}
HIGH_FEATURES = "High-risk features of the guide: MEN syndrome, high tumour grade"
FUNCTIONING = "Functioning tumour: higher morbidity and mortality"
HIGH_GRADE_DEFAULT = "'High tumour grade' is read as G3 (NET or NEC); G1 and G2 do not count."
MEN_RULE_OUT = "MEN syndrome not stated: 15 % of NETs are hereditary"


def _guide(**facts: Any) -> dict[str, Any]:
    return run_guide(parse_facts(facts)).as_dict()


def _texts(out: dict[str, Any], topic: str) -> list[str]:
    return [rec["text"] for rec in out["recommendations"] if rec["topic"] == topic]


def _has(texts: list[str], fragment: str) -> bool:
    return any(fragment in text for text in texts)


# --- risk: "MEN syndrome, high tumor grade, and high tumor burden"; functioning tumours -----
def test_every_factor_known_and_absent_is_lower_risk() -> None:
    """Quote: "therapeutic options should not be exhausted too rapidly in low-risk patients"."""
    out = _guide(**LOW_RISK)
    assert out["risk"] == "lower"
    assert out["risk_factors"] == []
    texts = _texts(out, "risk")
    assert _has(texts, "Lower risk (no MEN syndrome, no high grade, low tumour burden")
    assert not _has(texts, "Higher risk") and not _has(texts, MEN_RULE_OUT)
    assert _has(texts, HIGH_GRADE_DEFAULT)  # a grade is known: the default is stated


@pytest.mark.parametrize(
    ("change", "factor"),
    [
        ({"men_syndrome": True}, "MEN syndrome"),
        ({"ki67_pct": 25.0, "differentiation": "well"}, "high tumour grade (G3 NET)"),
        ({"tumour_burden": "high"}, "high tumour burden"),
    ],
)
def test_each_high_risk_feature_alone_makes_higher_risk(
    change: dict[str, Any], factor: str
) -> None:
    """Quote: "High-risk patients ... are those with (MEN) syndrome, high tumor grade, and
    high tumor burden"; "High-risk patients should be guided toward treatment that is more
    aggressive"."""
    out = _guide(**{**LOW_RISK, **change})
    assert out["risk"] == "higher"
    assert out["risk_factors"] == [factor]
    texts = _texts(out, "risk")
    assert _has(texts, f"Higher risk: {factor}; such patients may be guided toward")
    assert _has(texts, HIGH_FEATURES)
    assert not _has(texts, FUNCTIONING)


def test_a_functioning_tumour_alone_is_higher_risk() -> None:
    """Quote: "a higher morbi-mortality is observed in functioning GEP-NETs"."""
    out = _guide(**{**LOW_RISK, "functioning": True, "syndrome": "carcinoid"})
    assert out["risk"] == "higher"
    assert out["risk_factors"] == ["functioning tumour (carcinoid)"]
    texts = _texts(out, "risk")
    assert _has(texts, FUNCTIONING)
    assert not _has(texts, HIGH_FEATURES)  # functioning is not one of the three features
    plain = _guide(**{**LOW_RISK, "functioning": True})
    assert plain["risk_factors"] == ["functioning tumour"]


@pytest.mark.parametrize(("ki67", "grade"), [(20.0, "G2"), (3.0, "G2"), (1.0, "G1")])
def test_g1_and_g2_are_not_high_grade(ki67: float, grade: str) -> None:
    """tumorboard default (labelled): only G3 (NET or NEC) is "high tumor grade"."""
    out = _guide(**{**LOW_RISK, "ki67_pct": ki67})
    assert out["who_grade"] == grade
    assert out["risk"] == "lower"


def test_a_poorly_differentiated_carcinoma_is_high_grade() -> None:
    out = _guide(**{**LOW_RISK, "ki67_pct": None, "differentiation": "poor"})
    assert out["who_grade"] == "G3 NEC"
    assert out["risk"] == "higher"
    assert out["risk_factors"] == ["high tumour grade (G3 NEC)"]


@pytest.mark.parametrize("fact", ["men_syndrome", "ki67_pct", "tumour_burden", "functioning"])
def test_one_unknown_factor_leaves_the_risk_unknown(fact: str) -> None:
    """tumorboard default: the risk is classified only when each factor is known or one present."""
    facts = dict(LOW_RISK)
    del facts[fact]
    out = _guide(**facts)
    assert out["risk"] == "unknown"
    assert out["risk_factors"] == []
    texts = _texts(out, "risk")
    assert f"Risk cannot be classified yet; missing: {fact}." in texts
    assert _has(texts, MEN_RULE_OUT) is (fact == "men_syndrome")
    assert _has(texts, HIGH_GRADE_DEFAULT) is (fact != "ki67_pct")
    affected = {item["fact"]: item["would_change"] for item in out["missing_facts"]}
    assert "risk" in affected[fact]


def test_a_present_factor_classifies_even_with_others_unknown() -> None:
    out = _guide(tumour_burden="high")
    assert out["risk"] == "higher"
    assert out["risk_factors"] == ["high tumour burden"]


def test_risk_inputs_record_the_four_factors() -> None:
    facts = CaseFacts(men_syndrome=False, functioning=True)
    result, factors, step = risk(facts, WhoGrade.G2)
    assert result is Risk.HIGHER
    assert factors == ["functioning tumour"]
    assert step.missing == ("tumour_burden",)
    first = step.recommendations[0]
    assert first.inputs == {
        "men_syndrome": False,
        "who_grade": "G2",
        "tumour_burden": None,
        "functioning": True,
    }
    assert {rec.topic for rec in step.recommendations} == {"risk"}
    _, _, no_grade = risk(CaseFacts(), None)
    assert no_grade.missing == ("men_syndrome", "ki67_pct", "tumour_burden", "functioning")
    assert no_grade.recommendations[0].inputs["who_grade"] is None


# --- embryology: the classical site-to-origin table (tumorboard default) --------------------
@pytest.mark.parametrize(
    ("site", "origin", "text"),
    [
        ("pancreas", Embryology.FOREGUT, "Primary in the pancreas: foregut origin."),
        ("ileum", Embryology.MIDGUT, "Primary in the ileum: midgut origin."),
        ("small_intestine", Embryology.MIDGUT, "Primary in the small intestine: midgut origin."),
        ("rectum", Embryology.HINDGUT, "Primary in the rectum: hindgut origin."),
    ],
)
def test_embryological_origin_of_a_site(site: str, origin: Embryology, text: str) -> None:
    found, step = embryology(CaseFacts(primary_site=site))
    assert found is origin
    (rec,) = step.recommendations
    assert (rec.topic, rec.text, rec.inputs) == ("embryology", text, {"primary_site": site})
    assert rec.source.is_default  # the site table is tumorboard's classical division
    assert step.missing == ()


def test_unknown_primary_cites_the_guide_on_origin() -> None:
    """Quote: "The embryological origin predicts which molecular imaging approach will
    achieve the highest diagnostic accuracy"."""
    found, step = embryology(CaseFacts(primary_site="unknown"))
    assert found is Embryology.UNKNOWN
    (rec,) = step.recommendations
    assert rec.text.startswith("Primary site unknown: the embryological origin cannot steer")
    assert not rec.source.is_default
    assert "embryological origin predicts" in rec.source.quote


def test_no_primary_site_is_missing() -> None:
    found, step = embryology(CaseFacts())
    assert found is None
    assert step.recommendations == ()
    assert step.missing == ("primary_site",)


# --- engine: the walk, the pituitary scope, what missing facts would change -----------------
def test_the_walk_reports_its_steps_in_reading_order() -> None:
    out = _guide(
        primary_site="ileum", ki67_pct=5.0, **{k: v for k, v in LOW_RISK.items() if k != "ki67_pct"}
    )
    topics = [rec["topic"] for rec in out["recommendations"]]
    order = ["who_grade", "embryology", "risk", "imaging"]
    firsts = [topics.index(topic) for topic in order]
    assert firsts == sorted(firsts)
    assert out["who_grade"] == "G2"
    assert out["embryology"] == "midgut"
    assert out["pituitary"] is None


def test_pituitary_adenoma_without_a_gep_primary_skips_the_gep_steps() -> None:
    out = _guide(pituitary_adenoma=True, tumour_type="somatotroph")
    assert out["who_grade"] is None
    assert out["embryology"] is None
    assert out["risk"] == "unknown"
    assert out["risk_factors"] == []
    assert out["prrt"]["status"] == "unknown"
    assert out["pituitary"] is not None
    topics = {rec["topic"] for rec in out["recommendations"]}
    assert "scope" in topics
    assert not topics & {"who_grade", "embryology", "risk", "prrt"}
    scope = [rec for rec in out["recommendations"] if rec["topic"] == "scope"]
    assert scope[0]["inputs"] == {"pituitary_adenoma": True, "primary_site": None}


def test_missing_facts_name_every_step_they_would_change_once() -> None:
    out = _guide()
    missing = {item["fact"]: item["would_change"] for item in out["missing_facts"]}
    assert "primary_site" in missing
    assert "embryology" in missing["primary_site"]
    for steps in missing.values():
        assert len(steps) == len(set(steps))
    for item in out["missing_facts"]:
        assert item["note"] == "not given; would change the advice"
    assert set(out["rules_versions"]) == {
        "sources",
        "who_grade",
        "embryology",
        "imaging",
        "criteria",
        "therapy",
        "pituitary",
    }


# --- records: quotes of 8-40 words, labelled defaults with a reason -------------------------
def test_quote_length_limits_are_8_to_40_words() -> None:
    assert (QUOTE_MIN_WORDS, QUOTE_MAX_WORDS) == (8, 40)
    Source("paper", "s", quote=" ".join(["w"] * 8), file="f.txt")
    Source("paper", "s", quote=" ".join(["w"] * 40), file="f.txt")
    with pytest.raises(InputError, match="quote of 8-40 words, got 7"):
        Source("paper", "s", quote=" ".join(["w"] * 7), file="f.txt")
    with pytest.raises(InputError, match="got 41"):
        Source("paper", "s", quote=" ".join(["w"] * 41), file="f.txt")
    with pytest.raises(InputError, match="needs a source file"):
        Source("paper", "s", quote=" ".join(["w"] * 8))


def test_a_default_needs_a_reason_and_no_quote() -> None:
    default = Source(TUMORBOARD_DEFAULT, "s", reason="why")
    assert default.is_default
    assert default.as_dict() == {"paper": TUMORBOARD_DEFAULT, "section": "s", "reason": "why"}
    for bad in ({"reason": "  "}, {"reason": "why", "quote": "a quote"}):
        with pytest.raises(InputError, match="a tumorboard default needs a reason"):
            Source(TUMORBOARD_DEFAULT, "s", **bad)
    with pytest.raises(InputError, match="needs both a paper and a section"):
        Source("", "s", reason="x")
    with pytest.raises(InputError, match="needs both a paper and a section"):
        Source("paper", "", quote=" ".join(["w"] * 8), file="f.txt")


def test_cite_resolves_the_paper_and_file_of_a_source_id() -> None:
    quoted = cite({"id": "gep-guide", "section": "sec", "quote": " ".join(["w"] * 9)})
    assert quoted.file == "gep_net_step_by_step_imaging_guide_rozenblum_2020.txt"
    assert quoted.as_dict() == {
        "paper": quoted.paper,
        "section": "sec",
        "quote": " ".join(["w"] * 9),
        "file": quoted.file,
    }
    assert not quoted.is_default
    default = cite({"id": DEFAULT_ID, "section": "sec", "reason": "r"})
    assert default.is_default and default.reason == "r"
    with pytest.raises(InputError, match="cites unknown source 'nope'"):
        cite({"id": "nope", "section": "sec"})


def test_a_recommendation_needs_a_text() -> None:
    source = Source(TUMORBOARD_DEFAULT, "s", reason="r")
    with pytest.raises(InputError, match="needs a text"):
        Recommendation("risk", "  ", {}, source)
    rec = Recommendation("risk", "t", {"a": 1}, source)
    assert rec.as_dict() == {
        "topic": "risk",
        "text": "t",
        "inputs": {"a": 1},
        "source": {"paper": TUMORBOARD_DEFAULT, "section": "s", "reason": "r"},
    }


# --- PRRT: "PRRT is considered when the Krenning score is greater than 2" ---------------------
#: G2 (Ki-67 5 %), after a somatostatin analogue: eligible when the uptake is above the liver.
PRRT_CASE: dict[str, Any] = {
    "ki67_pct": 5.0,
    "differentiation": "well",
    "prior_treatments": ["somatostatin analogue"],
    "fdg_positive": False,
    "largest_lesion_mm": 15.0,
}
PALLIATIVE = "For lesions with low uptake or large necrosis, PRRT can still be done"
COMBINATION = "SSTR-positive, FDG-avid G3 disease: some authors combined PRRT with"


def _prrt(**facts: Any) -> dict[str, Any]:
    return _guide(**{**PRRT_CASE, **facts})


@pytest.mark.parametrize(
    ("krenning", "status"), [(3, "eligible"), (4, "eligible"), (2, "not-eligible")]
)
def test_prrt_needs_a_krenning_score_above_2(krenning: int, status: str) -> None:
    out = _prrt(krenning_min=krenning)
    assert out["prrt"]["status"] == status
    texts = _texts(out, "prrt")
    assert _has(texts, PALLIATIVE) is (krenning <= 2)
    if status == "eligible":
        assert f"uptake above liver in all lesions (Krenning {krenning})" in out["prrt"]["reasons"]
    else:
        assert out["prrt"]["reasons"] == [
            "lowest Krenning score 2 (uptake must exceed the liver, > 2; palliative PRRT "
            "remains possible)"
        ]


@pytest.mark.parametrize(("krenning", "shown"), [(3, True), (2, False)])
def test_g3_combination_note_needs_sstr_positive_fdg_avid_disease(
    krenning: int, shown: bool
) -> None:
    """Quote: "some authors have combined PRRT with chemotherapy (Capecitabine, 5-FU) in patients
    with SSTR-positive and FDG-avid disease G3". SSTR-positive is read as the PRRT uptake
    criterion, a Krenning score greater than 2."""
    out = _prrt(ki67_pct=30.0, krenning_min=krenning, fdg_positive=True)
    assert out["who_grade"] == "G3 NET"
    assert out["prrt"]["status"] == "not-eligible"
    assert _has(_texts(out, "prrt"), COMBINATION) is shown
    recs = {rec["text"][:30]: rec["inputs"] for rec in out["recommendations"]}
    assert recs["FDG-positive disease: compare "] == {
        "fdg_positive": True,
        "krenning_min": krenning,
    }
    if shown:
        assert recs[COMBINATION[:30]] == {
            "who_grade": "G3 NET",
            "fdg_positive": True,
            "krenning_min": krenning,
        }
    g2 = _prrt(krenning_min=krenning, fdg_positive=True)
    assert not _has(_texts(g2, "prrt"), COMBINATION)  # G2: no G3 combination note


def test_prrt_is_against_g3_nec_and_no_first_line_treatment() -> None:
    g3 = _prrt(ki67_pct=30.0, krenning_min=4)
    assert g3["prrt"]["reasons"] == ["grade G3 NET (PRRT is for G1/G2)"]
    nec = _prrt(ki67_pct=None, differentiation="poor", krenning_min=4)
    assert nec["prrt"]["reasons"] == ["poorly differentiated carcinoma (NEC)"]
    first_line = _prrt(prior_treatments=[], krenning_min=4)
    assert first_line["prrt"]["status"] == "not-eligible"
    assert first_line["prrt"]["reasons"] == [
        "no first-line treatment yet (PRRT follows failure of first-line therapy)"
    ]
    g1 = _prrt(ki67_pct=1.0, krenning_min=4)
    assert g1["prrt"]["status"] == "eligible"
    assert g1["prrt"]["reasons"][0] == "grade G1"


def test_prrt_unknowns_are_named_and_missing_facts_only_when_they_could_matter() -> None:
    out = _guide(differentiation="well")
    assert out["prrt"]["status"] == "unknown"
    assert out["prrt"]["reasons"] == [
        "WHO grade unknown",
        "prior treatment unknown",
        "SSTR uptake (Krenning score) unknown",
    ]
    affected = {item["fact"]: item["would_change"] for item in out["missing_facts"]}
    for fact in ("ki67_pct", "prior_treatments", "krenning_min", "fdg_positive"):
        assert "prrt" in affected[fact], fact
    refused = _prrt(krenning_min=1, fdg_positive=None, prior_treatments=None)
    affected = {item["fact"]: item["would_change"] for item in refused["missing_facts"]}
    # not eligible: no missing fact can make the patient eligible
    assert "prrt" not in affected.get("prior_treatments", [])
    assert "prrt" not in affected.get("fdg_positive", [])


def test_prrt_recommendation_records_its_inputs() -> None:
    out = _prrt(krenning_min=3)
    first = next(rec for rec in out["recommendations"] if rec["topic"] == "prrt")
    assert first["text"] == (
        "PRRT eligible: grade G2; after somatostatin analogue; uptake above liver in all "
        "lesions (Krenning 3)."
    )
    assert first["inputs"] == {
        "who_grade": "G2",
        "prior_treatments": ["somatostatin analogue"],
        "krenning_min": 3,
    }


# --- facts: ranges of the documented fields ---------------------------------------------------
@pytest.mark.parametrize(
    ("key", "accepted", "refused"),
    [
        ("ki67_pct", [0.0, 100.0], [-0.1, 100.1]),
        ("mitoses_per_2mm2", [0.0, 1e6], [-0.1]),
        ("resectable_fraction_pct", [0.0, 100.0], [-0.1, 100.1]),
        ("size_reduction_pct", [-500.0, 100.0], [100.1]),
        ("largest_lesion_mm", [0.0, 500.0], [-0.1]),
        ("krenning_min", [0, 4], [-1, 5]),
    ],
)
def test_fact_ranges_are_inclusive(key: str, accepted: list[float], refused: list[float]) -> None:
    """Ki-67 and fractions 0-100 %, counts and sizes >= 0, shrinkage <= 100 %, Krenning 0-4."""
    for value in accepted:
        assert getattr(parse_facts({key: value}), key) == value
    for value in refused:
        with pytest.raises(InputError, match=key):
            parse_facts({key: value})


def test_risk_inputs_name_the_burden_and_the_syndrome() -> None:
    facts = CaseFacts(
        men_syndrome=False, tumour_burden="high", functioning=True, syndrome="carcinoid"
    )
    _, factors, step = risk(facts, WhoGrade.G1)
    assert factors == ["high tumour burden", "functioning tumour (carcinoid)"]
    assert step.recommendations[0].inputs["tumour_burden"] == "high"
    functioning = [rec for rec in step.recommendations if rec.text.startswith(FUNCTIONING)]
    assert functioning[0].inputs == {"functioning": True, "syndrome": "carcinoid"}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("ki67_pct", -0.1, "ki67_pct must be 0-100, got -0.1"),
        ("mitoses_per_2mm2", -1.0, "mitoses_per_2mm2 must be >= 0, got -1"),
        ("size_reduction_pct", 100.5, "size_reduction_pct must be <= 100, got 100.5"),
    ],
)
def test_range_messages_state_the_bounds(key: str, value: float, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_facts({key: value})
