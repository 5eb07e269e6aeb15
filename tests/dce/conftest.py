"""Fixtures for the DCE tests: readers of the OSIPI and QIBA reference files."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def osipi_dir(reference_dir: Path) -> Path:
    return reference_dir / "dce" / "osipi"


@pytest.fixture(scope="session")
def qiba_dir(reference_dir: Path) -> Path:
    return reference_dir / "dce" / "qiba"


def _read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="session")
def read_rows() -> Callable[[Path], list[dict[str, str]]]:
    """CSV rows as dicts (OSIPI curve cells stay whitespace-separated strings)."""
    return _read_rows


def as_array(cell: str) -> np.ndarray:
    return np.array(cell.split(), dtype=float)


@pytest.fixture(scope="session")
def cell_array() -> Callable[[str], np.ndarray]:
    return as_array
