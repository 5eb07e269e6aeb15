"""One command line people can guess: help everywhere, the same behaviour everywhere."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from tumorboard.cli.main import build_parser, main


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _commands(sub, (*prefix, name))


COMMANDS = list(_commands(build_parser()))


def test_there_are_commands() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"init", "import", "run", "timeline", "report", "baseline", "lesion add"} <= names


@pytest.mark.parametrize(("path", "parser"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_option_has_help(path: tuple[str, ...], parser: argparse.ArgumentParser) -> None:
    missing = [
        "/".join(action.option_strings) or action.dest
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
        and action.help != argparse.SUPPRESS
        and not (action.help or "").strip()
    ]
    assert not missing, f"tumorboard {' '.join(path)}: options without help: {missing}"


def _leaf(parser: argparse.ArgumentParser) -> bool:
    return not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)


@pytest.mark.parametrize(
    "path",
    [p for p, parser in COMMANDS if not _leaf(parser)],
    ids=[" ".join(p) for p, parser in COMMANDS if not _leaf(parser)],
)
def test_a_missing_subcommand_prints_that_groups_help_and_exits_2(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(list(path)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"usage: tumorboard {' '.join(path)} " in captured.err


def test_version_does_not_load_the_science() -> None:
    code = (
        "import sys; from tumorboard.cli.main import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('numpy', 'scipy', 'pydicom', 'sqlalchemy', 'SimpleITK') "
        "if m in sys.modules]\nprint(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
