"""``tumorboard facts``: the case facts of a patient for the reading guide.

Thin face: the work is in :mod:`tumorboard.workflow.case_facts`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``facts`` command."""
    facts = subparsers.add_parser(
        "facts",
        help="keep a FACTS.json as a patient's case facts (the reading guide of the record)",
        description=(
            "Check FACTS.json with the reading guide's rules (as 'tumorboard guide') and keep "
            "it as the patient's newest case facts; earlier facts stay. The next "
            "'tumorboard run' stores the guide's result, and 'tumorboard report', 'sign' and "
            "the reading room's form show the guide beside the form."
        ),
    )
    facts.add_argument(
        "--workspace", type=Path, required=True, metavar="WORKSPACE", help="the workspace"
    )
    facts.add_argument("patient_id", metavar="PATIENT_ID", help="the patient's id")
    facts.add_argument("facts_json", type=Path, metavar="FACTS.json", help="the case facts")
    facts.add_argument(
        "--author", default=None, help="who enters them (default: the login name of this session)"
    )
    facts.add_argument("--json", action="store_true", help="print the result as JSON")
    facts.set_defaults(handler=run_facts)


def run_facts(args: argparse.Namespace) -> int:
    """Store the facts and say how many keys were kept."""
    from tumorboard.store import open_workspace
    from tumorboard.workflow.case_facts import set_case_facts

    workspace = open_workspace(args.workspace)
    try:
        keys = set_case_facts(
            workspace, args.patient_id, args.facts_json, author=args.author or getpass.getuser()
        )
    finally:
        workspace.close()
    if args.json:
        sys.stdout.write(json.dumps({"keys": keys}) + "\n")
    else:
        sys.stdout.write(f"case facts kept ({keys} keys); run 'tumorboard run' for the guide\n")
    return 0
