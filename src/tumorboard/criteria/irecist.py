"""iRECIST (Seymour et al., Lancet Oncol 2017;18:e143-e152) for immunotherapy.

The first RECIST 1.1 progression is *unconfirmed* (iUPD). The next
assessment (due 4-8 weeks later) confirms it (iCPD) when, compared with the
iUPD assessment:

* the target sum grew by a further >= 5 mm (target category at iUPD), or
  target PD is newly met (category not progressed at iUPD);
* any non-target lesion progressed unequivocally;
* the sum of new-lesion targets grew by >= 5 mm, a new non-target lesion
  progressed unequivocally, or further new lesions appeared.

If instead the assessment meets iCR/iPR/iSD (no RECIST progression and no
new lesion still present) the bar resets and a later progression is a new
iUPD; otherwise the patient stays iUPD. New lesions are sorted in order of
appearance into new-lesion targets (measurable: >= 10 mm, nodes >= 15 mm
short axis; at most 5, 2 per organ, lymph nodes one organ) and new-lesion non-targets; their sums
are kept apart from the baseline sums. iCPD is final.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from tumorboard.criteria.baseline_rules import (
    MAX_TARGETS,
    MAX_TARGETS_PER_ORGAN,
    is_measurable,
    organ_key,
)
from tumorboard.criteria.best_response import patient_assessment
from tumorboard.criteria.decimal_math import ZERO, percent_change
from tumorboard.criteria.new_baseline import NewLesionLedger
from tumorboard.criteria.options import AssessmentOptions
from tumorboard.criteria.recist import PD_INCREASE_PCT, PR_DECREASE_PCT
from tumorboard.criteria.records import (
    Criteria,
    LesionStatus,
    NewLesionFinding,
    PatientAssessment,
    PatientSeries,
    Response,
    Timepoint,
    TimepointAssessment,
)
from tumorboard.criteria.target_sums import (
    PD_MIN_INCREASE_MM,
    TOO_SMALL_MM,
    Metric,
    SeriesFacts,
    overall_response,
    size_category,
)

_TO_IRECIST = {
    Response.CR: Response.ICR,
    Response.PR: Response.IPR,
    Response.SD: Response.ISD,
    Response.NON_CR_NON_PD: Response.NON_CR_NON_PD,
    Response.NE: Response.NE,
    Response.PD: Response.IUPD,
}


@dataclass(frozen=True, slots=True)
class _Unconfirmed:
    index: int
    label: str
    days_from_baseline: int
    target_sum_mm: Decimal | None
    new_target_sum_mm: Decimal
    new_ids: frozenset[str]
    categories: frozenset[str]


def _new_lesion_value(timepoint: Timepoint, lesion_id: str) -> Decimal:
    measurement = timepoint.by_id.get(lesion_id)
    if measurement is None:
        return ZERO
    status = measurement.status
    if status in (LesionStatus.ABSENT, LesionStatus.NOT_EVALUATED):
        return ZERO
    if status is LesionStatus.TOO_SMALL:
        return TOO_SMALL_MM
    value = measurement.short_axis_mm if measurement.is_node else measurement.longest_diameter_mm
    return value if value is not None else ZERO


def assess_irecist(
    series: PatientSeries,
    ledger: NewLesionLedger,
    options: AssessmentOptions | None = None,
    facts: SeriesFacts | None = None,
) -> PatientAssessment:
    """Assess ``series`` under iRECIST.

    Parameters
    ----------
    series : PatientSeries
        Baseline first.
    ledger : NewLesionLedger
        Shared new-lesion bookkeeping.
    options : AssessmentOptions, optional
        ``iupd_window_days``, ``continued_pr`` and best-response settings.

    Returns
    -------
    PatientAssessment
        Responses in iRECIST codes; the best response is the iBOR.
    """
    options = options or AssessmentOptions()
    timepoints = series.timepoints
    baseline = timepoints[0]
    facts = facts or SeriesFacts(timepoints)
    targets = facts.targets
    baseline_sum = facts.snapshot(0, Metric.LONGEST).sum_mm if targets else None
    nadir = baseline_sum
    results = [TimepointAssessment.at_baseline(baseline, Criteria.IRECIST, baseline_sum)]
    new_targets: list[str] = []
    new_non_targets: list[str] = []
    organ_count: Counter[str] = Counter()
    pending: _Unconfirmed | None = None
    confirmed = False
    pr_reached = False
    low_days, high_days = options.iupd_window_days
    for index in range(1, len(timepoints)):
        timepoint = timepoints[index]
        days = (timepoint.date - baseline.date).days
        notes = list(ledger.notes[index])
        new_ids = ledger.progression_ids[index]
        for lesion_id in sorted(new_ids, key=lambda i: (timepoint.by_id[i].row or 0, i)):
            if lesion_id in new_targets or lesion_id in new_non_targets:
                continue
            measurement = timepoint.by_id[lesion_id]
            organ = organ_key(measurement)
            if (
                is_measurable(measurement)
                and len(new_targets) < MAX_TARGETS
                and organ_count[organ] < MAX_TARGETS_PER_ORGAN
            ):
                new_targets.append(lesion_id)
                organ_count[organ] += 1
            else:
                new_non_targets.append(lesion_id)
        new_target_sum = sum((_new_lesion_value(timepoint, i) for i in new_targets), start=ZERO)
        new_non_target_progression = any(
            (m := timepoint.by_id.get(i)) is not None
            and m.status is LesionStatus.UNEQUIVOCAL_PROGRESSION
            for i in new_non_targets
        )
        non_target = facts.non_target(index)
        finding = ledger.finding(index)
        new_present = finding is NewLesionFinding.YES
        strict_new = ledger.finding(index, strict=True) is NewLesionFinding.YES
        target: Response | None = None
        versus_baseline: Response | None = None
        versus_nadir: Response | None = None
        total: Decimal | None = None
        change_baseline = change_nadir = None
        if baseline_sum is not None and nadir is not None:
            snapshot = facts.snapshot(index, Metric.LONGEST)
            target = size_category(snapshot, baseline_sum, nadir, PR_DECREASE_PCT, PD_INCREASE_PCT)
            if options.continued_pr and pr_reached and target is Response.SD:
                target = Response.PR
            if target in (Response.PR, Response.CR):
                pr_reached = True
            versus_baseline = size_category(
                snapshot, baseline_sum, baseline_sum, PR_DECREASE_PCT, PD_INCREASE_PCT
            )
            versus_nadir = size_category(snapshot, nadir, nadir, PR_DECREASE_PCT, PD_INCREASE_PCT)
            if not snapshot.missing:
                total = snapshot.sum_mm
                change_baseline = percent_change(total, baseline_sum)
                change_nadir = percent_change(total, nadir)
                nadir = min(nadir, total)
        recist_overall = overall_response(target, non_target, new_present)
        categories = frozenset(
            name
            for name, progressed in (
                ("target", target is Response.PD),
                ("non-target", non_target is Response.PD),
                ("new", new_present),
            )
            if progressed
        )
        if confirmed:
            response = Response.ICPD
            notes.append("iCPD confirmed earlier; no further assessment")
        elif pending is None:
            if recist_overall is Response.PD:
                pending = _Unconfirmed(
                    index, timepoint.label, days, total, new_target_sum, new_ids, categories
                )
                response = Response.IUPD
                notes.append(
                    f"iUPD ({', '.join(sorted(categories))}): confirm at the next assessment "
                    f"{low_days // 7}-{high_days // 7} weeks later"
                )
            else:
                response = _TO_IRECIST[recist_overall]
        else:
            interval = days - pending.days_from_baseline
            if not low_days <= interval <= high_days:
                notes.append(
                    f"confirmation {interval} days after iUPD, outside the "
                    f"{low_days}-{high_days} day window"
                )
            reasons = _confirmation_reasons(
                pending,
                total,
                target,
                non_target,
                new_ids,
                new_target_sum,
                new_non_target_progression,
            )
            if reasons:
                response = Response.ICPD
                confirmed = True
                notes.append(f"iCPD: {'; '.join(reasons)} (iUPD at {pending.label})")
            elif recist_overall is not Response.PD:
                response = _TO_IRECIST[recist_overall]
                notes.append(f"iUPD at {pending.label} not confirmed; bar reset")
                pending = None
            else:
                response = Response.IUPD
                notes.append(f"remains iUPD (since {pending.label}), not confirmed")
        strict = response
        if strict_new and not new_present and response not in (Response.IUPD, Response.ICPD):
            strict = Response.IUPD
        progressed = Response.ICPD if confirmed else Response.IUPD
        results.append(
            TimepointAssessment(
                timepoint=timepoint.label,
                date=timepoint.date,
                criteria=Criteria.IRECIST,
                target_sum_mm=total,
                change_from_baseline_pct=change_baseline,
                change_from_nadir_pct=change_nadir,
                target_response=None if target is None else _TO_IRECIST[target],
                non_target_response=None if non_target is None else _TO_IRECIST[non_target],
                new_lesions=finding,
                overall_response=response,
                response_vs_baseline=_versus(versus_baseline, non_target, new_present, progressed),
                response_vs_nadir=_versus(versus_nadir, non_target, new_present, progressed),
                strict_response=strict,
                new_baseline_lesions=ledger.new_baseline_ids[index],
                notes=tuple(notes),
            )
        )
    return patient_assessment(series, Criteria.IRECIST, results, options)


def _versus(
    target: Response | None, non_target: Response | None, new: bool, progressed: Response
) -> Response:
    overall = overall_response(target, non_target, new)
    return progressed if overall is Response.PD else _TO_IRECIST[overall]


def _confirmation_reasons(
    pending: _Unconfirmed,
    total: Decimal | None,
    target: Response | None,
    non_target: Response | None,
    new_ids: frozenset[str],
    new_target_sum: Decimal,
    new_non_target_progression: bool,
) -> list[str]:
    reasons: list[str] = []
    if "target" in pending.categories:
        if (
            total is not None
            and pending.target_sum_mm is not None
            and total - pending.target_sum_mm >= PD_MIN_INCREASE_MM
        ):
            reasons.append(f"target sum up a further {total - pending.target_sum_mm} mm")
    elif target is Response.PD:
        reasons.append("target progression newly met")
    if non_target is Response.PD:
        reasons.append("non-target progression")
    further = new_ids - pending.new_ids
    if further:
        reasons.append(f"further new lesion(s) {', '.join(sorted(further))}")
    if new_target_sum - pending.new_target_sum_mm >= PD_MIN_INCREASE_MM:
        reasons.append(f"new-lesion target sum up {new_target_sum - pending.new_target_sum_mm} mm")
    if new_non_target_progression:
        reasons.append("new non-target lesion progression")
    return reasons
