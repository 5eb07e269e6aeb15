"""``tumorboard phantom``: write synthetic cohorts with known truth (thin face)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tumorboard.cli.common import add_force_and_out

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``phantom`` command group."""
    phantom = subparsers.add_parser(
        "phantom", help="write synthetic data with known truth (DICOM, tables, truth.json)"
    )
    commands = phantom.add_subparsers(
        title="phantom commands", dest="phantom_command", metavar="COMMAND"
    )
    cohort = commands.add_parser(
        "cohort",
        help="a PRRT cohort: liver DCE with lesion SEGs, follow-up sizes, planted AUC",
        description=(
            "Write N patients with liver metastases whose baseline Ktrans predicts PRRT "
            "response with the planted population per-lesion ROC AUC (binormal model, "
            "d = sqrt(2) Phi^-1(AUC)): per patient a baseline and a follow-up DCE series with "
            "lesion SEGs (OUT/dicom, for 'tumorboard import'), the readers' diameters "
            "(OUT/measurements.csv, for 'tumorboard lesion import') and OUT/truth.json "
            "(seed, planted AUC, per-lesion generating parameters and response). "
            "Deterministic for a seed."
        ),
    )
    cohort.add_argument("--patients", type=int, required=True, metavar="N", help="2..999")
    cohort.add_argument("--seed", type=int, default=1, metavar="S", help="seed (default 1)")
    cohort.add_argument(
        "--auc", type=float, required=True, metavar="A", help="planted AUC in [0.5, 1)"
    )
    add_force_and_out(cohort, "output folder")
    cohort.add_argument("--json", action="store_true", help="print a summary as JSON")
    cohort.set_defaults(handler=run_phantom_cohort)


def run_phantom_cohort(args: argparse.Namespace) -> int:
    """Write the cohort atomically and print what was written."""
    from tumorboard.outputs import output_directory
    from tumorboard.phantoms.prrt_cohort import plan_prrt_cohort, write_prrt_cohort

    plan_prrt_cohort(args.patients, seed=args.seed, auc=args.auc)  # refuse bad input first
    with output_directory(args.out, args.force) as staging:
        plan = write_prrt_cohort(staging, args.patients, seed=args.seed, auc=args.auc)
    result = {
        "patients": len(plan.patients),
        "lesions": sum(len(p.lesions) for p in plan.patients),
        "responders": sum(p.responder for p in plan.patients),
        "planted_auc": plan.auc,
        "seed": plan.seed,
    }
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        sys.stdout.write(
            f"{result['patients']} patients ({result['responders']} responders), "
            f"{result['lesions']} lesions, planted AUC {plan.auc:g}: {args.out}\n"
        )
    return 0
