"""Best overall response keeps each criteria's own codes (iRECIST, PERCIST) end to end.

The rule ranks iRECIST and PERCIST codes as their RECIST counterparts but must
answer in the criteria's own code; each case below differs between the
canonical and the original code, so reading the wrong one fails.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tumorboard.criteria.best_response import best_overall_response
from tumorboard.criteria.options import AssessmentOptions
from tumorboard.criteria.records import Criteria, Response, TimepointAssessment

R = Response
START = dt.date(2024, 1, 1)


def _points(criteria: Criteria, *visits: tuple[int, Response]) -> list[TimepointAssessment]:
    rows = [
        TimepointAssessment(
            "baseline", START, criteria, None, None, None, None, None, None, None, None, None
        )
    ]
    for day, response in visits:
        rows.append(
            TimepointAssessment(
                f"day {day}",
                START + dt.timedelta(days=day),
                criteria,
                None,
                None,
                None,
                None,
                None,
                None,
                response,
                None,
                None,
            )
        )
    return rows


CONFIRMED = AssessmentOptions(confirmation=True)


@pytest.mark.parametrize(
    ("criteria", "visits", "best"),
    [
        # a confirmed iCR (iCR then iCR 28 days later) is iCR, not CR and not iPR
        (Criteria.IRECIST, [(42, R.ICR), (70, R.ICR)], (R.ICR, "day 42")),
        # iPR confirmed by a later iCR
        (Criteria.IRECIST, [(42, R.IPR), (70, R.ICR)], (R.IPR, "day 42")),
        # PERCIST: PMR confirmed by CMR; an NE between does not break it
        (Criteria.PERCIST, [(42, R.PMR), (56, R.NE), (84, R.CMR)], (R.PMR, "day 42")),
        # iPR followed by iSD: not confirmed, falls back to stable (as iSD)
        (Criteria.IRECIST, [(42, R.IPR), (84, R.ISD)], (R.ISD, "day 42")),
    ],
)
def test_confirmation_answers_in_the_criteria_codes(
    criteria: Criteria, visits: list[tuple[int, Response]], best: tuple[Response, str]
) -> None:
    assert best_overall_response(_points(criteria, *visits), CONFIRMED) == best


@pytest.mark.parametrize("options", [AssessmentOptions(), CONFIRMED])
def test_early_stable_then_progression_falls_back_to_the_progression_code(
    options: AssessmentOptions,
) -> None:
    # iSD before 42 days does not count; the iCPD that follows is the answer (not PD)
    points = _points(Criteria.IRECIST, (14, R.ISD), (70, R.ICPD))
    assert best_overall_response(points, options) == (R.ICPD, "day 70")
    points = _points(Criteria.PERCIST, (14, R.SMD), (70, R.PMD))
    assert best_overall_response(points, options) == (R.PMD, "day 70")


def test_early_stable_then_unconfirmed_progression_is_iupd() -> None:
    points = _points(Criteria.IRECIST, (14, R.ISD), (28, R.IUPD))
    assert best_overall_response(points, CONFIRMED) == (R.IUPD, "day 28")
    assert best_overall_response(points, AssessmentOptions()) == (R.IUPD, "day 28")
