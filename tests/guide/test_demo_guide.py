"""The demo section: guide for the reference cases and the radiomics table."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tumorboard.guide import parse_facts, run_guide
from tumorboard.phantoms.reference_facts import (
    EXPECTED,
    REFERENCE_NET_FACTS,
    REFERENCE_PITUITARY_FACTS,
)
from tumorboard.pipeline.demo_guide import run_section
from tumorboard.pipeline.demo_section import DemoContext


def test_reference_facts_reach_expected_conclusions() -> None:
    net = run_guide(parse_facts(REFERENCE_NET_FACTS)).as_dict()
    assert net["who_grade"] == EXPECTED["net"]["who_grade"]
    assert net["prrt"]["status"] == EXPECTED["net"]["prrt"]
    assert any("Krenning score 2" in reason for reason in net["prrt"]["reasons"])
    assert any("high FDG-to-SSTR ratio" in r["text"] for r in net["recommendations"])
    pituitary = run_guide(parse_facts(REFERENCE_PITUITARY_FACTS)).as_dict()
    assert pituitary["pituitary"]["refractoriness"] == EXPECTED["pituitary"]["refractoriness"]
    assert any("11C-methionine" in r["text"] for r in pituitary["recommendations"])


def test_demo_section(tmp_path: Path) -> None:
    section = run_section(DemoContext(phantom_dir=tmp_path / "phantom", out_dir=tmp_path))
    assert section.slug == "guide"
    assert section.checks and all(section.checks.values()), section.checks
    payload = json.loads((tmp_path / "guide/net/guide.json").read_text(encoding="utf-8"))
    assert payload["embryology"] == "foregut"
    assert (tmp_path / "guide/pituitary/guide.html").is_file()
    with open(tmp_path / "guide/radiomics_features.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["label"] for row in rows} == {"1", "2", "3", "4", "5"}
    assert {row["acq_radiopharmaceutical"] for row in rows} == {"68Ga-DOTATATE"}
    assert {row["label_name"] for row in rows if row["label"] == "5"} == {"vertebral body T12"}
    assert "not a decision" in section.html and '<table class="data">' in section.html
