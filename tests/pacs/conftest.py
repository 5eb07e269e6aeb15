"""Fixtures of the PACS tests: a private Orthanc, the WB-DWI phantom on it, a workspace."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))

from orthanc_server import OrthancServer, running_orthanc  # noqa: E402


@pytest.fixture
def orthanc() -> Iterator[OrthancServer]:
    """A fresh Orthanc (127.0.0.1, free ports, basic auth, temporary storage) per test."""
    with running_orthanc() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url_server() -> Iterator[object]:
    """A private PostgreSQL server (tests/postgres_server.py) for the session."""
    from postgres_server import running_postgres

    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_url_server: object) -> str:
    """The URL of a fresh, empty PostgreSQL database."""
    return str(postgres_url_server.create_database())  # type: ignore[attr-defined]
