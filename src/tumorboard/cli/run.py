"""``tumorboard run``, ``tumorboard baseline`` and ``tumorboard report`` on a workspace.

Thin face: parsing and printing only; the work is in
:mod:`tumorboard.workflow` (what to compute, reuse, provenance) and
:mod:`tumorboard.pipeline` (the report).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from tumorboard.cli.common import add_force_and_out, progress_bar
from tumorboard.errors import InputError

__all__ = ["register"]


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text[:40]!r}") from None


def register(subparsers: Any) -> None:
    """Add the ``run``, ``baseline`` and ``report`` commands."""
    run = subparsers.add_parser(
        "run",
        help="run every applicable analysis of the record once (WB-DWI, PET SUV)",
        description=(
            "Run the WB-DWI tumour load of every exam with diffusion series (against the "
            "reference exam of its therapy line, see 'tumorboard baseline') and the SUV "
            "conversion of every PET series (with the lesions of a SEG of the same study). "
            "Analyses whose inputs and settings are already in the record are reused, not "
            "recomputed; a failure is recorded and reported and the rest go on."
        ),
    )
    run.add_argument(
        "--workspace", type=Path, required=True, metavar="WORKSPACE", help="the workspace"
    )
    run.add_argument("--patient", metavar="ID", help="only this patient (default: every patient)")
    run.add_argument("--json", action="store_true", help="print the result as JSON")
    run.add_argument("--quiet", action="store_true", help="print nothing on success")
    run.set_defaults(handler=run_run)

    baseline = subparsers.add_parser(
        "baseline",
        help="set the baseline (reference) exam of a therapy line",
        description=(
            "Start a new therapy line whose baseline is the exam of --exam, or with --line "
            "move an existing line's baseline. Every WB-DWI percentage and class of the "
            "line's exams refers to its baseline; the next 'tumorboard run' recomputes them. "
            "Without any line, an exam refers to the patient's first exam, and a line "
            "without a baseline to its last exam on or before its start (tumorboard's default)."
        ),
    )
    baseline.add_argument(
        "--workspace", type=Path, required=True, metavar="WORKSPACE", help="the workspace"
    )
    baseline.add_argument("patient_id", metavar="PATIENT_ID", help="the patient's id")
    baseline.add_argument(
        "--exam", type=_iso_date, required=True, metavar="DATE", help="the baseline exam's date"
    )
    baseline.add_argument(
        "--line", type=int, metavar="N", help="re-baseline line N (default: start a new line)"
    )
    baseline.add_argument("--drug", help="the new line's drug (e.g. everolimus)")
    baseline.add_argument(
        "--drug-class", help="the new line's drug class (as in 'tumorboard assess')"
    )
    baseline.add_argument(
        "--start",
        type=_iso_date,
        metavar="DATE",
        help="the new line's first day (default: the exam's date)",
    )
    baseline.add_argument(
        "--author", default=None, help="who sets it (default: the login name of this session)"
    )
    baseline.add_argument("--json", action="store_true", help="print the result as JSON")
    baseline.set_defaults(handler=run_baseline)
    register_report(subparsers)


def run_run(args: argparse.Namespace) -> int:
    """Run the analyses; exit 1 when one failed (after running the rest)."""
    from tumorboard.store import open_workspace
    from tumorboard.workflow.analysis_runs import run_analyses

    workspace = open_workspace(args.workspace)
    try:
        show = sys.stderr.isatty() and not (args.json or args.quiet)
        with progress_bar(show, "analyses") as progress:
            summary = run_analyses(workspace, args.patient, progress=progress)
    finally:
        workspace.close()
    result = summary.as_json()
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    elif not args.quiet or result["failed"]:
        sys.stdout.write(
            f"{result['analyses_run']} analyses run, {result['analyses_reused']} reused, "
            f"{len(result['failed'])} failed\n"
        )
        for failure in result["failed"]:
            of = f"exam {failure['exam_date']}" if failure["exam_date"] else "the patient"
            sys.stderr.write(
                f"tumorboard run: {failure['kind']} of {of} failed: {failure['error']}\n"
            )
    return 1 if result["failed"] else 0


def run_baseline(args: argparse.Namespace) -> int:
    """Set the baseline and print what changed."""
    from tumorboard.store import open_workspace
    from tumorboard.workflow.therapy_lines import set_baseline

    if args.line is not None and (args.drug or args.drug_class or args.start):
        raise InputError(
            "baseline: --drug, --drug-class and --start describe a new line; "
            "leave them out with --line"
        )
    workspace = open_workspace(args.workspace)
    try:
        change = set_baseline(
            workspace,
            args.patient_id,
            args.exam,
            author=args.author or getpass.getuser(),
            line=args.line,
            drug=args.drug,
            drug_class=args.drug_class,
            start_date=args.start,
        )
    finally:
        workspace.close()
    result = {
        "line": change.line,
        "created": change.created,
        "baseline_exam_date": change.baseline_date.isoformat(),
    }
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        verb = "started" if change.created else "re-baselined"
        sys.stdout.write(
            f"therapy line {change.line} {verb}; baseline exam {result['baseline_exam_date']} "
            "(run 'tumorboard run' to update the analyses)\n"
        )
    return 0


def register_report(subparsers: Any) -> None:
    """Add the ``report`` command."""
    report = subparsers.add_parser(
        "report",
        help="write the case-report form and the board report of a patient from the record",
        description=(
            "Write crf.json, crf.html, crf.pdf, response.csv, sdtm/ (as 'tumorboard assess') "
            "and report.html (one self-contained page: timeline, WB-DWI exams with their "
            "MIPs, PET lesions) from the record: the lesion reads, the therapy lines and "
            "the analyses stored by 'tumorboard run'."
        ),
    )
    report.add_argument(
        "--workspace", type=Path, required=True, metavar="WORKSPACE", help="the workspace"
    )
    report.add_argument("patient_id", metavar="PATIENT_ID", help="the patient's id")
    add_force_and_out(report, "output folder (created; must not exist unless --force)")
    report.add_argument(
        "--deidentify",
        action="store_true",
        help="de-identify every output (names, ids, dates), as 'assess --deidentify'",
    )
    report.add_argument(
        "--salt", help="secret for the pseudonyms (give the same salt to link exports)"
    )
    report.add_argument("--json", action="store_true", help="print the result as JSON")
    report.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Write the patient's form and report into ``--out``."""
    from tumorboard.outputs import check_output_path, output_directory
    from tumorboard.store import open_workspace
    from tumorboard.workflow.record_report import write_record_report

    if args.salt and not args.deidentify:
        raise InputError("--salt is only used with --deidentify")
    check_output_path(args.out, args.force, inputs=[args.workspace], directory=True)
    workspace = open_workspace(args.workspace)
    try:
        with output_directory(args.out, args.force, inputs=[args.workspace]) as staging:
            written = write_record_report(
                workspace, args.patient_id, staging, deidentify=args.deidentify, salt=args.salt
            )
    finally:
        workspace.close()
    result = {
        "out": str(args.out),
        "files": list(written.files),
        "dwi_exams": written.dwi_exams,
        "pet_series": written.pet_series,
        "read_exams": written.read_exams,
    }
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        sys.stdout.write(
            f"report written to {args.out}: {written.read_exams} read exams, "
            f"{written.dwi_exams} WB-DWI exams, {written.pet_series} PET series\n"
        )
    return 0
