"""Entry point of the ``tumorboard`` command.

Each command group lives in its own module of this package and exposes
``register(subparsers)``, which adds its parser(s) and sets ``handler`` to a
function taking the parsed namespace. This module only dispatches and turns
errors into one line on stderr with a non-zero exit status:

* 1 -- bad input or a failed analysis (:class:`~tumorboard.errors.TumorboardError`),
  or a failed file operation (:class:`OSError`: disk full, read-only file
  system, no permission), printed as the path and the reason;
* 2 -- a malformed command line.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from tumorboard import __version__
from tumorboard.errors import TumorboardError

#: Modules of :mod:`tumorboard.cli` that contribute commands, in help order.
COMMAND_MODULES = (
    "workspace",
    "record",
    "run",
    "cohort",
    "demo",
    "dwi",
    "assess",
    "measure",
    "pet",
    "dce",
    "guide",
    "radiomics",
    "export",
    "sign",
    "facts",
    "web",
    "phantom",
)


#: Commands whose module is not named after them.
MODULE_OF_COMMAND = {
    "init": "workspace",
    "import": "workspace",
    "lesion": "record",
    "timeline": "record",
    "baseline": "run",
    "report": "run",
    "user": "web",
    "serve": "web",
}

#: Words that are values, not options, though they start with '-': negative
#: numbers and comma-separated number lists (``--liver-center -60,5,-615``,
#: ``--times-s -5,0,5``).
NEGATIVE_NUMBER_LIST = re.compile(
    r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?(,\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)*$"
)


class OneLineArgumentParser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` for every tumorboard command.

    Usage errors are a single line, and a word that is a negative number or a
    comma-separated number list is a value, not an option. argparse decides
    the latter with its (private) ``_negative_number_matcher``; no tumorboard
    option looks like a number, so widening it is safe. Where the attribute is
    missing, ``--option=-60,5,-615`` still works.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if hasattr(self, "_negative_number_matcher"):
            self._negative_number_matcher = NEGATIVE_NUMBER_LIST

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` and exit with status 2."""
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        sys.exit(2)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Build the ``tumorboard`` parser.

    Parameters
    ----------
    only : str, optional
        Import and register just this command's module (fast start-up: each
        command group imports its own science); ``None`` registers all of them.
    """
    parser = OneLineArgumentParser(
        prog="tumorboard",
        description="Quantitative imaging for tumour-board response assessment.",
    )
    parser.add_argument("--version", action="version", version=f"tumorboard {__version__}")
    subparsers = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", parser_class=OneLineArgumentParser
    )
    for name in COMMAND_MODULES if only is None else (only,):
        try:
            module = importlib.import_module(f"tumorboard.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"tumorboard.cli.{name}":
                continue  # command group not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in arguments if not a.startswith("-")), None)
    if command is None and "--version" in arguments:  # answered without loading any command
        sys.stdout.write(f"tumorboard {__version__}\n")
        return 0
    module = MODULE_OF_COMMAND.get(command or "", command)
    parser = build_parser(module if module in COMMAND_MODULES else None)
    args = parser.parse_args(arguments)
    handler = getattr(args, "handler", None)
    if handler is None:  # a command group without its subcommand: that group's help
        _deepest_parser(parser, arguments).print_help(sys.stderr)
        return 2
    try:
        result = handler(args)
    except TumorboardError as exc:
        sys.stderr.write(f"tumorboard {args.command}: error: {_one_line(exc)}\n")
        return 1
    except OSError as exc:
        sys.stderr.write(f"tumorboard {args.command}: error: {_one_line(describe_os_error(exc))}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("tumorboard: interrupted\n")
        return 130
    except Exception as exc:
        # The record's database failing mid-command (read-only, disk full, a
        # damaged file): one line, never a traceback with the statement.
        if not type(exc).__module__.startswith("sqlalchemy"):
            raise
        orig = getattr(exc, "orig", None) or exc
        # first line only: PostgreSQL puts the row's values in a DETAIL line
        reason = (str(orig).strip().splitlines() or [""])[0][:160]
        sys.stderr.write(
            f"tumorboard {args.command}: error: the record's database failed "
            f"({type(orig).__name__}: {reason}); nothing was changed by the failed step\n"
        )
        return 1
    return int(result or 0)


def _deepest_parser(
    parser: argparse.ArgumentParser, arguments: Sequence[str]
) -> argparse.ArgumentParser:
    """The parser of the last command word in ``arguments`` (``tumorboard dwi`` -> dwi's)."""
    for word in arguments:
        if word.startswith("-"):
            continue
        choices = next(
            (a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)),
            None,
        )
        if not choices or word not in choices:
            break
        parser = choices[word]
    return parser


def _one_line(exc: BaseException | str) -> str:
    return " ".join(str(exc).split())


def describe_os_error(exc: OSError) -> str:
    """``PATH: reason (ERRNO)`` for a failed file operation.

    Examples
    --------
    >>> describe_os_error(OSError(errno.ENOSPC, "No space left on device", "out/a.csv"))
    'out/a.csv: No space left on device (ENOSPC)'
    """
    reason = exc.strerror or str(exc) or type(exc).__name__
    code = errno.errorcode.get(exc.errno) if isinstance(exc.errno, int) else None
    if code:
        reason = f"{reason} ({code})"
    paths = [
        os.fsdecode(p) if isinstance(p, str | bytes | os.PathLike) else str(p)
        for p in (exc.filename, exc.filename2)
        if p is not None
    ]
    return f"{' -> '.join(paths)}: {reason}" if paths else reason


def entry() -> NoReturn:  # pragma: no cover - thin wrapper for console scripts
    """Console-script wrapper that exits with :func:`main`'s status."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
