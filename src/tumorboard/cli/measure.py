"""``tumorboard measure``: lesion sizes and intensities from an image and a label map.

Writes rows of the ``tumorboard assess`` measurement table (one per label),
plus the informational columns ``longest_diameter_3d_mm, volume_ml, hu_sd,
suv_max, suv_mean, adc_mean_um2_per_s, adc_median_um2_per_s``. PET rows
carry ``sul_peak`` and no in-plane diameters: they are PET-only readings,
used by PERCIST and not measured by the size-based criteria.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
from pathlib import Path
from typing import Any

from tumorboard.cli.common import add_force_and_out
from tumorboard.criteria.measurements_csv import INFORMATIONAL_COLUMNS, REQUIRED_COLUMNS
from tumorboard.errors import InputError
from tumorboard.imaging.volume import Volume
from tumorboard.lesions.diameters import measure_lesion_intensity, measure_lesion_sizes
from tumorboard.outputs import check_output_path, output_file

_ADC_TO_UM2_PER_S = {"mm2/s": 1e6, "mm^2/s": 1e6, "um2/s": 1.0, "µm2/s": 1.0, "um^2/s": 1.0}


def register(subparsers: Any) -> None:
    """Add the ``measure`` command."""
    parser = subparsers.add_parser(
        "measure",
        help="measure lesions (diameters, volume, HU/SUV/ADC) from an image and label map",
        description=(
            "Longest axial diameter (max Feret of pixel corners over slices), perpendicular "
            "short axis, 3-D longest diameter, volume, and mean HU (ct), SUVpeak/max/mean "
            "(pet; give an SUL image for PERCIST, values are written as they are; PET rows "
            "have no in-plane diameters, so only PERCIST uses them) or ADC "
            "mean/median in um2/s (adc; mm2/s images are converted) per label, as rows of "
            "the assess table."
        ),
    )
    parser.add_argument(
        "--image", required=True, type=Path, help="NIfTI image or a folder with one DICOM series"
    )
    parser.add_argument(
        "--labels",
        required=True,
        type=Path,
        help="lesion label map: NIfTI, DICOM SEG or RTSTRUCT, on the image grid",
    )
    parser.add_argument("--modality", choices=("ct", "mr", "pet", "adc"), default="ct")
    parser.add_argument("--patient-id", default="patient")
    parser.add_argument("--timepoint", default="baseline")
    parser.add_argument(
        "--date",
        help="exam date, ISO YYYY-MM-DD (default: the DICOM "
        "StudyDate of a DICOM image, else today)",
    )
    parser.add_argument(
        "--organs",
        default="",
        help="label organs, e.g. '1=liver,2=lymph node' (default: unspecified)",
    )
    parser.add_argument("--nodes", default="", help="comma-separated labels that are lymph nodes")
    parser.add_argument("--role", choices=("target", "non-target", "new"), default="target")
    parser.add_argument(
        "--sr",
        type=Path,
        metavar="SR.dcm",
        help="also write a DICOM SR (TID 1500) of the measurements; needs a "
        "DICOM image folder; lesion tracking UIDs derive from --patient-id "
        "and the label, so they match across timepoints",
    )
    add_force_and_out(parser, "output CSV (measurements.csv)")
    parser.set_defaults(handler=run)


def _read_image(path: Path) -> Volume:
    if path.is_dir():
        from tumorboard.imaging.dicom_volume import read_series_volume

        return read_series_volume(path, what="image")
    from tumorboard.imaging.nifti import read_nifti

    return read_nifti(path, what="image")


def _read_labels(path: Path, image: Volume) -> Volume:
    if not path.is_file():
        raise InputError(f"labels {path}: file not found")
    if not path.name.lower().endswith((".nii", ".nii.gz")):
        import pydicom

        try:
            modality = pydicom.dcmread(path, stop_before_pixels=True).get("Modality", "")
        except Exception:
            modality = ""
        if modality == "RTSTRUCT":
            from tumorboard.imaging.rtstruct import read_rtstruct, rtstruct_label_map

            return rtstruct_label_map(read_rtstruct(path, image))
    from tumorboard.imaging.label_maps import read_label_map

    return read_label_map(path, reference=image, what="labels", reference_name="the image")


def _mapping(text: str, option: str) -> dict[int, str]:
    result: dict[int, str] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        key, sep, value = part.partition("=")
        if not sep or not key.strip().isdigit() or not value.strip():
            raise InputError(f"{option}: expected 'LABEL=ORGAN,...', got {part!r}")
        result[int(key)] = value.strip()
    return result


def _labels(text: str, option: str) -> set[int]:
    try:
        return {int(p) for p in text.split(",") if p.strip()}
    except ValueError:
        raise InputError(f"{option}: expected comma-separated labels, got {text!r}") from None


def _fmt(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _study_date(image: Path) -> str | None:
    """ISO StudyDate (or AcquisitionDate) of the first DICOM file of a folder, if any."""
    if not image.is_dir():
        return None
    import pydicom

    for path in sorted(p for p in image.rglob("*") if p.is_file()):
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:
            continue
        text = str(header.get("StudyDate", "") or header.get("AcquisitionDate", ""))
        if len(text) == 8 and text.isdigit():
            return f"{text[:4]}-{text[4:6]}-{text[6:]}"
        return None
    return None


def _source_headers(folder: Path) -> list[Any]:
    import pydicom

    headers = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:
            continue  # not DICOM: the image reader already accepted the folder
        if "SOPInstanceUID" in header and "StudyInstanceUID" in header:
            headers.append(header)
    return headers


def _structured_report(args: argparse.Namespace, rows: list[dict[str, str]]) -> Any:
    from decimal import Decimal

    from tumorboard.criteria.records import LesionMeasurement, Timepoint
    from tumorboard.report.dicom_sr import build_measurement_report

    def number(text: str) -> Decimal | None:
        return Decimal(text) if text else None

    lesions = tuple(
        LesionMeasurement(
            lesion_id=row["lesion_id"],
            organ=row["organ"],
            role=row["role"],  # type: ignore[arg-type]
            is_node=row["is_node"] == "true",
            status="present",  # type: ignore[arg-type]
            modality=row["modality"],
            longest_diameter_mm=number(row["longest_diameter_mm"]),
            short_axis_mm=number(row["short_axis_mm"]),
            mean_hu=number(row["mean_hu"]),
        )
        for row in rows
    )
    timepoint = Timepoint(
        label=args.timepoint, date=dt.date.fromisoformat(args.date), measurements=lesions
    )
    return build_measurement_report(args.patient_id, timepoint, _source_headers(args.image))


def run(args: argparse.Namespace) -> int:
    """Run ``tumorboard measure``."""
    check_output_path(args.out, args.force)
    if args.sr is not None:
        check_output_path(args.sr, args.force)
        if not args.image.is_dir():
            raise InputError("--sr needs --image to be a DICOM series folder")
    if args.date:
        try:
            dt.date.fromisoformat(args.date)
        except ValueError:
            raise InputError(f"--date must be ISO YYYY-MM-DD, got {args.date!r}") from None
    organs = _mapping(args.organs, "--organs")
    nodes = _labels(args.nodes, "--nodes")
    image = _read_image(args.image)
    if not args.date:
        args.date = _study_date(args.image) or dt.date.today().isoformat()
    if image.array.ndim != 3:
        raise InputError(f"image {args.image}: expected a 3-D image, got shape {image.shape}")
    labels = _read_labels(args.labels, image)
    image.require_same_geometry(labels, "label map", "the image")
    sizes = measure_lesion_sizes(labels)
    pet = args.modality == "pet"
    rows = []
    for size in sizes:
        is_node = size.label in nodes
        intensity = measure_lesion_intensity(image, labels, size.label, peak=args.modality == "pet")
        row = {column: "" for column in (*REQUIRED_COLUMNS, *INFORMATIONAL_COLUMNS)}
        row.update(
            {
                "patient_id": args.patient_id,
                "timepoint": args.timepoint,
                "date": args.date,
                "modality": args.modality,
                "lesion_id": f"L{size.label}",
                "organ": organs.get(size.label, "unspecified"),
                "role": args.role,
                "is_node": "true" if is_node else "false",
                # PET rows are PET-only readings (SULpeak): diameters of a metabolic
                # segmentation are not RECIST measurements, so they stay empty and
                # the row is PERCIST's (volume and 3-D diameter are still written).
                "longest_diameter_mm": "" if pet else _fmt(size.longest_diameter_mm),
                "short_axis_mm": "" if pet else _fmt(size.short_axis_mm),
                "status": "present",
                "longest_diameter_3d_mm": _fmt(size.longest_diameter_3d_mm),
                "volume_ml": _fmt(size.volume_ml, 3),
            }
        )
        if args.modality == "ct":
            row["mean_hu"] = _fmt(intensity.mean)
            row["hu_sd"] = _fmt(intensity.sd)
        elif args.modality == "pet":
            row["sul_peak"] = _fmt(intensity.peak, 2)
            row["suv_max"] = _fmt(intensity.maximum, 2)
            row["suv_mean"] = _fmt(intensity.mean, 2)
        elif args.modality == "adc":
            factor = _ADC_TO_UM2_PER_S.get(image.unit.strip().lower(), 1.0)
            row["adc_mean_um2_per_s"] = _fmt(intensity.mean * factor)
            row["adc_median_um2_per_s"] = _fmt(intensity.median * factor)
        rows.append(row)
    report = _structured_report(args, rows) if args.sr is not None else None
    with output_file(args.out, args.force) as staging:
        with open(staging, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=(*REQUIRED_COLUMNS, *INFORMATIONAL_COLUMNS))
            writer.writeheader()
            writer.writerows(rows)
        if report is not None:
            from tumorboard.report.dicom_sr import write_measurement_report

            with output_file(args.sr, args.force) as sr_staging:
                write_measurement_report(report, sr_staging)
    return 0
