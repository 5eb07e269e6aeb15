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

* :mod:`tumorboard.report.crf_stream` -- :func:`write_assessment_outputs`
  writes everything ``tumorboard assess`` promises into a staging folder,
  one patient at a time (memory flat in the number of patients).
"""

from __future__ import annotations

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
from tumorboard.report.crf_stream import MAX_PDF_PATIENTS, write_assessment_outputs

__all__ = [
    "CRF_IDENTITY_KEYS",
    "CRF_PATIENT_KEYS",
    "CRF_SCHEMA",
    "CRF_SCHEMA_VERSION",
    "CRF_TOP_KEYS",
    "MAX_FIGURE_PATIENTS",
    "MAX_PDF_PATIENTS",
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
