"""Best overall response, with optional confirmation (RECIST 1.1 section 4.4).

Assessments after the first progression (PD, iCPD, PMD) are not considered.
Without confirmation the best response is the best recorded category, where
SD (and NON-CR/NON-PD) count only from ``sd_min_days`` after baseline;
earlier SD gives PD if progression follows, NE otherwise.

With confirmation, CR needs a later CR at least ``confirmation_interval_days``
after it with only CR/NE between; PR needs a later PR or CR likewise; an
unconfirmed response falls back to SD when the SD duration was met.

The same rule serves every criteria: iRECIST codes rank as their RECIST
counterparts (iUPD between SD and progression), PERCIST's CMR/PMR/SMD/PMD as
CR/PR/SD/PD.
"""

from __future__ import annotations

from collections.abc import Sequence

from tumorboard.criteria.options import AssessmentOptions
from tumorboard.criteria.records import (
    Criteria,
    PatientAssessment,
    PatientSeries,
    Response,
    TimepointAssessment,
)

_CANONICAL = {
    Response.CR: Response.CR,
    Response.ICR: Response.CR,
    Response.CMR: Response.CR,
    Response.PR: Response.PR,
    Response.IPR: Response.PR,
    Response.PMR: Response.PR,
    Response.SD: Response.SD,
    Response.ISD: Response.SD,
    Response.SMD: Response.SD,
    Response.NON_CR_NON_PD: Response.NON_CR_NON_PD,
    Response.IUPD: Response.IUPD,
    Response.PD: Response.PD,
    Response.ICPD: Response.PD,
    Response.PMD: Response.PD,
    Response.NE: Response.NE,
}
_RANK = {
    Response.CR: 6,
    Response.PR: 5,
    Response.SD: 4,
    Response.NON_CR_NON_PD: 4,
    Response.IUPD: 3,
    Response.PD: 2,
    Response.NE: 1,
}
_RESPONDING = (Response.CR, Response.PR)


def best_overall_response(
    assessments: Sequence[TimepointAssessment], options: AssessmentOptions
) -> tuple[Response | None, str | None]:
    """Return the best overall response and the timepoint label it was reached at.

    Parameters
    ----------
    assessments : sequence of TimepointAssessment
        Baseline first (its response is ``None``), in date order.
    options : AssessmentOptions
        ``confirmation``, ``confirmation_interval_days`` and ``sd_min_days``.

    Returns
    -------
    (Response or None, str or None)
        ``None`` when there is no follow-up. The response is given in the
        criteria's own codes (e.g. ``iPR``, ``PMR``).
    """
    if len(assessments) < 2:
        return None, None
    baseline_date = assessments[0].date
    points: list[tuple[TimepointAssessment, Response, Response]] = []
    for item in assessments[1:]:
        original = item.overall_response
        if original is None:
            continue
        canonical = _CANONICAL[original]
        points.append((item, canonical, original))
        if canonical is Response.PD:
            break
    if not points:
        return None, None
    if options.confirmation:
        for wanted, accepted in (
            (Response.CR, (Response.CR,)),
            (Response.PR, (Response.CR, Response.PR)),
        ):
            found = _confirmed(points, wanted, accepted, options.confirmation_interval_days)
            if found is not None:
                return found[2], found[0].timepoint
        candidates = [p for p in points if p[1] not in _RESPONDING]
        stable = [
            p
            for p in points
            if p[1] in (*_RESPONDING, Response.SD, Response.NON_CR_NON_PD)
            and (p[0].date - baseline_date).days >= options.sd_min_days
        ]
        if stable:
            first = stable[0]
            return _as_stable(first[2]), first[0].timepoint
        return _fallback(candidates or points)
    best: tuple[TimepointAssessment, Response, Response] | None = None
    for point in points:
        canonical = point[1]
        if (
            canonical in (Response.SD, Response.NON_CR_NON_PD)
            and (point[0].date - baseline_date).days < options.sd_min_days
        ):
            continue
        if best is None or _RANK[canonical] > _RANK[best[1]]:
            best = point
    if best is not None and best[1] not in (Response.NE,):
        return best[2], best[0].timepoint
    return _fallback(points)


def _confirmed(
    points: list[tuple[TimepointAssessment, Response, Response]],
    wanted: Response,
    accepted: tuple[Response, ...],
    interval_days: int,
) -> tuple[TimepointAssessment, Response, Response] | None:
    for start, point in enumerate(points):
        if point[1] is not wanted:
            continue
        for later in points[start + 1 :]:
            if later[1] in accepted:
                if (later[0].date - point[0].date).days >= interval_days:
                    return point
                continue
            if later[1] is Response.NE:
                continue
            break
    return None


def _as_stable(original: Response) -> Response:
    canonical = _CANONICAL[original]
    if canonical is Response.NON_CR_NON_PD:
        return original
    if original in (Response.ICR, Response.IPR, Response.ISD):
        return Response.ISD
    if original in (Response.CMR, Response.PMR, Response.SMD):
        return Response.SMD
    return Response.SD


def _fallback(
    points: list[tuple[TimepointAssessment, Response, Response]],
) -> tuple[Response | None, str | None]:
    """SD too early: PD if progression followed, else iUPD if seen, else NE."""
    for wanted in (Response.PD, Response.IUPD):
        for point in points:
            if point[1] is wanted:
                return point[2], point[0].timepoint
    return Response.NE, None


def patient_assessment(
    series: PatientSeries,
    criteria: Criteria,
    results: Sequence[TimepointAssessment],
    options: AssessmentOptions,
    notes: tuple[str, ...] = (),
) -> PatientAssessment:
    """Close a patient's assessment under one criteria: its timepoints and best response."""
    best, when = best_overall_response(results, options)
    return PatientAssessment(
        patient_id=series.patient_id,
        criteria=criteria,
        timepoints=tuple(results),
        best_response=best,
        best_response_timepoint=when,
        notes=notes,
    )
