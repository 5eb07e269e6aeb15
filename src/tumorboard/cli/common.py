"""Argument helpers shared by several command modules."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from tumorboard.errors import InputError


def add_force_and_out(parser: argparse.ArgumentParser, out_help: str) -> None:
    """Add the ``--force`` and required ``--out`` options every writing command has."""
    parser.add_argument("--out", required=True, type=Path, help=out_help)
    parser.add_argument(
        "--force", action="store_true", help="replace an existing output instead of failing"
    )


def parse_float_list(text: str, name: str, count: int | None = None) -> list[float]:
    """Parse ``"1,2,3"`` into floats, naming the option in the error."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"{name}: expected comma-separated numbers, got {text!r}") from None
    if count is not None and len(values) != count:
        raise InputError(f"{name}: expected {count} comma-separated numbers, got {text!r}")
    return values


def write_json(path: str | os.PathLike[str], payload: Any) -> None:
    """Write ``payload`` as indented UTF-8 JSON with a trailing newline."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, allow_nan=False)
        handle.write("\n")
