"""Sums of target-lesion diameters and the per-category RECIST-style rules.

Shared by RECIST 1.1, iRECIST, Choi and mRECIST, which differ in which
diameter they sum (:class:`Metric`) and in their thresholds.

Only lesions with an anatomical size take part: PET-only baseline lesions
(a ``pet-*`` row without diameters) belong to PERCIST, so a patient whose
lesions are all PET-only has no target or non-target disease here (NE).

Lesion values (RECIST 1.1): a node counts its short axis, another lesion its
longest (or, for mRECIST, viable) diameter; ``absent`` is 0 mm,
``too-small`` is 5 mm, ``not-evaluated`` or a missing row is unknown. A
split lesion is the sum of its fragments (rows whose ``part_of`` names it);
a lesion merged into another (its own row has ``part_of``) counts 0 mm.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from tumorboard.criteria.baseline_rules import NORMAL_NODE_SHORT_AXIS_MM
from tumorboard.criteria.decimal_math import ZERO, change_at_least, change_at_most
from tumorboard.criteria.records import (
    Criteria,
    LesionMeasurement,
    LesionRole,
    LesionStatus,
    NewLesionFinding,
    Response,
    Timepoint,
    TimepointAssessment,
)

TOO_SMALL_MM = Decimal(5)
PD_MIN_INCREASE_MM = Decimal(5)


class Metric(Enum):
    """Which diameter of a non-nodal lesion is summed."""

    LONGEST = "longest"
    VIABLE = "viable"


@dataclass(frozen=True, slots=True)
class TargetSnapshot:
    """Target lesions at one timepoint.

    Attributes
    ----------
    sum_mm : Decimal
        Sum over the evaluated targets (a lower bound when ``missing``).
    missing : tuple of str
        Targets not evaluated or without a row.
    all_gone : bool
        Non-nodal targets 0 mm and nodal short axes below 10 mm.
    """

    sum_mm: Decimal
    missing: tuple[str, ...]
    all_gone: bool


def _value(measurement: LesionMeasurement, metric: Metric, merged: bool) -> Decimal | None:
    if merged:
        return ZERO
    status = measurement.status
    if status is LesionStatus.ABSENT:
        return ZERO
    if status is LesionStatus.NOT_EVALUATED:
        return None
    if status is LesionStatus.TOO_SMALL:
        return TOO_SMALL_MM
    if measurement.is_node:
        return measurement.short_axis_mm
    if metric is Metric.LONGEST:
        return measurement.longest_diameter_mm
    return measurement.viable_diameter_mm


def target_snapshot(
    timepoint: Timepoint,
    targets: tuple[LesionMeasurement, ...],
    target_ids: frozenset[str],
    metric: Metric,
) -> TargetSnapshot:
    """Sum the baseline ``targets`` as read at ``timepoint``.

    Parameters
    ----------
    timepoint : Timepoint
        The timepoint to read.
    targets : tuple of LesionMeasurement
        The baseline target readings (their ids and node flags).
    target_ids : frozenset of str
        Their ids (to tell split fragments from merged targets).
    metric : Metric
        Diameter of non-nodal lesions.
    """
    total = ZERO
    missing: list[str] = []
    all_gone = True
    by_id = timepoint.by_id
    fragments = timepoint.fragments
    for target in targets:
        lesion_id = target.lesion_id
        own = by_id.get(lesion_id)
        parts = fragments.get(lesion_id, ())
        if own is None and not parts:
            missing.append(lesion_id)
            continue
        lesion_total = ZERO
        known = True
        if own is not None:
            value = _value(own, metric, own.part_of is not None)
            if value is None:
                known = False
            else:
                lesion_total += value
        for part in parts:
            if part.lesion_id in target_ids:
                continue  # a merged target, counted 0 under its own id
            value = _value(part, metric, False)
            if value is None:
                known = False
            else:
                lesion_total += value
        if not known:
            missing.append(lesion_id)
            continue
        total += lesion_total
        if target.is_node:
            if lesion_total >= NORMAL_NODE_SHORT_AXIS_MM:
                all_gone = False
        elif lesion_total != ZERO:
            all_gone = False
    return TargetSnapshot(sum_mm=total, missing=tuple(missing), all_gone=all_gone and not missing)


def baseline_targets(timepoint: Timepoint) -> tuple[LesionMeasurement, ...]:
    """The size-measured target lesions of a baseline timepoint, in row order.

    PET-only targets (SULpeak, no diameter) are PERCIST's and not listed.
    """
    return tuple(
        m for m in timepoint.measurements if m.role is LesionRole.TARGET and not m.is_pet_only
    )


def baseline_non_targets(timepoint: Timepoint) -> tuple[LesionMeasurement, ...]:
    """The non-target lesions of a baseline timepoint seen on anatomical imaging, in row order.

    PET-only non-targets are left to PERCIST: a size-based criteria cannot
    follow a lesion it never saw.
    """
    return tuple(
        m for m in timepoint.measurements if m.role is LesionRole.NON_TARGET and not m.is_pet_only
    )


def pet_only_lesions(timepoint: Timepoint) -> tuple[str, ...]:
    """Ids of the baseline target and non-target lesions read on PET only."""
    return tuple(
        m.lesion_id
        for m in timepoint.measurements
        if m.role is not LesionRole.NEW and m.is_pet_only
    )


def is_progression(
    current: Decimal,
    reference: Decimal,
    percent: Decimal,
    min_increase_mm: Decimal = PD_MIN_INCREASE_MM,
) -> bool:
    """Increase of at least ``percent`` % and at least ``min_increase_mm`` over ``reference``."""
    return current - reference >= min_increase_mm and change_at_least(current, reference, percent)


def size_category(
    snapshot: TargetSnapshot,
    pr_reference: Decimal,
    pd_reference: Decimal,
    pr_percent: Decimal,
    pd_percent: Decimal,
    min_increase_mm: Decimal = PD_MIN_INCREASE_MM,
) -> Response:
    """CR / PR / SD / PD / NE of the target sum (RECIST-style thresholds).

    Missing targets give NE unless the evaluated ones alone already meet
    progression (adding unknown non-negative sizes cannot undo it).
    """
    current = snapshot.sum_mm
    if is_progression(current, pd_reference, pd_percent, min_increase_mm):
        return Response.PD
    if snapshot.missing:
        return Response.NE
    if snapshot.all_gone:
        return Response.CR
    if change_at_most(current, pr_reference, -pr_percent):
        return Response.PR
    return Response.SD


def non_target_response(
    timepoint: Timepoint, non_targets: tuple[LesionMeasurement, ...]
) -> Response | None:
    """Non-target response: CR, NON-CR/NON-PD, PD (unequivocal progression) or NE.

    ``None`` when the patient has no non-target lesions. Nodes count as
    resolved when absent or below 10 mm short axis.
    """
    if not non_targets:
        return None
    progression = False
    missing = False
    all_gone = True
    by_id = timepoint.by_id
    for baseline in non_targets:
        measurement = by_id.get(baseline.lesion_id)
        if measurement is None or measurement.status is LesionStatus.NOT_EVALUATED:
            missing = True
            continue
        status = measurement.status
        if status is LesionStatus.UNEQUIVOCAL_PROGRESSION:
            progression = True
        elif status is LesionStatus.ABSENT or measurement.part_of is not None:
            continue
        elif (
            baseline.is_node
            and measurement.short_axis_mm is not None
            and measurement.short_axis_mm < NORMAL_NODE_SHORT_AXIS_MM
        ):
            continue
        else:
            all_gone = False
    if progression:
        return Response.PD
    if missing:
        return Response.NE
    return Response.CR if all_gone else Response.NON_CR_NON_PD


def overall_response(
    target: Response | None, non_target: Response | None, new_lesions: bool
) -> Response:
    """RECIST 1.1 overall response tables (with and without target disease).

    Parameters
    ----------
    target : Response or None
        Target response, ``None`` for a patient without target lesions.
    non_target : Response or None
        Non-target response, ``None`` without non-target lesions.
    new_lesions : bool
        Unequivocal new disease.
    """
    if target is Response.PD or non_target is Response.PD or new_lesions:
        return Response.PD
    if target is None:
        if non_target is Response.CR:
            return Response.CR
        if non_target is Response.NON_CR_NON_PD:
            return Response.NON_CR_NON_PD
        return Response.NE
    if target is Response.NE:
        return Response.NE
    if target is Response.CR:
        return Response.CR if non_target in (None, Response.CR) else Response.PR
    return target


def size_based_assessment(
    timepoint: Timepoint,
    criteria: Criteria,
    *,
    target_sum_mm: Decimal | None,
    change_from_baseline_pct: Decimal | None,
    change_from_nadir_pct: Decimal | None,
    target: Response | None,
    versus_baseline: Response | None,
    versus_nadir: Response | None,
    non_target: Response | None,
    finding: NewLesionFinding,
    strict_new_disease: bool,
    new_baseline_lesions: tuple[str, ...],
    notes: tuple[str, ...],
    mean_hu: Decimal | None = None,
    change_in_hu_pct: Decimal | None = None,
) -> TimepointAssessment:
    """One follow-up row of a size-based criteria (RECIST 1.1, mRECIST, Choi).

    The target categories (against the criteria's reference, the baseline and
    the nadir) are combined with the non-target response and new disease
    through the RECIST 1.1 overall-response tables; the strict reading counts
    the new baseline lesions of a newly used modality as new disease.
    """
    new_disease = finding is NewLesionFinding.YES
    overall = overall_response(target, non_target, new_disease)
    strict = (
        overall_response(target, non_target, strict_new_disease) if strict_new_disease else overall
    )
    return TimepointAssessment(
        timepoint=timepoint.label,
        date=timepoint.date,
        criteria=criteria,
        target_sum_mm=target_sum_mm,
        change_from_baseline_pct=change_from_baseline_pct,
        change_from_nadir_pct=change_from_nadir_pct,
        target_response=target,
        non_target_response=non_target,
        new_lesions=finding,
        overall_response=overall,
        response_vs_baseline=overall_response(versus_baseline, non_target, new_disease),
        response_vs_nadir=overall_response(versus_nadir, non_target, new_disease),
        strict_response=strict,
        mean_hu=mean_hu,
        change_in_hu_pct=change_in_hu_pct,
        new_baseline_lesions=new_baseline_lesions,
        notes=notes,
    )


class SeriesFacts:
    """Per-patient values shared by several criteria, computed once on first use.

    RECIST 1.1, iRECIST and Choi read the same target sums and non-target
    responses; the engine builds one ``SeriesFacts`` per patient and passes
    it to each criteria (a plain slotted class: it is a cache, not a record).
    """

    __slots__ = ("_non_target", "_snapshots", "non_targets", "target_ids", "targets", "timepoints")

    def __init__(self, timepoints: tuple[Timepoint, ...]) -> None:
        self.timepoints = timepoints
        self.targets = baseline_targets(timepoints[0])
        self.target_ids = frozenset(t.lesion_id for t in self.targets)
        self.non_targets = baseline_non_targets(timepoints[0])
        self._snapshots: dict[tuple[int, bool], TargetSnapshot] = {}
        self._non_target: dict[int, Response | None] = {}

    def snapshot(self, index: int, metric: Metric) -> TargetSnapshot:
        """Target snapshot of timepoint ``index`` under ``metric``."""
        key = (index, metric is Metric.LONGEST)
        found = self._snapshots.get(key)
        if found is None:
            found = target_snapshot(self.timepoints[index], self.targets, self.target_ids, metric)
            self._snapshots[key] = found
        return found

    def non_target(self, index: int) -> Response | None:
        """Non-target response at timepoint ``index``."""
        if index in self._non_target:
            return self._non_target[index]
        found = non_target_response(self.timepoints[index], self.non_targets)
        self._non_target[index] = found
        return found
