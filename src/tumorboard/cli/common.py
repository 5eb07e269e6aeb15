"""Argument helpers shared by several command modules."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tumorboard.errors import InputError
from tumorboard.json_output import write_json as write_json


def add_force_and_out(parser: argparse.ArgumentParser, out_help: str) -> None:
    """Add the ``--force`` and required ``--out`` options every writing command has."""
    parser.add_argument("--out", required=True, type=Path, help=out_help)
    parser.add_argument(
        "--force", action="store_true", help="replace an existing output instead of failing"
    )


def paths_after_equals(items: list[str] | None) -> list[Path]:
    """The paths of ``KEY=PATH`` arguments (``--image 50=b50.nii.gz``, ``--exam a=e1``).

    Used to tell the output layer what a command reads; malformed items are
    skipped here and refused by the command itself.

    Examples
    --------
    >>> [str(p) for p in paths_after_equals(["50=b50.nii.gz", "bad", "a=exam1"])]
    ['b50.nii.gz', 'exam1']
    """
    return [Path(path) for _, sep, path in (i.partition("=") for i in items or ()) if sep and path]


def parse_float_list(text: str, name: str, count: int | None = None) -> list[float]:
    """Parse ``"1,2,3"`` into floats, naming the option in the error."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"{name}: expected comma-separated numbers, got {text!r}") from None
    if count is not None and len(values) != count:
        raise InputError(f"{name}: expected {count} comma-separated numbers, got {text!r}")
    return values


@contextmanager
def progress_bar(enabled: bool, label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr, or ``None`` when off (not a terminal, --json, --quiet).

    Yields a callable ``advance(done, total)``.

    Examples
    --------
    >>> with progress_bar(False, "analyses") as advance:
    ...     advance is None
    True
    """
    if not enabled:
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance
