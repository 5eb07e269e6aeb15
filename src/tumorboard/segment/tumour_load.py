"""Tumour-load segmentation of whole-body DWI.

Steps, in order (each one documented in the result so a reader can curate):

1. threshold the computed high-b image (absolute, or a multiple of the
   background noise SD);
2. optionally keep only voxels inside an ADC window;
3. remove voxels of normal bright structures given by exclusion label maps
   (e.g. an organ segmenter's brain, kidneys, spleen, bowel, spinal cord);
4. label 26-connected components and drop those below a minimum volume;
5. apply a curated keep or remove list of component ids.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from tumorboard.errors import EmptyResultError, InputError
from tumorboard.imaging.volume import Volume
from tumorboard.segment.components import Component, label_components, measure_components

DEFAULT_THRESHOLD = 100.0
DEFAULT_MIN_COMPONENT_ML = 0.5


@dataclass(frozen=True)
class SegmentationOptions:
    """Settings of :func:`segment_tumour_load`.

    Attributes
    ----------
    threshold : float
        Absolute signal threshold on the computed image (``threshold_sd`` unset).
    threshold_sd : float, optional
        When set, the threshold is this multiple of the background noise SD.
    adc_min_um2_per_s, adc_max_um2_per_s : float, optional
        ADC window; voxels outside it are not tumour.
    min_component_ml : float
        Components smaller than this are removed (0 keeps all).
    keep_components, remove_components : frozenset of int
        Curated component ids; a non-empty keep list keeps only those ids
        (even below the minimum volume); the remove list drops ids.
    """

    threshold: float = DEFAULT_THRESHOLD
    threshold_sd: float | None = None
    adc_min_um2_per_s: float | None = None
    adc_max_um2_per_s: float | None = None
    min_component_ml: float = DEFAULT_MIN_COMPONENT_ML
    keep_components: frozenset[int] = field(default_factory=frozenset)
    remove_components: frozenset[int] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not np.isfinite(self.threshold) or self.threshold <= 0:
            raise InputError(f"--threshold must be a positive number, got {self.threshold!r}")
        if self.threshold_sd is not None and (
            not np.isfinite(self.threshold_sd) or self.threshold_sd <= 0
        ):
            raise InputError(
                f"a noise-relative threshold must be a positive multiple, got {self.threshold_sd!r}"
            )
        if not np.isfinite(self.min_component_ml) or self.min_component_ml < 0:
            raise InputError(
                f"--min-volume-ml must be a finite number >= 0 ml, got {self.min_component_ml}"
            )
        low, high = self.adc_min_um2_per_s, self.adc_max_um2_per_s
        for bound in (low, high):
            if bound is not None and not np.isfinite(bound):
                raise InputError(
                    f"--adc-window bounds must be finite numbers (um^2/s), got {low}..{high}"
                )
        if low is not None and high is not None and low >= high:
            raise InputError(f"ADC window must have min < max, got {low:g}..{high:g}")
        overlap = self.keep_components & self.remove_components
        if overlap:
            raise InputError(f"component ids {sorted(overlap)} are both kept and removed")


@dataclass(frozen=True, eq=False)
class TumourSegmentation:
    """Result of :func:`segment_tumour_load`.

    Attributes
    ----------
    mask : ndarray of bool
        Final tumour mask.
    component_labels : ndarray of int32
        Component ids of every candidate voxel (kept or not); 0 elsewhere.
    components : list of Component
        The table, kept and removed.
    threshold : float
        Absolute threshold applied to the computed image.
    noise_sd : float, optional
        Background noise SD when the threshold was noise-relative.
    excluded_voxels : int
        Voxels above threshold removed by the exclusion maps.
    """

    mask: NDArray[np.bool_]
    component_labels: NDArray[np.int32]
    components: list[Component]
    threshold: float
    noise_sd: float | None
    excluded_voxels: int


def segment_tumour_load(
    computed_b: Volume,
    adc_um2_per_s: NDArray[np.floating],
    fitted: NDArray[np.bool_],
    options: SegmentationOptions,
    *,
    exclusion: NDArray[np.bool_] | None = None,
    noise_sd: float | None = None,
) -> TumourSegmentation:
    """Segment active disease on a computed high-b image.

    Parameters
    ----------
    computed_b : Volume
        Computed high-b image.
    adc_um2_per_s : ndarray
        ADC map on the same grid.
    fitted : ndarray of bool
        Voxels the ADC fit used (others are never tumour).
    options : SegmentationOptions
        Thresholds, window, minimum volume and curation.
    exclusion : ndarray of bool, optional
        Normal structures to remove (already filtered by label).
    noise_sd : float, optional
        Background noise SD; required when ``options.threshold_sd`` is set.

    Returns
    -------
    TumourSegmentation

    Raises
    ------
    EmptyResultError
        When nothing is left (the message says which step emptied it).
    InputError
        For curated ids that do not exist.
    """
    threshold = options.threshold
    if options.threshold_sd is not None:
        if noise_sd is None:
            raise InputError("a noise-relative threshold needs a background noise estimate")
        threshold = options.threshold_sd * noise_sd
    candidate = (computed_b.array >= threshold) & fitted
    if not candidate.any():
        raise EmptyResultError(
            f"empty segmentation: no voxel of the computed image reaches the threshold "
            f"{threshold:g} (max {float(computed_b.array.max()):g})"
        )
    if options.adc_min_um2_per_s is not None:
        candidate &= adc_um2_per_s >= options.adc_min_um2_per_s
    if options.adc_max_um2_per_s is not None:
        candidate &= adc_um2_per_s <= options.adc_max_um2_per_s
    if not candidate.any():
        raise EmptyResultError(
            "empty segmentation: no voxel above threshold is inside the ADC window"
        )
    excluded = 0
    if exclusion is not None:
        removed = candidate & exclusion
        excluded = int(removed.sum())
        candidate &= ~exclusion
        if not candidate.any():
            raise EmptyResultError(
                "empty segmentation: every voxel above threshold lies in the exclusion mask"
            )
    labels, count = label_components(candidate)
    components = measure_components(labels, count, computed_b, adc_um2_per_s)
    components = _curate(components, options)
    kept_ids = np.array([c.component_id for c in components if c.kept], dtype=np.int32)
    if kept_ids.size == 0:
        raise EmptyResultError(
            f"empty segmentation: all {count} components were removed by the minimum volume "
            f"({options.min_component_ml:g} ml) or the curation list"
        )
    keep_lookup = np.zeros(count + 1, dtype=bool)
    keep_lookup[kept_ids] = True
    mask = keep_lookup[labels]
    return TumourSegmentation(
        mask=mask,
        component_labels=labels,
        components=components,
        threshold=float(threshold),
        noise_sd=noise_sd if options.threshold_sd is not None else None,
        excluded_voxels=excluded,
    )


def _curate(components: list[Component], options: SegmentationOptions) -> list[Component]:
    known = {c.component_id for c in components}
    unknown = (options.keep_components | options.remove_components) - known
    if unknown:
        raise InputError(
            f"curated component ids {sorted(unknown)} do not exist (ids 1..{len(components)})"
        )
    curated: list[Component] = []
    for component in components:
        kept, reason = True, ""
        if options.keep_components:
            if component.component_id not in options.keep_components:
                kept, reason = False, "curated"
        elif component.volume_ml < options.min_component_ml:
            kept, reason = False, "min-volume"
        if component.component_id in options.remove_components:
            kept, reason = False, "curated"
        curated.append(_with_status(component, kept, reason))
    return curated


def _with_status(component: Component, kept: bool, reason: str) -> Component:
    return replace(component, kept=kept, reason=reason)


def exclusion_from_labels(
    label_maps: Sequence[NDArray[np.integer]], selected: Collection[int] | None
) -> NDArray[np.bool_]:
    """Boolean exclusion mask from one or more label maps on one grid.

    Parameters
    ----------
    label_maps : sequence of ndarray of int
        Label maps (0 = background), e.g. an organ segmenter's output.
    selected : collection of int, optional
        Labels to exclude; ``None`` excludes every non-zero label.

    Raises
    ------
    InputError
        If a selected label occurs in none of the maps.
    """
    exclusion = np.zeros(label_maps[0].shape, dtype=bool)
    present: set[int] = set()
    for labels in label_maps:
        if selected is None:
            exclusion |= labels != 0
        else:
            present.update(int(v) for v in np.unique(labels))
            exclusion |= np.isin(labels, list(selected))
    if selected is not None:
        missing = sorted(set(selected) - present)
        if missing:
            shown = ",".join(str(v) for v in sorted(present - {0})) or "none"
            raise InputError(
                f"--exclude-labels {','.join(map(str, missing))} not found in the exclusion "
                f"mask (labels present: {shown})"
            )
    return exclusion
