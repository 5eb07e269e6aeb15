"""The assess outputs written one patient at a time: same files, flat memory, summary PDF."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import tracemalloc
from pathlib import Path

import pytest

from tumorboard.criteria.engine import assess_patient
from tumorboard.criteria.records import Criteria
from tumorboard.criteria.response_table import RESPONSE_COLUMNS
from tumorboard.criteria.selection import PatientInfo
from tumorboard.errors import InputError
from tumorboard.guide import parse_facts, run_guide
from tumorboard.pipeline import demo_reference
from tumorboard.privacy import write_csv
from tumorboard.report import crf_stream
from tumorboard.report.crf import (
    Disclosure,
    PatientCase,
    crf_document,
    render_crf_html,
    write_assessment_outputs,
)
from tumorboard.report.crf_stream import PDF_PATIENTS_ENV, pdf_patients_limit
from tumorboard.report.guide_html import render_guide_fragment
from tumorboard.report.sdtm import sdtm_tables, write_sdtm
from tumorboard.report.wbdwi_table import deidentified_rows, render_wbdwi_fragment

CRITERIA = [Criteria.RECIST11, Criteria.CHOI, Criteria.PERCIST]
WBDWI = [{"exam": "2024-06-24", "total_diffusion_volume_ml": 384.0, "adc_mean_um2_per_s": 700.0}]


def _cases(count: int, prefix: str = "MRN-7788") -> list[PatientCase]:
    series = demo_reference.reference_series()
    assessments = assess_patient(series, CRITERIA)
    return [
        PatientCase(dataclasses.replace(series, patient_id=f"{prefix}{i:03d}"), assessments)
        for i in range(count)
    ]


def _whole_document_outputs(
    folder: Path, cases: list[PatientCase], disclosure: Disclosure, guide: dict[str, object]
) -> None:
    """The outputs as the whole-document path writes them (the reference of the stream)."""
    info = PatientInfo(study_id="STUDY-X")
    document = crf_document(cases, info, CRITERIA, disclosure, with_figures=True)
    ids = [case.series.patient_id for case in cases]
    rows = deidentified_rows(WBDWI) if disclosure.deidentify else list(WBDWI)
    document["wbdwi"] = rows
    guide = disclosure.shared(guide, ids)
    document["guide"] = guide
    sections = [
        ("Whole-body diffusion MRI tumour load", render_wbdwi_fragment(rows)),
        ("Reading guide", render_guide_fragment(guide)),
    ]
    document = disclosure.shared(document, ids)
    folder.mkdir()
    (folder / "crf.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    (folder / "crf.html").write_text(render_crf_html(document, extra_sections=sections))
    write_csv(
        folder / "response.csv",
        (*RESPONSE_COLUMNS, "study_day"),
        (row for patient in document["patients"] for row in patient["assessments"]),
    )
    write_sdtm(sdtm_tables(cases, info, disclosure), folder / "sdtm")


@pytest.mark.parametrize("deidentify", [False, True])
def test_streamed_files_equal_the_whole_document(tmp_path: Path, deidentify: bool) -> None:
    cases = _cases(2)
    guide = run_guide(parse_facts({"primary_site": "pancreas", "ki67_pct": 8})).as_dict()
    disclosure = Disclosure(deidentify=deidentify, salt="k")
    streamed = tmp_path / "streamed"
    streamed.mkdir()
    document = write_assessment_outputs(
        streamed,
        cases,
        PatientInfo(study_id="STUDY-X"),
        CRITERIA,
        disclosure,
        guide=guide,
        wbdwi_rows=WBDWI,
        pdf_patients=0,
    )
    whole = tmp_path / "whole"
    _whole_document_outputs(whole, cases, disclosure, guide)
    for name in ("crf.json", "crf.html", "response.csv", "sdtm/tu.csv", "sdtm/tr.csv"):
        assert (streamed / name).read_bytes() == (whole / name).read_bytes(), name
    assert (streamed / "sdtm/rs.csv").read_bytes() == (whole / "sdtm/rs.csv").read_bytes()
    assert document == json.loads((whole / "crf.json").read_text(encoding="utf-8"))
    assert len(document["patients"]) == 2 and "figures" in document["patients"][0]
    text = (streamed / "crf.json").read_text() + (streamed / "sdtm/tu.csv").read_text()
    assert ("MRN-7788" in text) is not deidentify


def _traced_peak_mb(folder: Path, cases: list[PatientCase]) -> float:
    tracemalloc.start()
    try:
        write_assessment_outputs(
            folder, cases, PatientInfo(), CRITERIA, Disclosure(deidentify=True, salt="k")
        )
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_cohort(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No figures and the cohort-summary PDF for both sizes. The whole-document
    # path held every patient's block, the whole HTML and WeasyPrint's layout
    # of ~3 pages per patient (a summary table still took ~0.2 MB a row): its
    # peak tripled from 10 to 30 patients.
    monkeypatch.setattr(crf_stream, "MAX_FIGURE_PATIENTS", 0)
    monkeypatch.setenv(PDF_PATIENTS_ENV, "0")
    small, large = 10, 30
    (tmp_path / "warm").mkdir()
    _traced_peak_mb(tmp_path / "warm", _cases(2))  # imports and template caches
    (tmp_path / "small").mkdir()
    (tmp_path / "large").mkdir()
    peak_small = _traced_peak_mb(tmp_path / "small", _cases(small))
    peak_large = _traced_peak_mb(tmp_path / "large", _cases(large))
    assert peak_large < 1.5 * peak_small, (peak_small, peak_large)
    written = json.loads((tmp_path / "large" / "crf.json").read_text(encoding="utf-8"))
    assert len(written["patients"]) == large


def _pdf_text(path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    result = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    )
    return " ".join(result.stdout.split())


def test_a_large_cohort_prints_its_summary(tmp_path: Path) -> None:
    cases = _cases(3)
    write_assessment_outputs(
        tmp_path, cases, PatientInfo(), CRITERIA, Disclosure(True, "k"), pdf_patients=2
    )
    text = _pdf_text(tmp_path / "crf.pdf")
    assert "Cohort summary: 3 patients" in text and "raise the limit" in text
    pseudonyms = [p["patient"] for p in json.loads((tmp_path / "crf.json").read_text())["patients"]]
    assert all(pseudonym in text for pseudonym in pseudonyms)
    assert "MRN-7788" not in text and "2024-01-08" not in text
    assert "Response criteria by type of drug (Table 1)" in text
    # the per-patient forms are all in the HTML
    assert (tmp_path / "crf.html").read_text().count('<section class="crf-patient">') == 3


def test_pdf_patients_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PDF_PATIENTS_ENV, raising=False)
    assert pdf_patients_limit() == 20 and pdf_patients_limit(0) == 0
    monkeypatch.setenv(PDF_PATIENTS_ENV, "300")
    assert pdf_patients_limit() == 300
    for bad in ("-1", "1_000", "١٢", "x"):
        monkeypatch.setenv(PDF_PATIENTS_ENV, bad)
        with pytest.raises(InputError, match=PDF_PATIENTS_ENV):
            pdf_patients_limit()
    with pytest.raises(InputError, match="--pdf-patients"):
        pdf_patients_limit(-1)
