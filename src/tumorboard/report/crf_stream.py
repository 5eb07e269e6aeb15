"""Writing the ``tumorboard assess`` outputs one patient at a time.

A cohort's form is never held whole in memory: each patient's block
(:func:`tumorboard.report.crf_model.crf_patient`) is built once and written
at once to ``crf.json``, ``crf.html``, ``response.csv`` and the three SDTM
tables, then dropped; only a one-line summary per patient is kept. The files
are byte for byte what the whole-document path writes
(:func:`tumorboard.report.crf_model.crf_document` rendered by
:func:`tumorboard.report.crf_render.render_crf_html`).

The PDF is the costly part (WeasyPrint lays out about three pages per
patient at roughly a second each), so ``crf.pdf`` holds every patient's full
form only for forms of at most ``pdf_patients`` patients
(:data:`MAX_PDF_PATIENTS`, 20 by default; ``--pdf-patients`` or the
environment variable ``TUMORBOARD_PDF_PATIENTS`` raise it). A larger cohort's
PDF is the cohort summary -- one line per patient with the latest and best
response under every criteria, then Table 1's criteria -- and says where the
full forms are. Figures are drawn for at most
:data:`tumorboard.report.crf_model.MAX_FIGURE_PATIENTS` patients, and
matplotlib is not even imported for a larger cohort.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

from tumorboard.criteria.records import Criteria
from tumorboard.criteria.response_table import RESPONSE_COLUMNS
from tumorboard.criteria.selection import PatientInfo
from tumorboard.errors import InputError
from tumorboard.privacy.csv_safe import safe_cell, safe_row
from tumorboard.report.crf_deid import Disclosure
from tumorboard.report.crf_model import (
    MAX_FIGURE_PATIENTS,
    PatientCase,
    crf_head,
    crf_patient,
)
from tumorboard.report.crf_render import (
    render_crf_page_parts,
    render_crf_patient,
    render_crf_summary_html,
    summary_row,
    write_crf_pdf,
)
from tumorboard.report.sdtm import RS_COLUMNS, TR_COLUMNS, TU_COLUMNS, sdtm_patient
from tumorboard.report.wbdwi_table import deidentified_rows, render_wbdwi_fragment

#: Environment variable that sets the default of ``pdf_patients``.
PDF_PATIENTS_ENV = "TUMORBOARD_PDF_PATIENTS"
#: Default of ``pdf_patients``: the largest form printed in full in ``crf.pdf``.
MAX_PDF_PATIENTS = 20
_SDTM = (("tu", TU_COLUMNS), ("tr", TR_COLUMNS), ("rs", RS_COLUMNS))
_RESPONSE_COLUMNS = (*RESPONSE_COLUMNS, "study_day")


def pdf_patients_limit(value: int | None = None) -> int:
    """The largest form printed in full in ``crf.pdf``.

    ``value`` when given, else ``$TUMORBOARD_PDF_PATIENTS``, else
    :data:`MAX_PDF_PATIENTS`.

    Raises
    ------
    InputError
        For a negative value or an environment value that is not an integer.

    Examples
    --------
    >>> pdf_patients_limit(), pdf_patients_limit(300)
    (20, 300)
    """
    if value is None:
        text = os.environ.get(PDF_PATIENTS_ENV, "").strip()
        if not text:
            return MAX_PDF_PATIENTS
        if not (text.isascii() and text.isdigit()):
            raise InputError(f"{PDF_PATIENTS_ENV}={text!r}: expected a whole number >= 0")
        value = int(text)
    if value < 0:
        raise InputError(f"--pdf-patients {value}: expected a whole number >= 0")
    return value


class _CsvTable:
    """One formula-safe CSV file written row by row (as :func:`write_csv`)."""

    def __init__(self, handle: TextIO, columns: Sequence[str]) -> None:
        self._columns = columns
        self._writer = csv.writer(handle)
        self._writer.writerow([safe_cell(column) for column in columns])

    def write(self, rows: Sequence[Mapping[str, object]]) -> None:
        self._writer.writerows(safe_row(self._columns, row) for row in rows)


def _json_parts(document: dict[str, Any]) -> tuple[str, str]:
    """``crf.json`` before and after the items of its ``patients`` list (indent 2)."""
    text = json.dumps({**document, "patients": []}, indent=2, allow_nan=False)
    marker = '\n  "patients": []'
    index = text.index(marker)
    return text[:index] + '\n  "patients": [', "\n  ]" + text[index + len(marker) :]


def _json_item(patient: dict[str, Any], first: bool) -> str:
    body = json.dumps(patient, indent=2, allow_nan=False).replace("\n", "\n    ")
    return ("\n    " if first else ",\n    ") + body


def write_assessment_outputs(
    folder: str | os.PathLike[str],
    cases: Sequence[PatientCase],
    info: PatientInfo,
    criteria: Sequence[Criteria],
    disclosure: Disclosure | None = None,
    *,
    guide: dict[str, Any] | None = None,
    wbdwi_rows: Sequence[Mapping[str, object]] | None = None,
    pdf_patients: int | None = None,
) -> dict[str, Any]:
    """Write response.csv, crf.json, crf.html, crf.pdf and sdtm/ into ``folder``, per patient.

    Parameters
    ----------
    folder : path-like
        A staging directory from :func:`tumorboard.outputs.output_directory`,
        so that nothing is half-written.
    cases : sequence of PatientCase
        The patients, in order.
    info : PatientInfo
        Treatment context.
    criteria : sequence of Criteria
        Criteria applied.
    disclosure : Disclosure, optional
        Identity handling (default: as given).
    guide : dict, optional
        The reading guide's result (``GuideResult.as_dict()``): ``crf.json``
        gains a ``guide`` key and the HTML a section after the patients.
    wbdwi_rows : sequence of mapping, optional
        Whole-body DWI exams (rows of
        :func:`tumorboard.pipeline.dwi_compare.comparison_rows`): a ``wbdwi``
        key and a section.
    pdf_patients : int, optional
        Forms of at most this many patients are printed in full in
        ``crf.pdf``; a larger cohort's PDF is its summary
        (default :func:`pdf_patients_limit`).

    Returns
    -------
    dict
        The CRF document. Its ``patients`` list is kept only for forms of at
        most :data:`~tumorboard.report.crf_model.MAX_FIGURE_PATIENTS`
        patients; a larger cohort's patient blocks went to the files and are
        not kept (read ``crf.json``).

    Examples
    --------
    >>> import tempfile, json, pathlib
    >>> from tumorboard.criteria.engine import assess_patient
    >>> from tumorboard.pipeline.demo_reference import reference_series
    >>> series = reference_series()
    >>> case = PatientCase(series, assess_patient(series, [Criteria.RECIST11]))
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> doc = write_assessment_outputs(folder, [case] * 3, PatientInfo(), [Criteria.RECIST11],
    ...                                pdf_patients=1)
    >>> len(json.loads((folder / "crf.json").read_text())["patients"])
    3
    >>> sorted(p.name for p in folder.rglob("*.*"))  # doctest: +NORMALIZE_WHITESPACE
    ['crf.html', 'crf.json', 'crf.pdf', 'response.csv', 'rs.csv', 'tr.csv', 'tu.csv']
    """
    folder = Path(folder)
    disclosure = disclosure or Disclosure()
    limit = pdf_patients_limit(pdf_patients)
    count = len(cases)
    with_figures = count <= MAX_FIGURE_PATIENTS
    keep = count <= MAX_FIGURE_PATIENTS
    ids = [case.series.patient_id for case in cases]
    document = crf_head(info, criteria, disclosure, patients=count)
    sections: list[tuple[str, str]] = []
    if wbdwi_rows is not None:
        rows = deidentified_rows(wbdwi_rows) if disclosure.deidentify else list(wbdwi_rows)
        document["wbdwi"] = rows
        sections.append(("Whole-body diffusion MRI tumour load", render_wbdwi_fragment(rows)))
    if guide is not None:
        from tumorboard.report.guide_html import render_guide_fragment

        guide = disclosure.shared(guide, ids)
        document["guide"] = guide
        sections.append(("Reading guide", render_guide_fragment(guide)))
    document = disclosure.shared(document, ids)
    html_before, html_after = render_crf_page_parts(document, extra_sections=sections)
    json_before, json_after = _json_parts(document)
    summary: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    (folder / "sdtm").mkdir(parents=True, exist_ok=True)
    with ExitStack() as files:

        def open_text(name: str) -> TextIO:
            return files.enter_context(open(folder / name, "w", encoding="utf-8", newline=""))

        json_file = open_text("crf.json")
        html_file = open_text("crf.html")
        response = _CsvTable(open_text("response.csv"), _RESPONSE_COLUMNS)
        sdtm = {name: _CsvTable(open_text(f"sdtm/{name}.csv"), cols) for name, cols in _SDTM}
        sdtm_count = {name: 0 for name, _ in _SDTM}
        json_file.write(json_before)
        html_file.write(html_before)
        for index, case in enumerate(cases):
            patient = crf_patient(case, info, disclosure, with_figures=with_figures)
            json_file.write(_json_item(patient, index == 0))
            html_file.write(render_crf_patient(patient, document))
            response.write(patient["assessments"])
            for name, records in sdtm_patient(case, info, disclosure, sdtm_count).items():
                sdtm[name].write(records)
                sdtm_count[name] += len(records)
            summary.append(summary_row(patient))
            if keep:
                kept.append(patient)
        json_file.write(json_after + "\n")
        html_file.write(html_after)
    if count == 0:  # json.dump writes an empty list as []
        text = (folder / "crf.json").read_text(encoding="utf-8")
        (folder / "crf.json").write_text(
            text.replace('"patients": [\n  ]', '"patients": []', 1), encoding="utf-8"
        )
    if count <= limit:
        write_crf_pdf((folder / "crf.html").read_text(encoding="utf-8"), folder / "crf.pdf")
    else:
        write_crf_pdf(
            render_crf_summary_html(document, summary, full_limit=limit), folder / "crf.pdf"
        )
    document["patients"] = kept
    return document
