"""``tumorboard cohort run``: the record's analyses of a cohort on dask.distributed (thin face)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tumorboard.cli.common import progress_bar
from tumorboard.errors import InputError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``cohort`` command group."""
    cohort = subparsers.add_parser(
        "cohort", help="run and analyse a cohort of the record on dask.distributed"
    )
    commands = cohort.add_subparsers(
        title="cohort commands", dest="cohort_command", metavar="COMMAND"
    )
    run = commands.add_parser(
        "run",
        help="every applicable analysis of many patients as Dask tasks (resumable)",
        description=(
            "Plan the analyses of 'tumorboard run' for every patient (or those of "
            "--patients) and run each as a task on dask.distributed: a local cluster of "
            "--workers processes, or an existing scheduler. Finished analyses are reused, "
            "a failing one is recorded and the rest go on, a task whose worker died is "
            "retried. Exits 1 when an analysis failed."
        ),
    )
    run.add_argument(
        "--workspace",
        type=Path,
        required=True,
        metavar="WORKSPACE",
        help="the workspace (every worker must reach its folder and database)",
    )
    run.add_argument(
        "--patients",
        type=Path,
        metavar="FILE",
        help="a text file of patient ids, one per line (default: every patient)",
    )
    where = run.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=int,
        default=2,
        metavar="N",
        help="worker processes of the local cluster (default 2)",
    )
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="an existing Dask scheduler, e.g. tcp://HOST:8786 (instead of a local cluster)",
    )
    run.add_argument("--json", action="store_true", help="print the result as JSON")
    run.add_argument("--quiet", action="store_true", help="print nothing on success")
    run.set_defaults(handler=run_cohort_run)


def _patients(path: Path | None) -> list[str] | None:
    if path is None:
        return None
    if not path.is_file():
        raise InputError(f"--patients {path}: not a readable file")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise InputError(f"--patients {path}: not UTF-8 text") from None
    keys = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not keys:
        raise InputError(f"--patients {path}: no patient id in the file")
    return keys


def run_cohort_run(args: argparse.Namespace) -> int:
    """Run the cohort and print the summary."""
    from tumorboard.workflow.cohort_run import run_cohort

    keys = _patients(args.patients)
    show = sys.stderr.isatty() and not (args.json or args.quiet)
    with progress_bar(show, "cohort tasks") as progress:
        summary = run_cohort(
            args.workspace,
            patient_keys=keys,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=progress,
        )
    result = summary.as_json()
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    elif not args.quiet or result["failed"]:
        sys.stdout.write(
            f"{result['patients']} patients: {result['tasks_done']} tasks done, "
            f"{result['tasks_reused']} reused, {result['tasks_failed']} failed\n"
        )
        for failure in result["failed"]:
            sys.stderr.write(
                f"tumorboard cohort run: {failure['kind']} of exam {failure['exam_date']} "
                f"failed: {failure['error']}\n"
            )
    return 1 if result["failed"] else 0
