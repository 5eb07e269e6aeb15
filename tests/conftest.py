"""Shared fixtures: the external reference data beside the project."""

from __future__ import annotations

import os
from pathlib import Path

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
