"""RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228-247), and mRECIST on the same engine.

Target response: CR when every non-nodal target has disappeared and every
nodal target is below 10 mm short axis; PR at a sum >= 30 % below baseline;
PD at a sum >= 20 % and >= 5 mm above the nadir (the smallest sum so far,
baseline included); SD otherwise. With ``continued_pr`` a patient stays PR
after reaching it until PD. Missing targets give NE unless the measured
ones already prove PD. The overall response follows the tables for patients
with and without target disease (:func:`~tumorboard.criteria.target_sums.overall_response`).

``response_vs_baseline`` and ``response_vs_nadir`` apply the same thresholds
with one reference for both PR and PD, so the form can show both readings.

mRECIST (Lencioni & Llovet, Semin Liver Dis 2010) sums the viable
(arterially enhancing) diameters of non-nodal targets; CR is the
disappearance of enhancement in all targets. The thresholds are RECIST's.
"""

from __future__ import annotations

from decimal import Decimal

from tumorboard.criteria.best_response import patient_assessment
from tumorboard.criteria.decimal_math import percent_change
from tumorboard.criteria.new_baseline import NewLesionLedger
from tumorboard.criteria.options import AssessmentOptions
from tumorboard.criteria.records import (
    Criteria,
    NewLesionFinding,
    PatientAssessment,
    PatientSeries,
    Response,
    TimepointAssessment,
)
from tumorboard.criteria.target_sums import (
    Metric,
    SeriesFacts,
    TargetSnapshot,
    size_based_assessment,
    size_category,
)

PR_DECREASE_PCT = Decimal(30)
PD_INCREASE_PCT = Decimal(20)


def assess_recist(
    series: PatientSeries,
    ledger: NewLesionLedger,
    options: AssessmentOptions | None = None,
    *,
    metric: Metric = Metric.LONGEST,
    facts: SeriesFacts | None = None,
) -> PatientAssessment:
    """Assess every timepoint of ``series`` under RECIST 1.1 (or mRECIST).

    Parameters
    ----------
    series : PatientSeries
        Baseline first.
    ledger : NewLesionLedger
        New-lesion bookkeeping from :func:`~tumorboard.criteria.new_baseline.build_ledger`.
    options : AssessmentOptions, optional
        Engine switches (continued-PR rule, confirmation, SD duration).
    metric : Metric
        ``LONGEST`` for RECIST 1.1, ``VIABLE`` for mRECIST.

    Returns
    -------
    PatientAssessment
    """
    options = options or AssessmentOptions()
    criteria = Criteria.RECIST11 if metric is Metric.LONGEST else Criteria.MRECIST
    timepoints = series.timepoints
    baseline = timepoints[0]
    facts = facts or SeriesFacts(timepoints)
    targets = facts.targets
    results: list[TimepointAssessment] = []
    has_targets = bool(targets)
    baseline_sum: Decimal | None = None
    if has_targets:
        snapshot = facts.snapshot(0, metric)
        if snapshot.missing:
            return _not_evaluable(series, criteria, snapshot, options)
        baseline_sum = snapshot.sum_mm
    nadir = baseline_sum
    pr_reached = False
    results.append(TimepointAssessment.at_baseline(baseline, criteria, baseline_sum))
    for index in range(1, len(timepoints)):
        timepoint = timepoints[index]
        notes = list(ledger.notes[index])
        non_target = facts.non_target(index)
        finding = ledger.finding(index)
        strict_new = ledger.finding(index, strict=True) is NewLesionFinding.YES
        target: Response | None = None
        versus_baseline: Response | None = None
        versus_nadir: Response | None = None
        total: Decimal | None = None
        change_baseline: Decimal | None = None
        change_nadir: Decimal | None = None
        if baseline_sum is not None and nadir is not None:
            snapshot = facts.snapshot(index, metric)
            total = snapshot.sum_mm
            target = size_category(snapshot, baseline_sum, nadir, PR_DECREASE_PCT, PD_INCREASE_PCT)
            if snapshot.missing:
                names = ", ".join(snapshot.missing)
                notes.append(
                    f"target lesion(s) {names} not evaluated: "
                    + (
                        "measured sum alone meets PD"
                        if target is Response.PD
                        else "result could change, NE"
                    )
                )
            if options.continued_pr and pr_reached and target is Response.SD:
                target = Response.PR
                notes.append("continued PR: partial response holds until progression")
            if not snapshot.missing:
                change_baseline = percent_change(total, baseline_sum)
                change_nadir = percent_change(total, nadir)
            versus_baseline = size_category(
                snapshot, baseline_sum, baseline_sum, PR_DECREASE_PCT, PD_INCREASE_PCT
            )
            versus_nadir = size_category(snapshot, nadir, nadir, PR_DECREASE_PCT, PD_INCREASE_PCT)
            if target in (Response.PR, Response.CR):
                pr_reached = True
            if not snapshot.missing and total < nadir:
                nadir = total
            if snapshot.missing:
                total = None
        results.append(
            size_based_assessment(
                timepoint,
                criteria,
                target_sum_mm=total,
                change_from_baseline_pct=change_baseline,
                change_from_nadir_pct=change_nadir,
                target=target,
                versus_baseline=versus_baseline,
                versus_nadir=versus_nadir,
                non_target=non_target,
                finding=finding,
                strict_new_disease=strict_new,
                new_baseline_lesions=ledger.new_baseline_ids[index],
                notes=tuple(notes),
            )
        )
    return patient_assessment(series, criteria, results, options)


def _not_evaluable(
    series: PatientSeries,
    criteria: Criteria,
    snapshot: TargetSnapshot,
    options: AssessmentOptions,
) -> PatientAssessment:
    """All-NE assessment when the baseline lacks the diameters this criteria needs."""
    note = (
        f"{criteria.display_name}: baseline target(s) {', '.join(snapshot.missing)} lack the "
        "required diameter; not evaluable"
    )
    results = tuple(
        TimepointAssessment(
            timepoint=tp.label,
            date=tp.date,
            criteria=criteria,
            target_sum_mm=None,
            change_from_baseline_pct=None,
            change_from_nadir_pct=None,
            target_response=None if index == 0 else Response.NE,
            non_target_response=None,
            new_lesions=None,
            overall_response=None if index == 0 else Response.NE,
            response_vs_baseline=None if index == 0 else Response.NE,
            response_vs_nadir=None if index == 0 else Response.NE,
            strict_response=None if index == 0 else Response.NE,
            notes=(note,),
        )
        for index, tp in enumerate(series.timepoints)
    )
    return PatientAssessment(
        patient_id=series.patient_id,
        criteria=criteria,
        timepoints=results,
        best_response=Response.NE,
        best_response_timepoint=None,
        notes=(note,),
    )
