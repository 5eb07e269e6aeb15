"""``tumorboard radiomics``: IBSI features for every lesion of a label map."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tumorboard.cli.common import add_force_and_out
from tumorboard.errors import InputError
from tumorboard.outputs import check_output_path, output_file
from tumorboard.pet.uptake_image import (
    LesionUptakeValues,
    UptakeImage,
    UptakeUnit,
    lesion_uptake_values,
)
from tumorboard.radiomics import (
    Preset,
    RadiomicsInputs,
    extract_lesion_features,
    load_radiomics_inputs,
    write_feature_table,
)


def register(subparsers: Any) -> None:
    """Add the ``radiomics`` command."""
    parser = subparsers.add_parser(
        "radiomics",
        help="IBSI radiomic features per lesion (via mirp)",
        description=(
            "Compute IBSI-1 radiomic features for every label of a label map, one lesion per "
            "worker process, and write a long CSV with IBSI codes and acquisition parameters."
        ),
    )
    parser.add_argument(
        "--image", required=True, type=Path, help="NIfTI image or folder with one DICOM series"
    )
    parser.add_argument(
        "--labels", required=True, type=Path, help="NIfTI label map, DICOM SEG or RTSTRUCT file"
    )
    parser.add_argument(
        "--preset",
        default=Preset.IBSI_C.value,
        choices=[p.value for p in Preset],
        help="processing configuration (IBSI CT configurations A-E, digital phantom, mr, pet)",
    )
    parser.add_argument(
        "--roi",
        action="append",
        default=None,
        metavar="NAME",
        help="RTSTRUCT ROI to use (repeatable; default: all ROIs with contours)",
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    add_force_and_out(parser, "output CSV (features.csv)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Read inputs, compute features, write the table atomically."""
    out = Path(args.out)
    check_output_path(out, args.force, inputs=[args.image, args.labels], directory=False)
    if out.is_dir():
        raise InputError(f"output {out} is a directory; give a CSV file name")
    inputs = load_radiomics_inputs(args.image, args.labels, roi_names=args.roi)
    lesions = extract_lesion_features(
        inputs.image, inputs.labels, args.preset, workers=args.workers
    )
    uptake = _pet_uptake(inputs)
    with output_file(out, force=args.force, inputs=[args.image, args.labels]) as staging:
        write_feature_table(
            staging, lesions, args.preset, inputs.acquisition, inputs.label_names, uptake
        )
    return 0


def _pet_uptake(inputs: RadiomicsInputs) -> list[LesionUptakeValues]:
    """SUVbw max/mean and SULpeak of a PET DICOM series, by the one owner (``pet suv``'s)."""
    if inputs.acquisition.unit != "SUVbw":  # only a PET series converted by its header
        return []
    image = UptakeImage(inputs.image, UptakeUnit.SUVBW, inputs.sul_per_suvbw)
    return lesion_uptake_values(image, inputs.labels)
