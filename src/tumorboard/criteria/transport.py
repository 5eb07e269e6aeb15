"""Compact encoding of assessments for crossing process boundaries.

Pickling 400,000 frozen records with their Decimals and Enums costs about as
much as computing them. Worker processes therefore send plain tuples of
``str``/``int``/``None`` through :mod:`marshal` (the fastest serialiser of
builtin types), and the parent rebuilds the records with dictionary lookups
instead of Enum calls. Exact values survive: a Decimal travels as its text.
"""

from __future__ import annotations

import datetime as dt
import marshal
from collections.abc import Sequence
from decimal import Decimal

from tumorboard.criteria.records import (
    Criteria,
    NewLesionFinding,
    PatientAssessment,
    Response,
    TimepointAssessment,
)

_RESPONSES = {r.value: r for r in Response}
_CRITERIA = {c.value: c for c in Criteria}
_FINDINGS = {f.value: f for f in NewLesionFinding}

_Encoded = tuple[object, ...]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _code(value: Response | NewLesionFinding | None) -> str | None:
    return None if value is None else value.value


def _encode_timepoint(item: TimepointAssessment) -> _Encoded:
    return (
        item.timepoint,
        item.date.toordinal(),
        item.criteria.value,
        _text(item.target_sum_mm),
        _text(item.change_from_baseline_pct),
        _text(item.change_from_nadir_pct),
        _code(item.target_response),
        _code(item.non_target_response),
        _code(item.new_lesions),
        _code(item.overall_response),
        _code(item.response_vs_baseline),
        _code(item.response_vs_nadir),
        _code(item.strict_response),
        _text(item.mean_hu),
        _text(item.change_in_hu_pct),
        _text(item.sul_peak),
        item.new_baseline_lesions,
        item.notes,
    )


def encode(results: Sequence[tuple[PatientAssessment, ...]]) -> bytes:
    """Serialise per-patient assessment tuples to bytes."""
    payload = [
        [
            (
                a.patient_id,
                a.criteria.value,
                [_encode_timepoint(t) for t in a.timepoints],
                _code(a.best_response),
                a.best_response_timepoint,
                a.notes,
            )
            for a in patient
        ]
        for patient in results
    ]
    return marshal.dumps(payload)


def decode(data: bytes) -> list[tuple[PatientAssessment, ...]]:
    """Rebuild the per-patient assessment tuples written by :func:`encode`."""
    responses = _RESPONSES
    from_ordinal = dt.date.fromordinal
    decimal = Decimal
    result: list[tuple[PatientAssessment, ...]] = []
    for patient in marshal.loads(data):
        assessments = []
        for pid, criteria, points, best, when, notes in patient:
            crit = _CRITERIA[criteria]
            timepoints = tuple(
                TimepointAssessment(
                    p[0],
                    from_ordinal(p[1]),
                    crit,
                    None if p[3] is None else decimal(p[3]),
                    None if p[4] is None else decimal(p[4]),
                    None if p[5] is None else decimal(p[5]),
                    None if p[6] is None else responses[p[6]],
                    None if p[7] is None else responses[p[7]],
                    None if p[8] is None else _FINDINGS[p[8]],
                    None if p[9] is None else responses[p[9]],
                    None if p[10] is None else responses[p[10]],
                    None if p[11] is None else responses[p[11]],
                    None if p[12] is None else responses[p[12]],
                    None if p[13] is None else decimal(p[13]),
                    None if p[14] is None else decimal(p[14]),
                    None if p[15] is None else decimal(p[15]),
                    tuple(p[16]),
                    tuple(p[17]),
                )
                for p in points
            )
            assessments.append(
                PatientAssessment(
                    pid,
                    crit,
                    timepoints,
                    None if best is None else responses[best],
                    when,
                    tuple(notes),
                )
            )
        result.append(tuple(assessments))
    return result
