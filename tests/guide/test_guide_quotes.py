"""Every rule quotes its source verbatim, or says it is tumorboard's own default.

The source texts are conversions of PDFs: the comparison normalises HTML
markup and entities, ligatures and other compatibility characters (NFKC),
hyphenation at line breaks and whitespace. A quote must then be found in the
file its source names, be 8-40 words long, and every recommendation the
guide can emit must carry a quote and file or the ``tumorboard default``
label with a reason.
"""

from __future__ import annotations

import html
import itertools
import json
import random
import re
import unicodedata
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from tumorboard.guide import parse_facts, run_guide
from tumorboard.guide.records import (
    DEFAULT_ID,
    QUOTE_MAX_WORDS,
    QUOTE_MIN_WORDS,
    TUMORBOARD_DEFAULT,
    load_rules,
)

_TAG = re.compile(r"<[^<>]{1,80}>")
_BROKEN_WORD = re.compile(r"(\w)-[ \t]*\n\s*(\w)")


def normalise(text: str) -> str:
    """Text as compared: no markup, NFKC, line-break hyphens joined, single spaces.

    Hyphens are dropped last, so a hyphen that only marked a line break and a
    compound hyphen that happened to fall at a line break compare equal.
    """
    text = unicodedata.normalize("NFKC", html.unescape(_TAG.sub(" ", text)))
    text = _BROKEN_WORD.sub(r"\1\2", text)
    return " ".join(text.split()).replace("-", "").casefold()


@cache
def _source_text(path: Path) -> str:
    return normalise(path.read_text(encoding="utf-8"))


def quote_found(quote: str, path: Path) -> bool:
    """Whether ``quote`` occurs verbatim (after normalisation) in the text at ``path``."""
    return normalise(quote) in _source_text(path)


def _rule_tables() -> dict[str, Any]:
    folder = resources.files("tumorboard.guide").joinpath("rules")
    return {
        entry.name: json.loads(entry.read_text("utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }


def _references(node: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        found = [(where, node)] if {"id", "section"} <= set(node) else []
        return found + [r for k, v in node.items() for r in _references(v, f"{where}.{k}")]
    if isinstance(node, list):
        return [r for i, v in enumerate(node) for r in _references(v, f"{where}[{i}]")]
    return []


ALL_REFERENCES = [ref for name, table in _rule_tables().items() for ref in _references(table, name)]


def test_every_rule_table_is_checked() -> None:
    tables = {where.split(".json")[0] for where, _ in ALL_REFERENCES}
    assert tables == {"who_grade", "embryology", "imaging", "therapy", "criteria", "pituitary"}
    assert len(ALL_REFERENCES) > 80


@pytest.mark.parametrize(("where", "ref"), ALL_REFERENCES, ids=[w for w, _ in ALL_REFERENCES])
def test_quote_is_in_its_source_file(where: str, ref: dict[str, Any], sources_dir: Path) -> None:
    if ref["id"] == DEFAULT_ID:
        assert ref.get("reason", "").strip() and not ref.get("quote"), where
        return
    files = load_rules("sources")["files"]
    path = sources_dir / files[ref["id"]]
    quote = ref["quote"]
    assert QUOTE_MIN_WORDS <= len(quote.split()) <= QUOTE_MAX_WORDS, (where, quote)
    assert quote_found(quote, path), f"{where}: quote not found in {path.name}: {quote!r}"


def test_an_altered_quote_fails(sources_dir: Path) -> None:
    path = sources_dir / load_rules("sources")["files"]["gep-guide"]
    quote = load_rules("therapy")["sources"]["debulking"]["quote"]
    assert quote_found(quote, path)
    assert not quote_found(quote.replace("90%", "80%"), path)
    assert not quote_found(quote.replace("usually only", "only"), path)
    assert not quote_found(quote + " safely", path)


def test_normalisation_handles_the_pdf_artefacts() -> None:
    assert normalise("con-\ntinued growth") == normalise("continued growth")
    assert normalise("signal-to-\nnoise") == normalise("signal-to-noise")
    assert normalise("e\ufb03cient <b>Table</b>  &gt;30%") == normalise("efficient Table >30%")
    assert normalise("11\u00a0 C-methionine") == normalise("11 C-methionine")
    assert normalise("tumour growth") != normalise("tumor growth")


_VALUES: dict[str, list[Any]] = {
    "primary_site": [None, "pancreas", "ileum", "rectum", "stomach", "unknown"],
    "tumour_type": [None, "net", "insulinoma", "gastrinoma", "nec", "prolactinoma", "somatotroph"],
    "ki67_pct": [None, 1.0, 12.0, 30.0, 70.0],
    "differentiation": [None, "well", "poor"],
    "men_syndrome": [None, True, False],
    "functioning": [None, True, False],
    "tumour_burden": [None, "low", "high"],
    "liver_predominant": [None, True, False],
    "resectable_fraction_pct": [None, 50.0, 95.0],
    "prior_treatments": [None, [], ["lanreotide"]],
    "krenning_min": [None, 1, 2, 3, 4],
    "fdg_positive": [None, True, False],
    "drug_type": [None, "cytotoxic", "targeted", "immunotherapy", "radionuclide", "hormonal"],
    "largest_lesion_mm": [None, 12.0, 40.0],
    "pituitary_adenoma": [None, True],
    "hormone_normalised": [None, True, False],
    "size_reduction_pct": [None, -20.0, 0.0, 30.0, 60.0],
    "local_mass_effect": [None, True, False],
}


def _fact_sets(count: int) -> list[dict[str, Any]]:
    """Valid fact sets: every value of every key at least once, then random mixtures."""
    rng = random.Random(20261207)
    sets: list[dict[str, Any]] = [{}]
    for key, values in _VALUES.items():
        sets.extend({key: value} for value in values if value is not None)
    while len(sets) < count:
        sets.append({key: rng.choice(values) for key, values in _VALUES.items()})
    valid = []
    for facts in sets:
        try:
            valid.append(parse_facts({k: v for k, v in facts.items() if v is not None}))
        except ValueError:
            continue  # a contradictory mixture
    return valid


def test_every_recommendation_the_guide_emits_is_quoted_or_labelled(sources_dir: Path) -> None:
    files = load_rules("sources")["files"]
    seen: set[tuple[str, str]] = set()
    checked = 0
    for facts in _fact_sets(700):
        for rec in run_guide(facts).as_dict()["recommendations"]:
            source = rec["source"]
            checked += 1
            if source["paper"] == TUMORBOARD_DEFAULT:
                assert source["reason"].strip() and "quote" not in source, rec
                continue
            key = (source["file"], source["quote"])
            if key in seen:
                continue
            seen.add(key)
            assert source["file"] in files.values(), rec
            assert quote_found(source["quote"], sources_dir / source["file"]), rec
    assert checked > 5000 and len(seen) > 60


def test_the_sweep_reaches_every_quoted_rule() -> None:
    emitted = {
        rec["source"].get("quote") or rec["source"].get("reason")
        for facts in _fact_sets(700)
        for rec in run_guide(facts).as_dict()["recommendations"]
    }
    in_tables = {ref.get("quote") or ref.get("reason") for _, ref in ALL_REFERENCES}
    # mRECIST: the guide never chooses it from a FACTS drug type (only for liver-directed therapy)
    never = {ref.get("reason") for where, ref in ALL_REFERENCES if "criteria.mrecist" in where}
    assert sorted(in_tables - emitted - never, key=str) == []


def test_fact_sweep_is_not_trivial() -> None:
    assert len(list(itertools.islice(_fact_sets(50), 50))) > 40
