"""``tumorboard export``: a patient's results as DICOM objects in a folder.

Thin face: parsing and printing only; the work is in
:mod:`tumorboard.workflow.export` (what the record holds) and
:mod:`tumorboard.dicom_export` (the DICOM objects).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tumorboard.cli.common import add_force_and_out
from tumorboard.errors import InputError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``export`` command."""
    export = subparsers.add_parser(
        "export",
        help="write a patient's results as DICOM SEG, Parametric Map and SR files",
        description=(
            "Write the results of the record as standard DICOM objects, one folder per type: "
            "seg/ (WB-DWI tumour mask with its green/yellow/red classes; PET lesions with "
            "their tracking ids), pm/ (ADC in um2/s, computed b image, SUVbw, with UCUM "
            "real-world value mapping) and sr/ (TID 1500 measurement report per study: tumour "
            "load, ADC statistics, class volumes, PET lesion values and the reader's "
            "measurements, referencing the SEG segments and source images). Every object "
            "references its source series; exporting the same record again gives the same "
            "files (same UIDs)."
        ),
    )
    export.add_argument(
        "--workspace", type=Path, required=True, metavar="WORKSPACE", help="the workspace"
    )
    export.add_argument("patient_id", metavar="PATIENT_ID", help="the patient's id")
    add_force_and_out(export, "output folder (created; must not exist unless --force)")
    export.add_argument(
        "--what",
        default="seg,pm,sr",
        metavar="TYPES",
        help="comma-separated object types to write: seg, pm, sr (default: all three)",
    )
    export.add_argument(
        "--deidentify",
        action="store_true",
        help=(
            "de-identify every object (DICOM PS3.15 Basic Profile on the source headers, "
            "UIDs replaced consistently, labels scrubbed)"
        ),
    )
    export.add_argument(
        "--salt",
        help="secret for pseudonyms and UIDs (give the same salt to get the same files again)",
    )
    export.add_argument("--json", action="store_true", help="print the result as JSON")
    export.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    """Write the patient's DICOM objects into ``--out``."""
    from tumorboard.outputs import check_output_path, output_directory
    from tumorboard.store import open_workspace
    from tumorboard.workflow.export import export_patient, parse_what

    if args.salt and not args.deidentify:
        raise InputError("--salt is only used with --deidentify")
    what = parse_what(args.what)
    check_output_path(args.out, args.force, inputs=[args.workspace], directory=True)
    workspace = open_workspace(args.workspace)
    try:
        with output_directory(args.out, args.force, inputs=[args.workspace]) as staging:
            summary = export_patient(
                workspace,
                args.patient_id,
                staging,
                what=what,
                deidentify=args.deidentify,
                salt=args.salt,
            )
    finally:
        workspace.close()
    result = {"out": str(args.out), **summary.as_json()}
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        counts = ", ".join(f"{n} {kind}" for kind, n in result["counts"].items()) or "nothing"
        sys.stdout.write(f"DICOM objects written to {args.out}: {counts}\n")
    return 0
