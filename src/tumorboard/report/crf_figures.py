"""Figures of the case-report form: spider, lesion-timeline and waterfall plots.

Turns one patient's records into the per-lesion series the plots need
(:mod:`tumorboard.report.crf_plots` draws them) and returns PNG data URIs
for the document's ``figures`` entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from tumorboard.criteria.decimal_math import percent_change
from tumorboard.criteria.records import (
    Criteria,
    LesionMeasurement,
    LesionStatus,
    PatientAssessment,
    PatientSeries,
)
from tumorboard.criteria.target_sums import TOO_SMALL_MM
from tumorboard.report.crf_deid import Disclosure

_HIDDEN = (LesionStatus.ABSENT, LesionStatus.NOT_EVALUATED)


def lesion_size_mm(m: LesionMeasurement) -> Decimal | None:
    """RECIST size of one reading: short axis of a node, else longest diameter.

    ``absent`` is 0 mm and ``too-small`` 5 mm; ``None`` when not measured.
    """
    if m.status is LesionStatus.ABSENT:
        return Decimal(0)
    if m.status is LesionStatus.TOO_SMALL:
        return TOO_SMALL_MM
    return m.short_axis_mm if m.is_node else m.longest_diameter_mm


def _target_changes(
    series: PatientSeries, targets: Sequence[LesionMeasurement]
) -> tuple[dict[str, list[float | None]], dict[str, float]]:
    """Per-target % change from baseline at every timepoint, and each target's best change."""
    changes: dict[str, list[float | None]] = {}
    best: dict[str, float] = {}
    for target in targets:
        start = lesion_size_mm(target)
        values: list[float | None] = []
        for tp in series.timepoints:
            m = tp.by_id.get(target.lesion_id)
            size = None if m is None else lesion_size_mm(m)
            change = None if size is None or start is None else percent_change(size, start)
            values.append(None if change is None else float(change))
        changes[target.lesion_id] = values
        observed = [v for v in values[1:] if v is not None]
        if observed:
            best[target.lesion_id] = min(observed)
    return changes, best


def _lesion_presence(
    series: PatientSeries, assessments: Sequence[PatientAssessment]
) -> list[tuple[str, str, list[bool]]]:
    """(lesion id, kind, seen at each timepoint) for the lesion timeline."""
    new_baseline = {i for a in assessments for t in a.timepoints for i in t.new_baseline_lesions}
    order: dict[str, str] = {}
    for tp in series.timepoints:
        for m in tp.measurements:
            if m.lesion_id not in order:
                order[m.lesion_id] = "new-baseline" if m.lesion_id in new_baseline else m.role.value
    lesions = []
    for lesion_id, kind in order.items():
        seen = []
        for tp in series.timepoints:
            reading = tp.by_id.get(lesion_id)
            seen.append(reading is not None and reading.status not in _HIDDEN)
        lesions.append((lesion_id, kind, seen))
    return lesions


def crf_figures(
    series: PatientSeries,
    assessments: Sequence[PatientAssessment],
    targets: Sequence[LesionMeasurement],
    disclosure: Disclosure,
) -> dict[str, str]:
    """Spider, timeline and (when any target was re-measured) waterfall plots as data URIs.

    Parameters
    ----------
    series : PatientSeries
        The patient's timepoints.
    assessments : sequence of PatientAssessment
        The patient's assessments (the RECIST 1.1 sum joins the spider plot;
        new baseline lesions are marked on the timeline).
    targets : sequence of LesionMeasurement
        Baseline target readings shown on the spider and waterfall plots.
    disclosure : Disclosure
        Identity handling of the timepoint labels.

    Returns
    -------
    dict of str to str
        ``spider``, ``timeline`` and optionally ``waterfall``.
    """
    from tumorboard.report import crf_plots  # matplotlib loads only when a form has figures

    base = series.baseline
    days = [(tp.date - base.date).days for tp in series.timepoints]
    changes, best = _target_changes(series, targets)
    recist = next((a for a in assessments if a.criteria is Criteria.RECIST11), None)
    if recist is not None:
        changes["sum"] = [
            0.0,
            *(
                None if t.change_from_baseline_pct is None else float(t.change_from_baseline_pct)
                for t in recist.timepoints[1:]
            ),
        ]
    labels = [disclosure.text(tp.label, series.patient_id) for tp in series.timepoints]
    figures = {
        "spider": crf_plots.spider_plot(days, changes),
        "timeline": crf_plots.lesion_timeline_plot(labels, _lesion_presence(series, assessments)),
    }
    if best:
        figures["waterfall"] = crf_plots.waterfall_plot(
            best, "Best change from baseline per target lesion"
        )
    return figures
