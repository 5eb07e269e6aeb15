"""A patient's course from the record: exams, therapy lines and responses.

:func:`patient_timeline` is what ``tumorboard timeline`` prints: every exam
with the modalities imaged that day, and the response under each criteria
against baseline and against nadir, computed by the criteria engine from the
reads in the record (the same engine and table rules as ``tumorboard assess``).
The WB-DWI and PET values of an exam appear where an analysis of that exam is
in the record, and its lesion values (``lesion_values``) with their source:
for each lesion and quantity the value the criteria use
(:func:`~tumorboard.workflow.lesion_reads.current_measurements`: a reader's
value wins over one ``tumorboard run`` imported from an SR, which wins over
an automatic one) and the other values kept beside it.

:func:`responses_from_rows` is the one computation of the responses from a
patient's measurement table; the ``criteria`` analysis of ``tumorboard run``
(:mod:`tumorboard.workflow.criteria_runs`) stores what it gives.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tumorboard.criteria.engine import ALL_CRITERIA, assess_patient
from tumorboard.criteria.measurements_csv import parse_measurement_rows
from tumorboard.errors import InputError
from tumorboard.store.models import (
    Analysis,
    Exam,
    Lesion,
    LesionRead,
    Measurement,
    Patient,
    Series,
    Study,
    TherapyLine,
)
from tumorboard.store.workspace import Workspace
from tumorboard.workflow.lesion_reads import current_measurements, measurement_rows

__all__ = ["dwi_block", "patient_timeline", "pet_lesions", "responses_from_rows"]


def patient_timeline(workspace: Workspace, patient_key: str) -> dict[str, Any]:
    """The patient's exams, therapy lines and responses, as JSON types.

    Parameters
    ----------
    workspace : Workspace
        The open workspace.
    patient_key : str
        The patient's id (DICOM PatientID, or ``patient_id`` of the table).

    Returns
    -------
    dict
        ``patient_id``; ``exams`` (in date order, each with ``date``,
        ``label`` and ``modalities``); ``therapy_lines``; ``responses``: for
        each criteria a list, one entry per follow-up exam, with ``date``,
        ``timepoint``, ``vs_baseline``, ``vs_nadir`` and ``overall``.

    Raises
    ------
    InputError
        If the patient is not in the record, or its reads break a rule of the
        measurement table.
    """
    with workspace.session() as session:
        patient = session.scalars(
            select(Patient).where(Patient.patient_key == patient_key)
        ).one_or_none()
        if patient is None:
            raise InputError(f"timeline: no patient with that id in workspace {workspace.root}")
        exams = list(
            session.scalars(
                select(Exam).where(Exam.patient_id == patient.id).order_by(Exam.exam_date, Exam.id)
            )
        )
        modalities = _modalities(session, [exam.id for exam in exams])
        results = _analysis_blocks(session, patient.id)
        for exam_id, values in _lesion_values(session, patient.id).items():
            results.setdefault(exam_id, {})["lesion_values"] = values
        exam_dates = {exam.id: exam.exam_date.isoformat() for exam in exams}
        lines = session.scalars(
            select(TherapyLine)
            .where(TherapyLine.patient_id == patient.id)
            .order_by(TherapyLine.line_number)
        )
        return {
            "patient_id": patient.patient_key,
            "exams": [
                {
                    "date": exam.exam_date.isoformat(),
                    "label": exam.label,
                    "modalities": sorted(modalities.get(exam.id, set())),
                    **results.get(exam.id, {}),
                }
                for exam in exams
            ],
            "therapy_lines": [
                {
                    "line": line.line_number,
                    "drug": line.drug,
                    "drug_class": line.drug_class,
                    "start_date": line.start_date.isoformat() if line.start_date else None,
                    "end_date": line.end_date.isoformat() if line.end_date else None,
                    "baseline_exam_date": exam_dates.get(line.baseline_exam_id or -1),
                }
                for line in lines
            ],
            "responses": _responses(session, patient),
        }


def _analysis_blocks(session: Session, patient_id: int) -> dict[int, dict[str, Any]]:
    """The ``dwi`` and ``pet`` block of each exam, from its newest finished analyses."""
    blocks: dict[int, dict[str, Any]] = defaultdict(dict)
    done = session.execute(
        select(Analysis.exam_id, Analysis.kind, Analysis.result)
        .where(Analysis.patient_id == patient_id, Analysis.status == "done")
        .order_by(Analysis.finished_at, Analysis.id)
    )
    for exam_id, kind, result in done:
        if exam_id is None or not isinstance(result, dict):
            continue
        if kind == "wbdwi":
            blocks[exam_id]["dwi"] = dwi_block(result)
        elif kind == "pet_suv":
            pet = blocks[exam_id].setdefault("pet", {"series": [], "lesions": []})
            pet["series"].append(result.get("series"))
            pet["lesions"].extend(pet_lesions(result))
    return blocks


def dwi_block(summary: dict[str, Any]) -> dict[str, Any]:
    """The timeline's ``dwi`` block from a WB-DWI ``summary.json``.

    Examples
    --------
    >>> summary = {"total_diffusion_volume_ml": 2.88, "adc_um2_per_s": {"median": 800.0},
    ...            "classes_ml": {"red": 2.88, "yellow": 0.0, "green": 0.0},
    ...            "exam": {"label": "", "date": "2024-01-08"}}
    >>> dwi_block(summary)["reference_exam_date"]
    '2024-01-08'
    """
    reference = summary.get("reference") or summary.get("exam") or {}
    return {
        "total_diffusion_volume_ml": summary.get("total_diffusion_volume_ml"),
        "adc_median_um2_per_s": (summary.get("adc_um2_per_s") or {}).get("median"),
        "classes_ml": summary.get("classes_ml"),
        "reference_exam_date": reference.get("date"),
        "tdv_change_pct": summary.get("tdv_change_pct"),
        "plausibility_flags": summary.get("plausibility_flags", []),
    }


def pet_lesions(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The lesions of a PET analysis as the timeline shows them.

    Examples
    --------
    >>> pet_lesions({"series": "s1", "lesions": [
    ...     {"label": 1, "name": "liver-1", "suvbw_max": 25.0, "sul_peak": 14.2}]})
    [{'lesion': 'liver-1', 'suvbw_max': 25.0, 'sul_peak': 14.2, 'series': 's1'}]
    """
    return [
        {
            "lesion": lesion.get("name", str(lesion.get("label"))),
            "suvbw_max": lesion.get("suvbw_max"),
            "sul_peak": lesion.get("sul_peak"),
            "series": summary.get("series"),
        }
        for lesion in summary.get("lesions", [])
    ]


def _modalities(session: Session, exam_ids: list[int]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = defaultdict(set)
    if not exam_ids:
        return found
    imaged = session.execute(
        select(Study.exam_id, Series.modality)
        .join(Series, Series.study_id == Study.id)
        .where(Study.exam_id.in_(exam_ids))
        .distinct()
    )
    for exam_id, modality in imaged:
        if exam_id is not None and modality not in ("SEG", "SR", "RTSTRUCT"):
            found[exam_id].add(modality)
    read = session.execute(
        select(LesionRead.exam_id, LesionRead.modality)
        .where(LesionRead.exam_id.in_(exam_ids))
        .distinct()
    )
    for exam_id, modality in read:
        found[exam_id].add(modality.upper())
    return found


def _lesion_values(session: Session, patient_id: int) -> dict[int, list[dict[str, Any]]]:
    """Each exam's lesion values: the one used first, then those kept beside it."""
    lesions = {
        lesion.id: lesion.label
        for lesion in session.scalars(select(Lesion).where(Lesion.patient_id == patient_id))
    }
    if not lesions:
        return {}
    used = {m.id for m in current_measurements(session, list(lesions)).values()}
    rows = session.execute(
        select(Measurement, Analysis.status)
        .outerjoin(Analysis, Analysis.id == Measurement.analysis_id)
        .where(Measurement.lesion_id.in_(list(lesions)), Measurement.value.is_not(None))
        .order_by(Measurement.id.desc())
    )
    found: dict[int, list[tuple[tuple[str, str, bool, int], dict[str, Any]]]] = defaultdict(list)
    for measurement, status in rows:
        if measurement.analysis_id is not None and status != "done":
            continue  # superseded: kept in the record, not shown
        chosen = measurement.id in used
        found[measurement.exam_id].append(
            (
                (lesions[measurement.lesion_id], measurement.quantity, not chosen, -measurement.id),
                {
                    "lesion": lesions[measurement.lesion_id],
                    "quantity": measurement.quantity,
                    "value": measurement.value,
                    "unit": measurement.unit,
                    "source": measurement.source,
                    "author": measurement.author,
                    "analysis_id": measurement.analysis_id,
                    "used": chosen,
                },
            )
        )
    return {
        exam_id: [v for _, v in sorted(items, key=lambda i: i[0])]
        for exam_id, items in found.items()
    }


def _responses(session: Session, patient: Patient) -> dict[str, list[dict[str, str | None]]]:
    rows, fields = measurement_rows(session, patient)
    return responses_from_rows(rows, fields)


def responses_from_rows(
    rows: list[dict[str, str]], fields: list[str], *, what: str = "timeline"
) -> dict[str, list[dict[str, str | None]]]:
    """The response under every criteria at every follow-up of one patient's table rows.

    The one computation of responses from the record: the measurement table's
    parser and the criteria engine of ``tumorboard assess``, every criteria.

    Parameters
    ----------
    rows, fields : list
        One patient's rows of the measurement table
        (:func:`~tumorboard.workflow.lesion_reads.measurement_rows`).
    what : str
        The command named in an error message.

    Returns
    -------
    dict
        Criteria name -> one entry per assessed follow-up: ``date``,
        ``timepoint``, ``vs_baseline``, ``vs_nadir``, ``overall``.

    Raises
    ------
    InputError
        If the rows break a rule of the measurement table.

    Examples
    --------
    >>> head = dict(patient_id="P1", modality="ct", lesion_id="L1", organ="liver",
    ...             role="target", is_node="false", status="present", short_axis_mm="",
    ...             mean_hu="", viable_diameter_mm="", sul_peak="")
    >>> rows = [dict(head, timepoint="baseline", date="2024-01-08", longest_diameter_mm="50"),
    ...         dict(head, timepoint="week 8", date="2024-03-04", longest_diameter_mm="70")]
    >>> responses_from_rows(rows, list(rows[0]))["recist1.1"][0]["overall"]
    'PD'
    """
    if not rows:
        return {}
    try:
        (series,) = parse_measurement_rows(rows, fields)
    except InputError as exc:
        raise InputError(f"{what}: the reads in the record break a table rule: {exc}") from None
    responses: dict[str, list[dict[str, str | None]]] = {}
    for assessment in assess_patient(series, ALL_CRITERIA):
        responses[assessment.criteria.value] = [
            {
                "date": point.date.isoformat(),
                "timepoint": point.timepoint,
                "vs_baseline": _code(point.response_vs_baseline),
                "vs_nadir": _code(point.response_vs_nadir),
                "overall": _code(point.overall_response),
            }
            for point in assessment.timepoints
            if point.overall_response is not None
        ]
    return responses


def _code(response: object) -> str | None:
    return None if response is None else str(response)
