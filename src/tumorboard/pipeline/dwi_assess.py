"""Whole-body DWI tumour-load assessment of one exam.

:func:`assess_exam` runs the science on images already read (ADC fit,
computed high-b image, segmentation, components, histogram, response classes)
and returns an :class:`ExamAssessment`; :func:`write_assessment` writes the
contract outputs of ``tumorboard dwi assess`` into a directory. Reading files
and parsing arguments belong to the caller (CLI or demo).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tumorboard import __version__
from tumorboard.dwi.adc import (
    AdcFit,
    check_signal_decays,
    computed_b_image,
    fit_adc,
    image_name,
)
from tumorboard.dwi.noise import background_noise_sd
from tumorboard.dwi.response_classes import ClassBounds, ResponseClass, classify_response
from tumorboard.errors import InputError
from tumorboard.imaging.input_limits import load_json_file
from tumorboard.imaging.nifti import write_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.lesions.adc_histogram import (
    AdcHistogram,
    AdcStatistics,
    adc_histogram,
    adc_statistics,
)
from tumorboard.privacy import write_csv
from tumorboard.segment.components import LargestComponent, largest_component
from tumorboard.segment.tumour_load import (
    SegmentationOptions,
    TumourSegmentation,
    segment_tumour_load,
)

DEFAULT_COMPUTED_B_S_PER_MM2 = 1000.0


@dataclass(frozen=True)
class ExamName:
    """How an exam is named wherever its numbers appear: a label and the exam date.

    Attributes
    ----------
    label : str
        Reader's label (``"exam 1"``, ``"baseline"``); may be empty.
    date : str or None
        Exam date, ISO ``YYYY-MM-DD``.

    Examples
    --------
    >>> ExamName("exam 4", "2025-03-10").text
    'exam 4 (2025-03-10)'
    >>> ExamName("", None).text
    'reference exam'
    """

    label: str = ""
    date: str | None = None

    def __post_init__(self) -> None:
        if self.date is not None:
            try:
                dt.date.fromisoformat(self.date)
            except (TypeError, ValueError):
                raise InputError(
                    f"exam date must be ISO YYYY-MM-DD, got {self.date!r}"[:200]
                ) from None

    @property
    def text(self) -> str:
        """``label (date)``, or whichever of the two is known."""
        if self.label and self.date:
            return f"{self.label} ({self.date})"
        return self.label or self.date or "reference exam"

    def as_json(self) -> dict[str, str | None]:
        """The ``exam`` block of ``summary.json``."""
        return {"label": self.label, "date": self.date}

    @classmethod
    def from_json(cls, value: object, where: str) -> ExamName | None:
        """Read an ``exam`` block (None when the summary predates it)."""
        if value is None:
            return None
        if not isinstance(value, dict):
            raise InputError(f"{where}: exam must be an object with label and date")
        label, date = value.get("label", ""), value.get("date")
        if not isinstance(label, str) or not (date is None or isinstance(date, str)):
            raise InputError(f"{where}: exam label and date must be text")
        try:
            return cls(label, date)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class ExclusionSource:
    """Where the exclusion mask came from, recorded in ``summary.json`` settings.

    Attributes
    ----------
    sha256 : tuple of str
        SHA-256 of each exclusion file, in the order given.
    labels : tuple of int or None
        Labels removed; None means every non-zero label.
    """

    sha256: tuple[str, ...] = ()
    labels: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ReferenceExam:
    """What a follow-up needs from its reference (pre-treatment) exam.

    Attributes
    ----------
    total_diffusion_volume_ml : float
        Reference tumour volume.
    adc_median_um2_per_s : float
        Reference median tumour ADC.
    adc_p95_um2_per_s : float
        Reference 95th-centile tumour ADC: the yellow class's lower bound.
    """

    total_diffusion_volume_ml: float
    adc_median_um2_per_s: float
    adc_p95_um2_per_s: float
    name: ExamName | None = None

    def __post_init__(self) -> None:
        for name in ("total_diffusion_volume_ml", "adc_median_um2_per_s", "adc_p95_um2_per_s"):
            value = getattr(self, name)
            try:  # numpy refuses ints beyond int64; beyond float range there is no number
                finite = math.isfinite(value)
            except (OverflowError, TypeError):
                finite = False
            if not finite or value <= 0:
                raise InputError(f"reference {name} must be a positive number, got {value!r}")

    @classmethod
    def from_summary_json(cls, path: str | os.PathLike[str]) -> ReferenceExam:
        """Read a previous exam's ``summary.json``.

        Raises
        ------
        InputError
            If the file is missing, not JSON, or lacks a required field.
        """
        path = Path(path)
        payload = load_json_file(path, what="reference summary")  # size/depth/number limits
        try:
            adc = payload["adc_um2_per_s"]
            values = (payload["total_diffusion_volume_ml"], adc["median"], adc["p95"])
            if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
                raise InputError(
                    "total_diffusion_volume_ml and adc_um2_per_s median and p95 must be numbers"
                )
            return cls(
                total_diffusion_volume_ml=float(values[0]),
                adc_median_um2_per_s=float(values[1]),
                adc_p95_um2_per_s=float(values[2]),
                name=ExamName.from_json(payload.get("exam"), "exam"),
            )
        except InputError as exc:
            raise InputError(f"reference summary {path}: {exc}") from None
        except (KeyError, TypeError) as exc:
            raise InputError(
                f"reference summary {path}: missing field {exc} (expected the summary.json "
                "of a previous 'tumorboard dwi assess')"
            ) from None
        except ValueError as exc:
            raise InputError(f"reference summary {path}: {exc}") from None

    @classmethod
    def from_assessment(
        cls, assessment: ExamAssessment, name: ExamName | None = None
    ) -> ReferenceExam:
        """Use an assessment made in the same run as the reference (named ``name``)."""
        return cls(
            total_diffusion_volume_ml=assessment.total_diffusion_volume_ml,
            adc_median_um2_per_s=assessment.statistics.median,
            adc_p95_um2_per_s=assessment.statistics.p95,
            name=name,
        )


@dataclass(frozen=True, eq=False)
class ExamAssessment:
    """Everything ``dwi assess`` computes for one exam.

    Attributes
    ----------
    b_values_s_per_mm2 : tuple of float
        Every acquired b-value, ascending.
    computed_b_s_per_mm2 : float
        b-value of the computed image.
    adc : Volume
        ADC map in um^2/s (0 where not fitted).
    computed_b : Volume
        Computed high-b image (0 where not fitted).
    segmentation : TumourSegmentation
        Tumour mask and component table.
    statistics : AdcStatistics
        Tumour ADC statistics.
    histogram : AdcHistogram
        Tumour ADC histogram (50 um^2/s bins).
    classes : Volume
        :class:`ResponseClass` labels (uint8).
    class_bounds : ClassBounds
        Class limits used (from the reference, or this exam when none).
    reference : ReferenceExam or None
        The reference exam, if one was given.
    fit : AdcFit
        The voxel-wise fit (fitted b-values, noise floor).
    options : SegmentationOptions
        The segmentation settings used.
    weighted : bool
        Whether the ADC fit was weighted.
    min_b_s_per_mm2 : float
        b-values below this were left out of the ADC fit.
    exclusion_given : bool
        Whether an exclusion mask was applied.
    exclusion_source : ExclusionSource or None
        Files and labels of the exclusion mask.
    """

    b_values_s_per_mm2: tuple[float, ...]
    computed_b_s_per_mm2: float
    adc: Volume  # um^2/s
    computed_b: Volume
    segmentation: TumourSegmentation
    statistics: AdcStatistics
    histogram: AdcHistogram
    classes: Volume
    class_bounds: ClassBounds
    reference: ReferenceExam | None
    fit: AdcFit
    options: SegmentationOptions
    weighted: bool = False
    min_b_s_per_mm2: float = 0.0
    exclusion_given: bool = False
    exclusion_source: ExclusionSource | None = None

    @property
    def grid(self) -> Volume:
        """The common grid of all maps."""
        return self.adc

    @property
    def total_diffusion_volume_ml(self) -> float:
        """Tumour volume in ml."""
        return float(self.segmentation.mask.sum()) * self.grid.voxel_volume_ml

    def class_volumes_ml(self) -> dict[str, float]:
        """Volume of the green, yellow and red classes (ml)."""
        voxel_ml = self.grid.voxel_volume_ml
        counts = np.bincount(self.classes.array.ravel(), minlength=4)
        return {
            "green": float(counts[ResponseClass.GREEN] * voxel_ml),
            "yellow": float(counts[ResponseClass.YELLOW] * voxel_ml),
            "red": float(counts[ResponseClass.RED] * voxel_ml),
        }

    def largest_red_cluster(self) -> LargestComponent | None:
        """The largest 26-connected red cluster, or ``None`` without red voxels."""
        return largest_component(self.classes.array == ResponseClass.RED, self.grid)


def check_b_images(
    images: Mapping[float, Volume], image_names: Mapping[float, str] | None = None
) -> list[float]:
    """Check the b-value images share one grid; return the b-values ascending.

    Parameters
    ----------
    images : mapping of float to Volume
        Magnitude images by b-value (s/mm^2).
    image_names : mapping of float to str, optional
        Name of each image in messages (e.g. ``"b600 image b600.nii.gz"``).

    Raises
    ------
    InputError
        Fewer than two b-values, or images of different geometry.
    """
    b_values = sorted(float(b) for b in images)
    if len(b_values) < 2:
        only = ", ".join(image_name(image_names, b) for b in b_values) or "none"
        raise InputError(f"only one b-value given ({only}); the ADC needs at least two b-values")
    reference = images[b_values[0]]
    for b in b_values[1:]:
        reference.require_same_geometry(
            images[b], image_name(image_names, b), image_name(image_names, b_values[0])
        )
    return b_values


def assess_exam(
    images: Mapping[float, Volume],
    *,
    options: SegmentationOptions | None = None,
    computed_b_s_per_mm2: float = DEFAULT_COMPUTED_B_S_PER_MM2,
    min_b_s_per_mm2: float = 0.0,
    weighted: bool = False,
    exclusion: NDArray[np.bool_] | None = None,
    reference: ReferenceExam | None = None,
    image_names: Mapping[float, str] | None = None,
    exclusion_source: ExclusionSource | None = None,
) -> ExamAssessment:
    """Assess tumour load and diffusion response of one WB-DWI exam.

    Parameters
    ----------
    images : mapping of float to Volume
        Magnitude images by b-value (s/mm^2), on one grid.
    options : SegmentationOptions, optional
        Threshold, ADC window, minimum component volume, curation.
    computed_b_s_per_mm2 : float
        b-value of the computed image the threshold applies to.
    min_b_s_per_mm2 : float
        b-values below this are left out of the ADC fit.
    weighted : bool
        Weighted log-linear fit.
    exclusion : ndarray of bool, optional
        Normal bright structures to remove.
    reference : ReferenceExam, optional
        Pre-treatment exam; without it the exam is its own reference.
    image_names : mapping of float to str, optional
        Name of each b-value's image in error messages (e.g. its file).
    exclusion_source : ExclusionSource, optional
        Files and labels the exclusion mask came from (recorded in the settings).

    Returns
    -------
    ExamAssessment

    Raises
    ------
    InputError
        Bad images (see :func:`check_b_images` and
        :func:`tumorboard.dwi.adc.fit_adc`), an exclusion mask of another
        shape, or a computed b-value that is not a finite number >= 0.
    EmptyResultError
        When the segmentation leaves no tumour.
    """
    options = options or SegmentationOptions()
    if not np.isfinite(computed_b_s_per_mm2) or computed_b_s_per_mm2 < 0:
        raise InputError(
            f"--computed-b must be a finite number >= 0 s/mm^2, got {computed_b_s_per_mm2!r}"
        )
    b_values = check_b_images(images, image_names)
    grid = images[b_values[0]]
    if exclusion is not None and exclusion.shape != grid.spatial_shape:
        raise InputError(
            f"exclusion mask has shape {exclusion.shape}, expected {grid.spatial_shape}"
        )
    fit = fit_adc(
        {b: images[b].array for b in b_values},
        min_b_s_per_mm2=min_b_s_per_mm2,
        weighted=weighted,
        image_names={b: image_name(image_names, b) for b in b_values},
    )
    adc_um2 = fit.adc_um2_per_s
    check_signal_decays(fit, image_names)
    computed = grid.with_array(computed_b_image(fit, computed_b_s_per_mm2), unit="a.u.")
    noise_sd = None
    if options.threshold_sd is not None:
        noise_sd = background_noise_sd(
            images[b_values[0]].array, image_name(image_names, b_values[0])
        )
    segmentation = segment_tumour_load(
        computed, adc_um2, fit.fitted, options, exclusion=exclusion, noise_sd=noise_sd
    )
    tumour_adc = adc_um2[segmentation.mask]
    statistics = adc_statistics(tumour_adc)
    yellow_lower = reference.adc_p95_um2_per_s if reference else statistics.p95
    bounds = ClassBounds(yellow_lower_um2_per_s=yellow_lower)
    classes = classify_response(adc_um2, segmentation.mask, bounds)
    return ExamAssessment(
        b_values_s_per_mm2=tuple(b_values),
        computed_b_s_per_mm2=float(computed_b_s_per_mm2),
        adc=grid.with_array(adc_um2, unit="um2/s"),
        computed_b=computed,
        segmentation=segmentation,
        statistics=statistics,
        histogram=adc_histogram(tumour_adc),
        classes=grid.with_array(classes, unit="label"),
        class_bounds=bounds,
        reference=reference,
        fit=fit,
        options=options,
        weighted=weighted,
        min_b_s_per_mm2=float(min_b_s_per_mm2),
        exclusion_given=exclusion is not None,
        exclusion_source=exclusion_source,
    )


def reference_text(assessment: ExamAssessment, reference_label: str = "") -> str:
    """The name of the exam the changes and classes of ``assessment`` refer to.

    The reference's own name (label and date) when it has one, else
    ``reference_label``; ``"this exam"`` when the exam is its own reference.
    """
    reference = assessment.reference
    if reference is None:
        return "this exam"
    if reference.name is not None:
        return reference.name.text
    return reference_label or "reference exam"


def summary_payload(
    assessment: ExamAssessment, exam: ExamName | None = None, reference_label: str = ""
) -> dict[str, Any]:
    """The ``summary.json`` content (no patient identifiers, no file paths).

    ``exam`` names this exam (label and date); ``reference_label`` names the
    reference exam when its :class:`ReferenceExam` carries no name.
    """
    from tumorboard.pipeline.dwi_plausibility import plausibility_flags

    segmentation = assessment.segmentation
    kept = [c for c in segmentation.components if c.kept]
    payload: dict[str, Any] = {
        "tumorboard_version": __version__,
        "exam": (exam or ExamName()).as_json(),
        "b_values_s_per_mm2": list(assessment.b_values_s_per_mm2),
        "computed_b_s_per_mm2": assessment.computed_b_s_per_mm2,
        "threshold": round(segmentation.threshold, 4),
        "threshold_mode": "noise-relative" if segmentation.noise_sd is not None else "absolute",
        "noise_sd": segmentation.noise_sd,
        "settings": _settings(assessment),
        "voxel_volume_ml": assessment.grid.voxel_volume_ml,
        "total_diffusion_volume_ml": round(assessment.total_diffusion_volume_ml, 4),
        "tumour_voxels": int(segmentation.mask.sum()),
        "adc_um2_per_s": assessment.statistics.as_dict(),
        "excluded_voxels": segmentation.excluded_voxels,
        "components_total": len(segmentation.components),
        "components_kept": len(kept),
        # the curation table: every candidate component, kept or removed (see "kept")
        "components": [c.as_row() for c in segmentation.components],
        "classes_reference": "given" if assessment.reference else "self",
        # the one reference of every percentage and class of this exam
        "reference_exam": reference_text(assessment, reference_label),
        "yellow_lower_um2_per_s": round(assessment.class_bounds.yellow_lower_um2_per_s, 4),
        "green_lower_um2_per_s": assessment.class_bounds.green_lower_um2_per_s,
        "classes_ml": {k: round(v, 4) for k, v in assessment.class_volumes_ml().items()},
    }
    cluster = assessment.largest_red_cluster()
    payload["largest_red_cluster"] = (
        None
        if cluster is None
        else {
            "voxels": cluster.voxels,
            "volume_ml": round(cluster.volume_ml, 4),
            "centroid_lps_mm": [round(v, 2) for v in cluster.centroid_lps_mm],
            "fraction_of_red": round(cluster.fraction_of_mask, 4),
        }
    )
    payload["plausibility_flags"] = plausibility_flags(assessment)
    reference = assessment.reference
    if reference is not None:
        name = reference.name or ExamName(reference_label)
        payload["reference"] = {
            "label": name.label,
            "date": name.date,
            "total_diffusion_volume_ml": reference.total_diffusion_volume_ml,
            "adc_median_um2_per_s": reference.adc_median_um2_per_s,
            "adc_p95_um2_per_s": reference.adc_p95_um2_per_s,
        }
        payload["tdv_change_pct"] = round(
            _percent_change(
                assessment.total_diffusion_volume_ml, reference.total_diffusion_volume_ml
            ),
            3,
        )
        payload["adc_median_change_pct"] = round(
            _percent_change(assessment.statistics.median, reference.adc_median_um2_per_s), 3
        )
    return payload


def _settings(assessment: ExamAssessment) -> dict[str, Any]:
    """The analysis settings, so a reader can reproduce or curate the result."""
    options = assessment.options
    source = assessment.exclusion_source
    exclusion: dict[str, Any] | None = None
    if assessment.exclusion_given:
        exclusion = {
            "files_sha256": list(source.sha256) if source else [],
            "labels": "all non-zero"
            if source is None or source.labels is None
            else list(source.labels),
        }
    return {
        "adc_fit_b_values_s_per_mm2": list(assessment.fit.b_values_s_per_mm2),
        "adc_fit_weighted": assessment.weighted,
        "min_b_s_per_mm2": assessment.min_b_s_per_mm2,
        "computed_b_s_per_mm2": assessment.computed_b_s_per_mm2,
        "noise_floor": round(assessment.fit.noise_floor, 4),
        "threshold": options.threshold if options.threshold_sd is None else None,
        "threshold_sd": options.threshold_sd,
        "adc_window_um2_per_s": [options.adc_min_um2_per_s, options.adc_max_um2_per_s],
        "min_component_ml": options.min_component_ml,
        "keep_components": sorted(options.keep_components),
        "remove_components": sorted(options.remove_components),
        "green_lower_um2_per_s": assessment.class_bounds.green_lower_um2_per_s,
        "exclusion": exclusion,
    }


def _percent_change(value: float, reference: float) -> float:
    return 100.0 * (value - reference) / reference


def write_assessment(
    assessment: ExamAssessment,
    directory: Path,
    *,
    figures: bool = True,
    title: str = "",
    reference_label: str = "",
    exam: ExamName | None = None,
) -> dict[str, Any]:
    """Write the contract outputs of ``dwi assess`` into ``directory``.

    Parameters
    ----------
    assessment : ExamAssessment
        The assessed exam.
    directory : Path
        An existing (staging) directory.
    figures : bool
        Also draw ``mip.png`` and ``histogram.png``.
    title : str
        First line of the figure titles, e.g. ``"Exam 2 (2025-04-16)"``.
    reference_label : str
        How the reference exam is named when its :class:`ReferenceExam` has no
        name (e.g. ``"exam 1"``).
    exam : ExamName, optional
        This exam's label and date (recorded in ``summary.json``).

    Returns
    -------
    dict
        The summary that was written to ``summary.json``.
    """
    write_nifti(assessment.adc, directory / "adc.nii.gz", dtype=np.float32)
    write_nifti(assessment.computed_b, directory / "computed_b.nii.gz", dtype=np.float32)
    mask = assessment.grid.with_array(assessment.segmentation.mask.astype(np.uint8), unit="label")
    write_nifti(mask, directory / "tumour_mask.nii.gz")
    write_nifti(assessment.classes, directory / "classes.nii.gz", dtype=np.uint8)
    _write_csv(
        directory / "components.csv",
        [c.as_row() for c in assessment.segmentation.components],
        fieldnames=[
            "component_id",
            "voxels",
            "volume_ml",
            "centroid_x_mm",
            "centroid_y_mm",
            "centroid_z_mm",
            "mean_adc_um2_per_s",
            "kept",
            "reason",
        ],
    )
    histogram = assessment.histogram
    _write_csv(
        directory / "histogram.csv",
        [
            {
                "bin_lower_um2_per_s": f"{lower:g}",
                "bin_upper_um2_per_s": f"{upper:g}",
                "voxels": int(count),
                "relative_frequency": f"{frequency:.6f}",
            }
            for lower, upper, count, frequency in zip(
                histogram.lower_um2_per_s,
                histogram.upper_um2_per_s,
                histogram.counts,
                histogram.relative_frequency,
                strict=True,
            )
        ],
        fieldnames=["bin_lower_um2_per_s", "bin_upper_um2_per_s", "voxels", "relative_frequency"],
    )
    summary = summary_payload(assessment, exam, reference_label)
    with open(directory / "summary.json", "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2, allow_nan=False)
        handle.write("\n")
    if figures:
        from tumorboard.report.dwi_figures import histogram_figure, mip_figure, summary_subtitle

        bounds = assessment.class_bounds
        heading = title or f"WB-DWI computed b{assessment.computed_b_s_per_mm2:g}"
        mip_figure(
            assessment.computed_b,
            assessment.classes,
            directory / "mip.png",
            title=heading,
            subtitle=summary_subtitle(summary),
            warnings=summary["plausibility_flags"],
            yellow_lower_um2_per_s=bounds.yellow_lower_um2_per_s,
            green_lower_um2_per_s=bounds.green_lower_um2_per_s,
        )
        histogram_figure(
            {"this exam": histogram},
            directory / "histogram.png",
            yellow_lower_um2_per_s=bounds.yellow_lower_um2_per_s,
            green_lower_um2_per_s=bounds.green_lower_um2_per_s,
            title=(
                f"{heading}: tumour ADC histogram\nclasses shaded against "
                f"{summary['reference_exam']}"
            ),
        )
    return summary


def _write_csv(path: Path, rows: Sequence[Mapping[str, object]], fieldnames: list[str]) -> None:
    write_csv(path, fieldnames, rows)
