"""Compare several assessed WB-DWI exams: one table and one histogram overlay.

Reads the ``summary.json`` and ``histogram.csv`` that ``dwi assess`` wrote for
each exam and reports, per exam, the tumour volume, ADC statistics and the
change against the first exam given (the baseline).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tumorboard.errors import InputError
from tumorboard.lesions.adc_histogram import AdcHistogram

COMPARISON_COLUMNS = (
    "exam",
    "total_diffusion_volume_ml",
    "tdv_change_vs_first_pct",
    "adc_mean_um2_per_s",
    "adc_median_um2_per_s",
    "adc_median_change_vs_first_pct",
    "adc_sd_um2_per_s",
    "adc_p95_um2_per_s",
    "adc_skewness",
    "adc_kurtosis",
)


@dataclass(frozen=True)
class AssessedExam:
    """The saved results of one ``dwi assess`` run."""

    label: str
    summary: dict[str, Any]
    histogram: AdcHistogram


def read_assessed_exam(label: str, directory: Path) -> AssessedExam:
    """Read ``summary.json`` and ``histogram.csv`` from an assess output directory.

    Raises
    ------
    InputError
        If a file is missing or malformed (naming the file and field).
    """
    summary_path = directory / "summary.json"
    histogram_path = directory / "histogram.csv"
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        summary["total_diffusion_volume_ml"]
        summary["adc_um2_per_s"]["median"]
    except FileNotFoundError:
        raise InputError(
            f"exam {label}: {summary_path} not found (a 'dwi assess' output?)"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"exam {label}: {summary_path} is not a dwi assess summary ({exc})"
        ) from None
    lower, upper, counts = [], [], []
    try:
        with open(histogram_path, newline="", encoding="utf-8") as handle:
            for row_number, row in enumerate(csv.DictReader(handle), start=2):
                try:
                    lower.append(float(row["bin_lower_um2_per_s"]))
                    upper.append(float(row["bin_upper_um2_per_s"]))
                    counts.append(int(row["voxels"]))
                except (KeyError, TypeError, ValueError):
                    raise InputError(
                        f"exam {label}: {histogram_path} row {row_number}: expected numeric "
                        "bin_lower_um2_per_s, bin_upper_um2_per_s and voxels"
                    ) from None
    except FileNotFoundError:
        raise InputError(f"exam {label}: {histogram_path} not found") from None
    if not counts or sum(counts) == 0:
        raise InputError(f"exam {label}: {histogram_path} has no voxels")
    count_array = np.asarray(counts, dtype=np.int64)
    histogram = AdcHistogram(
        lower_um2_per_s=np.asarray(lower),
        upper_um2_per_s=np.asarray(upper),
        counts=count_array,
        relative_frequency=count_array / count_array.sum(),
    )
    return AssessedExam(label=label, summary=summary, histogram=histogram)


def comparison_rows(exams: Sequence[AssessedExam]) -> list[dict[str, object]]:
    """One row per exam with changes against the first exam."""
    if len(exams) < 2:
        raise InputError(f"compare needs at least two exams, got {len(exams)}")
    first = exams[0].summary
    first_volume = float(first["total_diffusion_volume_ml"])
    first_median = float(first["adc_um2_per_s"]["median"])
    rows = []
    for exam in exams:
        adc = exam.summary["adc_um2_per_s"]
        volume = float(exam.summary["total_diffusion_volume_ml"])
        rows.append(
            {
                "exam": exam.label,
                "total_diffusion_volume_ml": round(volume, 3),
                "tdv_change_vs_first_pct": round(100 * (volume - first_volume) / first_volume, 2),
                "adc_mean_um2_per_s": adc["mean"],
                "adc_median_um2_per_s": adc["median"],
                "adc_median_change_vs_first_pct": round(
                    100 * (float(adc["median"]) - first_median) / first_median, 2
                ),
                "adc_sd_um2_per_s": adc["sd"],
                "adc_p95_um2_per_s": adc["p95"],
                "adc_skewness": adc["skewness"],
                "adc_kurtosis": adc["kurtosis"],
            }
        )
    return rows


def write_comparison(exams: Sequence[AssessedExam], directory: Path) -> list[dict[str, object]]:
    """Write ``comparison.csv`` and ``histograms.png`` into ``directory``."""
    from tumorboard.report.dwi_figures import histogram_figure

    rows = comparison_rows(exams)
    with open(directory / "comparison.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COMPARISON_COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    histogram_figure(
        {exam.label: exam.histogram for exam in exams},
        directory / "histograms.png",
        yellow_lower_um2_per_s=float(exams[0].summary["adc_um2_per_s"]["p95"]),
        title=f"Tumour ADC histograms (classes shaded against {exams[0].label})",
    )
    return rows
