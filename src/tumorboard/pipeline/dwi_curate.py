"""Re-curate an assessed WB-DWI exam from its stored maps, without fitting again.

The reading room keeps or removes candidate components of an exam that
``tumorboard run`` assessed. Everything a curation changes is computed here by
the functions that own it — the segmentation and its curation rules
(:func:`tumorboard.segment.tumour_load.segment_tumour_load`), the ADC
statistics and histogram (:mod:`tumorboard.lesions.adc_histogram`), the
response classes (:func:`tumorboard.dwi.response_classes.classify_response`)
and the ``summary.json`` (:func:`tumorboard.pipeline.dwi_assess.summary_payload`)
— from what the run stored: the ADC map, the computed high-b image, the map
of candidate component ids and the exam's ``summary.json`` (its settings and
reference). The segmentation is run again on the stored candidate voxels
(the fit is not repeated), and it must reproduce the stored component ids, so
a curated exam has the numbers ``dwi assess`` gives with the same keep and
remove lists.

The only part rebuilt rather than stored is the fit's log S0 (used by the
plausibility flags to find the body), recovered from the stored maps as
``ln(computed_b) + b·ADC``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tumorboard.dwi.adc import UM2_PER_S_PER_MM2_PER_S, AdcFit
from tumorboard.dwi.response_classes import ClassBounds, classify_response
from tumorboard.errors import InputError
from tumorboard.imaging.volume import Volume
from tumorboard.lesions.adc_histogram import AdcHistogram, adc_histogram, adc_statistics
from tumorboard.pipeline.dwi_assess import (
    ExamAssessment,
    ExamName,
    ExclusionSource,
    ReferenceExam,
)
from tumorboard.segment.tumour_load import (
    DEFAULT_THRESHOLD,
    SegmentationOptions,
    TumourSegmentation,
    segment_tumour_load,
)

__all__ = [
    "CurationLists",
    "StoredExamMaps",
    "curate_exam",
    "default_kept_components",
    "kept_histogram",
    "resolve_curation",
]


@dataclass(frozen=True, eq=False)
class StoredExamMaps:
    """What ``tumorboard run`` stored for one WB-DWI exam.

    Attributes
    ----------
    summary : mapping
        The exam's ``summary.json`` (settings, reference, component table).
    adc : Volume
        ``adc.nii.gz``: ADC in um^2/s, 0 where not fitted.
    computed_b : Volume
        ``computed_b.nii.gz``: the computed high-b image.
    components : Volume
        ``components.nii.gz``: candidate component ids (int), 0 elsewhere.
    """

    summary: Mapping[str, Any]
    adc: Volume
    computed_b: Volume
    components: Volume


@dataclass(frozen=True)
class CurationLists:
    """The keep and remove lists of :class:`SegmentationOptions` for one curation.

    ``keep`` non-empty keeps only those ids (even below the minimum volume);
    ``remove`` drops ids from what the minimum volume keeps.

    Examples
    --------
    >>> CurationLists(frozenset(), frozenset({3})).as_settings()
    {'remove_components': [3]}
    >>> CurationLists(frozenset(), frozenset()).as_settings()
    {}
    """

    keep: frozenset[int]
    remove: frozenset[int]

    def as_settings(self) -> dict[str, list[int]]:
        """The lists as analysis settings (empty lists left out)."""
        settings: dict[str, list[int]] = {}
        if self.keep:
            settings["keep_components"] = sorted(self.keep)
        if self.remove:
            settings["remove_components"] = sorted(self.remove)
        return settings


def resolve_curation(default_kept: Collection[int], kept: Collection[int]) -> CurationLists:
    """The keep/remove lists under which exactly ``kept`` is kept.

    Parameters
    ----------
    default_kept : collection of int
        Ids the segmentation keeps without curation (those reaching the
        minimum volume).
    kept : collection of int
        Ids the reader wants kept.

    Returns
    -------
    CurationLists
        A remove list when ``kept`` only drops default components (the
        common case, readable in the settings), else a keep list.

    Examples
    --------
    >>> resolve_curation({1, 2, 3}, {1, 3})
    CurationLists(keep=frozenset(), remove=frozenset({2}))
    >>> resolve_curation({1, 2, 3}, {1, 2, 3, 4})
    CurationLists(keep=frozenset({1, 2, 3, 4}), remove=frozenset())
    """
    kept_set, default = frozenset(kept), frozenset(default_kept)
    if kept_set <= default:
        return CurationLists(frozenset(), default - kept_set)
    return CurationLists(kept_set, frozenset())


def _options(settings: Mapping[str, Any], lists: CurationLists) -> SegmentationOptions:
    window = settings.get("adc_window_um2_per_s") or [None, None]
    threshold = settings.get("threshold")
    return SegmentationOptions(
        threshold=float(threshold) if threshold is not None else DEFAULT_THRESHOLD,
        threshold_sd=settings.get("threshold_sd"),
        adc_min_um2_per_s=window[0],
        adc_max_um2_per_s=window[1],
        min_component_ml=float(settings["min_component_ml"]),
        keep_components=lists.keep,
        remove_components=lists.remove,
    )


def _segment(maps: StoredExamMaps, lists: CurationLists) -> TumourSegmentation:
    summary = maps.summary
    labels = np.asarray(maps.components.array)
    options = _options(summary["settings"], lists)
    segmentation = segment_tumour_load(
        maps.computed_b,
        np.asarray(maps.adc.array, dtype=np.float32),
        labels > 0,
        options,
        noise_sd=summary.get("noise_sd"),
    )
    if not np.array_equal(segmentation.component_labels, labels):
        raise InputError(
            "the stored WB-DWI maps of this exam do not reproduce its components; run "
            "'tumorboard run' again"
        )
    return replace(segmentation, excluded_voxels=int(summary.get("excluded_voxels", 0)))


def default_kept_components(maps: StoredExamMaps) -> frozenset[int]:
    """Ids the segmentation keeps without any curation (those reaching the minimum volume)."""
    segmentation = _segment(maps, CurationLists(frozenset(), frozenset()))
    return frozenset(c.component_id for c in segmentation.components if c.kept)


def _reference(summary: Mapping[str, Any]) -> ReferenceExam | None:
    reference = summary.get("reference")
    if not reference:
        return None
    return ReferenceExam(
        total_diffusion_volume_ml=float(reference["total_diffusion_volume_ml"]),
        adc_median_um2_per_s=float(reference["adc_median_um2_per_s"]),
        adc_p95_um2_per_s=float(reference["adc_p95_um2_per_s"]),
        name=ExamName(reference.get("label") or "", reference.get("date")),
    )


def _exclusion_source(settings: Mapping[str, Any]) -> ExclusionSource | None:
    exclusion = settings.get("exclusion")
    if exclusion is None:
        return None
    labels = exclusion.get("labels")
    return ExclusionSource(
        sha256=tuple(exclusion.get("files_sha256") or ()),
        labels=None if not isinstance(labels, list) else tuple(int(v) for v in labels),
    )


def _rebuilt_fit(maps: StoredExamMaps) -> AdcFit:
    settings = maps.summary["settings"]
    adc_um2 = np.asarray(maps.adc.array, dtype=np.float64)
    computed = np.asarray(maps.computed_b.array, dtype=np.float64)
    fitted = (computed > 0) | (adc_um2 != 0)
    log_s0 = np.full(adc_um2.shape, -np.inf, dtype=np.float32)
    positive = computed > 0
    b = float(maps.summary["computed_b_s_per_mm2"])
    log_s0[positive] = np.log(computed[positive]) + b * adc_um2[positive] / UM2_PER_S_PER_MM2_PER_S
    return AdcFit(
        adc_mm2_per_s=np.asarray(adc_um2 / UM2_PER_S_PER_MM2_PER_S, dtype=np.float32),
        log_s0=log_s0,
        fitted=fitted,
        b_values_s_per_mm2=tuple(float(v) for v in settings["adc_fit_b_values_s_per_mm2"]),
        noise_floor=float(settings["noise_floor"]),
    )


def curate_exam(maps: StoredExamMaps, lists: CurationLists) -> ExamAssessment:
    """Assess a stored exam again under a keep/remove curation.

    Parameters
    ----------
    maps : StoredExamMaps
        The exam's stored maps and summary.
    lists : CurationLists
        The keep and remove lists (:func:`resolve_curation`).

    Returns
    -------
    ExamAssessment
        Pass it to :func:`tumorboard.pipeline.dwi_assess.summary_payload` for
        the curated ``summary.json``.

    Raises
    ------
    InputError
        Unknown component ids, or stored maps that do not reproduce the
        stored components.
    EmptyResultError
        When the curation removes every component.

    Examples
    --------
    >>> import numpy as np
    >>> from tumorboard.imaging.volume import Volume
    >>> labels = np.zeros((1, 4, 8), np.int32); labels[0, 1:3, 1:3] = 1; labels[0, 1:3, 5:7] = 2
    >>> grid = Volume(labels, spacing_mm=(10.0, 10.0, 10.0))
    >>> ramp = np.arange(labels.size, dtype=np.float32).reshape(labels.shape)
    >>> adc = grid.with_array(np.where(labels > 0, 800.0 + 10 * ramp, 0.0).astype(np.float32))
    >>> computed = grid.with_array(np.where(labels > 0, 500.0, 0.0).astype(np.float32))
    >>> settings = {"threshold": 100.0, "threshold_sd": None, "min_component_ml": 0.5,
    ...             "adc_window_um2_per_s": [None, None], "noise_floor": 1.0,
    ...             "adc_fit_b_values_s_per_mm2": [50.0, 900.0], "adc_fit_weighted": False,
    ...             "min_b_s_per_mm2": 0.0, "exclusion": None}
    >>> summary = {"settings": settings, "computed_b_s_per_mm2": 1000.0,
    ...            "b_values_s_per_mm2": [50.0, 900.0], "noise_sd": None, "excluded_voxels": 0}
    >>> maps = StoredExamMaps(summary, adc, computed, grid.with_array(labels))
    >>> curate_exam(maps, CurationLists(frozenset(), frozenset())).total_diffusion_volume_ml
    8.0
    >>> curate_exam(maps, CurationLists(frozenset(), frozenset({2}))).total_diffusion_volume_ml
    4.0
    """
    summary = maps.summary
    settings = summary["settings"]
    segmentation = _segment(maps, lists)
    adc_um2 = np.asarray(maps.adc.array, dtype=np.float32)
    tumour_adc = adc_um2[segmentation.mask]
    statistics = adc_statistics(tumour_adc)
    reference = _reference(summary)
    bounds = ClassBounds(
        yellow_lower_um2_per_s=reference.adc_p95_um2_per_s if reference else statistics.p95
    )
    classes = classify_response(adc_um2, segmentation.mask, bounds)
    options = _options(settings, lists)
    source = _exclusion_source(settings)
    return ExamAssessment(
        b_values_s_per_mm2=tuple(float(b) for b in summary["b_values_s_per_mm2"]),
        computed_b_s_per_mm2=float(summary["computed_b_s_per_mm2"]),
        adc=maps.adc.with_array(adc_um2, unit="um2/s"),
        computed_b=maps.computed_b,
        segmentation=segmentation,
        statistics=statistics,
        histogram=adc_histogram(tumour_adc),
        classes=maps.adc.with_array(classes, unit="label"),
        class_bounds=bounds,
        reference=reference,
        fit=_rebuilt_fit(maps),
        options=options,
        weighted=bool(settings.get("adc_fit_weighted", False)),
        min_b_s_per_mm2=float(settings.get("min_b_s_per_mm2", 0.0)),
        exclusion_given=settings.get("exclusion") is not None,
        exclusion_source=source,
    )


def kept_histogram(maps: StoredExamMaps, kept: Collection[int]) -> AdcHistogram:
    """The tumour ADC histogram of the kept components of a stored exam.

    Examples
    --------
    >>> import numpy as np
    >>> from tumorboard.imaging.volume import Volume
    >>> labels = np.array([[[1, 1, 0, 2]]], np.int32)
    >>> grid = Volume(labels, spacing_mm=(1.0, 1.0, 1.0))
    >>> adc = grid.with_array(np.array([[[810.0, 820.0, 0.0, 1900.0]]], np.float32))
    >>> maps = StoredExamMaps({}, adc, adc, grid)
    >>> int(kept_histogram(maps, [1]).counts.sum())
    2
    """
    labels = np.asarray(maps.components.array)
    mask: NDArray[np.bool_] = np.isin(labels, np.fromiter(kept, dtype=np.int64)) & (labels > 0)
    return adc_histogram(np.asarray(maps.adc.array, dtype=np.float32)[mask])
