"""The standardized imaging case-report form (CRF): JSON, HTML, PDF, SDTM and SR exports.

The form carries every field of Table 1 of the NET reading guide (listed
against the form in ``docs/crf_schema.md``): name and date of birth (the
identified form only), imaging date and id; imaging procedures used; dates of
baseline and nadir; previous treatments (ticked, unticked or unknown); up to
five target lesions with location, size, density (HU), SUVmax and SULpeak;
the conclusion -- response against baseline and against nadir under every
criteria applied, the recommended criteria marked, the strict RECIST
reading beside the new-baseline-lesion reading with its reason -- and
Table 1's criteria by type of drug with their CR/PR/SD/PD definitions. The
PDF repeats table headers and the patient id on every page, numbers its
pages and never splits a table row.

This module is the entry point; the work is split by concern:

* :mod:`tumorboard.report.crf_model` -- the versioned JSON document
  (:func:`crf_document`; its layout is documented there);
* :mod:`tumorboard.report.crf_deid` -- de-identification (:class:`Disclosure`);
* :mod:`tumorboard.report.crf_figures` -- spider, timeline and waterfall plots;
* :mod:`tumorboard.report.crf_render` -- HTML (jinja2) and PDF (WeasyPrint).

:func:`write_assessment_outputs` writes everything ``tumorboard assess``
promises into a staging folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tumorboard.criteria.records import Criteria
from tumorboard.criteria.response_table import RESPONSE_COLUMNS
from tumorboard.criteria.selection import PatientInfo
from tumorboard.privacy import write_csv
from tumorboard.report.crf_deid import Disclosure, study_day
from tumorboard.report.crf_model import (
    CRF_IDENTITY_KEYS,
    CRF_PATIENT_KEYS,
    CRF_SCHEMA,
    CRF_SCHEMA_VERSION,
    CRF_TOP_KEYS,
    MAX_FIGURE_PATIENTS,
    MAX_FORM_TARGETS,
    PROCEDURES,
    PatientCase,
    crf_document,
    procedure_of,
    target_sum_on,
)
from tumorboard.report.crf_render import render_crf_html, write_crf_pdf
from tumorboard.report.sdtm import sdtm_tables, write_sdtm
from tumorboard.report.wbdwi_table import deidentified_rows, render_wbdwi_fragment

__all__ = [
    "CRF_IDENTITY_KEYS",
    "CRF_PATIENT_KEYS",
    "CRF_SCHEMA",
    "CRF_SCHEMA_VERSION",
    "CRF_TOP_KEYS",
    "MAX_FIGURE_PATIENTS",
    "MAX_FORM_TARGETS",
    "PROCEDURES",
    "Disclosure",
    "PatientCase",
    "crf_document",
    "procedure_of",
    "render_crf_html",
    "study_day",
    "target_sum_on",
    "write_assessment_outputs",
    "write_crf_pdf",
]


def write_assessment_outputs(
    folder: str | os.PathLike[str],
    cases: Sequence[PatientCase],
    info: PatientInfo,
    criteria: Sequence[Criteria],
    disclosure: Disclosure | None = None,
    *,
    guide: dict[str, Any] | None = None,
    wbdwi_rows: Sequence[Mapping[str, object]] | None = None,
) -> dict[str, Any]:
    """Write response.csv, crf.json, crf.html, crf.pdf and sdtm/ into ``folder``.

    ``guide`` is the reading guide's result (``GuideResult.as_dict()``) and
    ``wbdwi_rows`` the whole-body DWI exams (rows of
    :func:`tumorboard.pipeline.dwi_compare.comparison_rows`); each given one
    joins the form: ``crf.json`` gains a ``guide`` / ``wbdwi`` key and the HTML
    and PDF a section after the patients.

    ``folder`` should be a staging directory from
    :func:`tumorboard.outputs.output_directory` so that nothing is half-written.

    Returns
    -------
    dict
        The CRF document that was rendered.
    """
    folder = Path(folder)
    disclosure = disclosure or Disclosure()
    document = crf_document(
        cases, info, criteria, disclosure, with_figures=len(cases) <= MAX_FIGURE_PATIENTS
    )
    sections: list[tuple[str, str]] = []
    if wbdwi_rows is not None:
        rows = deidentified_rows(wbdwi_rows) if disclosure.deidentify else list(wbdwi_rows)
        document["wbdwi"] = rows
        sections.append(("Whole-body diffusion MRI tumour load", render_wbdwi_fragment(rows)))
    if guide is not None:
        from tumorboard.report.guide_html import render_guide_fragment

        guide = disclosure.shared(guide, [case.series.patient_id for case in cases])
        document["guide"] = guide
        sections.append(("Reading guide", render_guide_fragment(guide)))
    document = disclosure.shared(document, [case.series.patient_id for case in cases])
    html = render_crf_html(document, extra_sections=sections)
    write_csv(
        folder / "response.csv",
        (*RESPONSE_COLUMNS, "study_day"),
        (row for patient in document["patients"] for row in patient["assessments"]),
    )
    with open(folder / "crf.json", "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, allow_nan=False)
        handle.write("\n")
    (folder / "crf.html").write_text(html, encoding="utf-8")
    write_crf_pdf(html, folder / "crf.pdf")
    write_sdtm(sdtm_tables(cases, info, disclosure), folder / "sdtm")
    return document
