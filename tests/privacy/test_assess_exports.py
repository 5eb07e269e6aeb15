"""``tumorboard assess``: de-identified exports leave no identifier, and CSVs hold no formula.

Issue 15, items 6, 7 and 11: ID variants and every date spelling in labels,
organs, the study id and the reading guide's facts; formula prefixes in ids,
labels and organs; non-ASCII and underscore numbers. These tests call the
command only (no library under test computes the truth).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tumorboard.cli.main import main

HEADER = (
    "patient_id,timepoint,date,modality,lesion_id,organ,role,is_node,"
    "longest_diameter_mm,short_axis_mm,mean_hu,viable_diameter_mm,sul_peak,status"
)
#: (timepoint label, ISO date, diameter of L1, organ text): every spelling of the issue.
VISITS = (
    ("baseline 8-Jan-2024", "2024-01-08", "40", "liver seen 1970/03/02"),
    ("scan 2024.06.24", "2024-06-24", "30", "liver, MRN 778899, June 3, 2024"),
    ("20240101T0930 restaging", "2024-09-02", "20", "liver (birth 1964-03-12)"),
)
LEAKS = (
    "778899",
    "1970/03/02",
    "8-Jan-2024",
    "2024.06.24",
    "June 3, 2024",
    "20240101T0930",
    "1964-03-12",
    "2024-01-08",
    "2024-06-24",
    "2024-09-02",
    "TRIAL-778899-A",
    "Jan-2024",
)


def write_table(path: Path, patient_id: str, lesion_id: str) -> Path:
    lines = [HEADER]
    for label, date, size, organ in VISITS:
        lines.append(
            f'{patient_id},{label},{date},ct,{lesion_id},"{organ}",target,false,{size},,,,,present'
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def output_texts(out: Path) -> dict[str, str]:
    return {
        str(path.relative_to(out)): path.read_text(encoding="utf-8")
        for path in sorted(out.rglob("*"))
        if path.suffix in (".csv", ".json", ".html")
    }


def test_deidentify_leaves_no_identifier(tmp_path: Path) -> None:
    table = write_table(tmp_path / "m.csv", "MRN-778899", "mrn778899-L1")
    patient = tmp_path / "patient.json"
    patient.write_text(json.dumps({"study_id": "TRIAL-778899-A", "drug_class": "prrt"}))
    facts = tmp_path / "facts.json"
    facts.write_text(
        json.dumps(
            {
                "primary_site": "pancreas",
                "ki67_pct": 5,
                "syndrome": "carcinoid, MRN 778899, first seen 8-Jan-2024",
                "prior_treatments": ["surgery June 3, 2024", "SSA since 2024.06.24"],
            }
        )
    )
    out = tmp_path / "deid"
    args = ["assess", str(table), "--patient", str(patient), "--facts", str(facts)]
    assert main([*args, "--deidentify", "--salt", "s", "--out", str(out)]) == 0
    texts = output_texts(out)
    assert {"crf.json", "crf.html", "response.csv", "sdtm/tu.csv"} <= set(texts)
    for name, text in texts.items():
        for leak in LEAKS:
            assert leak.lower() not in text.lower(), (name, leak)
    document = json.loads(texts["crf.json"])
    assert document["study_id"].startswith("STUDY-")
    assert document["patients"][0]["study_id"] == document["study_id"]
    assert document["guide"]["facts"]["prior_treatments"] == ["surgery [date]", "SSA since [date]"]
    versions = document["guide"]["rules_versions"]  # software metadata, not scrubbed
    assert versions and all("[date]" not in str(value) for value in versions.values())
    subject = document["patients"][0]["patient"]
    assert subject.startswith("SUBJ-")
    assert f"{subject}-L1" in texts["crf.html"]  # the lesion id keeps its own part
    assert "guide" in document and "[date]" in texts["crf.html"]
    # the same run without --deidentify shows them (the test data does carry them)
    plain = tmp_path / "plain"
    assert main([*args, "--out", str(plain)]) == 0
    shown = "".join(output_texts(plain).values())
    assert "mrn778899-L1" in shown and "June 3, 2024" in shown and "TRIAL-778899-A" in shown


HOSTILE_ID = '=HYPERLINK("http://evil.example","x")'
HOSTILE_LESION = "@SUM(1+1)*cmd|' /C calc'!A0"


def test_csv_outputs_hold_no_formula(tmp_path: Path) -> None:
    table = write_table(tmp_path / "m.csv", "+cmd|' /C calc'!A0", HOSTILE_LESION)
    text = table.read_text(encoding="utf-8").replace(",baseline 8-Jan-2024,", ",-2+3 base,")
    table.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["assess", str(table), "--criteria", "recist1.1", "--out", str(out)]) == 0
    cells = []
    for path in [out / "response.csv", *sorted((out / "sdtm").glob("*.csv"))]:
        with open(path, encoding="utf-8", newline="") as handle:
            cells += [cell for row in csv.reader(handle) for cell in row]
    assert "'+cmd|' /C calc'!A0" in cells and "'-2+3 base" in cells
    for cell in cells:
        if cell[:1] == "-":
            float(cell)  # only plain negative numbers may start with '-'
        assert cell[:1] not in ("=", "+", "@", "\t", "\r"), cell
    # the JSON keeps the raw values
    document = json.loads((out / "crf.json").read_text(encoding="utf-8"))
    assert document["patients"][0]["patient"] == "+cmd|' /C calc'!A0"
    assert document["patients"][0]["target_lesions"][0]["lesion_id"] == HOSTILE_LESION


@pytest.mark.parametrize("number", ("١٢", "1_000", "４０"))
def test_only_ascii_decimal_numbers_are_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], number: str
) -> None:
    table = write_table(tmp_path / "m.csv", "P1", "L1")
    lines = table.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace(",30,", f",{number},")
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["assess", str(table), "--out", str(out)]) == 1
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert str(table) in error and "row 3" in error and "longest_diameter_mm" in error
    assert "ASCII decimal" in error
    assert not out.exists()


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_prefix_is_neutralised_in_assess_csvs(tmp_path: Path, prefix: str) -> None:
    # the table reader trims blanks, so a tab or CR is followed by another prefix
    hostile = f"{prefix}@HYPERLINK(1)" if prefix.isspace() else f"{prefix}HYPERLINK(1)"
    table = write_table(tmp_path / "m.csv", "P1", "L1")
    text = table.read_text(encoding="utf-8").replace("scan 2024.06.24", f'"{hostile}"')
    table.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["assess", str(table), "--criteria", "recist1.1", "--out", str(out)]) == 0
    cells = []
    for path in [out / "response.csv", *sorted((out / "sdtm").glob("*.csv"))]:
        with open(path, encoding="utf-8", newline="") as handle:
            cells += [cell for row in csv.reader(handle) for cell in row]
    neutralised = [cell for cell in cells if cell.startswith("'") and "HYPERLINK(1)" in cell]
    assert neutralised, cells  # the label reached the CSVs, with its quote
    for cell in cells:
        assert cell[:1] not in ("=", "+", "@", "\t", "\r"), cell
        if cell[:1] == "-":
            float(cell)
    document = json.loads((out / "crf.json").read_text(encoding="utf-8"))
    labels = {row["timepoint"] for row in document["patients"][0]["assessments"]}
    assert any(label.endswith("HYPERLINK(1)") for label in labels)  # raw (maybe trimmed) in JSON
