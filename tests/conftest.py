"""Shared fixtures: the external reference data beside the project."""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_reference_dir() -> Path:
    """Locate ``../shared/reference`` (override with ``TUMORBOARD_SHARED_REFERENCE``)."""
    override = os.environ.get("TUMORBOARD_SHARED_REFERENCE")
    path = Path(override) if override else REPO_ROOT.parent / "shared" / "reference"
    if not path.is_dir():
        raise RuntimeError(
            f"external reference data not found at {path}; the tests validate against it "
            "(set TUMORBOARD_SHARED_REFERENCE)"
        )
    return path


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The ``shared/reference`` folder with the OSIPI, QIBA, IBSI data."""
    return shared_reference_dir()


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed generator, fresh for every test."""
    return np.random.default_rng(20261121)


# --- Scheduling on pytest-xdist (``python -m pytest -n 2``) -----------------------------
#
# With ``-n`` (xdist's default mode, ``--dist load``) the scheduler below is used: every
# module with a module-scoped fixture (a phantom, a served workspace, a browser; defined
# in the module or in a conftest above it) is one unit of work, sent
# to one process, so that fixture is built once, not once per process that happened to
# receive one of its tests. Every other test is a unit of its own and goes to whichever
# process is free. Units are handed out in collection order, and the collection puts
# the longest modules first: a long module started last leaves the other process idle
# at the end. The weights are rough seconds on the loaded 2-core machine (a full run
# at load 5-6, December 2026); the order of the tests within a module is kept. A group
# of :data:`SCHEDULING_GROUPS` is one unit too: its modules share session fixtures that
# are built once per process. (xdist's own ``--dist loadgroup`` would do the grouping,
# but its group suffix is lost on pytest 9, whose node ids ignore ``_nodeid``.)
MODULE_SECONDS = {
    "tests/cli/test_demo.py": 180,
    "tests/web/test_browser*.py": 165,
    "tests/radiomics/test_extract.py": 120,
    "tests/store/test_cohort_run.py": 115,
    "tests/radiomics/test_ibsi_phantoms.py": 110,
    "tests/store/test_export.py": 95,
    "tests/cohort/test_cohort_analyse.py": 80,
    "tests/pacs/test_push.py": 65,
    "tests/store/test_run.py": 60,
    "tests/store/test_lesion_edits.py": 60,
    "tests/cli/test_assess.py": 45,
    "tests/web/test_api_auth.py": 45,
    "tests/web/test_api_reads_form.py": 45,
    "tests/store/test_import.py": 40,
    "tests/pipeline/test_demo_dce.py": 35,
    "tests/web/test_api_dce_pet.py": 32,
    "tests/web/test_api_cli.py": 32,
}
#: Modules sent to one process as one unit: the browser modules share a
#: built reading-room workspace (session fixtures of ``tests/web/conftest.py``).
SCHEDULING_GROUPS = {
    "tests/web/test_browser.py": "tests/web/test_browser*.py",
    "tests/web/test_browser_images.py": "tests/web/test_browser*.py",
    "tests/web/test_browser_views.py": "tests/web/test_browser*.py",
}
_MODULE_SCOPE = re.compile(r"""@pytest\.fixture\([^)]*scope\s*=\s*["'](module|package|class)["']""")


def _module(nodeid: str) -> str:
    return nodeid.split("::")[0]


def _unit(module: str) -> str:
    """The module's group of :data:`SCHEDULING_GROUPS`, or the module itself."""
    return SCHEDULING_GROUPS.get(module, module)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest units first (a stable sort: each module keeps its order)."""
    items.sort(key=lambda item: -MODULE_SECONDS.get(_unit(_module(item.nodeid)), 0))


@functools.cache
def _has_module_fixture(module: str) -> bool:
    path = REPO_ROOT / module
    sources = [path, *(folder / "conftest.py" for folder in path.parents)]
    for source in sources:
        if source.is_relative_to(REPO_ROOT) and source.is_file():
            if _MODULE_SCOPE.search(source.read_text(encoding="utf-8")):
                return True
    return False


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``-n N``: modules with module-scoped fixtures go whole to one process (see above)."""
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = _module(nodeid)
            return _unit(module) if _has_module_fixture(module) else nodeid

    config.option.loadscopereorder = False  # keep the collection's order (longest first)
    return ModuleFixtureScheduling(config, log)
