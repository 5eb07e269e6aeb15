"""guide.json contract, the criteria owned by the criteria layer, and honest citations."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import pytest

from tumorboard.criteria.records import Criteria
from tumorboard.criteria.selection import recommended_criteria
from tumorboard.guide import DISCLAIMER, parse_facts, run_guide
from tumorboard.guide.criteria_choice import DRUG_CLASS_OF, criteria_for_drug, criterion_name
from tumorboard.guide.facts import FACT_KEYS, DrugType
from tumorboard.guide.records import DEFAULT_ID, load_rules
from tumorboard.report.guide_html import render_guide_fragment, render_guide_page

CONTRACT_KEYS = (
    "who_grade",
    "risk",
    "embryology",
    "recommended_imaging",
    "response_criteria",
    "prrt",
    "recommendations",
)
PRRT_STATUSES = {"eligible", "not-eligible", "unknown"}
#: Every FACTS key the issue's contract names.
CONTRACT_FACTS = {
    "primary_site",
    "tumour_type",
    "ki67_pct",
    "mitoses_per_2mm2",
    "differentiation",
    "men_syndrome",
    "functioning",
    "syndrome",
    "tumour_burden",
    "liver_predominant",
    "resectable_fraction_pct",
    "prior_treatments",
    "krenning_min",
    "fdg_positive",
    "drug_type",
    "pituitary_adenoma",
    "hormone_normalised",
    "size_reduction_pct",
}
FACT_SETS: list[dict[str, Any]] = [
    {},
    {"ki67_pct": 5, "krenning_min": 4, "prior_treatments": ["octreotide"]},
    {"ki67_pct": 5, "krenning_min": 1, "prior_treatments": ["octreotide"]},
    {"primary_site": "rectum", "differentiation": "poor", "ki67_pct": 80},
    {"tumour_type": "prolactinoma", "hormone_normalised": True, "size_reduction_pct": 10},
    {"drug_type": "hormonal", "primary_site": "unknown"},
]


def test_every_contract_fact_is_accepted() -> None:
    assert CONTRACT_FACTS <= set(FACT_KEYS)


@pytest.mark.parametrize("facts", FACT_SETS)
def test_guide_json_contract(facts: dict[str, Any]) -> None:
    out = run_guide(parse_facts(facts)).as_dict()
    assert set(CONTRACT_KEYS) <= set(out)
    json.dumps(out, allow_nan=False)  # serialisable, no NaN
    assert isinstance(out["recommended_imaging"], list)
    assert isinstance(out["response_criteria"], list)
    assert out["prrt"]["status"] in PRRT_STATUSES and out["prrt"]["reasons"]
    for rec in out["recommendations"]:
        assert {"text", "inputs", "source"} <= set(rec)
        assert rec["text"] and isinstance(rec["inputs"], dict)
        assert rec["source"]["paper"] and rec["source"]["section"]
    assert out["disclaimer"] == DISCLAIMER


def test_missing_facts_say_what_they_would_change() -> None:
    out = run_guide(parse_facts({"primary_site": "ileum"})).as_dict()
    missing = {item["fact"]: item["would_change"] for item in out["missing_facts"]}
    assert "prrt" in missing["krenning_min"] and "who_grade" in missing["ki67_pct"]
    assert missing["drug_type"] == ["response_criteria"]
    assert "primary_site" not in missing and "pituitary_adenoma" not in missing
    empty = {item["fact"] for item in run_guide(parse_facts({})).as_dict()["missing_facts"]}
    assert {"pituitary_adenoma", "tumour_type", "drug_type", "primary_site"} <= empty


def test_not_eligible_prrt_names_no_missing_fact() -> None:
    out = run_guide(parse_facts({"tumour_type": "nec", "ki67_pct": 70})).as_dict()
    missing = {item["fact"] for item in out["missing_facts"]}
    assert out["prrt"]["status"] == "not-eligible"
    assert not {"krenning_min", "prior_treatments"} & missing


@pytest.mark.parametrize("drug_type", [d.value for d in DrugType])
def test_criteria_come_from_the_criteria_layer(drug_type: str) -> None:
    expected = [*recommended_criteria(DRUG_CLASS_OF[DrugType(drug_type)])]
    if Criteria.PERCIST not in expected:
        expected.append(Criteria.PERCIST)
    assert criteria_for_drug(drug_type) == tuple(expected)
    out = run_guide(parse_facts({"drug_type": drug_type})).as_dict()
    assert out["response_criteria"] == [criterion_name(c) for c in expected]


def test_drug_type_mapping() -> None:
    assert {d: c.value for d, c in DRUG_CLASS_OF.items()} == {
        DrugType.CYTOTOXIC: "cytotoxic",
        DrugType.TARGETED: "targeted",
        DrugType.IMMUNOTHERAPY: "immunotherapy",
        DrugType.RADIONUCLIDE: "prrt",
        DrugType.HORMONAL: "somatostatin-analogue",
    }


def test_criteria_table_has_texts_only() -> None:
    rules = load_rules("criteria")
    assert set(rules["criteria"]) == {c.value for c in Criteria}
    text = json.dumps(rules)
    for drug in ("by_drug_type", "all_drugs", '"cytotoxic"', '"targeted"'):
        assert drug not in text  # the choice lives in tumorboard.criteria.selection


def _rule_tables() -> dict[str, Any]:
    folder = resources.files("tumorboard.guide").joinpath("rules")
    return {
        entry.name: json.loads(entry.read_text("utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }


def _cited(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if {"id", "section"} <= set(node) else []
        return found + [ref for value in node.values() for ref in _cited(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _cited(value)]
    return []


def test_citations_are_known_and_invent_no_pages() -> None:
    tables = _rule_tables()
    papers = tables["sources.json"]["sources"]
    files = tables["sources.json"]["files"]
    assert set(files) == set(papers)
    refs = [ref for table in tables.values() for ref in _cited(table)]
    assert len(refs) > 80
    assert {ref["id"] for ref in refs} <= {*papers, DEFAULT_ID}
    page = re.compile(r"\b(pp?\.|pages?)\s*\d|\d+\s*[-–]\s*\d+\s*\(\d{4}\)|;\s*\d+\s*:\s*\d+")
    for text in [*papers.values(), *(ref["section"] for ref in refs)]:
        assert not page.search(text), text
    # the papers are named as ../shared/sources/README.md names them
    assert (
        papers["gep-guide"].startswith("Rozenblum L et al.")
        and "step-by-step" in papers["gep-guide"]
    )
    assert "refractory pituitary" in papers["pituitary-review"]
    for ref in refs:
        if ref["id"] == DEFAULT_ID:
            assert ref.get("reason") and "quote" not in ref, ref
        else:
            assert ref.get("quote") and "reason" not in ref, ref


def test_reading_aid_statement_in_json_and_html() -> None:
    out = run_guide(parse_facts({"ki67_pct": 4})).as_dict()
    assert "reading aid for the tumour board, not a decision" in out["disclaimer"]
    for html in (render_guide_page(out), render_guide_fragment(out)):
        assert "reading aid for the tumour board, not a decision" in html
