"""``tumorboard guide``: walk the reading guide for the facts of a case."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from tumorboard.cli.common import add_force_and_out, write_json
from tumorboard.guide import load_facts_json, run_guide
from tumorboard.outputs import check_output_path, output_directory
from tumorboard.report.guide_html import render_guide_page


def register(subparsers: Any) -> None:
    """Add the ``guide`` command."""
    parser = subparsers.add_parser(
        "guide",
        help="step-by-step reading guide (a reading aid, not a decision)",
        description=(
            "Walk the step-by-step reading guide (WHO grade, risk, imaging, PRRT, response "
            "criteria, pituitary) for FACTS.json; write DIR/guide.json and DIR/guide.html."
        ),
    )
    parser.add_argument("facts", type=Path, metavar="FACTS.json", help="facts of the case")
    add_force_and_out(parser, "output directory (guide.json, guide.html)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Validate the facts, run the guide, write both outputs atomically."""
    check_output_path(args.out, args.force, inputs=[args.facts], directory=True)
    result = run_guide(load_facts_json(args.facts))
    payload = result.as_dict()
    with output_directory(args.out, force=args.force, inputs=[args.facts]) as staging:
        write_json(staging / "guide.json", payload)
        (staging / "guide.html").write_text(render_guide_page(payload), encoding="utf-8")
    return 0
