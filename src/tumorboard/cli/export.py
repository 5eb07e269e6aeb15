"""``tumorboard export``: a patient's results as DICOM objects in a folder or sent to a PACS.

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

from tumorboard.cli.workspace import add_dicomweb_login
from tumorboard.errors import InputError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``export`` command."""
    export = subparsers.add_parser(
        "export",
        help="write a patient's results as DICOM SEG, Parametric Map, SR, SC and PDF objects",
        description=(
            "Write the results of the record as standard DICOM objects, one folder per type: "
            "seg/ (WB-DWI tumour mask with its green/yellow/red classes; PET lesions with "
            "their tracking ids), pm/ (ADC in um2/s, computed b image, SUVbw, with UCUM "
            "real-world value mapping) and sr/ (TID 1500 measurement report per study: tumour "
            "load, ADC statistics, class volumes, PET lesion values and the reader's "
            "measurements, referencing the SEG segments and source images), sc/ (the coronal "
            "WB-DWI MIP of 'tumorboard report' as Secondary Capture, one per exam) and pdf/ "
            "(the newest signed case-report form as Encapsulated PDF; 'tumorboard sign' "
            "first). Every object references its study and source series; exporting the same "
            "record again gives the same files (same UIDs). A changed result (a new analysis, "
            "a re-signed form) is a new series whose description says 'v2, replaces v1'; the "
            "old one stays. With --dicomweb the objects are sent to a PACS (STOW-RS) instead; "
            "objects the PACS holds already are not sent again."
        ),
    )
    export.add_argument(
        "--workspace", type=Path, required=True, metavar="WORKSPACE", help="the workspace"
    )
    export.add_argument("patient_id", metavar="PATIENT_ID", help="the patient's id")
    target = export.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--out", type=Path, help="output folder (created; must not exist unless --force)"
    )
    target.add_argument(
        "--dicomweb",
        metavar="URL",
        help="send to this DICOMweb service (STOW-RS), e.g. http://pacs:8042/dicom-web",
    )
    export.add_argument(
        "--force", action="store_true", help="replace an existing output instead of failing"
    )
    add_dicomweb_login(export)
    export.add_argument(
        "--what",
        default=None,
        metavar="TYPES",
        help=(
            "comma-separated object types to write: seg, pm, sr, sc, pdf (default: all of "
            "them, pdf only once the form is signed and not with --deidentify)"
        ),
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
    what = None if args.what is None else parse_what(args.what)
    if args.dicomweb is not None:
        return _push(args, what)
    if args.user or args.password_file:
        raise InputError("--user and --password-file need --dicomweb URL")
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


def _push(args: argparse.Namespace, what: tuple[str, ...] | None) -> int:
    """Send the patient's objects with STOW-RS and print a one-line summary (or JSON)."""
    from tumorboard.store import open_workspace
    from tumorboard.workflow.dicomweb_push import push_patient
    from tumorboard.workflow.dicomweb_server import DicomwebServer

    if args.force:
        raise InputError("--force is for --out (a PACS keeps objects it holds already)")
    server = DicomwebServer.from_options(args.dicomweb, args.user, args.password_file)
    workspace = open_workspace(args.workspace)
    try:
        summary = push_patient(
            workspace,
            args.patient_id,
            server,
            what=what,
            deidentify=args.deidentify,
            salt=args.salt,
        )
    finally:
        workspace.close()
    result = summary.as_json()
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        counts = ", ".join(f"{n} {kind}" for kind, n in result["counts"].items()) or "nothing"
        sys.stdout.write(
            f"DICOM objects sent to {summary.host}: {counts} "
            f"({summary.sent} stored, {summary.already_on_server} already there)\n"
        )
    return 0
