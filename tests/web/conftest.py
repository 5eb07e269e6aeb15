"""The reading room under test: workspaces on SQLite and PostgreSQL, users, signed-in clients.

The WB-DWI exams are those of ``tests/store/dwi_exams.py`` (truth from their
generating parameters), imported and run with ``tumorboard run``'s workflow. That
workspace is built once per test process and back end, and every test gets a copy
of its own (folder, and database on PostgreSQL).
"""

from __future__ import annotations

import json
import shutil
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


@pytest.fixture(scope="session")
def workspace_templates() -> dict[str, Path]:
    """Per back end, a workspace built once by :func:`_new_workspace` (never opened again)."""
    return {}


def _copied_workspace(request: pytest.FixtureRequest, root: Path, backend: str) -> Path:
    """A copy of the back end's template workspace at ``root``: its own folder and,
    on PostgreSQL, its own database (``CREATE DATABASE ... TEMPLATE``).

    Building the workspace (import, two analyses, three password hashes) is most of
    a web test's time; every test still gets a workspace of its own to change.
    """
    templates: dict[str, Path] = request.getfixturevalue("workspace_templates")
    server: PostgresServer | None = None
    if backend == "postgresql":
        server = request.getfixturevalue("postgres")
    if backend not in templates:
        factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
        exam_folders: list[Path] = request.getfixturevalue("exam_folders")
        url = server.create_database() if server else None
        template = factory.mktemp(f"template-{backend}") / "board"
        templates[backend] = _new_workspace(template, url, exam_folders)
    template = templates[backend]
    shutil.copytree(template, root)
    if server is not None:
        description_file = root / "workspace.json"
        description = json.loads(description_file.read_text(encoding="utf-8"))
        description["database"] = server.create_database(template=description["database"])
        description_file.write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def reading_room_workspace(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, tuple[str, ...]]:
    """The browser modules' plain workspace (``browser_fixtures.build_workspace``), built
    once per process; each module serves or opens a copy of its own. The scheduler in
    ``tests/conftest.py`` sends the browser modules to one process together."""
    from browser_fixtures import build_workspace

    return build_workspace(tmp_path_factory.mktemp("reading-room-template"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium (``browser_fixtures.chromium``), launched for each browser module
    and closed after it; each test opens its own context (cookies, storage) in it. Not
    kept for the process: while it is open Playwright's sync API keeps an event loop
    running in the main thread, and code that calls ``asyncio.run`` there later in the
    same process (a doctest of ``web.app``) then fails."""
    from browser_fixtures import chromium

    with chromium() as launched:
        yield launched


@pytest.fixture(params=["sqlite", "postgresql"])
def workspace_root(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A workspace with the two analysed exams and the users of :data:`USERS`."""
    return _copied_workspace(request, tmp_path / "board", request.param)


@pytest.fixture
def sqlite_workspace_root(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The same workspace, on SQLite only."""
    return _copied_workspace(request, tmp_path / "board", "sqlite")


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
