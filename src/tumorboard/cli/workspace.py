"""``tumorboard init`` and ``tumorboard import``: create a workspace and fill its record."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tumorboard.cli.common import progress_bar


def register(subparsers: Any) -> None:
    """Add the ``init`` and ``import`` commands."""
    init = subparsers.add_parser(
        "init",
        help="create a workspace: the patient record (SQLite or PostgreSQL) and its objects",
        description=(
            "Create WORKSPACE with the patient record: an embedded SQLite database "
            "(WORKSPACE/tumorboard.db, owner-only) or, with --database, a PostgreSQL "
            "database, and the content-addressed object store WORKSPACE/objects."
        ),
    )
    init.add_argument("workspace", type=Path, metavar="WORKSPACE", help="a new or empty folder")
    init.add_argument(
        "--database",
        metavar="URL",
        help="PostgreSQL URL, e.g. postgresql+psycopg://user@host/dbname "
        "(default: SQLite inside the workspace)",
    )
    init.add_argument("--json", action="store_true", help="print the result as JSON")
    init.set_defaults(handler=run_init)

    importer = subparsers.add_parser(
        "import",
        help="import DICOM folders, zip archives or DICOMDIRs into a workspace",
        description=(
            "Import DICOM files into the workspace's record: each file once (re-importing "
            "is a no-op), a study arriving in parts merged, series classified (WB-DWI, PET "
            "with tracer, DCE, CT, MR, localiser, ADC map, SEG, RTSTRUCT, SR). Files that "
            "are not DICOM are counted and listed, never fatal. With --dicomweb the studies "
            "are pulled from a PACS instead (QIDO-RS/WADO-RS): resumable (an interrupted pull "
            "keeps what it retrieved in WORKSPACE/.pull and the same command fetches only the "
            "rest), and the record gains the whole pull or nothing."
        ),
    )
    importer.add_argument(
        "--workspace", type=Path, required=True, metavar="WORKSPACE", help="the workspace"
    )
    importer.add_argument(
        "paths",
        type=Path,
        nargs="*",
        metavar="PATH",
        help="folder, zip archive or DICOMDIR (not with --dicomweb)",
    )
    importer.add_argument(
        "--dicomweb",
        metavar="URL",
        help="pull from this DICOMweb service, e.g. http://pacs:8042/dicom-web",
    )
    importer.add_argument(
        "--patient-id",
        dest="patient_ids",
        action="append",
        default=[],
        metavar="ID",
        help="with --dicomweb: every study of this patient (repeatable)",
    )
    importer.add_argument(
        "--study",
        dest="study_uids",
        action="append",
        default=[],
        metavar="UID",
        help="with --dicomweb: the study with this StudyInstanceUID (repeatable)",
    )
    add_dicomweb_login(importer)
    importer.add_argument("--json", action="store_true", help="print the result as JSON")
    importer.set_defaults(handler=run_import)


def add_dicomweb_login(parser: argparse.ArgumentParser) -> None:
    """Add ``--user`` and ``--password-file`` (HTTP basic authentication of --dicomweb)."""
    parser.add_argument("--user", metavar="USER", help="with --dicomweb: HTTP basic-auth user")
    parser.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help="with --dicomweb: file whose first line is the password (never on the command line)",
    )


def run_init(args: argparse.Namespace) -> int:
    """Create the workspace and print a one-line summary (or JSON)."""
    from tumorboard.store import init_workspace

    workspace = init_workspace(args.workspace, args.database)
    try:
        summary = {
            "workspace": str(workspace.root),
            "backend": workspace.backend,
            "schema_revision": workspace.schema_revision,
        }
    finally:
        workspace.close()
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        sys.stdout.write(
            f"workspace {summary['workspace']} created ({summary['backend']}, "
            f"schema {summary['schema_revision']})\n"
        )
    return 0


def run_import(args: argparse.Namespace) -> int:
    """Import the paths (or pull from --dicomweb) and print a one-line summary (or JSON)."""
    from tumorboard.store import open_workspace
    from tumorboard.workflow import ImportSummary, import_paths

    server = _dicomweb_server(args)
    pulled: dict[str, Any] | None = None
    workspace = open_workspace(args.workspace)
    try:
        show = sys.stderr.isatty() and not args.json
        if server is None:
            with progress_bar(show, "reading headers") as progress:
                summary = import_paths(workspace, args.paths, progress=progress).as_dict()
        else:
            from tumorboard.workflow.dicomweb_pull import pull_studies

            with progress_bar(show, "retrieving") as fetching:
                result = pull_studies(
                    workspace,
                    server,
                    patient_ids=args.patient_ids,
                    study_uids=args.study_uids,
                    progress=fetching,
                )
            pulled = result.as_dict()
            summary = (
                result.imported.as_dict()
                if result.imported is not None
                else ImportSummary().as_dict()
            )
    finally:
        workspace.close()
    if pulled is not None:
        summary["duplicates"] += pulled["in_record_before"]
        summary["dicomweb"] = pulled
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return 0
    if pulled is not None:
        sys.stdout.write(
            f"pulled {pulled['studies']} studies from {pulled['host']}: "
            f"{pulled['fetched']} instances retrieved, {pulled['staged_before']} resumed, "
            f"{pulled['in_record_before']} already in the record; "
        )
    sys.stdout.write(
        f"imported {summary['files']} files ({summary['patients']} patients, "
        f"{summary['studies']} studies, {summary['series']} series); "
        f"{summary['duplicates']} already in the record, "
        f"{len(summary['skipped_files'])} skipped\n"
    )
    return 0


def _dicomweb_server(args: argparse.Namespace) -> Any:
    """The DICOMweb server of --dicomweb (None without it); refuses mixed options."""
    from tumorboard.errors import InputError

    if args.dicomweb is None:
        if args.patient_ids or args.study_uids or args.user or args.password_file:
            raise InputError(
                "--patient-id, --study, --user and --password-file need --dicomweb URL"
            )
        if not args.paths:
            raise InputError("give at least one PATH to import, or --dicomweb URL")
        return None
    if args.paths:
        raise InputError("give either PATHs or --dicomweb, not both")
    if not args.patient_ids and not args.study_uids:
        raise InputError("--dicomweb needs at least one --patient-id ID or --study UID")
    from tumorboard.workflow.dicomweb_server import DicomwebServer

    return DicomwebServer.from_options(args.dicomweb, args.user, args.password_file)
