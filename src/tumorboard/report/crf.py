"""The standardized imaging case-report form (CRF): JSON, HTML and PDF.

The form follows the NET reading guide: patient and exam identity; imaging
procedures used (contrast CT, contrast MRI, somatostatin-receptor imaging,
FDG PET, DOPA PET); dates of baseline and nadir; previous treatments; up to
five target lesions with location, size, density (HU) and SULpeak; and the
conclusion -- response against baseline and against nadir under every
criteria applied, the criteria recommended for the drug marked, the strict
RECIST reading beside the new-baseline-lesion reading with its reason.

One document (:func:`crf_document`, a JSON-ready dict whose layout is
versioned by :data:`CRF_SCHEMA_VERSION`) feeds every rendering: the JSON
file, the HTML (jinja2 template ``crf.html.j2``, self-contained: figures
are inline PNG data URIs) and the PDF (WeasyPrint, from the same HTML).

De-identification (:class:`Disclosure`): the patient id becomes a salted
SHA-256 pseudonym and every date a study day (baseline = day 1, SDTM style).

JSON layout (``schema`` = ``tumorboard.crf``, ``schema_version`` = 1.0)
-------------------------------------------------------------------------
Top level (:data:`CRF_TOP_KEYS`): ``schema``, ``schema_version``,
``generator``, ``deidentified`` (bool), ``study_id``, ``criteria`` (names
applied) and ``patients`` (list). Each patient (:data:`CRF_PATIENT_KEYS`):

* ``patient``, ``study_id``, ``tumour``, ``drug``, ``drug_class`` -- text;
* ``previous_treatments`` -- {treatment: bool} for the nine form entries;
* ``baseline`` -- {timepoint, date}; ``nadir`` -- {timepoint, date,
  target_sum_mm} of the RECIST 1.1 sum, or null;
* ``imaging_procedures_used`` -- {procedure: bool} for contrast CT, contrast
  MRI, somatostatin-receptor imaging, FDG PET, DOPA PET;
  ``imaging_by_timepoint`` -- [{timepoint, date, modalities, procedures}];
* ``target_lesions`` -- up to five [{lesion_id, organ, is_node, measure,
  baseline, latest, readings: [{timepoint, status, size_mm, mean_hu,
  sul_peak}]}]; ``non_target_lesions`` -- [{lesion_id, organ}];
* ``new_lesions`` -- [{lesion_id, organ, modality, first_seen, date, status,
  new_baseline_lesion}];
* ``conclusion`` -- per criteria {criteria, criteria_name, recommended,
  timepoint, date, response_vs_baseline, response_vs_nadir,
  overall_response, strict_response, best_response,
  best_response_timepoint};
* ``response_matrix`` -- per follow-up timepoint {timepoint, date, cells:
  [{criteria, overall_response, response_vs_baseline, response_vs_nadir,
  strict_response}]}, the criteria side by side;
* ``assessments`` -- the patient's ``response.csv`` rows (plus ``study_day``);
* ``notes`` -- reasons shown on the form (new baseline lesions, NE causes);
* ``hyperprogression`` -- growth-rate comparison or null;
* ``prolactinoma`` -- {category, biochemical_response, radiological_response,
  size_change_pct, possibly_pseudo_refractory, reason} or null;
* ``figures`` -- {spider, timeline, waterfall}: PNG data URIs (omitted for
  cohorts of more than :data:`MAX_FIGURE_PATIENTS` patients).

Dates are ISO ``YYYY-MM-DD``, or ``day N`` when de-identified. Sizes and
percentages are decimal text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import secrets
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from tumorboard import __version__
from tumorboard.criteria.decimal_math import display, percent_change
from tumorboard.criteria.engine import parse_criteria
from tumorboard.criteria.hyperprogression import (
    HyperprogressionResult,
    SizeAtDate,
    assess_hyperprogression,
)
from tumorboard.criteria.records import (
    Criteria,
    LesionMeasurement,
    LesionRole,
    LesionStatus,
    PatientAssessment,
    PatientSeries,
    Response,
    Timepoint,
)
from tumorboard.criteria.response_table import response_rows
from tumorboard.criteria.selection import (
    PatientInfo,
    PreviousTreatment,
    recommended_criteria,
)
from tumorboard.criteria.target_sums import Metric, SeriesFacts, target_snapshot
from tumorboard.errors import InputError
from tumorboard.report import crf_plots

CRF_SCHEMA = "tumorboard.crf"
#: Version of the JSON layout; bump the major part on incompatible changes.
CRF_SCHEMA_VERSION = "1.0"
MAX_FORM_TARGETS = 5
#: Figures are drawn for at most this many patients (about 0.3 s each).
MAX_FIGURE_PATIENTS = 20
#: Keys of the CRF document (see the module notes).
CRF_TOP_KEYS = ("schema", "schema_version", "generator", "deidentified", "study_id",
                "criteria", "patients")
#: Keys of each patient in the CRF document; ``figures`` is optional.
CRF_PATIENT_KEYS = ("patient", "study_id", "tumour", "drug", "drug_class",
                    "previous_treatments", "baseline", "nadir", "imaging_procedures_used",
                    "imaging_by_timepoint", "target_lesions", "non_target_lesions",
                    "new_lesions", "conclusion", "response_matrix", "assessments", "notes",
                    "hyperprogression", "prolactinoma")

#: Imaging procedures of the form, matched on the lower-case modality text.
PROCEDURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("contrast CT", ("ct",)),
    ("contrast MRI", ("mr", "mri")),
    ("somatostatin-receptor imaging", ("dotatate", "dotatoc", "dotanoc", "sstr", "octreo",
                                       "ga68", "cu64", "edotreotide")),
    ("FDG PET", ("fdg",)),
    ("DOPA PET", ("dopa",)),
)
_TREATMENT_LABELS = {
    PreviousTreatment.SURGERY: "surgery",
    PreviousTreatment.THERMAL_ABLATION: "thermal ablation",
    PreviousTreatment.LIVER_EMBOLIZATION: "liver embolization",
    PreviousTreatment.SIRT: "SIRT",
    PreviousTreatment.PRRT: "PRRT",
    PreviousTreatment.CHEMOTHERAPY: "chemotherapy",
    PreviousTreatment.TARGETED: "targeted agents",
    PreviousTreatment.IMMUNOTHERAPY: "immunotherapy",
    PreviousTreatment.SOMATOSTATIN_ANALOGUE: "somatostatin analogues",
}


def procedure_of(modality: str) -> str | None:
    """Form category of a modality text (``"pet-dotatate"`` -> somatostatin-receptor imaging)."""
    text = modality.lower()
    if text in ("ct", "ct-contrast", "cect") or text.startswith("ct-"):
        return "contrast CT"
    if text in ("mr", "mri") or text.startswith(("mr-", "mri-")):
        return "contrast MRI"
    for name, keys in PROCEDURES[2:]:
        if any(key in text for key in keys):
            return name
    return None


@dataclass(frozen=True)
class Disclosure:
    """How identities appear in exports.

    Parameters
    ----------
    deidentify : bool
        Replace the patient id by a salted-hash pseudonym and dates by study days.
    salt : str, optional
        Secret mixed into the hash; a random one is drawn when omitted (then
        pseudonyms differ between runs, which is the safe default).
    """

    deidentify: bool = False
    salt: str | None = field(default=None, repr=False)
    _salt: str = field(init=False, repr=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "_salt", self.salt or secrets.token_hex(16))

    def patient(self, patient_id: str) -> str:
        """The id to print: the original, or ``SUBJ-`` and 12 hex digits of SHA-256."""
        if not self.deidentify:
            return patient_id
        digest = hashlib.sha256(f"{self._salt}\x00{patient_id}".encode()).hexdigest()
        return f"SUBJ-{digest[:12].upper()}"

    def when(self, date: dt.date, baseline: dt.date) -> str:
        """ISO date, or ``day N`` when de-identified."""
        if not self.deidentify:
            return date.isoformat()
        return f"day {study_day(date, baseline)}"

    def text(self, value: str, patient_id: str | None = None) -> str:
        """Free text with the patient id pseudonymised and date-like strings removed.

        Timepoint labels, organs and notes are the user's text; a label such as
        ``2024-01-08`` would otherwise carry a date into a de-identified export.
        """
        if not self.deidentify:
            return value
        if patient_id:
            value = value.replace(patient_id, self.patient(patient_id))
        return _DATE_LIKE.sub("[date]", value)

    def scrub(self, item: Any, patient_id: str | None = None) -> Any:
        """Apply :meth:`text` to every string in a JSON-like structure (not to figures)."""
        if not self.deidentify:
            return item
        if isinstance(item, str):
            return self.text(item, patient_id)
        if isinstance(item, list):
            return [self.scrub(value, patient_id) for value in item]
        if isinstance(item, dict):
            return {key: value if key == "figures" else self.scrub(value, patient_id)
                    for key, value in item.items()}
        return item


#: Dates in free text: ISO, compact YYYYMMDD, and day/month/year with . or /.
_DATE_LIKE = re.compile(
    r"(?<![0-9A-Za-z])"
    r"(\d{4}-\d{1,2}-\d{1,2}|\d{8}|\d{1,2}[./]\d{1,2}[./]\d{2,4})"
    r"(?![0-9A-Za-z])"
)


def study_day(date: dt.date, reference: dt.date) -> int:
    """SDTM study day: the reference date is day 1 and there is no day 0."""
    delta = (date - reference).days
    return delta + 1 if delta >= 0 else delta


@dataclass(frozen=True)
class PatientCase:
    """One patient's series and assessments, as the form needs them."""

    series: PatientSeries
    assessments: tuple[PatientAssessment, ...]


def _code(value: Response | None) -> str:
    return "" if value is None else value.value


def _number(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def _lesion_size(m: LesionMeasurement) -> Decimal | None:
    if m.status is LesionStatus.ABSENT:
        return Decimal(0)
    if m.status is LesionStatus.TOO_SMALL:
        return Decimal(5)
    return m.short_axis_mm if m.is_node else m.longest_diameter_mm


def _hyperprogression(case: PatientCase) -> HyperprogressionResult | None:
    """Growth-rate comparison when a pre-baseline scan was recorded."""
    series = case.series
    if series.pre_baseline is None or len(series.timepoints) < 2:
        return None
    facts = SeriesFacts(series.timepoints)
    base = facts.snapshot(0, Metric.LONGEST)
    follow = facts.snapshot(1, Metric.LONGEST)
    pre_sum = target_sum_on(series.pre_baseline, facts)
    if pre_sum is None or follow.missing or min(pre_sum, base.sum_mm, follow.sum_mm) <= 0:
        return None
    return assess_hyperprogression(
        SizeAtDate(series.pre_baseline.date, pre_sum),
        SizeAtDate(series.timepoints[0].date, base.sum_mm),
        SizeAtDate(series.timepoints[1].date, follow.sum_mm),
    )


def target_sum_on(timepoint: Timepoint, facts: SeriesFacts) -> Decimal | None:
    """Sum of the baseline targets as read at another timepoint (``None`` if any is missing)."""
    snapshot = target_snapshot(timepoint, facts.targets, facts.target_ids, Metric.LONGEST)
    return None if snapshot.missing else snapshot.sum_mm


def crf_document(
    cases: Sequence[PatientCase],
    info: PatientInfo,
    criteria: Sequence[Criteria | str],
    disclosure: Disclosure | None = None,
    *,
    with_figures: bool = True,
) -> dict[str, Any]:
    """Build the versioned CRF document (JSON-ready; the HTML renders the same data).

    Parameters
    ----------
    cases : sequence of PatientCase
        Patients on the form.
    info : PatientInfo
        Treatment context (drug class, previous treatments, study id).
    criteria : sequence of Criteria or str
        Criteria applied, in order.
    disclosure : Disclosure, optional
        Identity handling; default shows ids and dates.
    with_figures : bool
        Include the SVG figures (data URIs) under ``"figures"``.

    Returns
    -------
    dict
    """
    disclosure = disclosure or Disclosure()
    recommended = set(recommended_criteria(info.drug_class)) if info.drug_class else set()
    patients = [
        disclosure.scrub(_patient_document(case, info, recommended, disclosure, with_figures),
                         case.series.patient_id)
        for case in cases
    ]
    return {
        "schema": CRF_SCHEMA,
        "schema_version": CRF_SCHEMA_VERSION,
        "generator": f"tumorboard {__version__}",
        "deidentified": disclosure.deidentify,
        "study_id": info.study_id,
        "criteria": [c.value for c in parse_criteria(criteria)],
        "patients": patients,
    }


def _patient_document(
    case: PatientCase,
    info: PatientInfo,
    recommended: set[Criteria],
    disclosure: Disclosure,
    with_figures: bool,
) -> dict[str, Any]:
    series = case.series
    baseline = series.baseline
    base_date = baseline.date
    label = disclosure.patient(series.patient_id)

    def when(date: dt.date) -> str:
        return disclosure.when(date, base_date)

    procedures = []
    used: dict[str, bool] = {name: False for name, _ in PROCEDURES}
    for tp in series.timepoints:
        names = sorted({p for m in tp.modalities if (p := procedure_of(m)) is not None})
        for name in names:
            used[name] = True
        procedures.append({"timepoint": tp.label, "date": when(tp.date),
                           "modalities": sorted(tp.modalities), "procedures": names})

    recist = next((a for a in case.assessments if a.criteria is Criteria.RECIST11), None)
    nadir = None
    if recist is not None:
        evaluated = [t for t in recist.timepoints if t.target_sum_mm is not None]
        if evaluated:
            low = min(evaluated, key=lambda t: (t.target_sum_mm, -t.date.toordinal()))
            nadir = {"timepoint": low.timepoint, "date": when(low.date),
                     "target_sum_mm": display(low.target_sum_mm)}

    targets = [m for m in baseline.measurements if m.role is LesionRole.TARGET]
    target_rows = []
    for target in targets[:MAX_FORM_TARGETS]:
        readings = []
        for tp in series.timepoints:
            m = tp.by_id.get(target.lesion_id)
            readings.append({
                "timepoint": tp.label,
                "status": "" if m is None else m.status.value,
                "size_mm": "" if m is None else _number(_lesion_size(m)),
                "mean_hu": "" if m is None else _number(m.mean_hu),
                "sul_peak": "" if m is None else _number(m.sul_peak),
            })
        target_rows.append({
            "lesion_id": target.lesion_id,
            "organ": target.organ,
            "is_node": target.is_node,
            "measure": "short axis" if target.is_node else "longest diameter",
            "baseline": readings[0],
            "latest": readings[-1],
            "readings": readings,
        })
    non_targets = [{"lesion_id": m.lesion_id, "organ": m.organ}
                   for m in baseline.measurements if m.role is LesionRole.NON_TARGET]

    new_lesions = []
    new_baseline_ids: set[str] = set()
    for a in case.assessments:
        for t in a.timepoints:
            new_baseline_ids.update(t.new_baseline_lesions)
    seen: set[str] = set()
    for tp in series.timepoints[1:]:
        for m in tp.measurements:
            if m.role is LesionRole.NEW and m.lesion_id not in seen and m.status not in (
                LesionStatus.ABSENT, LesionStatus.NOT_EVALUATED
            ):
                seen.add(m.lesion_id)
                new_lesions.append({
                    "lesion_id": m.lesion_id, "organ": m.organ, "modality": m.modality,
                    "first_seen": tp.label, "date": when(tp.date), "status": m.status.value,
                    "new_baseline_lesion": m.lesion_id in new_baseline_ids,
                })

    conclusion = []
    notes: list[str] = []
    for a in case.assessments:
        last = a.timepoints[-1]
        conclusion.append({
            "criteria": a.criteria.value,
            "criteria_name": a.criteria.display_name,
            "recommended": a.criteria in recommended,
            "timepoint": last.timepoint,
            "date": when(last.date),
            "response_vs_baseline": "" if last.response_vs_baseline is None
            else last.response_vs_baseline.value,
            "response_vs_nadir": "" if last.response_vs_nadir is None
            else last.response_vs_nadir.value,
            "overall_response": "" if last.overall_response is None
            else last.overall_response.value,
            "strict_response": "" if last.strict_response is None
            else last.strict_response.value,
            "best_response": "" if a.best_response is None else a.best_response.value,
            "best_response_timepoint": a.best_response_timepoint or "",
        })
        for note in (*a.notes, *(n for t in a.timepoints for n in t.notes)):
            if note not in notes:
                notes.append(note)

    matrix = []
    for index, tp in enumerate(series.timepoints[1:], start=1):
        cells = []
        for a in case.assessments:
            item = a.timepoints[index]
            cells.append({
                "criteria": a.criteria.display_name,
                "overall_response": _code(item.overall_response),
                "response_vs_baseline": _code(item.response_vs_baseline),
                "response_vs_nadir": _code(item.response_vs_nadir),
                "strict_response": _code(item.strict_response),
            })
        matrix.append({"timepoint": tp.label, "date": when(tp.date), "cells": cells})

    rows = response_rows(case.assessments, patient_label=label)
    for row, item in zip(rows, (t for a in case.assessments for t in a.timepoints),
                         strict=True):
        row["date"] = when(item.date)
        row["study_day"] = str(study_day(item.date, base_date))

    hyper = _hyperprogression(case)
    document: dict[str, Any] = {
        "patient": label,
        "study_id": info.study_id,
        "tumour": info.tumour,
        "drug": info.drug,
        "drug_class": "" if info.drug_class is None else info.drug_class.value,
        "previous_treatments": {
            _TREATMENT_LABELS[t]: t in info.previous_treatments for t in PreviousTreatment
        },
        "baseline": {"timepoint": baseline.label, "date": when(base_date)},
        "nadir": nadir,
        "imaging_procedures_used": used,
        "imaging_by_timepoint": procedures,
        "target_lesions": target_rows,
        "non_target_lesions": non_targets,
        "new_lesions": new_lesions,
        "conclusion": conclusion,
        "response_matrix": matrix,
        "assessments": rows,
        "notes": notes,
        "hyperprogression": None if hyper is None else {
            "tgr_pre_pct_per_month": round(hyper.tgr_pre_pct_per_month, 2),
            "tgr_post_pct_per_month": round(hyper.tgr_post_pct_per_month, 2),
            "tgr_ratio": None if hyper.tgr_ratio is None else round(hyper.tgr_ratio, 2),
            "tgk_ratio": None if hyper.tgk_ratio is None else round(hyper.tgk_ratio, 2),
            "champiat": hyper.champiat,
            "tgk_ratio_met": hyper.tgk_ratio_met,
            "delta_tgr_over_50": hyper.delta_tgr_over_50,
            "delta_tgr_over_100": hyper.delta_tgr_over_100,
        },
    }
    reading = info.prolactinoma
    if reading is None:
        document["prolactinoma"] = None
    else:
        verdict = reading.assess()
        document["prolactinoma"] = {
            "category": verdict.category.value,
            "biochemical_response": verdict.biochemical_response,
            "radiological_response": verdict.radiological_response,
            "size_change_pct": display(verdict.size_change_pct),
            "possibly_pseudo_refractory": verdict.possibly_pseudo_refractory,
            "reason": verdict.reason,
        }
    if with_figures:
        document["figures"] = _figures(case, targets, disclosure)
    return document


def _figures(
    case: PatientCase, targets: Sequence[LesionMeasurement], disclosure: Disclosure
) -> dict[str, str]:
    series = case.series
    base = series.baseline
    days = [(tp.date - base.date).days for tp in series.timepoints]
    changes: dict[str, list[float | None]] = {}
    best: dict[str, float] = {}
    for target in targets:
        start = _lesion_size(target)
        values: list[float | None] = []
        for tp in series.timepoints:
            m = tp.by_id.get(target.lesion_id)
            size = None if m is None else _lesion_size(m)
            change = None if size is None or start is None else percent_change(size, start)
            values.append(None if change is None else float(change))
        changes[target.lesion_id] = values
        observed = [v for v in values[1:] if v is not None]
        if observed:
            best[target.lesion_id] = min(observed)
    recist = next((a for a in case.assessments if a.criteria is Criteria.RECIST11), None)
    if recist is not None:
        changes["sum"] = [0.0, *(
            None if t.change_from_baseline_pct is None else float(t.change_from_baseline_pct)
            for t in recist.timepoints[1:]
        )]
    lesions: list[tuple[str, str, list[bool]]] = []
    new_baseline = {i for a in case.assessments for t in a.timepoints
                    for i in t.new_baseline_lesions}
    order: dict[str, str] = {}
    for tp in series.timepoints:
        for m in tp.measurements:
            if m.lesion_id not in order:
                kind = m.role.value
                if m.lesion_id in new_baseline:
                    kind = "new-baseline"
                order[m.lesion_id] = kind
    for lesion_id, kind in order.items():
        seen = []
        for tp in series.timepoints:
            m = tp.by_id.get(lesion_id)
            seen.append(m is not None and m.status not in (
                LesionStatus.ABSENT, LesionStatus.NOT_EVALUATED))
        lesions.append((lesion_id, kind, seen))
    figures = {
        "spider": crf_plots.spider_plot(days, changes),
        "timeline": crf_plots.lesion_timeline_plot(
            [disclosure.text(tp.label, series.patient_id) for tp in series.timepoints], lesions),
    }
    if best:
        figures["waterfall"] = crf_plots.waterfall_plot(
            best, "Best change from baseline per target lesion")
    return figures


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("tumorboard.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_crf_html(document: dict[str, Any], *, fragment: bool = False) -> str:
    """Render the CRF document as a printable HTML page (or a fragment without ``<html>``)."""
    environment = _environment()
    name = "crf_body.html.j2" if fragment else "crf.html.j2"
    return environment.get_template(name).render(doc=document)


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
            warnings.filterwarnings("ignore", message="HarfBuzz-Subset",
                                    category=DeprecationWarning)
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


def write_assessment_outputs(
    folder: str | os.PathLike[str],
    cases: Sequence[PatientCase],
    info: PatientInfo,
    criteria: Sequence[Criteria],
    disclosure: Disclosure | None = None,
) -> dict[str, Any]:
    """Write response.csv, crf.json, crf.html, crf.pdf and sdtm/ into ``folder``.

    ``folder`` should be a staging directory from
    :func:`tumorboard.outputs.output_directory` so that nothing is half-written.

    Returns
    -------
    dict
        The CRF document that was rendered.
    """
    import csv
    import json

    from tumorboard.criteria.response_table import RESPONSE_COLUMNS
    from tumorboard.report.sdtm import sdtm_tables, write_sdtm

    folder = Path(folder)
    disclosure = disclosure or Disclosure()
    document = crf_document(cases, info, criteria, disclosure,
                            with_figures=len(cases) <= MAX_FIGURE_PATIENTS)
    html = render_crf_html(document)
    with open(folder / "response.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=(*RESPONSE_COLUMNS, "study_day"))
        writer.writeheader()
        for patient in document["patients"]:
            writer.writerows(patient["assessments"])
    with open(folder / "crf.json", "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, allow_nan=False)
        handle.write("\n")
    (folder / "crf.html").write_text(html, encoding="utf-8")
    write_crf_pdf(html, folder / "crf.pdf")
    write_sdtm(sdtm_tables(cases, info, disclosure), folder / "sdtm")
    return document
