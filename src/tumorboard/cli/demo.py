"""``tumorboard demo``: run every pipeline on the embedded reference patient."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tumorboard.pipeline.demo import run_demo


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``demo`` command."""
    parser = subparsers.add_parser(
        "demo",
        help="run the pipelines on the embedded reference patient and write report.html",
        description="Build the synthetic reference patient (cached), run every pipeline "
        "from its DICOM and write DIR/report.html.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("tumorboard-demo"),
        metavar="DIR",
        help="output directory (default: ./tumorboard-demo)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        metavar="DIR",
        help="where the reference patient is cached (default ~/.cache/tumorboard)",
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached patient")
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace --out even if it is not a previous demo output",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo; exit 1 if a section failed or a truth check did not pass."""
    from tumorboard.workflow import demo_record

    result = run_demo(
        args.out,
        cache_dir=args.cache,
        force=args.force,
        rebuild=args.rebuild,
        extra_sections=[("record", demo_record.run_section)],
    )
    checks = [ok for section in result.sections for ok in section.checks.values()]
    print(
        f"report: {result.report} ({len(result.sections)} sections, "
        f"{sum(checks)}/{len(checks)} truth checks passed, {result.seconds:.1f} s)"
    )
    for failure in result.failures:
        print(
            f"tumorboard demo: error: section {failure.title} failed: {failure.message}",
            file=sys.stderr,
        )
    for section in result.sections:
        for name, ok in section.checks.items():
            if not ok:
                print(f"tumorboard demo: error: truth check failed: {name}", file=sys.stderr)
    return 0 if result.ok else 1
