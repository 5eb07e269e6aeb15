"""``tumorboard lesion`` and ``tumorboard timeline``: reads in the record; a patient's course."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``lesion`` and ``timeline`` commands."""
    lesion = subparsers.add_parser(
        "lesion",
        help="lesion reads in the record (import a measurement table)",
        description="Lesion reads in a workspace's record; every change keeps who, when, "
        "the old and the new value.",
    )
    actions = lesion.add_subparsers(title="actions", dest="action", metavar="ACTION")
    importer = actions.add_parser(
        "import",
        help="import a measurement table in the 'tumorboard assess' format",
        description="Import MEASUREMENTS.csv (the 'tumorboard assess' format, same rules) into "
        "the record: lesions get stable tracking UIDs, exams are matched by date, changed "
        "values are logged.",
    )
    importer.add_argument("--workspace", type=Path, required=True, metavar="WORKSPACE")
    importer.add_argument("table", type=Path, metavar="MEASUREMENTS.csv")
    importer.add_argument(
        "--author", default=None, help="who reads (default: the login name of this session)"
    )
    importer.add_argument("--json", action="store_true", help="print the result as JSON")
    importer.set_defaults(handler=run_lesion_import)

    timeline = subparsers.add_parser(
        "timeline",
        help="a patient's exams, therapy lines and responses from the record",
        description="Exams (date, modalities), therapy lines and the response under each "
        "criteria against baseline and against nadir, from the workspace's record.",
    )
    timeline.add_argument("--workspace", type=Path, required=True, metavar="WORKSPACE")
    timeline.add_argument("patient_id", metavar="PATIENT_ID")
    timeline.add_argument("--json", action="store_true", help="print the timeline as JSON")
    timeline.set_defaults(handler=run_timeline)


def run_lesion_import(args: argparse.Namespace) -> int:
    """Import the table and print a one-line summary (or JSON)."""
    from tumorboard.store import open_workspace
    from tumorboard.workflow.lesion_reads import import_reads_csv

    author = args.author or getpass.getuser()
    workspace = open_workspace(args.workspace)
    try:
        summary = import_reads_csv(workspace, args.table, author).as_dict()
    finally:
        workspace.close()
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        sys.stdout.write(
            f"{summary['reads']} new reads, {summary['values_changed']} values changed "
            f"({summary['lesions']} new lesions, {summary['exams']} new exams)\n"
        )
    return 0


def run_timeline(args: argparse.Namespace) -> int:
    """Print the patient's timeline as a table (or JSON)."""
    from tumorboard.store import open_workspace
    from tumorboard.workflow.timeline import patient_timeline

    workspace = open_workspace(args.workspace)
    try:
        timeline = patient_timeline(workspace, args.patient_id)
    finally:
        workspace.close()
    if args.json:
        sys.stdout.write(json.dumps(timeline) + "\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="timeline", title_justify="left")
    table.add_column("date")
    table.add_column("exam")
    table.add_column("modalities")
    criteria = list(timeline["responses"])
    for name in criteria:
        table.add_column(f"{name}\nvs baseline / nadir")
    by_date: dict[str, dict[str, str]] = {}
    for name, points in timeline["responses"].items():
        for point in points:
            text = f"{point['vs_baseline'] or '-'} / {point['vs_nadir'] or '-'}"
            by_date.setdefault(point["date"], {})[name] = text
    for exam in timeline["exams"]:
        cells = by_date.get(exam["date"], {})
        table.add_row(
            exam["date"],
            exam["label"] or "",
            ", ".join(exam["modalities"]),
            *(cells.get(name, "") for name in criteria),
        )
    # Piped output is not cut to 80 columns (rich's default off a terminal).
    width = None if sys.stdout.isatty() else 200
    Console(highlight=False, width=width).print(table)
    return 0
