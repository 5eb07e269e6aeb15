"""``tumorboard dwi assess``: whole-body DWI tumour load of one exam.

Usage::

    tumorboard dwi assess (--dicom DIR | --image B=PATH ...) [--exclude MASK]
        [--exclude-labels L,...] [--threshold T] [--computed-b B]
        [--reference SUMMARY_JSON] [--date YYYY-MM-DD] [--label TEXT] [--force] --out DIR
    tumorboard dwi compare --exam LABEL=DIR ... [--allow-different-settings] [--force] --out DIR
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tumorboard.cli.common import add_force_and_out, parse_float_list, paths_after_equals
from tumorboard.errors import InputError
from tumorboard.imaging.nifti import read_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.outputs import check_output_path, output_directory
from tumorboard.pipeline.dwi_assess import (
    DEFAULT_COMPUTED_B_S_PER_MM2,
    ExamName,
    ExclusionSource,
    ReferenceExam,
    assess_exam,
    check_b_images,
    write_assessment,
)
from tumorboard.pipeline.dwi_compare import order_exams, read_assessed_exam, write_comparison
from tumorboard.segment.tumour_load import (
    DEFAULT_MIN_COMPONENT_ML,
    DEFAULT_THRESHOLD,
    SegmentationOptions,
    exclusion_from_labels,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``dwi`` command group."""
    dwi = subparsers.add_parser("dwi", help="whole-body diffusion MRI tumour load")
    commands = dwi.add_subparsers(title="dwi commands", dest="dwi_command", metavar="COMMAND")
    assess = commands.add_parser(
        "assess",
        help="ADC, computed high-b image, tumour segmentation, histogram and response classes",
        description="Assess the diffusion tumour load of one WB-DWI exam.",
    )
    source = assess.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--dicom",
        type=Path,
        metavar="DIR",
        help="folder with the exam's DICOM series (all stations, all b-values)",
    )
    source.add_argument(
        "--image",
        action="append",
        metavar="B=PATH",
        help="one NIfTI per b-value, e.g. --image 50=b50.nii.gz (repeat)",
    )
    assess.add_argument(
        "--exclude",
        action="append",
        type=Path,
        metavar="MASK",
        help="label map (NIfTI or DICOM SEG) of normal structures to remove (repeatable)",
    )
    assess.add_argument(
        "--exclude-labels",
        metavar="L,...",
        help="labels of the exclusion map(s) to remove (default: all non-zero)",
    )
    assess.add_argument(
        "--threshold",
        default=str(DEFAULT_THRESHOLD),
        metavar="T",
        help="computed-image threshold: a signal value (default 100) or a "
        "multiple of the background noise SD such as '12sd'",
    )
    assess.add_argument(
        "--computed-b",
        type=float,
        default=DEFAULT_COMPUTED_B_S_PER_MM2,
        metavar="B",
        help="b-value of the computed image (default 1000 s/mm^2)",
    )
    assess.add_argument(
        "--min-b",
        type=float,
        default=0.0,
        metavar="B",
        help="leave b-values below B out of the ADC fit (default: use all)",
    )
    assess.add_argument("--weighted", action="store_true", help="weighted log-linear ADC fit")
    assess.add_argument(
        "--adc-window", metavar="MIN,MAX", help="keep only voxels with MIN <= ADC <= MAX um^2/s"
    )
    assess.add_argument(
        "--min-volume-ml",
        type=float,
        default=DEFAULT_MIN_COMPONENT_ML,
        help=f"remove components smaller than this (default {DEFAULT_MIN_COMPONENT_ML} ml)",
    )
    assess.add_argument(
        "--keep-components",
        metavar="ID,...",
        help="keep only these component ids (from a previous components.csv)",
    )
    assess.add_argument(
        "--remove-components",
        metavar="ID,...",
        help="remove these component ids (from a previous components.csv)",
    )
    assess.add_argument(
        "--reference",
        type=Path,
        metavar="SUMMARY_JSON",
        help="summary.json of the pre-treatment exam: enables response classes",
    )
    assess.add_argument(
        "--date",
        metavar="YYYY-MM-DD",
        help="exam date (default: StudyDate of --dicom; needed by 'dwi compare')",
    )
    assess.add_argument(
        "--label",
        default="",
        help="exam label shown with the date wherever the exam is named (e.g. 'exam 2')",
    )
    add_force_and_out(assess, "output directory")
    assess.set_defaults(handler=run_assess)
    compare = commands.add_parser(
        "compare",
        help="compare assessed exams: change table and ADC histogram overlay",
        description="Compare several 'dwi assess' outputs; the earliest exam is the "
        "reference of every change.",
    )
    compare.add_argument(
        "--exam",
        action="append",
        required=True,
        metavar="LABEL=DIR",
        help="an exam label and its 'dwi assess' output directory (repeat; sorted by the "
        "exam dates of the summaries)",
    )
    compare.add_argument(
        "--allow-different-settings",
        action="store_true",
        help="compare exams assessed with different settings (threshold, b-values used, "
        "exclusion, ...); the rows that differ from the first exam are flagged",
    )
    add_force_and_out(compare, "output directory (comparison.csv, histograms.png)")
    compare.set_defaults(handler=run_compare)


def run_assess(args: argparse.Namespace) -> int:
    """Run ``dwi assess`` from parsed arguments."""
    inputs = [args.dicom, args.reference, *(args.exclude or []), *paths_after_equals(args.image)]
    check_output_path(args.out, args.force, inputs=inputs, directory=True)
    _check_b_options(args)
    options = _segmentation_options(args)
    reference = ReferenceExam.from_summary_json(args.reference) if args.reference else None
    if args.date is not None:
        ExamName(args.label, args.date)  # refuse a bad date before reading images
    images, names, exam_date = _read_images(args)
    exam = ExamName(args.label, args.date or exam_date)
    b_values = check_b_images(images, names)
    grid = images[b_values[0]]
    exclusion = _read_exclusion(args, grid, names[b_values[0]])
    assessment = assess_exam(
        images,
        options=options,
        computed_b_s_per_mm2=args.computed_b,
        min_b_s_per_mm2=args.min_b,
        weighted=args.weighted,
        exclusion=exclusion,
        reference=reference,
        image_names=names,
        exclusion_source=_exclusion_source(args),
    )
    with output_directory(args.out, args.force, inputs=inputs) as staging:
        # figures name no path: folder names can hold patient identifiers
        title = f"WB-DWI {exam.text}" if exam.label or exam.date else ""
        summary = write_assessment(assessment, staging, title=title, exam=exam)
    for flag in summary["plausibility_flags"]:
        sys.stderr.write(f"dwi assess: check: {flag}\n")
    print(
        f"total diffusion volume {summary['total_diffusion_volume_ml']:.1f} ml, "
        f"median ADC {summary['adc_um2_per_s']['median']:.0f} um2/s -> {args.out}"
    )
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """Run ``dwi compare`` from parsed arguments."""
    inputs = paths_after_equals(args.exam)
    check_output_path(args.out, args.force, inputs=inputs, directory=True)
    exams = []
    for item in args.exam:
        label, sep, directory = item.partition("=")
        if not sep or not label or not directory:
            raise InputError(f"--exam {item!r}: expected LABEL=DIR, e.g. --exam 2025-01=exam1")
        exams.append(read_assessed_exam(label, Path(directory)))
    exams = order_exams(exams, allow_different_settings=args.allow_different_settings)
    with output_directory(args.out, args.force, inputs=inputs) as staging:
        rows = write_comparison(exams, staging)
    last = rows[-1]
    print(
        f"{len(rows)} exams; last vs first: volume {last['tdv_change_vs_first_pct']:+.1f} %, "
        f"median ADC {last['adc_median_change_vs_first_pct']:+.1f} % -> {args.out}"
    )
    return 0


def _check_b_options(args: argparse.Namespace) -> None:
    """Refuse bad b-value options before any image is read."""
    for option, value in (("--computed-b", args.computed_b), ("--min-b", args.min_b)):
        if not np.isfinite(value) or value < 0:
            raise InputError(f"{option} must be a finite number >= 0 s/mm^2, got {value:g}")


def _segmentation_options(args: argparse.Namespace) -> SegmentationOptions:
    threshold_text = str(args.threshold).strip().lower()
    threshold, threshold_sd = DEFAULT_THRESHOLD, None
    try:
        if threshold_text.endswith("sd"):
            threshold_sd = float(threshold_text[:-2])
        else:
            threshold = float(threshold_text)
    except ValueError:
        raise InputError(
            "--threshold: expected a number or a noise multiple like '12sd', "
            f"got {args.threshold!r}"
        ) from None
    window = parse_float_list(args.adc_window, "--adc-window", 2) if args.adc_window else None
    return SegmentationOptions(
        threshold=threshold,
        threshold_sd=threshold_sd,
        adc_min_um2_per_s=window[0] if window else None,
        adc_max_um2_per_s=window[1] if window else None,
        min_component_ml=args.min_volume_ml,
        keep_components=frozenset(_parse_ids(args.keep_components, "--keep-components")),
        remove_components=frozenset(_parse_ids(args.remove_components, "--remove-components")),
    )


def _parse_ids(text: str | None, name: str) -> list[int]:
    if not text:
        return []
    values = parse_float_list(text, name)
    if any(v != int(v) or v < 1 for v in values):
        raise InputError(f"{name}: component ids are positive whole numbers, got {text!r}")
    return [int(v) for v in values]


def _read_images(
    args: argparse.Namespace,
) -> tuple[dict[float, Volume], dict[float, str], str | None]:
    """Read the b-value images; return them, their names for messages and the exam date."""
    if args.dicom is not None:
        from tumorboard.imaging.diffusion_dicom import read_diffusion_series

        series = read_diffusion_series(args.dicom)
        dicom_names = {b: f"b{b:g} image of DICOM folder {args.dicom}" for b in series.images}
        return dict(series.images), dicom_names, series.study_date
    images: dict[float, Volume] = {}
    names: dict[float, str] = {}
    for item in args.image:
        b_text, sep, path_text = item.partition("=")
        if not sep or not path_text:
            raise InputError(f"--image {item!r}: expected B=PATH, e.g. --image 600=b600.nii.gz")
        try:
            b_value = float(b_text)
        except ValueError:
            raise InputError(f"--image {item!r}: b-value {b_text!r} is not a number") from None
        if not np.isfinite(b_value) or b_value < 0:
            raise InputError(f"--image {item!r}: b-value must be >= 0 s/mm^2")
        if b_value in images:
            raise InputError(f"--image: b-value {b_value:g} is given twice")
        names[b_value] = f"b{b_value:g} image {path_text}"
        images[b_value] = read_nifti(path_text, what=names[b_value])
        if images[b_value].array.ndim != 3:
            shape = images[b_value].array.shape
            raise InputError(f"{names[b_value]}: expected a 3-D image, got shape {shape}")
    return images, names, None


def _exclusion_source(args: argparse.Namespace) -> ExclusionSource | None:
    """SHA-256 of each exclusion file and the labels removed, for the settings record."""
    if not args.exclude:
        return None
    digests = []
    for path in args.exclude:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        digests.append(digest.hexdigest())
    labels = _parse_ids(args.exclude_labels, "--exclude-labels") if args.exclude_labels else None
    return ExclusionSource(tuple(digests), None if labels is None else tuple(sorted(labels)))


def _read_exclusion(
    args: argparse.Namespace, grid: Volume, reference_name: str
) -> NDArray[np.bool_] | None:
    if not args.exclude:
        if args.exclude_labels:
            raise InputError("--exclude-labels needs --exclude MASK")
        return None
    from tumorboard.imaging.label_maps import read_label_map

    selected = None
    if args.exclude_labels:
        selected = _parse_ids(args.exclude_labels, "--exclude-labels")
    label_maps = []
    for path in args.exclude:
        labels = read_label_map(
            path, reference=grid, what=f"exclusion mask {path}", reference_name=reference_name
        )
        grid.require_same_geometry(labels, f"exclusion mask {path}", reference_name)
        label_maps.append(np.asarray(labels.array))
    return exclusion_from_labels(label_maps, selected)
