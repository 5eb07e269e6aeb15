"""``tumorboard sign``: freeze the patient's case-report form as a signed version.

Thin face: the work is in :mod:`tumorboard.workflow.sign_off`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``sign`` command."""
    sign = subparsers.add_parser(
        "sign",
        help="sign the patient's case-report form (a frozen PDF, one version per signature)",
        description=(
            "Write the case-report form as the record stands now (as 'tumorboard report'), "
            "keep its PDF in the workspace and record the signer and time as the next "
            "version. A signed version is never changed; a later change to the record is "
            "signed as a new version. With --list, print the signed versions instead."
        ),
    )
    sign.add_argument(
        "--workspace", type=Path, required=True, metavar="WORKSPACE", help="the workspace"
    )
    sign.add_argument("patient_id", metavar="PATIENT_ID", help="the patient's id")
    who = sign.add_mutually_exclusive_group(required=True)
    who.add_argument("--signer", metavar="NAME", help="who signs")
    who.add_argument("--list", action="store_true", help="list the signed versions")
    sign.add_argument("--json", action="store_true", help="print the result as JSON")
    sign.set_defaults(handler=run_sign)


def run_sign(args: argparse.Namespace) -> int:
    """Sign the form (or list the signed versions) and print the result."""
    from tumorboard.store import open_workspace
    from tumorboard.workflow.sign_off import sign_form, signed_forms

    workspace = open_workspace(args.workspace)
    try:
        if args.list:
            versions = [form.as_json() for form in signed_forms(workspace, args.patient_id)]
            if args.json:
                sys.stdout.write(json.dumps({"versions": versions}) + "\n")
            else:
                for item in versions:
                    sys.stdout.write(
                        f"version {item['version']}: signed by {item['signer']} "
                        f"at {item['signed_at']}\n"
                    )
            return 0
        signed = sign_form(workspace, args.patient_id, args.signer)
    finally:
        workspace.close()
    if args.json:
        sys.stdout.write(json.dumps(signed.as_json()) + "\n")
    else:
        sys.stdout.write(
            f"form signed as version {signed.version} by {signed.signer} "
            f"at {signed.signed_at.isoformat()}\n"
        )
    return 0
