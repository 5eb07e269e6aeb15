"""``tumorboard pet suv`` and ``tumorboard pet register``.

Usage::

    tumorboard pet suv SERIES_DIR [--lesions LABELS] [--liver MASK | --liver-center X,Y,Z]
        [--spleen MASK] [--blood-pool-center X,Y,Z]
        [--sul janmahasatian|james128|james120] [--weight-kg W] [--force] --out DIR
    tumorboard pet register --moving PET_OR_CT --fixed MR [--force] --out DIR

``pet suv`` writes ``suvbw.nii.gz`` and ``summary.json`` (with ``liver`` and
``blood_pool`` PERCIST reference blocks when asked); ``pet register``
writes ``transform.tfm`` (ITK), ``transform.json`` (4x4 MRI-to-PET matrix),
``resampled.nii.gz`` (moving image on the MRI grid) and ``fused.png``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tumorboard.cli.common import add_force_and_out, parse_float_list, write_json
from tumorboard.errors import EmptyResultError, InputError
from tumorboard.imaging.dicom_scan import scan_dicom_folder
from tumorboard.imaging.dicom_volume import read_series_volume
from tumorboard.imaging.nifti import read_nifti, write_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.outputs import check_output_path, output_directory
from tumorboard.pet.body_size import LbmFormula
from tumorboard.pet.lesion_table import lesion_records
from tumorboard.pet.liver_reference import (
    ReferenceKind,
    ReferenceRegion,
    blood_pool_reference,
    liver_reference,
    organ_reference,
)
from tumorboard.pet.registration import register_rigid
from tumorboard.pet.series_io import pet_series, read_pet_series
from tumorboard.report.fusion_figure import fused_figure


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``pet`` command group."""
    pet = subparsers.add_parser("pet", help="PET SUV quantification and PET/MR registration")
    commands = pet.add_subparsers(title="pet commands", dest="pet_command", metavar="COMMAND")
    suv = commands.add_parser(
        "suv",
        help="vendor-neutral SUV from a PET DICOM series, lesion and reference measurements",
        description="Convert a PET DICOM series to SUVbw and measure lesions and references.",
    )
    suv.add_argument(
        "series_dir", type=Path, metavar="SERIES_DIR", help="folder holding one PET DICOM series"
    )
    suv.add_argument(
        "--lesions",
        type=Path,
        metavar="LABELS",
        help="NIfTI lesion label image on the PET grid (0 = background)",
    )
    liver = suv.add_mutually_exclusive_group()
    liver.add_argument(
        "--liver",
        type=Path,
        metavar="MASK",
        help="NIfTI liver mask on the PET grid (3 cm sphere placed automatically)",
    )
    liver.add_argument(
        "--liver-center",
        metavar="X,Y,Z",
        help="centre of the 3 cm liver sphere, LPS millimetres (e.g. -60,5,-615)",
    )
    suv.add_argument(
        "--blood-pool-center",
        metavar="X,Y,Z",
        help="centre of the PERCIST blood-pool cylinder (1 cm x 2 cm along z) in the "
        "descending aorta, LPS millimetres",
    )
    suv.add_argument(
        "--spleen",
        type=Path,
        metavar="MASK",
        help="NIfTI spleen mask on the PET grid (Krenning reference)",
    )
    suv.add_argument(
        "--sul",
        default=LbmFormula.JANMAHASATIAN.value,
        choices=[f.value for f in LbmFormula],
        help="lean-body-mass formula for SUL (default janmahasatian)",
    )
    suv.add_argument(
        "--weight-kg",
        type=float,
        metavar="W",
        help="patient weight in kg (required when the header has none)",
    )
    add_force_and_out(suv, "output directory")
    suv.set_defaults(handler=run_suv)

    reg = commands.add_parser(
        "register",
        help="rigid Mattes-MI registration of PET (or CT) onto a volumetric MRI",
        description="Register PET or CT (moving) onto MRI (fixed); write transform, "
        "resampled image and fused picture.",
    )
    reg.add_argument(
        "--moving",
        type=Path,
        required=True,
        metavar="PET_OR_CT",
        help="moving image: DICOM series folder or NIfTI file",
    )
    reg.add_argument(
        "--fixed",
        type=Path,
        required=True,
        metavar="MR",
        help="fixed MRI: DICOM series folder or NIfTI file",
    )
    reg.add_argument(
        "--weight-kg",
        type=float,
        metavar="W",
        help="patient weight for SUV display when the PET header has none",
    )
    add_force_and_out(reg, "output directory")
    reg.set_defaults(handler=run_register)
    pet.set_defaults(handler=lambda args: _missing_command(pet))


def _missing_command(parser: argparse.ArgumentParser) -> int:
    parser.print_usage(sys.stderr)
    sys.stderr.write("tumorboard pet: error: choose a command: suv or register\n")
    return 2


def _read_mask(path: Path, what: str, grid: Volume) -> Volume:
    volume = read_nifti(path, what=what)
    grid.require_same_geometry(volume, f"{what} {path}", "the PET series")
    return volume


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.8g}")


def run_suv(args: argparse.Namespace) -> int:
    """Handle ``tumorboard pet suv``."""
    check_output_path(args.out, args.force)
    if args.weight_kg is not None and not 0 < args.weight_kg < 500:
        raise InputError(f"--weight-kg must be between 0 and 500, got {args.weight_kg}")
    center = parse_float_list(args.liver_center, "--liver-center", 3) if args.liver_center else None
    blood_center = (
        parse_float_list(args.blood_pool_center, "--blood-pool-center", 3)
        if args.blood_pool_center
        else None
    )
    series = read_pet_series(args.series_dir, weight_kg=args.weight_kg)
    conversion = series.conversion
    suvbw = series.suvbw
    warnings: list[str] = []
    try:
        sul_ratio: float | None = conversion.sul_per_suvbw(args.sul)
    except InputError as exc:
        sul_ratio = None
        warnings.append(f"SUL not available: {exc}")
    lesions = _read_mask(args.lesions, "lesion labels", suvbw) if args.lesions else None
    liver_mask = _read_mask(args.liver, "liver mask", suvbw) if args.liver else None
    spleen_mask = _read_mask(args.spleen, "spleen mask", suvbw) if args.spleen else None

    summary: dict[str, Any] = {
        "series": series.label,
        "units": conversion.units.value,
        "decay_correction": conversion.decay_correction.value,
        "suvbw_scale_g_per_bq": _round(conversion.suvbw_scale_g_per_bq),
        "sul_scale_g_per_bq": _round(
            None
            if sul_ratio is None or conversion.suvbw_scale_g_per_bq is None
            else conversion.suvbw_scale_g_per_bq * sul_ratio
        ),
        "sul_formula": LbmFormula.parse(args.sul).value,
        "sul_per_suvbw": _round(sul_ratio),
        "decayed_dose_bq": _round(conversion.decayed_dose_bq),
        "injected_dose_bq": _round(conversion.injected_dose_bq),
        "scan_datetime": (
            conversion.scan_datetime.isoformat() if conversion.scan_datetime else None
        ),
        "scan_time_rule": conversion.scan_time_rule.value if conversion.scan_time_rule else None,
        "injection_datetime": (
            conversion.injection_datetime.isoformat() if conversion.injection_datetime else None
        ),
        "radionuclide_half_life_s": _round(conversion.half_life_s),
        "radionuclide": conversion.radionuclide,
        "weight_kg": conversion.weight_kg,
        "pixel_to_suvbw_range": [
            _round(float(conversion.pixel_to_suvbw.min())),
            _round(float(conversion.pixel_to_suvbw.max())),
        ],
        "suvbw_max": _round(float(suvbw.array.max())),
    }
    scale = conversion.suvbw_scale_g_per_bq
    try:
        summary["suvbsa_scale_cm2_per_bq"] = _round(
            None if scale is None else scale * conversion.suvbsa_per_suvbw()
        )
        summary["suvibw_scale_g_per_bq"] = _round(
            None if scale is None else scale * conversion.suvibw_per_suvbw()
        )
    except InputError as exc:
        warnings.append(f"SUVbsa/SUVibw not available: {exc}")
    liver_suvbw = spleen_suvbw = None
    if liver_mask is not None or center is not None:
        with _naming("--liver", args.liver):
            liver_suvbw = liver_reference(
                suvbw, liver_mask=liver_mask, center_lps=center, what="--liver-center"
            )
        summary["liver"] = _reference_json(liver_suvbw, sul_ratio, "liver reference")
    if blood_center is not None:
        blood_suvbw = blood_pool_reference(suvbw, blood_center, what="--blood-pool-center")
        summary["blood_pool"] = _reference_json(blood_suvbw, sul_ratio, "blood-pool reference")
    if spleen_mask is not None:
        with _naming("--spleen", args.spleen):
            spleen_suvbw = organ_reference(suvbw, spleen_mask, ReferenceKind.SPLEEN)
        summary["spleen"] = {
            "suvbw_mean": _round(spleen_suvbw.mean),
            "suvbw_max": _round(spleen_suvbw.max),
        }
    if lesions is not None:
        with _naming("--lesions", args.lesions):
            records = lesion_records(
                suvbw,
                lesions,
                sul_per_suvbw=sul_ratio,
                liver_suvbw=liver_suvbw,
                spleen_suvbw=spleen_suvbw,
            )
        rows = []
        for record in records:
            row = record.to_json()
            if record.krenning is None:
                row.pop("krenning")
                row.pop("small_lesion_caution")
                if record.tumour_to_liver is None:
                    row.pop("tumour_to_liver")
            rows.append(row)
        summary["lesions"] = rows
    if warnings:
        summary["warnings"] = warnings
    with output_directory(args.out, args.force) as staging:
        write_nifti(suvbw, staging / "suvbw.nii.gz", dtype="float32")
        write_json(staging / "summary.json", summary)
    return 0


@contextmanager
def _naming(option: str, path: Path | None) -> Iterator[None]:
    """Prefix a bad-input error raised inside with the option and file it came from."""
    try:
        yield
    except (InputError, EmptyResultError) as exc:
        if path is None:
            raise
        kind = EmptyResultError if isinstance(exc, EmptyResultError) else InputError
        raise kind(f"{option} {path}: {exc}") from None


def _reference_json(region: ReferenceRegion, sul_ratio: float | None, what: str) -> dict[str, Any]:
    """The PERCIST reference block of ``summary.json`` (SUL mean and SD, threshold)."""
    if sul_ratio is None:
        raise InputError(
            f"the {what} is reported in SUL, which needs the patient height (PatientSize) and sex"
        )
    return {
        "sul_mean": _round(region.mean * sul_ratio),
        "sul_sd": _round(region.sd * sul_ratio),
        "suvbw_mean": _round(region.mean),
        "center_lps_mm": [round(v, 2) for v in region.center_lps],
        "n_voxels": region.n_voxels,
        "percist_threshold_sul": _round(region.percist_threshold * sul_ratio),
    }


def _read_image(path: Path, what: str, weight_kg: float | None) -> tuple[Volume, str]:
    """Read a NIfTI file or DICOM folder; PET series are converted to SUVbw when possible."""
    if path.is_file():
        return read_nifti(path, what=what), ""
    if not path.is_dir():
        raise InputError(f"{what} {path}: neither a NIfTI file nor a DICOM folder")
    series = [s for s in scan_dicom_folder(path, what=what) if s.is_image]
    if len(series) == 1 and series[0].modality.upper() == "PT":
        where = f"{what} {path}: {series[0].label}"
        return pet_series(series[0], weight_kg=weight_kg, where=where).suvbw, "SUVbw"
    return read_series_volume(path, what=what), ""


def run_register(args: argparse.Namespace) -> int:
    """Handle ``tumorboard pet register``."""
    check_output_path(args.out, args.force)
    moving, moving_unit = _read_image(args.moving, "moving image", args.weight_kg)
    fixed, _ = _read_image(args.fixed, "fixed MRI", None)
    if moving.array.ndim != 3 or fixed.array.ndim != 3:
        raise InputError("pet register needs 3-D moving and fixed images")
    result = register_rigid(fixed, moving)
    with output_directory(args.out, args.force) as staging:
        result.transform.write(staging / "transform.tfm")
        write_json(
            staging / "transform.json",
            {
                "convention": "maps fixed (MRI) LPS mm points to moving (PET/CT) LPS mm points",
                "matrix": [[float(f"{v:.10g}") for v in row] for row in result.transform.matrix],
                "metric_mattes_mi": float(f"{result.metric_value:.6g}"),
                "iterations_last_level": result.iterations,
                "stop_condition": result.stop_condition,
                "moving_unit": moving_unit or moving.unit or "stored values",
            },
        )
        write_nifti(result.resampled, staging / "resampled.nii.gz", dtype="float32")
        fused_figure(
            fixed,
            result.resampled,
            staging / "fused.png",
            title="PET on MRI",
            pet_unit=moving_unit or None,
        )
    return 0


__all__ = ["register", "run_register", "run_suv"]
