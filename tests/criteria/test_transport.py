"""The worker transport keeps every field of every record, each in its own place.

Every field gets a value distinct from all others of its type, so a decoder
reading the wrong tuple index (or dropping a field) gives a different record.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from tumorboard.criteria.records import (
    Criteria,
    NewLesionFinding,
    PatientAssessment,
    Response,
    TimepointAssessment,
)
from tumorboard.criteria.transport import decode, encode


def _timepoint(number: int, criteria: Criteria) -> TimepointAssessment:
    responses = list(Response)
    return TimepointAssessment(
        timepoint=f"week {number}",
        date=dt.date(2024, 1, 1) + dt.timedelta(days=number),
        criteria=criteria,
        target_sum_mm=Decimal(f"{number}1.5"),
        change_from_baseline_pct=Decimal(f"-{number}2.25"),
        change_from_nadir_pct=Decimal(f"{number}3.125"),
        target_response=responses[0],
        non_target_response=responses[1],
        new_lesions=list(NewLesionFinding)[-1],
        overall_response=responses[2],
        response_vs_baseline=responses[3],
        response_vs_nadir=responses[4],
        strict_response=responses[5],
        mean_hu=Decimal(f"{number}4.5"),
        change_in_hu_pct=Decimal(f"-{number}5.5"),
        sul_peak=Decimal(f"{number}.75"),
        new_baseline_lesions=(f"N{number}a", f"N{number}b"),
        notes=(f"note {number}",),
    )


def test_every_field_survives_in_its_place() -> None:
    assert len(Response) >= 6 and len(NewLesionFinding) >= 2
    results = [
        (
            PatientAssessment(
                patient_id="P1",
                criteria=Criteria.RECIST11,
                timepoints=(_timepoint(1, Criteria.RECIST11), _timepoint(2, Criteria.RECIST11)),
                best_response=list(Response)[6 % len(Response)],
                best_response_timepoint="week 2",
                notes=("patient note",),
            ),
            PatientAssessment(
                patient_id="P1",
                criteria=Criteria.PERCIST,
                timepoints=(_timepoint(3, Criteria.PERCIST),),
                best_response=None,
                best_response_timepoint=None,
            ),
        ),
    ]
    assert decode(encode(results)) == results


def test_empty_optional_fields_stay_empty() -> None:
    bare = TimepointAssessment(
        "baseline",
        dt.date(2024, 1, 1),
        Criteria.CHOI,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    results = [(PatientAssessment("P2", Criteria.CHOI, (bare,), None, None),)]
    assert decode(encode(results)) == results
