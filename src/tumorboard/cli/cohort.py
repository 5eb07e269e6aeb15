"""``tumorboard cohort run`` and ``cohort analyse``: a cohort of the record (thin face).

``run`` computes the record's analyses on dask.distributed
(:mod:`tumorboard.workflow.cohort_run`); ``analyse`` answers a cohort question
from what the record holds (:mod:`tumorboard.workflow.cohort_analysis`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tumorboard.cli.common import add_force_and_out, progress_bar
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
    run.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help=(
            "memory per worker of the local cluster, e.g. 2GB (default: the machine's "
            "memory / --workers; 0 = no limit); Dask pauses a worker at 80 %% and restarts "
            "it at 95 %%, and its task is retried"
        ),
    )
    run.add_argument(
        "--no-dashboard",
        action="store_true",
        help=(
            "no Dask dashboard (by default the local cluster serves it on a free port of "
            "127.0.0.1 only, when bokeh is installed, and its address is printed)"
        ),
    )
    run.add_argument("--json", action="store_true", help="print the result as JSON")
    run.add_argument("--quiet", action="store_true", help="print nothing on success")
    run.set_defaults(handler=run_cohort_run)

    analyse = commands.add_parser(
        "analyse",
        help="answer a cohort question from the record (tables, statistics, figures)",
        description=(
            "prrt-perfusion: per-lesion baseline perfusion of the 'dce' analyses (Ktrans, Fp, "
            "arterial fraction, ve, vp, IAUGC60) and its change at the --follow-up exam against "
            "the patient's RECIST 1.1 response there (from the record's lesion reads): ROC AUC "
            "with a patient-level cluster bootstrap 95 %% CI, Youden cut-off, logistic "
            "regression. wbdwi-response: WB-DWI volume and ADC change and class fractions by "
            "response. Writes OUT/summary.json, the table (CSV and Parquet) and PNG figures, "
            "all or nothing. Patients appear as P001, P002 ..., never by id."
        ),
    )
    analyse.add_argument(
        "--workspace", type=Path, required=True, metavar="WORKSPACE", help="the workspace"
    )
    analyse.add_argument(
        "--question",
        required=True,
        choices=("prrt-perfusion", "wbdwi-response"),
        help="the cohort question",
    )
    analyse.add_argument(
        "--patients",
        type=Path,
        metavar="FILE",
        help="a text file of patient ids, one per line (default: every patient)",
    )
    analyse.add_argument(
        "--follow-up",
        default="first",
        metavar="first|last|DAYS",
        help=(
            "which follow-up exam: the first after baseline (default), the last, or the one "
            "nearest DAYS days after baseline (the earlier of two equally near)"
        ),
    )
    add_force_and_out(analyse, "output folder (summary.json, tables, figures)")
    analyse.add_argument("--json", action="store_true", help="print summary.json")
    analyse.set_defaults(handler=run_cohort_analyse)


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
    from tumorboard.workflow.cohort_run import parse_memory_limit, run_cohort

    keys = _patients(args.patients)
    memory_limit = None
    if args.memory_limit is not None:
        if args.scheduler is not None:
            raise InputError(
                "--memory-limit sets the local cluster's workers; not with --scheduler"
            )
        memory_limit = parse_memory_limit(args.memory_limit)
    chatty = not (args.json or args.quiet)
    show = sys.stderr.isatty() and chatty

    def notice(text: str) -> None:
        if chatty:
            sys.stderr.write(f"tumorboard cohort run: {text}\n")

    with progress_bar(show, "cohort tasks") as progress:
        summary = run_cohort(
            args.workspace,
            patient_keys=keys,
            workers=args.workers,
            scheduler=args.scheduler,
            memory_limit=memory_limit,
            dashboard=not args.no_dashboard,
            progress=progress,
            notice=notice,
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


def run_cohort_analyse(args: argparse.Namespace) -> int:
    """Answer the question and print the headline numbers (or the summary as JSON)."""
    from tumorboard.store import open_workspace
    from tumorboard.workflow.cohort_analysis import FollowUp, analyse_cohort

    keys = _patients(args.patients)
    follow_up = FollowUp.parse(args.follow_up)
    workspace = open_workspace(args.workspace)
    try:
        summary = analyse_cohort(
            workspace,
            args.question,
            args.out,
            patient_keys=keys,
            follow_up=follow_up,
            force=args.force,
        )
    finally:
        workspace.close()
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
    elif args.question == "prrt-perfusion":
        low, high = summary["auc_ci95"]
        sys.stdout.write(
            f"{summary['n_patients']} patients, {summary['n_lesions']} lesions: AUC of baseline "
            f"Ktrans {summary['auc']:.3f} (95 % CI {low:.3f}-{high:.3f}); cut-off "
            f"{summary['cutoff']:.3g} /min, sensitivity {summary['sensitivity']:.2f}, "
            f"specificity {summary['specificity']:.2f}\n"
        )
    else:
        sys.stdout.write(f"{summary['n_patients']} patients with two WB-DWI exams\n")
    return 0
