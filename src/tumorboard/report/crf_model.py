"""The document model of the standardized imaging case-report form (CRF).

The form carries every field of Table 1 of the NET reading guide (Rozenblum
et al. 2020; the mapping is in ``docs/crf_schema.md``): name, date of birth
(identified form only), imaging date and id; imaging procedures used
(contrast CT, contrast MRI, somatostatin-receptor imaging, FDG PET, DOPA
PET); dates of baseline and nadir; previous treatments (ticked, unticked, or
not given); up to five target lesions with location, size, density (HU),
SUVmax and SULpeak; the conclusion -- response against baseline and against
nadir under every criteria applied, the criteria recommended for the drug
marked, the strict RECIST reading beside the new-baseline-lesion reading
with its reason -- and Table 1's criteria by type of drug with their CR, PR,
SD and PD definitions.

One document (:func:`crf_document`, a JSON-ready dict whose layout is
versioned by :data:`CRF_SCHEMA_VERSION`) feeds every rendering: the JSON
file, the HTML and the PDF (:mod:`tumorboard.report.crf_render`).
De-identification is :class:`~tumorboard.report.crf_deid.Disclosure`;
figures come from :mod:`tumorboard.report.crf_figures`.

JSON layout (``schema`` = ``tumorboard.crf``, ``schema_version`` = 1.2)
-------------------------------------------------------------------------
Top level (:data:`CRF_TOP_KEYS`): ``schema``, ``schema_version``,
``generator``, ``deidentified`` (bool), ``study_id``, ``criteria`` (names
applied), ``criteria_table`` (Table 1's criteria by type of drug: {criteria,
criteria_name, type_of_drug, complete_response, partial_response,
progressive_disease, stable_disease, as_applied, applied, recommended}) and ``patients``
(list). Each patient (:data:`CRF_PATIENT_KEYS`):

* ``patient`` (id), ``study_id``, ``tumour``, ``drug``, ``drug_class`` -- text;
* ``patient_name``, ``birth_date`` -- text from ``--patient`` (empty when not
  given); present on the identified form only, never on a de-identified one;
* ``imaging_date`` -- date of the latest imaging on the form;
* ``previous_treatments`` -- {treatment: true | false | null} for the nine
  form entries (Table 1's eight and somatostatin analogues); null when the
  previous treatments were not given (unknown), false when given and unticked;
* ``baseline`` -- {timepoint, date}; ``nadir`` -- {timepoint, date,
  target_sum_mm} of the RECIST 1.1 sum, or null;
* ``imaging_procedures_used`` -- {procedure: bool} for contrast CT, contrast
  MRI, somatostatin-receptor imaging, FDG PET, DOPA PET;
  ``imaging_by_timepoint`` -- [{timepoint, date, modalities, procedures}];
* ``target_lesions`` -- up to five [{lesion_id, organ, is_node, measure,
  baseline, latest, readings: [{timepoint, status, size_mm, mean_hu,
  sul_peak, suv_max}]}]; ``non_target_lesions`` -- [{lesion_id, organ}];
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tumorboard import __version__
from tumorboard.criteria.decimal_math import display
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
from tumorboard.report.crf_criteria_table import criteria_table
from tumorboard.report.crf_deid import Disclosure, study_day
from tumorboard.report.crf_figures import crf_figures, lesion_size_mm

CRF_SCHEMA = "tumorboard.crf"
#: Version of the JSON layout; bump the major part on incompatible changes.
CRF_SCHEMA_VERSION = "1.2"
MAX_FORM_TARGETS = 5
#: Figures are drawn for at most this many patients (about 0.3 s each).
MAX_FIGURE_PATIENTS = 20
#: Keys of the CRF document (see the module notes).
CRF_TOP_KEYS = (
    "schema",
    "schema_version",
    "generator",
    "deidentified",
    "study_id",
    "criteria",
    "criteria_table",
    "patients",
)
#: Keys of each patient in the CRF document; ``figures`` is optional.
CRF_PATIENT_KEYS = (
    "patient",
    "patient_name",
    "birth_date",
    "study_id",
    "imaging_date",
    "tumour",
    "drug",
    "drug_class",
    "previous_treatments",
    "baseline",
    "nadir",
    "imaging_procedures_used",
    "imaging_by_timepoint",
    "target_lesions",
    "non_target_lesions",
    "new_lesions",
    "conclusion",
    "response_matrix",
    "assessments",
    "notes",
    "hyperprogression",
    "prolactinoma",
)

#: Imaging procedures of the form, matched on the lower-case modality text.
PROCEDURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("contrast CT", ("ct",)),
    ("contrast MRI", ("mr", "mri")),
    (
        "somatostatin-receptor imaging",
        ("dotatate", "dotatoc", "dotanoc", "sstr", "octreo", "ga68", "cu64", "edotreotide"),
    ),
    ("FDG PET", ("fdg",)),
    ("DOPA PET", ("dopa",)),
)
#: Keys that identify the patient: only on the identified form (``--deidentify`` drops them).
CRF_IDENTITY_KEYS = ("patient_name", "birth_date")
#: Previous treatments in Table 1's words (somatostatin analogues are tumorboard's addition).
_TREATMENT_LABELS = {
    PreviousTreatment.SURGERY: "surgery",
    PreviousTreatment.THERMAL_ABLATION: "thermal ablation",
    PreviousTreatment.LIVER_EMBOLIZATION: "liver embolization",
    PreviousTreatment.SIRT: "SIRT",
    PreviousTreatment.PRRT: "PRRT",
    PreviousTreatment.CHEMOTHERAPY: "chemotherapeutic regimens",
    PreviousTreatment.TARGETED: "targeted molecular agents",
    PreviousTreatment.IMMUNOTHERAPY: "immunotherapy",
    PreviousTreatment.SOMATOSTATIN_ANALOGUE: "somatostatin analogues",
}
_WhenFn = Callable[[dt.date], str]


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
class PatientCase:
    """One patient's series and assessments, as the form needs them."""

    series: PatientSeries
    assessments: tuple[PatientAssessment, ...]


def _code(value: Response | None) -> str:
    return "" if value is None else value.value


def _number(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def _hyperprogression(case: PatientCase) -> HyperprogressionResult | None:
    """Growth-rate comparison when a pre-baseline scan was recorded."""
    series = case.series
    if series.pre_baseline is None or len(series.timepoints) < 2:
        return None
    facts = SeriesFacts(series.timepoints)
    if not facts.targets:
        return None
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
        Include the figures (PNG data URIs) under ``"figures"``.

    Returns
    -------
    dict
        :func:`crf_head` with ``patients`` holding :func:`crf_patient` of each case.
    """
    disclosure = disclosure or Disclosure()
    document = crf_head(info, criteria, disclosure, patients=len(cases))
    document["patients"] = [
        crf_patient(case, info, disclosure, with_figures=with_figures) for case in cases
    ]
    return document


def crf_head(
    info: PatientInfo,
    criteria: Sequence[Criteria | str],
    disclosure: Disclosure | None = None,
    *,
    patients: int = 1,
) -> dict[str, Any]:
    """The form's top level (:data:`CRF_TOP_KEYS`), with an empty ``patients`` list.

    Used with :func:`crf_patient` to write a cohort's form one patient at a
    time (:mod:`tumorboard.report.crf_stream`).

    Parameters
    ----------
    info : PatientInfo
        Treatment context (drug class, study id; name and birth date only for one patient).
    criteria : sequence of Criteria or str
        Criteria applied, in order.
    disclosure : Disclosure, optional
        Identity handling (the study id is not pseudonymised here: the shared
        pass of :meth:`Disclosure.shared` does it for the whole top level).
    patients : int
        Number of patients on the form (a name or birth date needs exactly one).

    Raises
    ------
    InputError
        When ``info`` names a patient and the form has more than one.

    Examples
    --------
    >>> head = crf_head(PatientInfo(study_id="S1"), ["recist1.1"])
    >>> head["schema"], head["criteria"], head["patients"], head["deidentified"]
    ('tumorboard.crf', ['recist1.1'], [], False)
    """
    disclosure = disclosure or Disclosure()
    recommended = set(recommended_criteria(info.drug_class)) if info.drug_class else set()
    identity = (info.patient_name, info.birth_date)
    if any(identity) and patients > 1:
        raise InputError(
            f"patient_name and birth_date describe one patient; the form has {patients} "
            "patients (give them only for a single-patient form)"
        )
    applied = parse_criteria(criteria)
    return {
        "schema": CRF_SCHEMA,
        "schema_version": CRF_SCHEMA_VERSION,
        "generator": f"tumorboard {__version__}",
        "deidentified": disclosure.deidentify,
        "study_id": info.study_id,
        "criteria": [c.value for c in applied],
        "criteria_table": criteria_table(applied, recommended),
        "patients": [],
    }


def crf_patient(
    case: PatientCase,
    info: PatientInfo,
    disclosure: Disclosure | None = None,
    *,
    with_figures: bool = True,
) -> dict[str, Any]:
    """One patient's block of the form (:data:`CRF_PATIENT_KEYS`), de-identified if asked.

    Parameters
    ----------
    case : PatientCase
        The patient's series and assessments.
    info : PatientInfo
        Treatment context.
    disclosure : Disclosure, optional
        Identity handling; the block is scrubbed with this patient's identity.
    with_figures : bool
        Include the figures (PNG data URIs) under ``"figures"``.

    Examples
    --------
    >>> from tumorboard.criteria.engine import assess_patient
    >>> from tumorboard.pipeline.demo_reference import reference_series
    >>> series = reference_series()
    >>> case = PatientCase(series, assess_patient(series, ["recist1.1"]))
    >>> block = crf_patient(case, PatientInfo(), Disclosure(True, "k"), with_figures=False)
    >>> block["patient"], block["baseline"]
    ('SUBJ-...', {'timepoint': 'baseline', 'date': 'day 1'})
    """
    disclosure = disclosure or Disclosure()
    recommended = set(recommended_criteria(info.drug_class)) if info.drug_class else set()
    block: dict[str, Any] = disclosure.scrub(
        _patient_document(case, info, recommended, disclosure, with_figures),
        case.series.patient_id,
    )
    return block


def _imaging(series: PatientSeries, when: _WhenFn) -> tuple[dict[str, bool], list[dict[str, Any]]]:
    """Procedures used at any timepoint, and the procedures of each timepoint."""
    procedures = []
    used: dict[str, bool] = {name: False for name, _ in PROCEDURES}
    for tp in series.timepoints:
        names = sorted({p for m in tp.modalities if (p := procedure_of(m)) is not None})
        for name in names:
            used[name] = True
        procedures.append(
            {
                "timepoint": tp.label,
                "date": when(tp.date),
                "modalities": sorted(tp.modalities),
                "procedures": names,
            }
        )
    return used, procedures


def _nadir(case: PatientCase, when: _WhenFn) -> dict[str, str] | None:
    """Timepoint of the smallest RECIST 1.1 target sum (the latest when tied)."""
    recist = next((a for a in case.assessments if a.criteria is Criteria.RECIST11), None)
    if recist is None:
        return None
    evaluated = [(t.target_sum_mm, t) for t in recist.timepoints if t.target_sum_mm is not None]
    if not evaluated:
        return None
    total, low = min(evaluated, key=lambda item: (item[0], -item[1].date.toordinal()))
    return {"timepoint": low.timepoint, "date": when(low.date), "target_sum_mm": display(total)}


def _measure_name(target: LesionMeasurement) -> str:
    if target.is_pet_only:
        return "SULpeak (PET only)"
    return "short axis" if target.is_node else "longest diameter"


def _target_rows(
    series: PatientSeries, targets: Sequence[LesionMeasurement]
) -> list[dict[str, Any]]:
    """Up to five baseline target lesions with their readings at every timepoint."""
    rows = []
    for target in targets[:MAX_FORM_TARGETS]:
        readings = []
        for tp in series.timepoints:
            m = tp.by_id.get(target.lesion_id)
            readings.append(
                {
                    "timepoint": tp.label,
                    "status": "" if m is None else m.status.value,
                    "size_mm": "" if m is None else _number(lesion_size_mm(m)),
                    "mean_hu": "" if m is None else _number(m.mean_hu),
                    "sul_peak": "" if m is None else _number(m.sul_peak),
                    "suv_max": "" if m is None else _number(m.suv_max),
                }
            )
        rows.append(
            {
                "lesion_id": target.lesion_id,
                "organ": target.organ,
                "is_node": target.is_node,
                "measure": _measure_name(target),
                "baseline": readings[0],
                "latest": readings[-1],
                "readings": readings,
            }
        )
    return rows


def _new_lesions(case: PatientCase, when: _WhenFn) -> list[dict[str, Any]]:
    """New lesions at their first sighting, marked when they are new baseline lesions."""
    new_baseline_ids = {
        i for a in case.assessments for t in a.timepoints for i in t.new_baseline_lesions
    }
    seen: set[str] = set()
    found = []
    for tp in case.series.timepoints[1:]:
        for m in tp.measurements:
            if (
                m.role is LesionRole.NEW
                and m.lesion_id not in seen
                and m.status not in (LesionStatus.ABSENT, LesionStatus.NOT_EVALUATED)
            ):
                seen.add(m.lesion_id)
                found.append(
                    {
                        "lesion_id": m.lesion_id,
                        "organ": m.organ,
                        "modality": m.modality,
                        "first_seen": tp.label,
                        "date": when(tp.date),
                        "status": m.status.value,
                        "new_baseline_lesion": m.lesion_id in new_baseline_ids,
                    }
                )
    return found


def _conclusion(
    case: PatientCase, recommended: set[Criteria], when: _WhenFn
) -> tuple[list[dict[str, Any]], list[str]]:
    """Latest response per criteria, and every note once (in order)."""
    conclusion = []
    notes: list[str] = []
    for a in case.assessments:
        last = a.timepoints[-1]
        conclusion.append(
            {
                "criteria": a.criteria.value,
                "criteria_name": a.criteria.display_name,
                "recommended": a.criteria in recommended,
                "timepoint": last.timepoint,
                "date": when(last.date),
                "response_vs_baseline": _code(last.response_vs_baseline),
                "response_vs_nadir": _code(last.response_vs_nadir),
                "overall_response": _code(last.overall_response),
                "strict_response": _code(last.strict_response),
                "best_response": _code(a.best_response),
                "best_response_timepoint": a.best_response_timepoint or "",
            }
        )
        for note in (*a.notes, *(n for t in a.timepoints for n in t.notes)):
            if note not in notes:
                notes.append(note)
    return conclusion, notes


def _response_matrix(case: PatientCase, when: _WhenFn) -> list[dict[str, Any]]:
    """The criteria side by side at every follow-up."""
    matrix = []
    for index, tp in enumerate(case.series.timepoints[1:], start=1):
        cells = []
        for a in case.assessments:
            item = a.timepoints[index]
            cells.append(
                {
                    "criteria": a.criteria.display_name,
                    "overall_response": _code(item.overall_response),
                    "response_vs_baseline": _code(item.response_vs_baseline),
                    "response_vs_nadir": _code(item.response_vs_nadir),
                    "strict_response": _code(item.strict_response),
                }
            )
        matrix.append({"timepoint": tp.label, "date": when(tp.date), "cells": cells})
    return matrix


def _hyperprogression_entry(case: PatientCase) -> dict[str, Any] | None:
    hyper = _hyperprogression(case)
    if hyper is None:
        return None
    return {
        "tgr_pre_pct_per_month": round(hyper.tgr_pre_pct_per_month, 2),
        "tgr_post_pct_per_month": round(hyper.tgr_post_pct_per_month, 2),
        "tgr_ratio": None if hyper.tgr_ratio is None else round(hyper.tgr_ratio, 2),
        "tgk_ratio": None if hyper.tgk_ratio is None else round(hyper.tgk_ratio, 2),
        "champiat": hyper.champiat,
        "tgk_ratio_met": hyper.tgk_ratio_met,
        "delta_tgr_over_50": hyper.delta_tgr_over_50,
        "delta_tgr_over_100": hyper.delta_tgr_over_100,
    }


def _prolactinoma_entry(info: PatientInfo) -> dict[str, Any] | None:
    reading = info.prolactinoma
    if reading is None:
        return None
    verdict = reading.assess()
    return {
        "category": verdict.category.value,
        "biochemical_response": verdict.biochemical_response,
        "radiological_response": verdict.radiological_response,
        "size_change_pct": display(verdict.size_change_pct),
        "possibly_pseudo_refractory": verdict.possibly_pseudo_refractory,
        "reason": verdict.reason,
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

    used, procedures = _imaging(series, when)
    # Anatomical targets first: PET-only (PERCIST) targets fill the form's five rows last.
    targets = sorted(
        (m for m in baseline.measurements if m.role is LesionRole.TARGET),
        key=lambda m: m.is_pet_only,
    )
    conclusion, notes = _conclusion(case, recommended, when)
    rows = response_rows(case.assessments, patient_label=label)
    for row, item in zip(rows, (t for a in case.assessments for t in a.timepoints), strict=True):
        row["date"] = when(item.date)
        row["study_day"] = str(study_day(item.date, base_date))
    document: dict[str, Any] = {"patient": label}
    if not disclosure.deidentify:  # identity never reaches a de-identified form
        document["patient_name"] = info.patient_name
        document["birth_date"] = info.birth_date
    document |= {
        "study_id": info.study_id,
        "imaging_date": when(series.timepoints[-1].date),
        "tumour": info.tumour,
        "drug": info.drug,
        "drug_class": "" if info.drug_class is None else info.drug_class.value,
        "previous_treatments": {
            _TREATMENT_LABELS[t]: (t in info.previous_treatments)
            if info.previous_treatments_known
            else None
            for t in PreviousTreatment
        },
        "baseline": {"timepoint": baseline.label, "date": when(base_date)},
        "nadir": _nadir(case, when),
        "imaging_procedures_used": used,
        "imaging_by_timepoint": procedures,
        "target_lesions": _target_rows(series, targets),
        "non_target_lesions": [
            {"lesion_id": m.lesion_id, "organ": m.organ}
            for m in baseline.measurements
            if m.role is LesionRole.NON_TARGET
        ],
        "new_lesions": _new_lesions(case, when),
        "conclusion": conclusion,
        "response_matrix": _response_matrix(case, when),
        "assessments": rows,
        "notes": notes,
        "hyperprogression": _hyperprogression_entry(case),
        "prolactinoma": _prolactinoma_entry(info),
    }
    if with_figures:
        document["figures"] = crf_figures(series, case.assessments, targets, disclosure)
    return document
