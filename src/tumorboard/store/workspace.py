"""A workspace: the folder that holds a record database and its objects.

Layout::

    WORKSPACE/
        workspace.json    format version and database location (owner-only)
        tumorboard.db     the SQLite record (embedded default; owner-only)
        objects/          content-addressed derived files

With ``--database postgresql+psycopg://…`` the record lives on that server and
``workspace.json`` holds the URL (the file is owner-only because the URL may
carry a password). Opening a workspace brings its schema to the newest
revision, so a workspace made by an older tumorboard keeps its data.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from tumorboard.errors import InputError
from tumorboard.store.database import connect, stored_revision, upgrade_to_head
from tumorboard.store.objects import ObjectStore

__all__ = [
    "DATABASE_FILE",
    "WORKSPACE_FILE",
    "WORKSPACE_FORMAT_VERSION",
    "Workspace",
    "init_workspace",
    "open_workspace",
]

WORKSPACE_FILE = "workspace.json"
DATABASE_FILE = "tumorboard.db"
OBJECTS_DIR = "objects"
WORKSPACE_FORMAT_VERSION = 1
_EMBEDDED = "embedded-sqlite"
_SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass
class Workspace:
    """An open workspace: its folder, database engine and object store."""

    root: Path
    engine: Engine
    objects: ObjectStore
    schema_revision: str

    @property
    def backend(self) -> str:
        """The database back end: ``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session that commits on success and rolls back on error."""
        factory = sessionmaker(self.engine, expire_on_commit=False)
        with factory() as session, session.begin():
            yield session

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()


def _sqlite_url(root: Path) -> str:
    return f"sqlite:///{root.resolve() / DATABASE_FILE}"


def _create_owner_only(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def init_workspace(root: Path, database_url: str | None = None) -> Workspace:
    """Create a workspace and its record schema.

    Parameters
    ----------
    root : Path
        A folder that does not exist yet, or an empty one.
    database_url : str, optional
        A PostgreSQL URL; by default the record is an SQLite file in the
        workspace.

    Returns
    -------
    Workspace
        The new workspace, open.

    Raises
    ------
    InputError
        If ``root`` is a file, a non-empty folder or already a workspace, or
        the database cannot be reached.

    Examples
    --------
    >>> import tempfile
    >>> ws = init_workspace(Path(tempfile.mkdtemp()) / "board")
    >>> ws.backend, oct((ws.root / "tumorboard.db").stat().st_mode & 0o777)
    ('sqlite', '0o600')
    >>> ws.close()
    """
    root = Path(root)
    if (root / WORKSPACE_FILE).exists():
        raise InputError(f"workspace {root}: already a tumorboard workspace")
    if root.exists() and not root.is_dir():
        raise InputError(f"workspace {root}: exists and is not a folder")
    if root.is_dir() and any(root.iterdir()):
        raise InputError(f"workspace {root}: folder is not empty (give a new or empty folder)")
    created = not root.exists()
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = None
    try:
        if database_url:
            engine = connect(database_url)
        else:
            _create_owner_only(root / DATABASE_FILE, "")
            engine = connect(_sqlite_url(root))
        revision = upgrade_to_head(engine)
        objects = ObjectStore(root / OBJECTS_DIR)
        description = {
            "format_version": WORKSPACE_FORMAT_VERSION,
            "database": database_url or _EMBEDDED,
        }
        _create_owner_only(root / WORKSPACE_FILE, json.dumps(description, indent=2) + "\n")
    except BaseException:
        if engine is not None:
            engine.dispose()
        if created:
            shutil.rmtree(root, ignore_errors=True)
        else:  # the folder was given empty: leave it empty
            for child in root.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise
    return Workspace(root=root, engine=engine, objects=objects, schema_revision=revision)


def open_workspace(root: Path) -> Workspace:
    """Open a workspace, bringing its schema to the newest revision.

    Raises
    ------
    InputError
        If ``root`` is not a workspace, its description is malformed or the
        database cannot be reached.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp()) / "board"
    >>> init_workspace(folder).close()
    >>> ws = open_workspace(folder)
    >>> ws.schema_revision
    '0003'
    >>> ws.close()
    """
    root = Path(root)
    description_file = root / WORKSPACE_FILE
    if not description_file.is_file():
        raise InputError(
            f"workspace {root}: no {WORKSPACE_FILE} (create one with 'tumorboard init')"
        )
    try:
        description = json.loads(description_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise InputError(f"{description_file}: not valid JSON") from None
    if not isinstance(description, dict):
        raise InputError(f"{description_file}: must be a JSON object")
    version = description.get("format_version")
    if version != WORKSPACE_FORMAT_VERSION:
        raise InputError(
            f"{description_file}: field 'format_version' is {version!r}; this tumorboard "
            f"reads version {WORKSPACE_FORMAT_VERSION}"
        )
    database = description.get("database")
    if not isinstance(database, str) or not database:
        raise InputError(f"{description_file}: field 'database' must be a non-empty string")
    url = _sqlite_url(root) if database == _EMBEDDED else database
    if database == _EMBEDDED and not (root / DATABASE_FILE).is_file():
        raise InputError(f"workspace {root}: the record {DATABASE_FILE} is missing")
    if database == _EMBEDDED:  # look before SQLite opens (and would write to) the file
        with open(root / DATABASE_FILE, "rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
        if header != _SQLITE_HEADER:
            raise InputError(
                f"workspace {root}: its record {DATABASE_FILE} is "
                + ("empty" if not header else "not an SQLite database")
                + " (damaged or replaced?); restore it from a backup, or create a new "
                "workspace with 'tumorboard init'"
            )
    engine = connect(url)
    try:
        if stored_revision(engine) is None:
            raise InputError(
                f"workspace {root}: its record has no schema (damaged, emptied or replaced?); "
                "restore it from a backup, or create a new workspace with 'tumorboard init'"
            )
        revision = upgrade_to_head(engine)
    except BaseException:
        engine.dispose()
        raise
    objects = ObjectStore(root / OBJECTS_DIR)
    objects.remove_stale_temporaries()
    return Workspace(root=root, engine=engine, objects=objects, schema_revision=revision)
