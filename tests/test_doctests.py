"""The ``Examples`` sections of the docstrings run as doctests (as in scikit-image)."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1] / "src" / "tumorboard"

#: Alembic's environment runs only inside a migration.
NOT_IMPORTABLE = {"tumorboard.store.migrations.env"}


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        if ">>>" not in path.read_text(encoding="utf-8"):
            continue
        relative = path.relative_to(PACKAGE_ROOT.parent).with_suffix("")
        name = ".".join(relative.parts).removesuffix(".__init__")
        if name not in NOT_IMPORTABLE:
            names.append(name)
    return names


@pytest.mark.parametrize("module_name", _modules_with_examples())
def test_docstring_examples_run(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed"
