"""Fixtures of the guide tests: the source texts beside the project."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_sources_dir() -> Path:
    """Locate ``../shared/sources`` (override with ``TUMORBOARD_SHARED_SOURCES``).

    Found the same way as ``../shared/reference`` in ``tests/conftest.py``.
    """
    override = os.environ.get("TUMORBOARD_SHARED_SOURCES")
    path = Path(override) if override else REPO_ROOT.parent / "shared" / "sources"
    if not path.is_dir():
        raise RuntimeError(
            f"source texts not found at {path}; the quote tests check against them "
            "(set TUMORBOARD_SHARED_SOURCES)"
        )
    return path


@pytest.fixture(scope="session")
def sources_dir() -> Path:
    """The ``shared/sources`` folder with the published source texts."""
    return shared_sources_dir()
