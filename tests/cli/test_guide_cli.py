"""``tumorboard guide FACTS.json --out DIR``: guide.json + guide.html; bad facts fail cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tumorboard.cli.main import main

FACTS = {
    "primary_site": "pancreas",
    "tumour_type": "gastrinoma",
    "ki67_pct": 12,
    "mitoses_per_2mm2": 3,
    "differentiation": "well",
    "men_syndrome": True,
    "functioning": True,
    "syndrome": "Zollinger-Ellison",
    "tumour_burden": "high",
    "liver_predominant": True,
    "resectable_fraction_pct": 40,
    "prior_treatments": ["lanreotide"],
    "krenning_min": 3,
    "fdg_positive": True,
    "drug_type": "targeted",
}


def write_facts(path: Path, facts: object) -> Path:
    path.write_text(json.dumps(facts), encoding="utf-8")
    return path


def test_guide_outputs(tmp_path: Path) -> None:
    facts = write_facts(tmp_path / "FACTS.json", FACTS)
    out = tmp_path / "guide"
    assert main(["guide", str(facts), "--out", str(out)]) == 0
    payload = json.loads((out / "guide.json").read_text(encoding="utf-8"))
    for key in (
        "who_grade",
        "risk",
        "embryology",
        "recommended_imaging",
        "response_criteria",
        "prrt",
        "recommendations",
    ):
        assert key in payload
    assert payload["who_grade"] == "G2"
    assert payload["embryology"] == "foregut"
    # Ki-67 12 %: FDG PET "more suitable than 68Ga-DOTATATE", then SSTR PET (gastrinoma)
    assert payload["recommended_imaging"][0].startswith("18F-FDG PET")
    assert payload["recommended_imaging"][1].startswith("SSTR PET")
    assert payload["response_criteria"] == ["RECIST 1.1", "Choi", "PERCIST"]
    assert payload["prrt"]["status"] == "eligible"
    assert all({"text", "inputs", "source"} <= set(r) for r in payload["recommendations"])
    html = (out / "guide.html").read_text(encoding="utf-8")
    assert "not a decision" in html and "Zollinger-Ellison" in html
    assert "<script" not in html


def test_html_escapes_facts(tmp_path: Path) -> None:
    facts = write_facts(
        tmp_path / "FACTS.json", {"syndrome": "<script>alert(1)</script>", "functioning": True}
    )
    out = tmp_path / "guide"
    assert main(["guide", str(facts), "--out", str(out)]) == 0
    html = (out / "guide.html").read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        ({"ki67_pct": 101}, "FACTS case.json: ki67_pct must be 0-100, got 101"),
        ({"ki67_pct": -0.5}, "FACTS case.json: ki67_pct must be 0-100, got -0.5"),
        ({"primary_site": "spleen"}, "FACTS case.json: primary_site: unknown site 'spleen'"),
        ({"drug_type": "herbal"}, "FACTS case.json: drug_type: unknown value 'herbal'"),
        (
            {"differentiation": "poor", "ki67_pct": 2, "mitoses_per_2mm2": 1},
            "FACTS case.json: contradictory facts: differentiation 'poor'",
        ),
        (
            {"tumour_type": "nec", "ki67_pct": 1},
            "FACTS case.json: contradictory facts: tumour_type 'nec'",
        ),
        ({"ki67_pct": "12"}, "FACTS case.json: ki67_pct must be a number"),
    ],
)
def test_bad_facts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], facts: object, message: str
) -> None:
    path = write_facts(tmp_path / "case.json", facts)
    out = tmp_path / "guide"
    assert main(["guide", str(path), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["case.json"]


def test_bad_facts_with_force_keep_old_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_facts(tmp_path / "good.json", FACTS)
    out = tmp_path / "guide"
    assert main(["guide", str(good), "--out", str(out)]) == 0
    before = (out / "guide.json").read_bytes()
    bad = write_facts(tmp_path / "bad.json", {"ki67_pct": 250})
    assert main(["guide", str(bad), "--out", str(out), "--force"]) == 1
    assert "ki67_pct must be 0-100" in capsys.readouterr().err
    assert (out / "guide.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "good.json", "guide"]


def test_existing_output_needs_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    facts = write_facts(tmp_path / "FACTS.json", FACTS)
    out = tmp_path / "guide"
    out.mkdir()
    (out / "keep.txt").write_text("keep", encoding="utf-8")
    assert main(["guide", str(facts), "--out", str(out)]) == 1
    assert "exists" in capsys.readouterr().err
    assert (out / "keep.txt").exists()
    assert main(["guide", str(facts), "--out", str(out), "--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["guide.html", "guide.json"]


def test_missing_facts_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["guide", str(tmp_path / "none.json"), "--out", str(tmp_path / "g")]) == 1
    assert "file not found" in capsys.readouterr().err
    assert not (tmp_path / "g").exists()
