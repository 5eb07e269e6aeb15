"""FACTS.json validation: clear one-line errors for bad facts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tumorboard.errors import InputError
from tumorboard.guide import load_facts_json, parse_facts
from tumorboard.guide.facts import DrugType, TumourType


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        ({"ki67_pct": 140}, "FACTS: ki67_pct must be 0-100, got 140"),
        ({"ki67_pct": -1}, "ki67_pct must be 0-100, got -1"),
        ({"ki67_pct": "high"}, "ki67_pct must be a number"),
        ({"primary_site": "kidney"}, "unknown site 'kidney'"),
        ({"drug_type": "chemo"}, "drug_type: unknown value 'chemo'"),
        ({"tumour_type": "lymphoma"}, "tumour_type: unknown value"),
        (
            {"differentiation": "poor", "ki67_pct": 1, "mitoses_per_2mm2": 1},
            "FACTS: contradictory facts: differentiation 'poor'",
        ),
        ({"differentiation": "poor", "ki67_pct": 15}, "which is WHO grade G2"),
        (
            {"tumour_type": "nec", "differentiation": "well"},
            "contradictory facts: tumour_type 'nec'",
        ),
        ({"tumour_type": "nec", "ki67_pct": 2}, "tumour_type 'nec' (neuroendocrine carcinoma"),
        ({"tumour_type": "insulinoma", "functioning": False}, "is a functioning tumour"),
        ({"syndrome": "carcinoid", "functioning": False}, "syndrome 'carcinoid' given"),
        ({"tumour_type": "prolactinoma", "pituitary_adenoma": False}, "pituitary_adenoma is false"),
        ({"men_syndrome": "yes"}, "men_syndrome must be true or false"),
        ({"krenning_min": 5}, "krenning_min must be 0-4"),
        ({"krenning_min": 2.5}, "krenning_min must be a whole number"),
        ({"resectable_fraction_pct": 120}, "resectable_fraction_pct must be 0-100"),
        ({"prior_treatments": "lanreotide"}, "prior_treatments must be a list of strings"),
        ({"ki67": 5}, "unknown key 'ki67'"),
        ([1, 2], "FACTS: must be a JSON object"),
    ],
)
def test_bad_facts(facts: object, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_facts(facts)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_aliases_and_enums() -> None:
    facts = parse_facts(
        {"primary_site": "Small bowel", "drug_type": "Targeted", "tumour_type": "insulinoma"}
    )
    assert facts.primary_site == "small_intestine"
    assert facts.drug_type is DrugType.TARGETED
    assert facts.tumour_type is TumourType.INSULINOMA


def test_poor_with_g3_counts_is_accepted() -> None:
    facts = parse_facts({"differentiation": "poor", "ki67_pct": 80})
    assert facts.ki67_pct == 80


def test_load_facts_json_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_facts_json(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not valid JSON"):
        load_facts_json(broken)
    bad = tmp_path / "case7.json"
    bad.write_text(json.dumps({"ki67_pct": 101}), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_facts_json(bad)
    assert str(info.value) == "FACTS case7.json: ki67_pct must be 0-100, got 101"
    good = tmp_path / "facts.json"
    good.write_text(json.dumps({"ki67_pct": 4}), encoding="utf-8")
    assert load_facts_json(good).ki67_pct == 4.0


def test_case_facts_accepts_enum_strings() -> None:
    from tumorboard.guide import CaseFacts
    from tumorboard.guide.facts import Differentiation

    facts = CaseFacts(differentiation="poor", drug_type="cytotoxic", ki67_pct=60.0)  # type: ignore[arg-type]
    assert facts.differentiation is Differentiation.POOR
    assert facts.drug_type is DrugType.CYTOTOXIC
    with pytest.raises(InputError, match="drug_type: unknown value 'x'"):
        CaseFacts(drug_type="x")  # type: ignore[arg-type]
