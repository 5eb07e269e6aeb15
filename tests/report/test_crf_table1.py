"""The case-report form carries every field of Table 1, and the PDF pages read as a form."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tumorboard.criteria.engine import assess_patient
from tumorboard.criteria.measurements_csv import read_measurements_csv
from tumorboard.criteria.selection import DrugClass, PatientInfo, patient_info_from_mapping
from tumorboard.errors import InputError
from tumorboard.report.crf import (
    Disclosure,
    PatientCase,
    crf_document,
    render_crf_html,
    write_assessment_outputs,
    write_crf_pdf,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "crf_schema.md"
NAME = "Ada Quintessa Example"
BIRTH = "1961-04-27"
FOLLOW_UPS = 14
COLUMNS = (
    "patient_id,timepoint,date,modality,lesion_id,organ,role,is_node,longest_diameter_mm,"
    "short_axis_mm,mean_hu,viable_diameter_mm,sul_peak,status,sul_sd,suv_max"
)


def _rows() -> list[str]:
    """One patient, baseline and 14 follow-ups: CT targets with HU, PET targets with SUVmax."""
    start = dt.date(2024, 1, 8)
    rows = []
    for index in range(FOLLOW_UPS + 1):
        label = "baseline" if index == 0 else f"week-{6 * index}"
        date = (start + dt.timedelta(weeks=6 * index)).isoformat()
        shrink = 1 - 0.02 * index
        rows += [
            f"PX-9,{label},{date},ct,L1,liver,target,false,{40 * shrink:.1f},,{80 - index},,,"
            "present,,",
            f"PX-9,{label},{date},ct,L2,pancreas,target,false,{30 * shrink:.1f},,{70 - index},,,"
            "present,,",
            f"PX-9,{label},{date},ct,N1,lymph node,target,true,,{16 * shrink:.1f},,,,present,,",
            f"PX-9,{label},{date},pet-dotatate,H1,bone,target,false,,,,,{9.5 - 0.2 * index:.1f},"
            f"present,,{14.25 - 0.3 * index:.2f}",
            f"PX-9,{label},{date},pet-dotatate,liver-reference,liver,,,,,,,2.0,,0.2,",
        ]
    return rows


@pytest.fixture(scope="module")
def measurements(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("table1") / "m.csv"
    path.write_text("\n".join([COLUMNS, *_rows()]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def case(measurements: Path) -> PatientCase:
    (series,) = read_measurements_csv(measurements)
    return PatientCase(series, assess_patient(series, ["recist1.1", "choi", "irecist", "percist"]))


def _info(**extra: Any) -> PatientInfo:
    data: dict[str, object] = {
        "drug_class": "targeted",
        "drug": "everolimus",
        "tumour": "pancreatic NET G2",
        "previous_treatments": ["surgery", "somatostatin-analogue"],
        "patient_name": NAME,
        "birth_date": BIRTH,
    }
    data.update(extra)
    return patient_info_from_mapping({k: v for k, v in data.items() if v is not None})


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory, case: PatientCase) -> Path:
    folder = tmp_path_factory.mktemp("crf")
    write_assessment_outputs(folder, [case], _info(), [a.criteria for a in case.assessments])
    return folder


def _pdf_pages(path: Path) -> list[str]:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    return [" ".join(page.split()) for page in text.split("\f") if page.strip()]


def _table1_rows() -> list[tuple[str, str, str]]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Table 1 fields", 1)[1]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1].startswith("`"):
            rows.append((cells[0], cells[1].strip("`"), cells[2]))
    return rows


def _resolve(node: Any, path: str) -> list[Any]:
    """Values at ``a[].b["c d"].e`` (``[]`` = every element, which must exist)."""
    values = [node]
    for part in re.findall(r'\[\]|\["[^"]+"\]|[A-Za-z_]+', path):
        nxt: list[Any] = []
        for value in values:
            if part == "[]":
                assert isinstance(value, list) and value, path
                nxt.extend(value)
            else:
                key = part[2:-2] if part.startswith("[") else part
                assert isinstance(value, dict) and key in value, (path, key)
                nxt.append(value[key])
        values = nxt
    return values


def test_doc_lists_all_of_table1() -> None:
    rows = _table1_rows()
    fields = " ".join(row[0] for row in rows)
    for field in (
        "Name",
        "DOB",
        "Imaging date",
        "ID",
        "CE CT",
        "CE MRI",
        "SSTR imaging",
        "FDG PET",
        "DOPA PET",
        "Date of Baseline",
        "Date of nadir",
        "Surgery",
        "Thermal ablation",
        "Liver embolization",
        "SIRT",
        "PRRT",
        "Chemotherapeutic regimens",
        "Targeted molecular agents",
        "Immunotherapy",
        "Location",
        "Size",
        "Density (HU)",
        "SUV max",
        "compared to baseline",
        "compared to nadir",
        "Type of drug",
        "Complete response",
        "Partial response",
        "Progressive disease",
        "Stable disease",
    ):
        assert field in fields, field
    assert len(rows) == 32


def test_every_table1_field_is_in_json_html_and_pdf(outputs: Path) -> None:
    document = json.loads((outputs / "crf.json").read_text(encoding="utf-8"))
    html = (outputs / "crf.html").read_text(encoding="utf-8")
    pdf = " ".join(_pdf_pages(outputs / "crf.pdf"))
    for field, path, label in _table1_rows():
        values = _resolve(document, path)
        assert any(v is not None and v != "" for v in values), (field, values[:3])
        assert label in html, (field, label)
        assert label in pdf, (field, label)
    patient = document["patients"][0]
    assert patient["patient_name"] == NAME and patient["birth_date"] == BIRTH
    assert NAME in html and BIRTH in html and NAME in pdf and BIRTH in pdf
    assert patient["imaging_date"] == "2025-08-18"  # the 14th follow-up, 84 weeks on


def test_suvmax_beside_sulpeak_per_target(outputs: Path) -> None:
    document = json.loads((outputs / "crf.json").read_text(encoding="utf-8"))
    targets = {t["lesion_id"]: t for t in document["patients"][0]["target_lesions"]}
    assert targets["H1"]["baseline"]["suv_max"] == "14.25"
    assert targets["H1"]["latest"]["suv_max"] == "10.05"
    assert targets["H1"]["baseline"]["sul_peak"] == "9.5"
    assert targets["L1"]["baseline"]["suv_max"] == ""
    table = _tables(render_crf_html(document))["Lesion"]
    row = next(r for r in table["rows"] if r[0] == "H1")
    header = table["header"]
    assert row[header.index("SUVmax")] == "14.25" and row[header.index("SULpeak")] == "9.5"


class _Tables(HTMLParser):
    """Tables of an HTML page: header labels (colspans expanded, header rows one after the
    other, so ``header.index`` finds a first-row label's first column) and body rows."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict[str, Any]] = []
        self._cell: list[str] | None = None
        self._span = 1
        self._row: list[str] = []
        self._head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append({"header": [], "rows": []})
        elif tag == "thead":
            self._head = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
            self._span = int(dict(attrs).get("colspan") or 1)

    def handle_endtag(self, tag: str) -> None:
        if tag == "thead":
            self._head = False
        elif tag in ("td", "th") and self._cell is not None:
            self._row.extend([" ".join("".join(self._cell).split())] * self._span)
            self._cell = None
        elif tag == "tr" and self.tables:
            key = "header" if self._head else "rows"
            if self._head:
                self.tables[-1]["header"].extend(self._row)
            else:
                self.tables[-1][key].append(self._row)

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _tables(html: str) -> dict[str, dict[str, Any]]:
    parser = _Tables()
    parser.feed(html)
    return {t["header"][0]: t for t in parser.tables if t["header"]}


def test_sulpeak_only_in_the_sul_column(case: PatientCase) -> None:
    document = crf_document(
        [case], _info(), [a.criteria for a in case.assessments], with_figures=False
    )
    table = next(
        t for t in _tables(render_crf_html(document)).values() if "Sum (mm)" in t["header"]
    )
    header = table["header"]
    percist = [r for r in table["rows"] if r[0] == "percist"]
    recist = [r for r in table["rows"] if r[0] == "recist1.1"]
    assert len(percist) == FOLLOW_UPS + 1 and len(recist) == FOLLOW_UPS + 1
    assert {r[header.index("Sum (mm)")] for r in percist} == {""}
    assert percist[0][header.index("SULpeak")] == "9.5"
    assert recist[0][header.index("Sum (mm)")] == "86.0"  # 40 + 30 + 16
    assert {r[header.index("SULpeak")] for r in recist} == {""}


def test_pdf_repeats_headers_and_id_numbers_pages_and_keeps_rows(outputs: Path) -> None:
    pages = _pdf_pages(outputs / "crf.pdf")
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert "Patient PX-9" in page, number
        assert f"Page {number} / {len(pages)}" in page, number
    # the assessments table spans pages: its header is on every page with its rows
    row = re.compile(r"(recist1\.1|choi|irecist|percist) week-\d+ (\d{4}-\d\d-\d\d)")
    spanned = [page for page in pages if row.search(page)]
    assert len(spanned) >= 2
    for page in spanned:
        assert "Criteria Timepoint Date Sum SULpeak Δ baseline" in page
    # a row is never split: every follow-up row has its date on the same page
    found = {m.group(0) for page in pages for m in row.finditer(page)}
    assert len(found) == 4 * FOLLOW_UPS
    html = (outputs / "crf.html").read_text(encoding="utf-8")
    assert "thead { display: table-header-group; }" in html
    assert "tr { page-break-inside: avoid;" in html


def test_previous_treatments_unknown_is_not_unchecked(case: PatientCase) -> None:
    criteria = [a.criteria for a in case.assessments]
    unknown = crf_document([case], _info(previous_treatments=None), criteria, with_figures=False)
    none_given = crf_document([case], _info(previous_treatments=[]), criteria, with_figures=False)
    some = crf_document([case], _info(), criteria, with_figures=False)
    assert set(unknown["patients"][0]["previous_treatments"].values()) == {None}
    assert set(none_given["patients"][0]["previous_treatments"].values()) == {False}
    flags = some["patients"][0]["previous_treatments"]
    assert flags["surgery"] is True and flags["SIRT"] is False
    assert flags["somatostatin analogues"] is True
    assert "previous treatments were not stated" in render_crf_html(unknown)
    assert "previous treatments were not stated" not in render_crf_html(none_given)
    assert PatientInfo(previous_treatments=("prrt",)).previous_treatments_known is True
    assert PatientInfo().previous_treatments_known is False


def test_clinical_text_has_no_python_values(case: PatientCase) -> None:
    from tumorboard.guide import parse_facts, run_guide
    from tumorboard.report.guide_html import render_guide_fragment

    guide = run_guide(
        parse_facts(
            {
                "primary_site": "pancreas",
                "ki67_pct": 5,
                "prior_treatments": ["lanreotide", "everolimus"],
                "men_syndrome": False,
                "fdg_positive": True,
                "krenning_min": 3,
                "drug_type": "targeted",
            }
        )
    ).as_dict()
    document = crf_document(
        [case], _info(), [a.criteria for a in case.assessments], with_figures=False
    )
    page = render_crf_html(document, extra_sections=[("Guide", render_guide_fragment(guide))])
    text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", page, flags=re.S)
    python = re.compile(r"\bTrue\b|\bFalse\b|\bNone\b(?! of the above)|\[\s*'|'\s*\]")
    assert not python.findall(text), python.findall(text)[:5]
    assert "prior treatments = lanreotide, everolimus" in text
    assert "men syndrome = no" in text and "fdg positive = yes" in text


def test_identity_only_on_the_identified_form(
    case: PatientCase,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    criteria = [a.criteria for a in case.assessments]
    hidden = crf_document(
        [case], _info(), criteria, Disclosure(deidentify=True), with_figures=False
    )
    assert "patient_name" not in hidden["patients"][0]
    assert "birth_date" not in hidden["patients"][0]
    page = render_crf_html(hidden)
    assert NAME not in page and BIRTH not in page and "withheld (de-identified)" in page
    assert NAME not in repr(_info()) and BIRTH not in repr(_info())
    with caplog.at_level(logging.DEBUG):
        write_assessment_outputs(tmp_path, [case], _info(), criteria)
    logged = caplog.text + "".join(capsys.readouterr())
    assert NAME not in logged and BIRTH not in logged
    assert NAME in (tmp_path / "crf.html").read_text(encoding="utf-8")


def test_identity_rules() -> None:
    with pytest.raises(InputError) as info:
        _info(birth_date="27/04/1961")
    assert "birth_date must be an ISO date" in str(info.value)
    assert "1961" not in str(info.value)
    with pytest.raises(InputError, match="patient_name must be text"):
        _info(patient_name=12)


def test_name_needs_a_single_patient(case: PatientCase) -> None:
    other = PatientCase(case.series, case.assessments)
    with pytest.raises(InputError, match="describe one patient; the form has 2 patients"):
        crf_document([case, other], _info(), ["recist1.1"], with_figures=False)
    document = crf_document(
        [case, other], _info(patient_name=None, birth_date=None), ["recist1.1"], with_figures=False
    )
    assert [p["patient_name"] for p in document["patients"]] == ["", ""]


def test_criteria_table_by_drug_type(case: PatientCase) -> None:
    document = crf_document([case], _info(), ["recist1.1", "choi", "percist"], with_figures=False)
    table = {c["criteria_name"]: c for c in document["criteria_table"]}
    assert list(table) == ["RECIST 1.1", "Choi", "iRECIST", "PERCIST"]
    assert {k: c["type_of_drug"] for k, c in table.items()} == {
        "RECIST 1.1": "Cytotoxic",
        "Choi": "Cytostatic",
        "iRECIST": "Immune therapy",
        "PERCIST": "All",
    }
    assert [c["applied"] for c in table.values()] == [True, True, False, True]
    assert [c["recommended"] for c in table.values()] == [True, True, False, False]
    assert "> 20 %" in table["RECIST 1.1"]["progressive_disease"]
    assert "15 %" in table["Choi"]["partial_response"]
    assert "iCPD" in table["iRECIST"]["progressive_disease"]
    assert "0.8-unit" in table["PERCIST"]["partial_response"]
    for column in table.values():
        for key in (
            "complete_response",
            "partial_response",
            "progressive_disease",
            "stable_disease",
        ):
            assert column[key].strip(), (column["criteria_name"], key)
    html = render_crf_html(document)
    assert "Response criteria by type of drug (Table 1)" in html
    assert DrugClass.TARGETED.value == document["patients"][0]["drug_class"]


def test_table1_pdf_page_renders(tmp_path: Path, case: PatientCase) -> None:
    document = crf_document(
        [case], _info(), [a.criteria for a in case.assessments], with_figures=False
    )
    pages = write_crf_pdf(render_crf_html(document), tmp_path / "crf.pdf")
    assert pages == len(_pdf_pages(tmp_path / "crf.pdf"))


def test_cli_identity_on_identified_form_only(
    measurements: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tumorboard.cli.main import main

    patient = tmp_path / "patient.json"
    patient.write_text(
        json.dumps({"drug_class": "targeted", "patient_name": NAME, "birth_date": BIRTH}),
        encoding="utf-8",
    )
    base = ["assess", str(measurements), "--patient", str(patient), "--criteria", "recist1.1"]
    assert main([*base, "--out", str(tmp_path / "named")]) == 0
    assert main([*base, "--deidentify", "--out", str(tmp_path / "hidden")]) == 0
    named = json.loads((tmp_path / "named" / "crf.json").read_text(encoding="utf-8"))
    assert named["patients"][0]["patient_name"] == NAME
    for name in ("crf.json", "crf.html", "response.csv"):
        assert NAME not in (tmp_path / "hidden" / name).read_text(encoding="utf-8"), name
        assert BIRTH not in (tmp_path / "hidden" / name).read_text(encoding="utf-8"), name
    printed = "".join(capsys.readouterr())
    assert NAME not in printed and BIRTH not in printed
    patient.write_text(json.dumps({"birth_date": "1961-13-45"}), encoding="utf-8")
    assert main([*base, "--out", str(tmp_path / "bad")]) == 1
    printed = "".join(capsys.readouterr())
    assert "birth_date must be an ISO date" in printed and "1961-13-45" not in printed


def test_the_form_states_each_edge_as_the_criteria_compute_it(
    case: PatientCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    from decimal import Decimal

    from tumorboard.criteria import percist, recist

    document = crf_document([case], _info(), ["recist1.1", "percist"], with_figures=False)
    table = {c["criteria_name"]: c for c in document["criteria_table"]}
    # Wahl 2009's table writes "> 30 %" and "> 0.8 SUL"; tumorboard applies >= and says so
    assert "PMD at least 30 % and at least 0.8 SUL above" in table["PERCIST"]["as_applied"]
    assert "at least 20 % and at least 5 mm above the nadir" in table["RECIST 1.1"]["as_applied"]
    html = render_crf_html(document)
    assert "As applied by tumorboard" in html and "at least 0.8 SUL" in html
    # the text comes from the thresholds the criteria compute with: moving one moves it
    monkeypatch.setattr(percist, "CHANGE_SUL", Decimal("0.9"))
    monkeypatch.setattr(recist, "PD_INCREASE_PCT", Decimal(22))
    moved = crf_document([case], _info(), ["recist1.1", "percist"], with_figures=False)
    moved_table = {c["criteria_name"]: c for c in moved["criteria_table"]}
    assert "at least 0.9 SUL" in moved_table["PERCIST"]["as_applied"]
    assert "at least 22 %" in moved_table["RECIST 1.1"]["as_applied"]
