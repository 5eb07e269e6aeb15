"""Flatten assessments into the rows of ``response.csv`` (one per patient, timepoint, criteria)."""

from __future__ import annotations

from collections.abc import Iterable

from tumorboard.criteria.decimal_math import display
from tumorboard.criteria.records import PatientAssessment, Response

#: Columns of ``response.csv``; the first twelve are the checked contract.
RESPONSE_COLUMNS = (
    "patient_id",
    "timepoint",
    "criteria",
    "target_sum_mm",
    "change_from_baseline_pct",
    "change_from_nadir_pct",
    "target_response",
    "non_target_response",
    "new_lesions",
    "overall_response",
    "response_vs_baseline",
    "response_vs_nadir",
    "date",
    "strict_response",
    "mean_hu",
    "change_in_hu_pct",
    "sul_peak",
    "new_baseline_lesions",
    "best_response",
    "notes",
)


def _code(value: Response | None) -> str:
    return "" if value is None else value.value


def response_rows(
    assessments: Iterable[PatientAssessment], patient_label: str | None = None
) -> list[dict[str, str]]:
    """Return ``response.csv`` rows for ``assessments``.

    Parameters
    ----------
    assessments : iterable of PatientAssessment
        One per patient and criteria.
    patient_label : str, optional
        Replaces the patient id (e.g. a pseudonym on de-identified export).

    Returns
    -------
    list of dict
        Keys are :data:`RESPONSE_COLUMNS`; values are text. Diameters and
        percentages are rounded half-even to 0.1 for display only; every
        decision was made on exact values.
    """
    rows: list[dict[str, str]] = []
    for assessment in assessments:
        patient = patient_label if patient_label is not None else assessment.patient_id
        for item in assessment.timepoints:
            rows.append(
                {
                    "patient_id": patient,
                    "timepoint": item.timepoint,
                    "criteria": item.criteria.value,
                    "target_sum_mm": display(item.target_sum_mm),
                    "change_from_baseline_pct": display(item.change_from_baseline_pct),
                    "change_from_nadir_pct": display(item.change_from_nadir_pct),
                    "target_response": _code(item.target_response),
                    "non_target_response": _code(item.non_target_response),
                    "new_lesions": "" if item.new_lesions is None else item.new_lesions.value,
                    "overall_response": _code(item.overall_response),
                    "response_vs_baseline": _code(item.response_vs_baseline),
                    "response_vs_nadir": _code(item.response_vs_nadir),
                    "date": item.date.isoformat(),
                    "strict_response": _code(item.strict_response),
                    "mean_hu": display(item.mean_hu),
                    "change_in_hu_pct": display(item.change_in_hu_pct),
                    "sul_peak": "" if item.sul_peak is None else str(item.sul_peak),
                    "new_baseline_lesions": ";".join(item.new_baseline_lesions),
                    "best_response": _code(assessment.best_response),
                    "notes": " | ".join(item.notes),
                }
            )
    return rows
