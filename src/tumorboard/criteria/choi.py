"""Choi criteria (Choi et al., J Clin Oncol 2007;25:1753-1759) and modified Choi.

Size is the RECIST sum of target diameters; density is the mean of the
target lesions' mean attenuation (HU) on contrast CT.

* CR: all lesions gone, no new lesions.
* PR: size >= 10 % below baseline **or** density >= 15 % below baseline
  (modified Choi, Nathan et al. 2010: size **and** density); no new lesions,
  no unequivocal non-target progression.
* PD: size >= 10 % above the reference (nadir by default, configurable) and
  not a density PR; or new lesions, new intratumoral nodules, unequivocal
  non-target progression.
* SD otherwise.

A necrotising lesion that grows while its density falls is a Choi PR while
RECIST calls it PD: Choi catches response by devascularisation. There is no
absolute millimetre floor for Choi progression.
"""

from __future__ import annotations

from decimal import Decimal

from tumorboard.criteria.best_response import patient_assessment
from tumorboard.criteria.decimal_math import ZERO, change_at_least, change_at_most, percent_change
from tumorboard.criteria.new_baseline import NewLesionLedger
from tumorboard.criteria.options import AssessmentOptions, ProgressionReference
from tumorboard.criteria.records import (
    Criteria,
    LesionMeasurement,
    LesionStatus,
    NewLesionFinding,
    PatientAssessment,
    PatientSeries,
    Response,
    Timepoint,
    TimepointAssessment,
)
from tumorboard.criteria.target_sums import (
    Metric,
    SeriesFacts,
    TargetSnapshot,
    size_based_assessment,
)

SIZE_CHANGE_PCT = Decimal(10)
DENSITY_DECREASE_PCT = Decimal(15)


def mean_density_hu(timepoint: Timepoint, targets: tuple[LesionMeasurement, ...]) -> Decimal | None:
    """Mean of the targets' mean HU at ``timepoint`` (lesions without HU are skipped)."""
    total = ZERO
    count = 0
    for target in targets:
        measurement = timepoint.by_id.get(target.lesion_id)
        if measurement is None or measurement.mean_hu is None:
            continue
        if measurement.status in (LesionStatus.ABSENT, LesionStatus.NOT_EVALUATED):
            continue
        total += measurement.mean_hu
        count += 1
    return total / count if count else None


def _choi_category(
    snapshot: TargetSnapshot,
    size_reference_pr: Decimal,
    size_reference_pd: Decimal,
    density: Decimal | None,
    baseline_density: Decimal | None,
    modified: bool,
    nodule: bool,
) -> Response:
    current = snapshot.sum_mm
    density_pr = (
        density is not None
        and baseline_density is not None
        and baseline_density > ZERO
        and change_at_most(density, baseline_density, -DENSITY_DECREASE_PCT)
    )
    size_pr = change_at_most(current, size_reference_pr, -SIZE_CHANGE_PCT)
    size_pd = change_at_least(current, size_reference_pd, SIZE_CHANGE_PCT)
    if nodule:
        return Response.PD
    if size_pd and not density_pr:
        return Response.PD
    if snapshot.missing:
        return Response.NE
    if snapshot.all_gone:
        return Response.CR
    if (size_pr and density_pr) if modified else (size_pr or density_pr):
        return Response.PR
    return Response.SD


def assess_choi(
    series: PatientSeries,
    ledger: NewLesionLedger,
    options: AssessmentOptions | None = None,
    facts: SeriesFacts | None = None,
) -> PatientAssessment:
    """Assess ``series`` under (modified) Choi.

    Parameters
    ----------
    series : PatientSeries
        Baseline first; targets need ``mean_hu`` for the density rule.
    ledger : NewLesionLedger
        Shared new-lesion bookkeeping.
    options : AssessmentOptions, optional
        ``choi_modified`` and ``choi_pd_reference``.

    Returns
    -------
    PatientAssessment
    """
    options = options or AssessmentOptions()
    modified = options.choi_modified
    use_nadir = options.choi_pd_reference is ProgressionReference.NADIR
    timepoints = series.timepoints
    baseline = timepoints[0]
    facts = facts or SeriesFacts(timepoints)
    targets = facts.targets
    base_snapshot = facts.snapshot(0, Metric.LONGEST)
    baseline_sum = base_snapshot.sum_mm if targets else None
    baseline_density = mean_density_hu(baseline, targets) if targets else None
    results = [
        TimepointAssessment.at_baseline(
            baseline, Criteria.CHOI, baseline_sum, mean_hu=baseline_density
        )
    ]
    nadir = baseline_sum
    series_notes: list[str] = []
    if targets and baseline_density is None:
        series_notes.append("Choi: no mean HU at baseline; density rule not applied")
    for index in range(1, len(timepoints)):
        timepoint = timepoints[index]
        notes = list(ledger.notes[index])
        non_target = facts.non_target(index)
        finding = ledger.finding(index)
        strict_new = ledger.finding(index, strict=True) is NewLesionFinding.YES
        nodule = any(m.intratumoral_nodule for m in timepoint.measurements)
        if nodule:
            notes.append("new or growing intratumoral nodule: Choi progression")
        target: Response | None = None
        versus_baseline: Response | None = None
        versus_nadir: Response | None = None
        total: Decimal | None = None
        change_baseline = change_nadir = change_density = None
        density: Decimal | None = None
        if baseline_sum is not None and nadir is not None:
            snapshot = facts.snapshot(index, Metric.LONGEST)
            density = mean_density_hu(timepoint, targets)
            reference = nadir if use_nadir else baseline_sum
            target = _choi_category(
                snapshot, baseline_sum, reference, density, baseline_density, modified, nodule
            )
            versus_baseline = _choi_category(
                snapshot, baseline_sum, baseline_sum, density, baseline_density, modified, nodule
            )
            versus_nadir = _choi_category(
                snapshot, nadir, nadir, density, baseline_density, modified, nodule
            )
            if density is not None and baseline_density is not None:
                change_density = percent_change(density, baseline_density)
            if snapshot.missing:
                notes.append(f"target lesion(s) {', '.join(snapshot.missing)} not evaluated")
            else:
                total = snapshot.sum_mm
                change_baseline = percent_change(total, baseline_sum)
                change_nadir = percent_change(total, nadir)
                nadir = min(nadir, total)
        results.append(
            size_based_assessment(
                timepoint,
                Criteria.CHOI,
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
                mean_hu=density,
                change_in_hu_pct=change_density,
            )
        )
    return patient_assessment(series, Criteria.CHOI, results, options, tuple(series_notes))
