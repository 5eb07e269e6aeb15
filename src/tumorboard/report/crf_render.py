"""Rendering of the case-report-form document: printable HTML (jinja2) and PDF (WeasyPrint).

The HTML is self-contained (figures are inline PNG data URIs, styles are
inline), so the file can be mailed or archived as is; the PDF is printed
from the same HTML.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from tumorboard.errors import InputError
from tumorboard.report.clinical_text import plain

#: Where the patient sections go in a page rendered with ``patients_slot``.
_PATIENTS_SLOT = "<!--crf-patients-->"


@functools.lru_cache(maxsize=1)
def _environment() -> Environment:
    # One environment per process: templates are parsed once, not once per form.
    environment = Environment(
        loader=PackageLoader("tumorboard.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["plain"] = plain
    return environment


def render_crf_html(
    document: dict[str, Any],
    *,
    fragment: bool = False,
    extra_sections: Sequence[tuple[str, str]] = (),
) -> str:
    """Render the CRF document as a printable HTML page (or a fragment without ``<html>``).

    ``extra_sections`` are ``(title, html)`` pairs of already escaped
    fragments (e.g. the WB-DWI table, the reading guide) placed after the
    patients.
    """
    environment = _environment()
    name = "crf_body.html.j2" if fragment else "crf.html.j2"
    sections = [(title, Markup(body)) for title, body in extra_sections]
    return environment.get_template(name).render(doc=document, extra_sections=sections)


def render_crf_page_parts(
    document: dict[str, Any], *, extra_sections: Sequence[tuple[str, str]] = ()
) -> tuple[str, str]:
    """The printable page before and after the patient sections.

    ``before + "".join(render_crf_patient(p, document) for p in patients) +
    after`` is :func:`render_crf_html` of the document with those patients,
    so a cohort's page can be written one patient at a time. The patients
    of ``document`` are ignored.

    Examples
    --------
    >>> doc = {"schema": "tumorboard.crf", "patients": [], "criteria_table": []}
    >>> before, after = render_crf_page_parts(doc)
    >>> before.startswith("<!DOCTYPE html>"), after.rstrip().endswith("</html>")
    (True, True)
    """
    environment = _environment()
    sections = [(title, Markup(body)) for title, body in extra_sections]
    page = environment.get_template("crf.html.j2").render(
        doc={**document, "patients": []}, extra_sections=sections, patients_slot=True
    )
    before, slot, after = page.partition(_PATIENTS_SLOT)
    if not slot:  # pragma: no cover - the template always has the slot
        raise AssertionError("crf.html.j2 lost its patients slot")
    return before, after


def render_crf_patient(patient: dict[str, Any], document: dict[str, Any]) -> str:
    """The HTML section of one patient block (:func:`tumorboard.report.crf_model.crf_patient`).

    Examples
    --------
    >>> from tumorboard.criteria.engine import assess_patient
    >>> from tumorboard.criteria.selection import PatientInfo
    >>> from tumorboard.pipeline.demo_reference import reference_series
    >>> from tumorboard.report.crf_model import PatientCase, crf_patient
    >>> series = reference_series()
    >>> case = PatientCase(series, assess_patient(series, ["recist1.1"]))
    >>> html = render_crf_patient(crf_patient(case, PatientInfo(), with_figures=False), {})
    >>> html.startswith('<section class="crf-patient">'), "TB-REF-0001" in html
    (True, True)
    """
    return _environment().get_template("crf_patient.html.j2").render(p=patient, doc=document)


#: Patients per block of the cohort summary (each block repeats the column header).
SUMMARY_BLOCK = 40


def render_crf_summary_html(
    document: dict[str, Any], rows: Sequence[dict[str, Any]], *, full_limit: int
) -> str:
    """A cohort's printable summary: one line per patient, then Table 1's criteria.

    ``crf.pdf`` of a cohort of more than ``full_limit`` patients is printed
    from this page (the per-patient forms stay in ``crf.html`` and
    ``crf.json``). ``rows`` come from :func:`summary_row`. The lines are
    preformatted text in blocks of :data:`SUMMARY_BLOCK` patients, each with
    the column header: WeasyPrint lays such text out in memory that does not
    grow with the cohort, where a 300-row table took 66 MB.

    Examples
    --------
    >>> doc = {"criteria": ["recist1.1"], "criteria_table": []}
    >>> row = {"patient": "P1", "baseline": "2024-01-01", "imaging_date": "2024-03-01",
    ...        "targets": 2, "cells": [{"criteria_name": "RECIST 1.1", "overall_response": "PR",
    ...        "response_vs_baseline": "PR", "response_vs_nadir": "SD", "best_response": "PR"}]}
    >>> html = render_crf_summary_html(doc, [row], full_limit=20)
    >>> "Cohort summary" in html and "PR (PR / SD), best PR" in html
    True
    """
    table = [
        [
            str(row["patient"]),
            str(row["baseline"]),
            str(row["imaging_date"]),
            str(row["targets"]),
            *(
                f"{c['overall_response'] or '-'} ({c['response_vs_baseline'] or '-'} / "
                f"{c['response_vs_nadir'] or '-'}), best {c['best_response'] or '-'}"
                for c in row["cells"]
            ),
        ]
        for row in rows
    ]
    names = [str(c["criteria_name"]) for c in rows[0]["cells"]] if rows else []
    header = ["Patient", "Baseline", "Latest imaging", "Targets", *names]
    widths = [max(len(line[i]) for line in (header, *table)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        return "  ".join(padded).rstrip()

    rule = "-" * len(line(header))
    blocks = [
        "\n".join([line(header), rule, *(line(cells) for cells in table[i : i + SUMMARY_BLOCK])])
        for i in range(0, len(table), SUMMARY_BLOCK)
    ]
    template = _environment().get_template("crf_summary.html.j2")
    return template.render(doc=document, blocks=blocks, patients=len(rows), full_limit=full_limit)


def summary_row(patient: dict[str, Any]) -> dict[str, Any]:
    """The cohort-summary row of one patient block (small: kept for every patient).

    Examples
    --------
    >>> block = {"patient": "P1", "baseline": {"date": "2024-01-01"},
    ...          "imaging_date": "2024-03-01", "target_lesions": [{}, {}],
    ...          "conclusion": [{"criteria_name": "RECIST 1.1", "overall_response": "PR",
    ...                          "response_vs_baseline": "PR", "response_vs_nadir": "SD",
    ...                          "best_response": "PR", "timepoint": "w8"}]}
    >>> row = summary_row(block)
    >>> row["targets"], row["cells"][0]["overall_response"]
    (2, 'PR')
    """
    keys = (
        "criteria_name",
        "overall_response",
        "response_vs_baseline",
        "response_vs_nadir",
        "best_response",
    )
    return {
        "patient": patient["patient"],
        "baseline": patient["baseline"]["date"],
        "imaging_date": patient["imaging_date"],
        "targets": len(patient["target_lesions"]),
        "cells": [{key: c.get(key, "") for key in keys} for c in patient["conclusion"]],
    }


def write_crf_pdf(html: str, path: str | os.PathLike[str]) -> int:
    """Render ``html`` to a PDF with WeasyPrint and return the number of pages.

    Raises
    ------
    InputError
        If WeasyPrint cannot render (its message is included).
    """
    try:
        with warnings.catch_warnings():
            # WeasyPrint warns at import that a future version will need
            # HarfBuzz-Subset; the installed version renders without it.
            warnings.filterwarnings(
                "ignore", message="HarfBuzz-Subset", category=DeprecationWarning
            )
            import weasyprint
    except Exception as exc:  # pragma: no cover - depends on system libraries
        raise InputError(f"PDF output needs WeasyPrint, which failed to load: {exc}") from None
    logger = logging.getLogger("weasyprint")
    level = logger.level
    logger.setLevel(logging.ERROR)  # font-subsetting notices are not the user's concern
    try:
        rendered = weasyprint.HTML(string=html, base_url=str(Path(path).parent)).render()
        rendered.write_pdf(str(path))
    finally:
        logger.setLevel(level)
    return len(rendered.pages)
