"""The ``criteria`` and ``guide`` analyses of ``tumorboard run``, per patient.

``criteria``: the response of every criteria at every follow-up exam,
against baseline and against nadir, and the overall response, computed by
:func:`tumorboard.workflow.timeline.responses_from_rows` -- the one function
behind ``tumorboard timeline`` (the engine and table rules of ``tumorboard
assess``) -- from the patient's measurement table as
:func:`~tumorboard.workflow.lesion_reads.measurement_rows` gives it. The
input digest of the analysis is that table, so any change of a read or of a
value the criteria use (a manual value, or a measurement ``run`` stored)
makes a new analysis. The result keeps the responses; the assessments
table holds one row per exam and criteria with the analysis id (rewritten
when a newer analysis replaces the older one, whose result stays).

``guide``: the reading guide (:func:`tumorboard.guide.engine.run_guide`) of
the patient's newest case facts; its settings are the versions of the rule
tables, so new rules recompute it.

The timeline and the report still compute the responses through the same
function on the current reads (the record may have changed since the last
``run``); the tests hold the stored assessments equal to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tumorboard.criteria.engine import ALL_CRITERIA
from tumorboard.errors import TumorboardError
from tumorboard.store.models import Analysis, Assessment, Exam, Patient
from tumorboard.store.workspace import Workspace
from tumorboard.workflow.case_facts import latest_case_facts
from tumorboard.workflow.lesion_reads import measurement_rows, timepoint_label
from tumorboard.workflow.timeline import responses_from_rows

__all__ = [
    "CRITERIA_KIND",
    "CRITERIA_SETTINGS",
    "GUIDE_KIND",
    "RECORD_KINDS",
    "RecordJob",
    "criteria_result",
    "guide_result",
    "guide_settings",
    "record_jobs",
    "store_assessments",
]

CRITERIA_KIND = "criteria"
GUIDE_KIND = "guide"
#: The analyses of a patient's record (not of an image series).
RECORD_KINDS = (CRITERIA_KIND, GUIDE_KIND)

#: Settings of the ``criteria`` analysis: every criteria, as the timeline shows them.
CRITERIA_SETTINGS: dict[str, Any] = {
    "criteria": [criteria.value for criteria in ALL_CRITERIA],
    "engine": "criteria.engine.assess_patient",
}


@dataclass(frozen=True)
class RecordJob:
    """One analysis of a patient's record, ready to be claimed.

    Attributes
    ----------
    kind : str
        ``criteria`` or ``guide``.
    settings : dict
    inputs : Any
        JSON-ready inputs; their SHA-256 is the analysis's input digest.
    compute : callable
        Returns the result (raises :class:`~tumorboard.errors.InputError`
        when the inputs break a rule).
    """

    kind: str
    settings: dict[str, Any]
    inputs: Any
    compute: Callable[[], dict[str, Any]]


def criteria_result(rows: list[dict[str, str]], fields: list[str]) -> dict[str, Any]:
    """The ``criteria`` analysis's result: the timeline's responses of these rows.

    Examples
    --------
    >>> head = dict(patient_id="P1", modality="ct", lesion_id="L1", organ="liver",
    ...             role="target", is_node="false", status="present", short_axis_mm="",
    ...             mean_hu="", viable_diameter_mm="", sul_peak="")
    >>> rows = [dict(head, timepoint="baseline", date="2024-01-08", longest_diameter_mm="50"),
    ...         dict(head, timepoint="week 8", date="2024-03-04", longest_diameter_mm="30")]
    >>> point = criteria_result(rows, list(rows[0]))["responses"]["recist1.1"][0]
    >>> point["date"], point["vs_baseline"]
    ('2024-03-04', 'PR')
    """
    return {"responses": responses_from_rows(rows, fields, what="criteria")}


def guide_settings() -> dict[str, Any]:
    """Settings of the ``guide`` analysis: the versions of the guide's rule tables.

    Examples
    --------
    >>> sorted(guide_settings()["rules_versions"])[:2]
    ['criteria', 'embryology']
    """
    from tumorboard.guide.engine import RULE_TABLES
    from tumorboard.guide.records import load_rules

    return {"rules_versions": {name: load_rules(name)["version"] for name in RULE_TABLES}}


def guide_result(facts: dict[str, Any]) -> dict[str, Any]:
    """The ``guide`` analysis's result: ``guide.json`` of the facts.

    Examples
    --------
    >>> guide_result({"ki67_pct": 12.0, "primary_site": "pancreas"})["who_grade"]
    'G2'
    """
    from tumorboard.guide.engine import run_guide
    from tumorboard.guide.facts import parse_facts

    return run_guide(parse_facts(facts, source="case facts of the record")).as_dict()


def record_jobs(workspace: Workspace, patient_id: int) -> list[RecordJob]:
    """The patient's ``criteria`` (when it has reads) and ``guide`` (when it has facts).

    Raises
    ------
    TumorboardError
        If the patient is not in the record.
    """
    with workspace.session() as session:
        patient = session.get(Patient, patient_id)
        if patient is None:
            raise TumorboardError(f"run: no patient {patient_id} in workspace {workspace.root}")
        rows, fields = measurement_rows(session, patient)
        facts = latest_case_facts(session, patient_id)
    jobs = []
    if rows:
        jobs.append(
            RecordJob(
                CRITERIA_KIND,
                dict(CRITERIA_SETTINGS),
                {"patient": patient_id, "rows": rows, "fields": fields},
                lambda: criteria_result(rows, fields),
            )
        )
    if facts is not None:
        given = dict(facts)
        jobs.append(
            RecordJob(
                GUIDE_KIND,
                guide_settings(),
                {"patient": patient_id, "facts": given},
                lambda: guide_result(given),
            )
        )
    return jobs


def store_assessments(session: Session, analysis: Analysis) -> int:
    """Write the patient's assessments rows from a ``criteria`` analysis's result.

    The patient's earlier rows (of an older analysis) are replaced: the
    assessments table holds the current responses, each with the id of the
    analysis that computed it; the older analysis keeps its own result.

    Returns
    -------
    int
        Rows written.

    Raises
    ------
    TumorboardError
        If a response names an exam the patient does not have.
    """
    exams = {
        (exam.exam_date.isoformat(), timepoint_label(exam)): exam.id
        for exam in session.scalars(select(Exam).where(Exam.patient_id == analysis.patient_id))
    }
    session.execute(delete(Assessment).where(Assessment.patient_id == analysis.patient_id))
    written = 0
    for criteria, points in ((analysis.result or {}).get("responses") or {}).items():
        for point in points:
            exam_id = exams.get((point["date"], point["timepoint"]))
            if exam_id is None:
                raise TumorboardError(
                    f"criteria: no exam {point['date']} {point['timepoint']!r} in the record"
                )
            session.add(
                Assessment(
                    patient_id=analysis.patient_id,
                    exam_id=exam_id,
                    criteria=criteria,
                    vs_baseline=point["vs_baseline"],
                    vs_nadir=point["vs_nadir"],
                    overall=point["overall"],
                    analysis_id=analysis.id,
                )
            )
            written += 1
    return written
