"""``tumorboard measure``: lesion sizes and intensities from an image and a label map.

Writes rows of the ``tumorboard assess`` measurement table (one per label),
plus the informational columns ``longest_diameter_3d_mm, volume_ml, hu_sd,
suv_max, suv_mean, adc_mean_um2_per_s, adc_median_um2_per_s``. PET rows
carry ``sul_peak`` and no in-plane diameters: they are PET-only readings,
used by PERCIST and not measured by the size-based criteria.

Nothing is guessed: the exam date and patient come from the DICOM header or
from ``--date``/``--patient-id`` (a NIfTI without them is refused); a PET
DICOM series is converted to SUVbw and SUL by the PET header rules, a PET
NIfTI needs ``--unit``; SUVmax, SUVmean and SULpeak come from
:func:`tumorboard.pet.uptake.lesion_uptake`, as in ``pet suv``. Without
``--role`` the targets are chosen by the RECIST 1.1 / PERCIST rules
(:mod:`tumorboard.lesions.target_roles`) and named on stderr. A value that is
not a finite, plausible number is refused, never written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from tumorboard.cli.common import add_force_and_out
from tumorboard.criteria.measurements_csv import INFORMATIONAL_COLUMNS, REQUIRED_COLUMNS
from tumorboard.errors import InputError
from tumorboard.imaging.volume import Volume
from tumorboard.lesions.diameters import LesionSize, measure_lesion_intensity, measure_lesion_sizes
from tumorboard.lesions.target_roles import describe_roles, parse_roles, select_target_roles
from tumorboard.outputs import check_output_path, output_file
from tumorboard.pet.body_size import LbmFormula
from tumorboard.pet.uptake_image import (
    LesionUptakeValues,
    UptakeImage,
    UptakeUnit,
    check_uptake_values,
    lesion_uptake_values,
    pet_dicom_uptake,
)
from tumorboard.privacy import write_csv

_ADC_TO_UM2_PER_S = {"mm2/s": 1e6, "mm^2/s": 1e6, "um2/s": 1.0, "µm2/s": 1.0, "um^2/s": 1.0}
#: Largest magnitude written for any measurement (mm, ml, HU, SUV, um2/s): a
#: value beyond it comes from a broken image, not from a body.
MAX_WRITTEN_MAGNITUDE = 1e9
#: Digits after the point of SUV/SUL values: agreement with ``pet suv`` to 1e-6.
PET_DECIMALS = 6


def register(subparsers: Any) -> None:
    """Add the ``measure`` command."""
    parser = subparsers.add_parser(
        "measure",
        help="measure lesions (diameters, volume, HU/SUV/ADC) from an image and label map",
        description=(
            "Longest axial diameter (max Feret of pixel corners over slices), perpendicular "
            "short axis, 3-D longest diameter, volume, and mean HU (ct), SULpeak and "
            "SUVbw max/mean (pet; a PET DICOM series is converted by its header, a NIfTI "
            "needs --unit; PET rows have no in-plane diameters, so only PERCIST uses them) "
            "or ADC mean/median in um2/s (adc; mm2/s images are converted) per label, as "
            "rows of the assess table."
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
    parser.add_argument(
        "--modality",
        choices=("ct", "mr", "pet", "adc"),
        default="ct",
        help="what the image is: sizes for ct/mr, SULpeak for pet, ADC for adc (default ct)",
    )
    parser.add_argument(
        "--patient-id",
        help="patient id (default: PatientID of a DICOM image; required for a NIfTI image)",
    )
    parser.add_argument(
        "--timepoint",
        default="baseline",
        help="the timepoint label written in the measurement rows (default baseline)",
    )
    parser.add_argument(
        "--date",
        help="exam date, ISO YYYY-MM-DD (default: StudyDate of a DICOM image; "
        "required for a NIfTI image)",
    )
    parser.add_argument(
        "--organs",
        default="",
        help="label organs, e.g. '1=liver,2=lymph node' (default: unspecified)",
    )
    parser.add_argument("--nodes", default="", help="comma-separated labels that are lymph nodes")
    parser.add_argument(
        "--role",
        metavar="ROLES",
        help="role per label, e.g. '1=target,2=non-target' (every label), or one role for "
        "all labels (target, non-target, new); default: targets chosen by RECIST 1.1 "
        "(PERCIST for PET): measurable, largest (hottest) first, at most 5 and 2 per organ, "
        "the rest non-target; the choice is printed",
    )
    parser.add_argument(
        "--unit",
        choices=[u.value for u in UptakeUnit],
        help="unit of a PET NIfTI image (required for --modality pet on NIfTI; a PET DICOM "
        "series is converted from its header)",
    )
    parser.add_argument(
        "--sul-per-suvbw",
        type=float,
        metavar="R",
        help="lean body mass / weight, for SULpeak of a --unit suvbw image (the "
        "sul_per_suvbw of 'pet suv' summary.json)",
    )
    parser.add_argument(
        "--sul",
        default=LbmFormula.JANMAHASATIAN.value,
        choices=[f.value for f in LbmFormula],
        help="lean-body-mass formula for SUL of a PET DICOM series (default janmahasatian, "
        "as 'pet suv')",
    )
    parser.add_argument(
        "--weight-kg",
        type=float,
        metavar="W",
        help="patient weight in kg for a PET DICOM series whose header has none",
    )
    parser.add_argument(
        "--sr",
        type=Path,
        metavar="SR.dcm",
        help="also write a DICOM SR (TID 1500) of the measurements; needs a "
        "DICOM image folder; lesion tracking UIDs derive from --patient-id "
        "and the label, so they match across timepoints",
    )
    parser.add_argument(
        "--deidentify",
        action="store_true",
        help="de-identify the --sr report (DICOM PS3.15 Basic Profile; pseudonym and "
        "tracking UIDs from a salted hash); the CSV keeps --patient-id and the date",
    )
    parser.add_argument(
        "--salt", help="secret for --deidentify (same salt at every timepoint; default: random)"
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


def _fmt(value: float | None, digits: int = 1, what: str = "value") -> str:
    """The number as written, or an :class:`InputError` for NaN, inf or absurd magnitudes."""
    if value is None:
        return ""
    if not math.isfinite(value) or abs(value) >= MAX_WRITTEN_MAGNITUDE:
        raise InputError(
            f"measure: {what} is {value:.6g}, not a finite measurement below "
            f"{MAX_WRITTEN_MAGNITUDE:g} (check the image values); nothing written"
        )
    return f"{value:.{digits}f}"


def _dicom_identity(image: Path) -> tuple[str | None, str | None]:
    """ISO StudyDate (or AcquisitionDate) and PatientID of the first DICOM file of a folder."""
    if not image.is_dir():
        return None, None
    import pydicom

    for path in sorted(p for p in image.rglob("*") if p.is_file()):
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
        except Exception:
            continue
        text = str(header.get("StudyDate", "") or header.get("AcquisitionDate", ""))
        date = f"{text[:4]}-{text[4:6]}-{text[6:]}" if len(text) == 8 and text.isdigit() else None
        patient = str(header.get("PatientID", "") or "").strip() or None
        return date, patient
    return None, None


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
            sul_peak=number(row["sul_peak"]),
        )
        for row in rows
    )
    timepoint = Timepoint(
        label=args.timepoint, date=dt.date.fromisoformat(args.date), measurements=lesions
    )
    from tumorboard.privacy import Deidentifier

    deidentifier = Deidentifier(salt=args.salt) if args.deidentify else None
    return build_measurement_report(
        args.patient_id, timepoint, _source_headers(args.image), deidentifier=deidentifier
    )


def _check_pet_options(args: argparse.Namespace) -> None:
    """Refuse PET unit options that do not fit the image before anything is read."""
    pet = args.modality == "pet"
    dicom = args.image.is_dir()
    if not pet:
        for option, value in (("--unit", args.unit), ("--sul-per-suvbw", args.sul_per_suvbw)):
            if value is not None:
                raise InputError(f"{option} applies to --modality pet only")
        return
    if dicom and args.unit is not None:
        raise InputError(
            f"--unit: PET DICOM series {args.image} is converted by its header; "
            "--unit is for NIfTI images"
        )
    if not dicom and args.unit is None:
        raise InputError(
            f"--modality pet on NIfTI image {args.image} needs --unit suvbw or --unit sul "
            "(a NIfTI has no dose or weight; convert a PET DICOM with 'tumorboard pet suv')"
        )
    if args.unit == UptakeUnit.SUVBW and args.sul_per_suvbw is None:
        raise InputError(
            "--unit suvbw: SULpeak needs --sul-per-suvbw (sul_per_suvbw of 'pet suv' "
            "summary.json), or measure its sul.nii.gz with --unit sul"
        )
    if args.unit == UptakeUnit.SUL and args.sul_per_suvbw is not None:
        raise InputError("--sul-per-suvbw applies to --unit suvbw only")


def _check_voxels(image: Volume, labels: Volume, path: Path) -> None:
    """Refuse NaN, infinite or absurd voxels inside a lesion before any statistic."""
    label_array = np.asarray(labels.array)
    values = np.asarray(image.array)
    inside = label_array > 0
    bad = inside & ~(np.abs(values) < MAX_WRITTEN_MAGNITUDE)  # NaN compares False
    if bad.any():
        where = tuple(int(i[0]) for i in np.nonzero(bad))
        raise InputError(
            f"image {path}: label {int(label_array[where])} holds a voxel of "
            f"{float(values[where]):.6g} (NaN, infinite or beyond {MAX_WRITTEN_MAGNITUDE:g}); "
            "nothing written"
        )


def _identify(args: argparse.Namespace) -> None:
    """Exam date and patient from the options, else the DICOM header, else refuse."""
    if args.date and args.patient_id:
        return
    date, patient = _dicom_identity(args.image)
    if not args.date:
        if date is None:
            raise InputError(
                f"--date is required: image {args.image} has no exam date (NIfTI, or DICOM "
                "without StudyDate); give --date YYYY-MM-DD"
            )
        args.date = date
    if not args.patient_id:
        if patient is None:
            raise InputError(
                f"--patient-id is required: image {args.image} names no patient (NIfTI, or "
                "DICOM without PatientID)"
            )
        args.patient_id = patient


def _row(
    args: argparse.Namespace,
    image: Volume,
    labels: Volume,
    size: LesionSize,
    organs: dict[int, str],
    nodes: set[int],
    uptake: LesionUptakeValues | None,
) -> dict[str, str]:
    """One assess-table row for one label (role filled later)."""
    pet = args.modality == "pet"
    lesion = f"L{size.label}"

    def number(value: float | None, digits: int, column: str) -> str:
        return _fmt(value, digits, f"label {size.label} {column}")

    row = {column: "" for column in (*REQUIRED_COLUMNS, *INFORMATIONAL_COLUMNS)}
    row.update(
        {
            "patient_id": args.patient_id,
            "timepoint": args.timepoint,
            "date": args.date,
            "modality": args.modality,
            "lesion_id": lesion,
            "organ": organs.get(size.label, "unspecified"),
            "is_node": "true" if size.label in nodes else "false",
            # PET rows are PET-only readings (SULpeak): diameters of a metabolic
            # segmentation are not RECIST measurements, so they stay empty and
            # the row is PERCIST's (volume and 3-D diameter are still written).
            "longest_diameter_mm": (
                "" if pet else number(size.longest_diameter_mm, 1, "longest_diameter_mm")
            ),
            "short_axis_mm": "" if pet else number(size.short_axis_mm, 1, "short_axis_mm"),
            "status": "present",
            "longest_diameter_3d_mm": number(
                size.longest_diameter_3d_mm, 1, "longest_diameter_3d_mm"
            ),
            "volume_ml": number(size.volume_ml, 3, "volume_ml"),
        }
    )
    if pet:
        assert uptake is not None
        row["sul_peak"] = number(uptake.sul_peak, PET_DECIMALS, "sul_peak")
        row["suv_max"] = number(uptake.suvbw_max, PET_DECIMALS, "suv_max")
        row["suv_mean"] = number(uptake.suvbw_mean, PET_DECIMALS, "suv_mean")
        return row
    intensity = measure_lesion_intensity(image, labels, size.label)
    if args.modality == "ct":
        row["mean_hu"] = number(intensity.mean, 1, "mean_hu")
        row["hu_sd"] = number(intensity.sd, 1, "hu_sd")
    elif args.modality == "adc":
        factor = _ADC_TO_UM2_PER_S.get(image.unit.strip().lower(), 1.0)
        row["adc_mean_um2_per_s"] = number(intensity.mean * factor, 1, "adc_mean_um2_per_s")
        row["adc_median_um2_per_s"] = number(intensity.median * factor, 1, "adc_median_um2_per_s")
    return row


def _assign_roles(args: argparse.Namespace, rows: list[dict[str, str]], labels: list[int]) -> None:
    """Fill ``role``: per label from ``--role``, else the RECIST 1.1 / PERCIST selection."""
    if args.role:
        by_label = parse_roles(args.role, labels)
        for row, label in zip(rows, labels, strict=True):
            row["role"] = by_label[label].value
        return
    from decimal import Decimal

    from tumorboard.criteria.records import LesionMeasurement

    def number(text: str) -> Decimal | None:
        return Decimal(text) if text else None

    readings = [
        LesionMeasurement(
            lesion_id=row["lesion_id"],
            organ=row["organ"],
            role="target",  # type: ignore[arg-type]
            is_node=row["is_node"] == "true",
            status="present",  # type: ignore[arg-type]
            modality=row["modality"],
            longest_diameter_mm=number(row["longest_diameter_mm"]),
            short_axis_mm=number(row["short_axis_mm"]),
            sul_peak=number(row["sul_peak"]),
        )
        for row in rows
    ]
    roles = select_target_roles(readings)
    for row in rows:
        row["role"] = roles[row["lesion_id"]].value
    sys.stderr.write(
        f"measure: no --role given; {describe_roles(roles)} (RECIST 1.1 selection: "
        "measurable, largest first, at most 5 and 2 per organ; PET: hottest first)\n"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``tumorboard measure``."""
    inputs = [args.image, args.labels]
    if args.sr is not None and args.sr.resolve() == args.out.resolve():
        raise InputError(f"--sr and --out are the same file ({args.out}); give two paths")
    check_output_path(args.out, args.force, inputs=inputs, directory=False)
    if args.sr is not None:
        check_output_path(
            args.sr, args.force, inputs=inputs, other_outputs=[args.out], directory=False
        )
        if not args.image.is_dir():
            raise InputError("--sr needs --image to be a DICOM series folder")
    if (args.deidentify or args.salt) and args.sr is None:
        raise InputError("--deidentify and --salt apply to the DICOM SR: give --sr too")
    if args.salt and not args.deidentify:
        raise InputError("--salt is only used with --deidentify")
    if args.date:
        try:
            dt.date.fromisoformat(args.date)
        except ValueError:
            raise InputError(f"--date must be ISO YYYY-MM-DD, got {args.date!r}") from None
    organs = _mapping(args.organs, "--organs")
    nodes = _labels(args.nodes, "--nodes")
    _check_pet_options(args)
    uptake: UptakeImage | None = None
    if args.modality == "pet" and args.image.is_dir():
        uptake = pet_dicom_uptake(
            args.image, weight_kg=args.weight_kg, formula=args.sul, what="PET image"
        )
        image = uptake.image
    else:
        image = _read_image(args.image)
    _identify(args)
    if image.array.ndim != 3:
        raise InputError(f"image {args.image}: expected a 3-D image, got shape {image.shape}")
    labels = _read_labels(args.labels, image)
    image.require_same_geometry(labels, "label map", "the image")
    if args.modality == "pet":
        check_uptake_values(image, f"PET image {args.image}")
        if uptake is None:
            uptake = UptakeImage(image, UptakeUnit(args.unit), args.sul_per_suvbw)
    _check_voxels(image, labels, args.image)
    sizes = measure_lesion_sizes(labels)
    pet_values = (
        {} if uptake is None else {v.label: v for v in lesion_uptake_values(uptake, labels)}
    )
    rows = [
        _row(args, image, labels, size, organs, nodes, pet_values.get(size.label)) for size in sizes
    ]
    _assign_roles(args, rows, [size.label for size in sizes])
    report = _structured_report(args, rows) if args.sr is not None else None
    with output_file(args.out, args.force, inputs=inputs) as staging:
        write_csv(staging, (*REQUIRED_COLUMNS, *INFORMATIONAL_COLUMNS), rows)
        if report is not None:
            from tumorboard.report.dicom_sr import write_measurement_report

            with output_file(args.sr, args.force, inputs=inputs) as sr_staging:
                write_measurement_report(report, sr_staging)
    return 0
