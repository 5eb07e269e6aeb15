"""Structural rules a patient's series must meet before any criteria is applied.

RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009) fixes the target lesions at
baseline: at most five, at most two per organ, each measurable -- a non-nodal
lesion with a longest diameter of at least 10 mm (twice the slice thickness
when slices are thicker than 5 mm), a node with a short axis of at least
15 mm. Breaking these is an input error, named by row and rule.

Lymph nodes are one organ (RECIST 1.1, section 4.2: "pathological nodes
... are considered as one organ"): every node -- a row with ``is_node`` true
or an organ text naming a lymph node -- counts toward the same two-target
limit, whatever station the organ text names (:func:`organ_key`).

PET-only targets (a ``pet-*`` row with a SULpeak and no diameter, see
:attr:`~tumorboard.criteria.records.LesionMeasurement.is_pet_only`) are
PERCIST 1.0 target lesions: they are exempt from the diameter rules and
counted apart (at most five per scan, two per organ), and because PERCIST
compares the hottest lesion of each scan, a follow-up may list PET-only
targets that were not listed at baseline.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING

from tumorboard.errors import InputError

if TYPE_CHECKING:
    from tumorboard.criteria.records import LesionMeasurement, PatientSeries, Timepoint

MAX_TARGETS = 5
MAX_TARGETS_PER_ORGAN = 2
MIN_MEASURABLE_MM = Decimal(10)
MIN_MEASURABLE_NODE_SHORT_AXIS_MM = Decimal(15)
NORMAL_NODE_SHORT_AXIS_MM = Decimal(10)
THICK_SLICE_MM = Decimal(5)
#: The organ every lymph node counts toward (RECIST 1.1: nodes are one organ).
LYMPH_NODE_ORGAN = "lymph nodes"
_NODE_TEXT = re.compile(r"\blymph|\bnod(?:e|es|al)\b")


def organ_key(measurement: LesionMeasurement) -> str:
    """The organ a target counts toward for the two-per-organ rule.

    Lymph nodes are one organ in RECIST 1.1 (and PERCIST 1.0): a node, or a
    lesion whose organ text names a lymph node (``"lymph node para-aortic"``,
    ``"mediastinal nodes"``), counts toward :data:`LYMPH_NODE_ORGAN`. Other
    organs are compared by their text, case and outer spaces ignored.

    Examples
    --------
    >>> from tumorboard.criteria.records import LesionMeasurement
    >>> node = LesionMeasurement("N1", "peripancreatic", "target", True, "present")
    >>> station = LesionMeasurement("N2", "Lymph node hilar", "target", False, "present")
    >>> liver = LesionMeasurement("L1", " Liver ", "target", False, "present")
    >>> organ_key(node), organ_key(station), organ_key(liver)
    ('lymph nodes', 'lymph nodes', 'liver')
    """
    organ = measurement.organ.strip().lower()
    if measurement.is_node or _NODE_TEXT.search(organ):
        return LYMPH_NODE_ORGAN
    return organ


def measurability_limit_mm(measurement: LesionMeasurement) -> Decimal:
    """Smallest measurable longest diameter for a non-nodal lesion (RECIST 1.1)."""
    thickness = measurement.slice_thickness_mm
    if thickness is not None and thickness > THICK_SLICE_MM:
        return max(MIN_MEASURABLE_MM, 2 * thickness)
    return MIN_MEASURABLE_MM


def is_measurable(measurement: LesionMeasurement) -> bool:
    """Whether a lesion reading is measurable under RECIST 1.1."""
    if measurement.is_node:
        axis = measurement.short_axis_mm
        return axis is not None and axis >= MIN_MEASURABLE_NODE_SHORT_AXIS_MM
    diameter = measurement.longest_diameter_mm
    return diameter is not None and diameter >= measurability_limit_mm(measurement)


def _row(measurement: LesionMeasurement) -> str:
    return "" if measurement.row is None else f"row {measurement.row}: "


def _first_row(timepoint: Timepoint) -> str:
    rows = [m.row for m in timepoint.measurements if m.row is not None]
    if timepoint.liver_reference is not None and timepoint.liver_reference.row is not None:
        rows.append(timepoint.liver_reference.row)
    return f"row {min(rows)}: " if rows else ""


def check_series(series: PatientSeries) -> None:
    """Raise :class:`InputError` unless ``series`` meets the structural rules.

    Rules: a baseline with at least one target or non-target lesion; unique
    timepoint labels; strictly increasing dates; at most 5 targets and 2 per
    organ, all measurable and present at baseline; no new lesions at
    baseline; nodes with a short axis and other targets with a longest
    diameter whenever they are present; follow-up target and non-target rows
    only for baseline lesions (or fragments of them); a lesion keeps its role.
    PET-only targets need a SULpeak instead of a diameter, are counted apart
    (at most 5 per scan, 2 per organ) and may differ from scan to scan.
    """
    from tumorboard.criteria.records import LesionRole, LesionStatus

    if not series.timepoints:
        raise InputError("no baseline: the patient has no timepoints")
    baseline = series.timepoints[0]
    baseline_lesions = [m for m in baseline.measurements if m.role is not LesionRole.NEW]
    for measurement in baseline.measurements:
        if measurement.role is LesionRole.NEW:
            raise InputError(
                f"{_row(measurement)}rule 'no new lesions at baseline': lesion "
                f"{measurement.lesion_id!r} has role new at the first timepoint "
                f"{baseline.label!r}"
            )
    if not baseline_lesions:
        raise InputError(
            f"{_first_row(baseline)}no baseline: the first timepoint {baseline.label!r} "
            "has no target or non-target lesion"
        )
    if series.pre_baseline is not None and series.pre_baseline.date >= baseline.date:
        raise InputError(
            f"{_first_row(series.pre_baseline)}dates out of order: the pre-baseline scan "
            "is not before the baseline"
        )
    labels: set[str] = set()
    previous: Timepoint | None = None
    for timepoint in series.timepoints:
        if timepoint.label in labels:
            raise InputError(
                f"{_first_row(timepoint)}timepoint label {timepoint.label!r} is used twice"
            )
        labels.add(timepoint.label)
        if previous is not None and timepoint.date <= previous.date:
            raise InputError(
                f"{_first_row(timepoint)}dates out of order: timepoint {timepoint.label!r} is "
                f"not after the preceding timepoint {previous.label!r}"
            )
        previous = timepoint

    targets = [m for m in baseline_lesions if m.role is LesionRole.TARGET]
    anatomical = [m for m in targets if not m.is_pet_only]
    _check_target_counts(anatomical, "target lesions", "targets at baseline")
    for target in anatomical:
        if target.status is not LesionStatus.PRESENT:
            raise InputError(
                f"{_row(target)}rule 'baseline targets are present and measured': status "
                f"{target.status.value!r}"
            )
        if not is_measurable(target):
            if target.is_node:
                raise InputError(
                    f"{_row(target)}rule 'target nodes need a short axis >= "
                    f"{MIN_MEASURABLE_NODE_SHORT_AXIS_MM} mm': got "
                    f"{target.short_axis_mm if target.short_axis_mm is not None else 'none'}"
                )
            received = target.longest_diameter_mm
            raise InputError(
                f"{_row(target)}rule 'target lesions need a longest diameter >= "
                f"{measurability_limit_mm(target)} mm': got "
                f"{received if received is not None else 'none'}"
            )
    for target in targets:
        if target.is_pet_only and target.status is not LesionStatus.PRESENT:
            raise InputError(
                f"{_row(target)}rule 'baseline targets are present and measured': PET "
                f"target {target.lesion_id!r} has status {target.status.value!r}"
            )

    roles = {m.lesion_id: m.role for m in baseline_lesions}
    pet_target_ids: set[str] = set()  # PET-only targets first listed at a follow-up
    for index, timepoint in enumerate(series.timepoints):
        _check_target_counts(
            [m for m in timepoint.measurements if m.role is LesionRole.TARGET and m.is_pet_only],
            "PET target lesions per scan (PERCIST)",
            f"PET-only targets at {timepoint.label!r}",
        )
        for measurement in timepoint.measurements:
            _check_sizes_present(measurement)
            if index == 0:
                continue
            lesion_id = measurement.lesion_id
            role = roles.get(lesion_id)
            if role is None and lesion_id in pet_target_ids:
                if measurement.role is LesionRole.TARGET and measurement.is_pet_only:
                    continue
                raise InputError(
                    f"{_row(measurement)}lesion {lesion_id!r} was a PET-only target at an "
                    f"earlier scan and cannot become a {measurement.role.value} "
                    f"{'lesion' if measurement.role is not LesionRole.TARGET else 'with a size'}"
                    f" at {timepoint.label!r}"
                )
            if measurement.role is LesionRole.NEW:
                if role is not None and role is not LesionRole.NEW:
                    raise InputError(
                        f"{_row(measurement)}lesion {lesion_id!r} changes role from "
                        f"{role.value} to new"
                    )
                roles[lesion_id] = LesionRole.NEW
                continue
            if role is None:
                parent = measurement.part_of
                if parent is not None and roles.get(parent) is measurement.role:
                    continue
                if measurement.role is LesionRole.TARGET and measurement.is_pet_only:
                    # PERCIST compares the hottest lesion of each scan, which need
                    # not be a lesion listed at baseline.
                    pet_target_ids.add(lesion_id)
                    continue
                raise InputError(
                    f"{_row(measurement)}{measurement.role.value} lesion "
                    f"{lesion_id!r} at {timepoint.label!r} is not at baseline "
                    "(lesions appearing later have role new; only PET-only targets may "
                    "differ between scans)"
                )
            if role is not measurement.role:
                raise InputError(
                    f"{_row(measurement)}lesion {lesion_id!r} changes role from "
                    f"{role.value} to {measurement.role.value}"
                )


def _check_target_counts(targets: list[LesionMeasurement], what: str, counted: str) -> None:
    """At most five ``targets`` and at most two per organ (RECIST 1.1 and PERCIST 1.0)."""
    if len(targets) > MAX_TARGETS:
        raise InputError(
            f"{_row(targets[MAX_TARGETS])}rule 'at most {MAX_TARGETS} {what}': "
            f"{len(targets)} {counted}"
        )
    per_organ: Counter[str] = Counter()
    for target in targets:
        organ = organ_key(target)
        per_organ[organ] += 1
        if per_organ[organ] > MAX_TARGETS_PER_ORGAN:
            shown = (
                f"lymph nodes (nodes are one organ; this one is {target.organ!r})"
                if organ == LYMPH_NODE_ORGAN
                else f"organ {target.organ!r}"
            )
            raise InputError(
                f"{_row(target)}rule 'at most {MAX_TARGETS_PER_ORGAN} {what} per organ': "
                f"a third target in {shown}"
            )


def _check_sizes_present(measurement: LesionMeasurement) -> None:
    """Sizes a present reading must carry: SULpeak (PET-only targets), short axis (nodes)."""
    from tumorboard.criteria.records import LesionRole, LesionStatus

    if measurement.status is not LesionStatus.PRESENT:
        return
    target = measurement.role is LesionRole.TARGET
    if measurement.is_pet_only:
        if target and measurement.sul_peak is None:
            raise InputError(
                f"{_row(measurement)}rule 'PET-only targets are measured by their SULpeak': "
                f"target {measurement.lesion_id!r} on {measurement.modality} has no sul_peak "
                "and no diameter"
            )
        return
    if measurement.is_node and measurement.short_axis_mm is None:
        if target or measurement.longest_diameter_mm is not None:
            raise InputError(
                f"{_row(measurement)}rule 'nodes are measured by their short axis': "
                f"{measurement.role.value} node {measurement.lesion_id!r} has no short_axis_mm"
            )
    if target and not measurement.is_node and measurement.longest_diameter_mm is None:
        raise InputError(
            f"{_row(measurement)}rule 'present target lesions have a size': target "
            f"{measurement.lesion_id!r} has no longest_diameter_mm"
        )
