"""The reading room under test: workspaces on SQLite and PostgreSQL, users, signed-in clients.

The WB-DWI exams are those of ``tests/store/dwi_exams.py`` (truth from their
generating parameters), imported and run with ``tumorboard run``'s workflow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_support import PASSWORD, PATIENT, USERS, TestClient, sign_in
from dwi_exams import write_exam

from postgres_server import PostgresServer, running_postgres
from tumorboard.store import init_workspace
from tumorboard.web.app import create_app
from tumorboard.web.users import add_user


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A private PostgreSQL server for the web tests."""
    with running_postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """``None`` (embedded SQLite) or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()


@pytest.fixture(scope="session")
def exam_folders(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Baseline and week-12 WB-DWI exams, each with a lesion and a bright normal box."""
    root = tmp_path_factory.mktemp("dwi")
    return [
        write_exam(root, exam, PATIENT, normal_structure=True) for exam in ("baseline", "week12")
    ]


def _new_workspace(root: Path, database_url: str | None, exam_folders: list[Path]) -> Path:
    from tumorboard.workflow import import_paths
    from tumorboard.workflow.analysis_runs import run_analyses

    workspace = init_workspace(root, database_url)
    try:
        import_paths(workspace, exam_folders)
        summary = run_analyses(workspace)
        assert summary.failed == [] and summary.analyses_run == 2
        for name, role in USERS.items():
            add_user(workspace, name, role, PASSWORD, author="test-admin")
    finally:
        workspace.close()
    return root


@pytest.fixture
def workspace_root(tmp_path: Path, database_url: str | None, exam_folders: list[Path]) -> Path:
    """A workspace with the two analysed exams and the users of :data:`USERS`."""
    return _new_workspace(tmp_path / "board", database_url, exam_folders)


@pytest.fixture
def sqlite_workspace_root(tmp_path: Path, exam_folders: list[Path]) -> Path:
    """The same workspace, on SQLite only."""
    return _new_workspace(tmp_path / "board", None, exam_folders)


@pytest.fixture
def app(workspace_root: Path) -> Iterator[Any]:
    application = create_app(workspace_root)
    yield application
    application.state.workspace.close()


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def reader(app: Any) -> Iterator[tuple[TestClient, str]]:
    """A client signed in as the reader ``ada``, with its CSRF token."""
    with TestClient(app) as test_client:
        yield test_client, sign_in(test_client, "ada")
