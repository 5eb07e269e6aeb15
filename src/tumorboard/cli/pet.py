"""``tumorboard pet suv`` and ``tumorboard pet register``.

Usage::

    tumorboard pet suv SERIES_DIR [--lesions LABELS] [--liver MASK | --liver-center X,Y,Z]
        [--spleen MASK] [--blood-pool-center X,Y,Z]
        [--sul janmahasatian|james128|james120] [--weight-kg W] [--force] --out DIR
    tumorboard pet register --moving PET_OR_CT --fixed MR [--force] --out DIR

``pet suv`` writes ``suvbw.nii.gz``, ``sul.nii.gz`` (when height and sex are
known) and ``summary.json`` (with ``liver`` and ``blood_pool`` PERCIST
reference blocks when asked); ``pet register`` writes ``transform.tfm`` (ITK),
``transform.json`` (4x4 MRI-to-PET matrix), ``resampled.nii.gz`` (moving image
on the MRI grid) and ``fused.png``.
This module only parses: the work is done by :mod:`tumorboard.pipeline.pet_suv`
and :mod:`tumorboard.pipeline.pet_register`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tumorboard.cli.common import add_force_and_out, parse_float_list
from tumorboard.outputs import check_output_path
from tumorboard.pet.body_size import LbmFormula
from tumorboard.pipeline.pet_register import register_images, write_registration
from tumorboard.pipeline.pet_suv import PetSuvRequest, compute_pet_suv, write_pet_suv


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


def run_suv(args: argparse.Namespace) -> int:
    """Handle ``tumorboard pet suv``: parse, then :mod:`tumorboard.pipeline.pet_suv`."""
    inputs = [args.series_dir, args.lesions, args.liver, args.spleen]
    check_output_path(args.out, args.force, inputs=inputs, directory=True)
    request = PetSuvRequest(
        series_dir=args.series_dir,
        lesions=args.lesions,
        liver=args.liver,
        liver_center_lps=(
            parse_float_list(args.liver_center, "--liver-center", 3) if args.liver_center else None
        ),
        blood_pool_center_lps=(
            parse_float_list(args.blood_pool_center, "--blood-pool-center", 3)
            if args.blood_pool_center
            else None
        ),
        spleen=args.spleen,
        sul_formula=args.sul,
        weight_kg=args.weight_kg,
    )
    write_pet_suv(compute_pet_suv(request), args.out, args.force, inputs=inputs)
    return 0


def run_register(args: argparse.Namespace) -> int:
    """Handle ``tumorboard pet register``: parse, then :mod:`tumorboard.pipeline.pet_register`."""
    inputs = [args.moving, args.fixed]
    check_output_path(args.out, args.force, inputs=inputs, directory=True)
    registration = register_images(args.moving, args.fixed, weight_kg=args.weight_kg)
    write_registration(registration, args.out, args.force, inputs=inputs)
    return 0


__all__ = ["register", "run_register", "run_suv"]
