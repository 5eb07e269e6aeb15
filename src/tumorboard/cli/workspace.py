"""``tumorboard init`` and ``tumorboard import``: create a workspace and fill its record."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


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
            "are not DICOM are counted and listed, never fatal."
        ),
    )
    importer.add_argument(
        "--workspace", type=Path, required=True, metavar="WORKSPACE", help="the workspace"
    )
    importer.add_argument(
        "paths", type=Path, nargs="+", metavar="PATH", help="folder, zip archive or DICOMDIR"
    )
    importer.add_argument("--json", action="store_true", help="print the result as JSON")
    importer.set_defaults(handler=run_import)


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr for file reading (only on a terminal)."""
    if not enabled:
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("reading headers", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


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
    """Import the paths and print a one-line summary (or JSON)."""
    from tumorboard.store import open_workspace
    from tumorboard.workflow import import_paths

    workspace = open_workspace(args.workspace)
    try:
        with _progress_bar(enabled=sys.stderr.isatty() and not args.json) as progress:
            summary = import_paths(workspace, args.paths, progress=progress).as_dict()
    finally:
        workspace.close()
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        sys.stdout.write(
            f"imported {summary['files']} files ({summary['patients']} patients, "
            f"{summary['studies']} studies, {summary['series']} series); "
            f"{summary['duplicates']} already in the record, "
            f"{len(summary['skipped_files'])} skipped\n"
        )
    return 0
