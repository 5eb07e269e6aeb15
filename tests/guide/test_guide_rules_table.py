"""The guide's rules as a table: facts -> expected output, each citing its source sentence."""

from __future__ import annotations

from typing import Any

import pytest

from tumorboard.guide import parse_facts, run_guide

SSTR = "SSTR PET/CT"
DOPA = "18F-DOPA PET/CT"
FDG = "18F-FDG PET/CT"
CT = "Multiphase contrast-enhanced CT"

# (id, facts, expected, source sentence). ``expected`` keys: a guide.json key
# (compared exactly, or with a callable), or "text" (a substring of some recommendation).
CASES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    (
        "who-g1",
        {"ki67_pct": 2.9, "mitoses_per_2mm2": 1},
        {"who_grade": "G1"},
        "WHO 2019: G1 NET, Ki-67 < 3 % and mitotic count < 2/2 mm2.",
    ),
    (
        "who-g2-ki67-3",
        {"ki67_pct": 3.0, "mitoses_per_2mm2": 1},
        {"who_grade": "G2"},
        "WHO 2019: G2 NET, Ki-67 3-20 %.",
    ),
    ("who-g2-ki67-20", {"ki67_pct": 20.0}, {"who_grade": "G2"}, "WHO 2019: G2 NET, Ki-67 3-20 %."),
    (
        "who-g2-by-mitoses",
        {"ki67_pct": 1.0, "mitoses_per_2mm2": 5},
        {"who_grade": "G2"},
        "WHO 2019: G2 NET, mitotic count 2-20/2 mm2; discordant counts take the higher grade.",
    ),
    (
        "who-g3-net",
        {"ki67_pct": 35.0, "differentiation": "well"},
        {"who_grade": "G3 NET"},
        "WHO 2019: G3 NET, well differentiated, Ki-67 > 20 %.",
    ),
    (
        "who-g3-by-mitoses",
        {"ki67_pct": 10.0, "mitoses_per_2mm2": 25, "differentiation": "well"},
        {"who_grade": "G3 NET"},
        "WHO 2019: G3, mitotic count > 20/2 mm2.",
    ),
    (
        "who-nec",
        {"ki67_pct": 70.0, "differentiation": "poor"},
        {"who_grade": "G3 NEC"},
        "WHO 2019: neuroendocrine carcinoma, poorly differentiated, high grade.",
    ),
    (
        "who-g3-undetermined",
        {"ki67_pct": 30.0},
        {"who_grade": "G3 (NET or NEC: differentiation needed)"},
        "WHO 2019: G3 NET and NEC are separated by differentiation.",
    ),
    (
        "foregut-sstr-first",
        {"primary_site": "pancreas", "ki67_pct": 2},
        {"embryology": "foregut", "recommended_imaging": lambda v: v[0].startswith(SSTR)},
        "Step-by-step guide, imaging choice: SSTR PET first for foregut tumours.",
    ),
    (
        "midgut-dopa-first",
        {"primary_site": "ileum", "ki67_pct": 2},
        {"embryology": "midgut", "recommended_imaging": lambda v: v[0] == DOPA},
        "Step-by-step guide, imaging choice: 18F-DOPA PET first for midgut tumours.",
    ),
    (
        "hindgut-ct-mri",
        {"primary_site": "rectum", "ki67_pct": 2},
        {
            "embryology": "hindgut",
            "recommended_imaging": lambda v: v[0].startswith(CT) and "MRI" in v[1],
        },
        "Step-by-step guide, imaging choice: CT/MRI for hindgut tumours.",
    ),
    (
        "poorly-differentiated-fdg",
        {"primary_site": "ileum", "differentiation": "poor", "ki67_pct": 60},
        {"recommended_imaging": lambda v: v[0] == FDG},
        "Step-by-step guide, imaging choice: FDG PET for poorly differentiated tumours.",
    ),
    (
        "ki67-10-adds-fdg",
        {"primary_site": "pancreas", "ki67_pct": 10, "differentiation": "well"},
        {"recommended_imaging": lambda v: v[0].startswith(SSTR) and FDG in v},
        "Step-by-step guide, imaging choice: add FDG PET when Ki-67 >= 10 %.",
    ),
    (
        "ki67-9-no-fdg",
        {"primary_site": "pancreas", "ki67_pct": 9.9},
        {"recommended_imaging": lambda v: FDG not in v},
        "Step-by-step guide, imaging choice: FDG PET from Ki-67 10 % on.",
    ),
    (
        "insulinoma",
        {"primary_site": "pancreas", "tumour_type": "insulinoma", "ki67_pct": 1},
        {
            "recommended_imaging": lambda v: (
                v[0].startswith("GLP-1")
                and v.index(DOPA) < v.index(next(x for x in v if x.startswith(SSTR)))
            )
        },
        "Step-by-step guide, imaging by tumour type: insulinomas often lack SSTR2.",
    ),
    (
        "gastrinoma",
        {"primary_site": "duodenum", "tumour_type": "gastrinoma"},
        {"recommended_imaging": lambda v: v[0].startswith(SSTR)},
        "Step-by-step guide, imaging by tumour type: gastrinoma, SSTR PET.",
    ),
    (
        "risk-men",
        {"men_syndrome": True, "ki67_pct": 1},
        {"risk": "higher"},
        "Step-by-step guide, risk stratification: MEN syndrome is a risk factor.",
    ),
    (
        "risk-burden",
        {"men_syndrome": False, "ki67_pct": 1, "tumour_burden": "high", "functioning": False},
        {"risk": "higher"},
        "Step-by-step guide, risk stratification: high tumour burden is a risk factor.",
    ),
    (
        "risk-functioning",
        {"men_syndrome": False, "ki67_pct": 1, "tumour_burden": "low", "functioning": True},
        {"risk": "higher"},
        "Step-by-step guide, risk stratification: functional status.",
    ),
    (
        "risk-low",
        {"men_syndrome": False, "ki67_pct": 1, "tumour_burden": "low", "functioning": False},
        {"risk": "lower", "text": "do not exhaust therapeutic options too early"},
        "Step-by-step guide, risk stratification: low risk: do not exhaust options too early.",
    ),
    (
        "risk-unknown",
        {"ki67_pct": 1},
        {"risk": "unknown"},
        "Step-by-step guide, risk stratification needs MEN status, grade, burden and function.",
    ),
    (
        "debulking-yes",
        {"resectable_fraction_pct": 95},
        {"text": "Surgical debulking can be discussed"},
        "Step-by-step guide, surgery: debulking only when > 90 % of the burden is removable.",
    ),
    (
        "debulking-no",
        {"resectable_fraction_pct": 90},
        {"text": "Surgical debulking not advised"},
        "Step-by-step guide, surgery: debulking only when > 90 % of the burden is removable.",
    ),
    (
        "ablation",
        {"liver_predominant": True, "tumour_burden": "low", "functioning": False},
        {"text": "thermal ablation"},
        "Step-by-step guide, thermal ablation for small oligometastatic liver disease.",
    ),
    (
        "intra-arterial",
        {"liver_predominant": True, "functioning": True, "tumour_burden": "high"},
        {"text": "conventional TACE before drug-eluting beads"},
        "Step-by-step guide, locoregional: TAE/conventional TACE before drug-eluting beads.",
    ),
    (
        "sirt-workup",
        {"liver_predominant": True, "functioning": True},
        {"text": "99mTc-MAA"},
        "Step-by-step guide, locoregional: SIRT with its work-up.",
    ),
    (
        "prrt-eligible",
        {
            "ki67_pct": 5,
            "differentiation": "well",
            "krenning_min": 3,
            "prior_treatments": ["somatostatin analogue"],
        },
        {"prrt": lambda v: v["status"] == "eligible"},
        "Step-by-step guide, PRRT: G1/G2, after first line, uptake above liver (Krenning > 2).",
    ),
    (
        "prrt-krenning-2",
        {"ki67_pct": 5, "krenning_min": 2, "prior_treatments": ["octreotide"]},
        {"prrt": lambda v: v["status"] == "not-eligible" and "Krenning" in " ".join(v["reasons"])},
        "Step-by-step guide, PRRT: uptake must exceed the liver (Krenning > 2).",
    ),
    (
        "prrt-first-line",
        {"ki67_pct": 5, "krenning_min": 4, "prior_treatments": []},
        {"prrt": lambda v: v["status"] == "not-eligible"},
        "Step-by-step guide, PRRT: after failure of first-line therapy.",
    ),
    (
        "prrt-nec",
        {
            "ki67_pct": 70,
            "differentiation": "poor",
            "krenning_min": 4,
            "prior_treatments": ["cisplatin-etoposide"],
        },
        {"prrt": lambda v: v["status"] == "not-eligible"},
        "Step-by-step guide, PRRT: for G1/G2 tumours.",
    ),
    (
        "prrt-unknown",
        {"ki67_pct": 5},
        {"prrt": lambda v: v["status"] == "unknown"},
        "Step-by-step guide, PRRT needs prior treatment and Krenning score.",
    ),
    (
        "prrt-large-90y",
        {
            "ki67_pct": 5,
            "krenning_min": 3,
            "prior_treatments": ["lanreotide"],
            "largest_lesion_mm": 45,
        },
        {"text": "90Y"},
        "Step-by-step guide, PRRT: 90Y for large lesions.",
    ),
    (
        "prrt-small-177lu",
        {
            "ki67_pct": 5,
            "krenning_min": 3,
            "prior_treatments": ["lanreotide"],
            "largest_lesion_mm": 12,
        },
        {"text": "177Lu suits small lesions"},
        "Step-by-step guide, PRRT: 177Lu for small lesions.",
    ),
    (
        "fdg-warning",
        {
            "ki67_pct": 15,
            "krenning_min": 3,
            "prior_treatments": ["lanreotide"],
            "fdg_positive": True,
        },
        {"text": "FDG uptake exceeding SSTR uptake"},
        "Step-by-step guide, PRRT: FDG-over-SSTR uptake is a warning.",
    ),
    (
        "criteria-cytotoxic",
        {"drug_type": "cytotoxic"},
        {"response_criteria": ["RECIST 1.1", "PERCIST"]},
        "Step-by-step guide, response assessment: RECIST 1.1 for cytotoxic drugs; PERCIST for all.",
    ),
    (
        "criteria-targeted",
        {"drug_type": "targeted"},
        {"response_criteria": ["RECIST 1.1", "Choi", "PERCIST"]},
        "Step-by-step guide, response assessment: Choi for targeted drugs (RECIST 1.1 always "
        "reported as the reference reading).",
    ),
    (
        "criteria-immuno",
        {"drug_type": "immunotherapy"},
        {"response_criteria": ["RECIST 1.1", "iRECIST", "PERCIST"], "text": "iCPD"},
        "Step-by-step guide, response assessment: iRECIST for immunotherapy.",
    ),
    (
        "criteria-radionuclide",
        {"drug_type": "radionuclide"},
        {"response_criteria": ["RECIST 1.1", "Choi", "PERCIST"], "text": "drug class prrt"},
        "Step-by-step guide, response assessment: PRRT acts by necrosis and devascularisation, "
        "read with Choi.",
    ),
    (
        "criteria-hormonal",
        {"drug_type": "hormonal"},
        {
            "response_criteria": ["RECIST 1.1", "Choi", "PERCIST"],
            "text": "drug class somatostatin-analogue",
        },
        "Step-by-step guide, response assessment: somatostatin analogues, read with Choi.",
    ),
    (
        "criteria-new-baseline",
        {"drug_type": "cytotoxic"},
        {"text": "A change of treatment sets a new baseline"},
        "RECIST 1.1, baseline: assessed as close as possible to the start of treatment.",
    ),
    (
        "criteria-new-baseline-lesion",
        {"drug_type": "targeted"},
        {"text": "new baseline lesion for that modality, not as progression"},
        "Step-by-step guide, response assessment: a lesion first seen with a more sensitive "
        "method is a new baseline lesion.",
    ),
    (
        "nec-type-is-poorly-differentiated",
        {"primary_site": "ileum", "tumour_type": "nec", "ki67_pct": 60},
        {
            "who_grade": "G3 NEC",
            "recommended_imaging": lambda v: v[0] == FDG,
            "prrt": lambda v: v["status"] == "not-eligible",
        },
        "WHO 2019: neuroendocrine carcinoma is poorly differentiated by definition.",
    ),
    (
        "pituitary-biochemical",
        {"pituitary_adenoma": True, "hormone_normalised": False, "size_reduction_pct": 60},
        {"pituitary": {"refractoriness": "biochemical"}, "text": "11C-methionine"},
        "Pituitary review: biochemical refractoriness; methionine/FET/DOTATATE PET.",
    ),
    (
        "pituitary-structural",
        {
            "pituitary_adenoma": True,
            "hormone_normalised": True,
            "size_reduction_pct": 20,
            "tumour_type": "somatotroph",
        },
        {"pituitary": {"refractoriness": "structural"}},
        "Pituitary review: structural refractoriness, insufficient shrinkage.",
    ),
    (
        "prolactinoma-discordant",
        {"tumour_type": "prolactinoma", "hormone_normalised": True, "size_reduction_pct": 30},
        {
            "pituitary": {"refractoriness": "discordant (possibly pseudo-refractory)"},
            "text": "before escalating",
        },
        "Pituitary review: normal prolactin with < 50 % shrinkage may be pseudo-refractory.",
    ),
    (
        "pituitary-sequences",
        {"pituitary_adenoma": True},
        {"text": "cavernous sinus invasion"},
        "Pituitary review: which extra MR sequence answers which question.",
    ),
    (
        "pituitary-imaging-order",
        {"pituitary_adenoma": True, "hormone_normalised": False, "size_reduction_pct": 60},
        {
            "recommended_imaging": lambda v: (
                v[0].startswith("MRI of the sella")
                and v[1].startswith("11C-methionine")
                and v[2].startswith("68Ga-DOTATATE")
            )
        },
        "Pituitary review: MRI first; molecular imaging when the hormone excess persists.",
    ),
    (
        "pituitary-mri-only-when-controlled",
        {"pituitary_adenoma": True, "hormone_normalised": True, "size_reduction_pct": 60},
        {"recommended_imaging": lambda v: len(v) == 1 and v[0].startswith("MRI of the sella")},
        "Pituitary review: molecular imaging only when MRI and biochemistry leave a question.",
    ),
    (
        "pituitary-gep-steps-not-applied",
        {"tumour_type": "somatotroph", "functioning": True, "ki67_pct": 5},
        {
            "who_grade": None,
            "risk": "unknown",
            "embryology": None,
            "prrt": lambda v: v["status"] == "unknown" and "do not apply" in v["reasons"][0],
            "text": "GEP-NET steps",
        },
        "Step-by-step GEP guide: its scope is gastro-entero-pancreatic NETs.",
    ),
    (
        "men1-pituitary-and-pancreas",
        {"pituitary_adenoma": True, "primary_site": "pancreas", "men_syndrome": True},
        {
            "risk": "higher",
            "embryology": "foregut",
            "recommended_imaging": lambda v: (
                v[0].startswith(SSTR) and any(x.startswith("MRI of the sella") for x in v)
            ),
        },
        "GEP guide and pituitary review together for a MEN1 patient.",
    ),
    (
        "not-pituitary",
        {"primary_site": "ileum"},
        {"pituitary": None},
        "The pituitary part applies to pituitary adenomas only.",
    ),
]


@pytest.mark.parametrize(
    ("facts", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule_table(facts: dict[str, Any], expected: dict[str, Any]) -> None:
    out = run_guide(parse_facts(facts)).as_dict()
    texts = " | ".join(rec["text"] for rec in out["recommendations"])
    for key, want in expected.items():
        if key == "text":
            assert want in texts
        elif callable(want):
            assert want(out[key]), out[key]
        else:
            assert out[key] == want


def test_every_case_cites_a_source_sentence() -> None:
    assert all(case[3].strip() for case in CASES)
    assert len({case[0] for case in CASES}) == len(CASES)


def test_every_recommendation_has_text_inputs_source() -> None:
    facts = {
        "primary_site": "ileum",
        "ki67_pct": 12,
        "differentiation": "well",
        "men_syndrome": False,
        "functioning": True,
        "tumour_burden": "high",
        "liver_predominant": True,
        "resectable_fraction_pct": 50,
        "prior_treatments": ["lanreotide"],
        "krenning_min": 3,
        "fdg_positive": True,
        "drug_type": "immunotherapy",
        "largest_lesion_mm": 30,
    }
    out = run_guide(parse_facts(facts)).as_dict()
    assert len(out["recommendations"]) >= 10
    for rec in out["recommendations"]:
        assert rec["text"] and isinstance(rec["inputs"], dict) and rec["inputs"]
        assert rec["source"]["paper"] and rec["source"]["section"]
    assert "reading aid" in out["disclaimer"] and "not a decision" in out["disclaimer"]


def test_missing_facts_are_named() -> None:
    out = run_guide(parse_facts({})).as_dict()
    missing = {item["fact"] for item in out["missing_facts"]}
    assert {"ki67_pct", "primary_site", "drug_type", "krenning_min"} <= missing
    assert out["who_grade"] is None and out["recommended_imaging"] == []
    assert out["prrt"]["status"] == "unknown"
