"""Whole-body DWI tumour-load assessment of one exam.

:func:`assess_exam` runs the science on images already read (ADC fit,
computed high-b image, segmentation, components, histogram, response classes)
and returns an :class:`ExamAssessment`; :func:`write_assessment` writes the
contract outputs of ``tumorboard dwi assess`` into a directory. Reading files
and parsing arguments belong to the caller (CLI or demo).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tumorboard import __version__
from tumorboard.dwi.adc import AdcFit, computed_b_image, fit_adc
from tumorboard.dwi.noise import background_noise_sd
from tumorboard.dwi.response_classes import ClassBounds, ResponseClass, classify_response
from tumorboard.errors import InputError
from tumorboard.imaging.nifti import write_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.lesions.adc_histogram import (
    AdcHistogram,
    AdcStatistics,
    adc_histogram,
    adc_statistics,
)
from tumorboard.segment.components import label_components
from tumorboard.segment.tumour_load import (
    SegmentationOptions,
    TumourSegmentation,
    segment_tumour_load,
)

DEFAULT_COMPUTED_B_S_PER_MM2 = 1000.0


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

    def __post_init__(self) -> None:
        for name in ("total_diffusion_volume_ml", "adc_median_um2_per_s", "adc_p95_um2_per_s"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
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
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"reference summary {path}: file not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"reference summary {path}: not valid JSON ({exc})") from None
        try:
            adc = payload["adc_um2_per_s"]
            return cls(
                total_diffusion_volume_ml=float(payload["total_diffusion_volume_ml"]),
                adc_median_um2_per_s=float(adc["median"]),
                adc_p95_um2_per_s=float(adc["p95"]),
            )
        except (KeyError, TypeError) as exc:
            raise InputError(
                f"reference summary {path}: missing field {exc} (expected the summary.json "
                "of a previous 'tumorboard dwi assess')"
            ) from None
        except ValueError as exc:
            raise InputError(f"reference summary {path}: {exc}") from None

    @classmethod
    def from_assessment(cls, assessment: ExamAssessment) -> ReferenceExam:
        """Use an assessment made in the same run as the reference."""
        return cls(
            total_diffusion_volume_ml=assessment.total_diffusion_volume_ml,
            adc_median_um2_per_s=assessment.statistics.median,
            adc_p95_um2_per_s=assessment.statistics.p95,
        )


@dataclass(frozen=True)
class RedCluster:
    """The largest connected cluster of red (non-responding) voxels."""

    voxels: int
    volume_ml: float
    centroid_lps_mm: tuple[float, float, float]
    fraction_of_red: float


@dataclass(frozen=True, eq=False)
class ExamAssessment:
    """Everything ``dwi assess`` computes for one exam."""

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

    def largest_red_cluster(self) -> RedCluster | None:
        """The largest 26-connected red cluster, or ``None`` without red voxels."""
        red = self.classes.array == ResponseClass.RED
        total = int(red.sum())
        if total == 0:
            return None
        labels, count = label_components(red)
        sizes = np.bincount(labels.ravel(), minlength=count + 1)
        sizes[0] = 0
        biggest = int(np.argmax(sizes))
        index = np.argwhere(labels == biggest).mean(axis=0)
        x, y, z = self.grid.index_to_lps(index)
        return RedCluster(
            voxels=int(sizes[biggest]),
            volume_ml=float(sizes[biggest] * self.grid.voxel_volume_ml),
            centroid_lps_mm=(float(x), float(y), float(z)),
            fraction_of_red=float(sizes[biggest] / total),
        )


def check_b_images(images: Mapping[float, Volume]) -> list[float]:
    """Check the b-value images share one grid; return the b-values ascending.

    Raises
    ------
    InputError
        Fewer than two b-values, or images of different geometry.
    """
    b_values = sorted(float(b) for b in images)
    if len(b_values) < 2:
        only = ", ".join(f"b{b:g}" for b in b_values) or "none"
        raise InputError(f"only one b-value given ({only}); the ADC needs at least two b-values")
    reference = images[b_values[0]]
    for b in b_values[1:]:
        reference.require_same_geometry(images[b], f"b{b:g} image", f"the b{b_values[0]:g} image")
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

    Returns
    -------
    ExamAssessment
    """
    options = options or SegmentationOptions()
    b_values = check_b_images(images)
    grid = images[b_values[0]]
    if exclusion is not None and exclusion.shape != grid.spatial_shape:
        raise InputError(
            f"exclusion mask has shape {exclusion.shape}, expected {grid.spatial_shape}"
        )
    fit = fit_adc(
        {b: images[b].array for b in b_values},
        min_b_s_per_mm2=min_b_s_per_mm2,
        weighted=weighted,
    )
    adc_um2 = fit.adc_um2_per_s
    computed = grid.with_array(computed_b_image(fit, computed_b_s_per_mm2), unit="a.u.")
    noise_sd = None
    if options.threshold_sd is not None:
        noise_sd = background_noise_sd(images[b_values[0]].array, f"b{b_values[0]:g} image")
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
    )


def summary_payload(assessment: ExamAssessment) -> dict[str, Any]:
    """The ``summary.json`` content (no patient identifiers, no file paths)."""
    segmentation = assessment.segmentation
    kept = [c for c in segmentation.components if c.kept]
    payload: dict[str, Any] = {
        "tumorboard_version": __version__,
        "b_values_s_per_mm2": list(assessment.b_values_s_per_mm2),
        "computed_b_s_per_mm2": assessment.computed_b_s_per_mm2,
        "threshold": round(segmentation.threshold, 4),
        "threshold_mode": "noise-relative" if segmentation.noise_sd is not None else "absolute",
        "noise_sd": segmentation.noise_sd,
        "voxel_volume_ml": assessment.grid.voxel_volume_ml,
        "total_diffusion_volume_ml": round(assessment.total_diffusion_volume_ml, 4),
        "tumour_voxels": int(segmentation.mask.sum()),
        "adc_um2_per_s": assessment.statistics.as_dict(),
        "excluded_voxels": segmentation.excluded_voxels,
        "components_kept": len(kept),
        "components": [c.as_row() for c in segmentation.components],
        "classes_reference": "given" if assessment.reference else "self",
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
            "fraction_of_red": round(cluster.fraction_of_red, 4),
        }
    )
    reference = assessment.reference
    if reference is not None:
        payload["reference"] = {
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


def _percent_change(value: float, reference: float) -> float:
    return 100.0 * (value - reference) / reference


def write_assessment(
    assessment: ExamAssessment, directory: Path, *, figures: bool = True, title: str = ""
) -> dict[str, Any]:
    """Write the contract outputs of ``dwi assess`` into ``directory``.

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
    summary = summary_payload(assessment)
    with open(directory / "summary.json", "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2, allow_nan=False)
        handle.write("\n")
    if figures:
        from tumorboard.report.dwi_figures import histogram_figure, mip_figure

        mip_figure(assessment.computed_b, assessment.classes, directory / "mip.png", title=title)
        histogram_figure(
            {title or "exam": histogram},
            directory / "histogram.png",
            yellow_lower_um2_per_s=assessment.class_bounds.yellow_lower_um2_per_s,
        )
    return summary


def _write_csv(path: Path, rows: Sequence[Mapping[str, object]], fieldnames: list[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)
