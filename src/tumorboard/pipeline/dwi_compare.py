"""Compare several assessed WB-DWI exams: one table and one histogram overlay.

Reads the ``summary.json`` and ``histogram.csv`` that ``dwi assess`` wrote for
each exam and reports, per exam, the tumour volume, ADC statistics and the
change against the first exam (the baseline).

``dwi compare`` puts the exams in date order (:func:`order_exams`), refuses
the same exam twice, and refuses exams assessed with different settings
(:data:`COMPARED_SETTINGS`) unless asked to compare them anyway, in which case
the rows that differ from the first exam name the settings in
``settings_differ``. Every row names its reference exam (``reference_exam``,
label and date), and the histogram title names the same exam.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from tumorboard.errors import InputError
from tumorboard.imaging.input_limits import load_json_file
from tumorboard.lesions.adc_histogram import AdcHistogram
from tumorboard.privacy import write_csv

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
    "exam_date",
    "reference_exam",
    "settings_differ",
    "plausibility_flags",
)
#: Settings of ``summary.json`` that must agree between compared exams. The
#: exclusion files' SHA-256 are recorded but not compared (each exam has its
#: own organ map); whether an exclusion was given, and its labels, are.
COMPARED_SETTINGS = (
    "threshold",
    "threshold_sd",
    "computed_b_s_per_mm2",
    "min_b_s_per_mm2",
    "adc_fit_weighted",
    "adc_window_um2_per_s",
    "min_component_ml",
    "green_lower_um2_per_s",
    "exclusion",
)


@dataclass(frozen=True)
class AssessedExam:
    """The saved results of one ``dwi assess`` run.

    Attributes
    ----------
    label : str
        The label given on the command line.
    summary : dict
        The exam's ``summary.json``.
    histogram : AdcHistogram
        The exam's ``histogram.csv``.
    directory : Path or None
        Where it was read from.
    settings_differ : tuple of str
        Settings that differ from the first exam's (when allowed).
    """

    label: str
    summary: dict[str, Any]
    histogram: AdcHistogram
    directory: Path | None = None
    settings_differ: tuple[str, ...] = ()

    @property
    def date(self) -> str | None:
        """The exam date recorded by ``dwi assess`` (None in older summaries)."""
        exam = self.summary.get("exam")
        date = exam.get("date") if isinstance(exam, dict) else None
        return date if isinstance(date, str) and date else None

    @property
    def name(self) -> str:
        """``label (date)``."""
        return f"{self.label} ({self.date})" if self.date else self.label

    def compared_settings(self) -> dict[str, Any]:
        """The settings that must agree between compared exams."""
        settings = self.summary.get("settings")
        settings = settings if isinstance(settings, dict) else {}
        compared = {key: settings.get(key) for key in COMPARED_SETTINGS}
        exclusion = compared["exclusion"]
        if isinstance(exclusion, dict):
            compared["exclusion"] = {"labels": exclusion.get("labels")}
        return compared


def read_assessed_exam(label: str, directory: Path) -> AssessedExam:
    """Read ``summary.json`` and ``histogram.csv`` from an assess output directory.

    Raises
    ------
    InputError
        If a file is missing or malformed (naming the file and field).
    """
    summary_path = directory / "summary.json"
    histogram_path = directory / "histogram.csv"
    if not summary_path.exists():
        raise InputError(f"exam {label}: {summary_path} not found (a 'dwi assess' output?)")
    summary = load_json_file(summary_path, what=f"exam {label}:")
    _check_summary(summary, f"exam {label}: {summary_path}")
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
    return AssessedExam(label=label, summary=summary, histogram=histogram, directory=directory)


#: Fields of ``adc_um2_per_s`` read from a summary; the first five cannot be negative.
_ADC_FIELDS = ("mean", "median", "sd", "p95", "skewness", "kurtosis")


def _check_summary(summary: Any, where: str) -> None:
    """Refuse a summary whose fields are missing, not numbers, not finite or negative."""
    if not isinstance(summary, dict) or not isinstance(summary.get("adc_um2_per_s"), dict):
        raise InputError(f"{where} is not a dwi assess summary (no adc_um2_per_s object)")
    fields = [("total_diffusion_volume_ml", summary.get("total_diffusion_volume_ml"))]
    fields += [(f"adc_um2_per_s.{key}", summary["adc_um2_per_s"].get(key)) for key in _ADC_FIELDS]
    for index, (name, value) in enumerate(fields):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InputError(f"{where}: {name} must be a number, got {value!r}"[:300])
        try:  # numpy refuses ints beyond int64; beyond float range there is no number
            finite = math.isfinite(value)
        except OverflowError:
            finite = False
        if not finite or (index < 5 and value < 0):
            raise InputError(f"{where}: {name} must be a finite non-negative number, got {value!r}")


def order_exams(
    exams: Sequence[AssessedExam], *, allow_different_settings: bool = False
) -> list[AssessedExam]:
    """The exams in date order, refusing a repeated exam and (unless allowed) other settings.

    Parameters
    ----------
    exams : sequence of AssessedExam
        As given on the command line.
    allow_different_settings : bool
        Compare exams whose :data:`COMPARED_SETTINGS` differ; their rows are flagged.

    Returns
    -------
    list of AssessedExam
        Earliest first; ``settings_differ`` set on exams that differ from the first.

    Raises
    ------
    InputError
        An exam without a date, two exams of one date or one directory, or
        different settings without ``allow_different_settings``.
    """
    for exam in exams:
        if exam.date is None:
            raise InputError(
                f"exam {exam.label}: its summary.json has no exam date; re-run 'dwi assess' "
                "with --date (a DICOM exam gives its StudyDate)"
            )
    seen: dict[tuple[str, str], AssessedExam] = {}
    for exam in exams:
        keys = [("date", str(exam.date))]
        if exam.directory is not None:
            keys.append(("output directory", str(exam.directory.resolve())))
        for key in keys:
            if key in seen:
                raise InputError(
                    f"exams {seen[key].label} and {exam.label} are the same exam (same {key[0]}"
                    f"{' ' + key[1] if key[0] == 'date' else ''}); give each exam once"
                )
            seen[key] = exam
    ordered = sorted(exams, key=lambda e: str(e.date))
    first = ordered[0].compared_settings()
    result = [ordered[0]]
    for exam in ordered[1:]:
        settings = exam.compared_settings()
        differ = tuple(key for key in COMPARED_SETTINGS if settings[key] != first[key])
        if differ and not allow_different_settings:
            name = differ[0]
            raise InputError(
                f"exams {ordered[0].label} and {exam.label} were assessed with different "
                f"settings ({', '.join(differ)}; {name}: {first[name]!r} vs {settings[name]!r}); "
                "re-assess them alike or give --allow-different-settings"
            )
        result.append(replace(exam, settings_differ=differ))
    return result


def comparison_rows(exams: Sequence[AssessedExam]) -> list[dict[str, object]]:
    """One row per exam with changes against the first exam, which every row names."""
    if len(exams) < 2:
        raise InputError(f"compare needs at least two exams, got {len(exams)}")
    first = exams[0].summary
    for name in ("total_diffusion_volume_ml", "median"):
        value = first["adc_um2_per_s"]["median"] if name == "median" else first[name]
        if not value > 0:
            raise InputError(
                f"exam {exams[0].label}: {name} is {value!r}; the first exam is the baseline of "
                "the percentage changes and needs a positive value"
            )
    first_volume = float(first["total_diffusion_volume_ml"])
    first_median = float(first["adc_um2_per_s"]["median"])
    rows = []
    for exam in exams:
        adc = exam.summary["adc_um2_per_s"]
        volume = float(exam.summary["total_diffusion_volume_ml"])
        flags = exam.summary.get("plausibility_flags")
        rows.append(
            {
                "exam": exam.label,
                "exam_date": exam.date or "",
                "reference_exam": exams[0].name,
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
                "settings_differ": "; ".join(exam.settings_differ),
                "plausibility_flags": "; ".join(str(f) for f in flags)
                if isinstance(flags, list)
                else "",
            }
        )
    return rows


def write_comparison(exams: Sequence[AssessedExam], directory: Path) -> list[dict[str, object]]:
    """Write ``comparison.csv`` and ``histograms.png`` into ``directory``."""
    from tumorboard.report.dwi_figures import histogram_figure

    rows = comparison_rows(exams)
    write_csv(directory / "comparison.csv", list(COMPARISON_COLUMNS), rows)
    histogram_figure(
        {exam.label: exam.histogram for exam in exams},
        directory / "histograms.png",
        yellow_lower_um2_per_s=float(exams[0].summary["adc_um2_per_s"]["p95"]),
        title=f"Tumour ADC histograms (classes shaded against {exams[0].name})",
    )
    return rows
