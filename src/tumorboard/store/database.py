"""Connect to the record's database and bring its schema to the newest version.

SQLite (embedded, one file in the workspace) and PostgreSQL (by URL) are the
two supported back ends. SQLite runs in WAL mode with foreign keys on and a
busy timeout, so that two processes on one workspace wait for each other
instead of failing. The schema is only ever changed by the Alembic migrations
shipped in this package.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError, ProgrammingError

from tumorboard.errors import InputError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "SCHEMA_HEAD",
    "SUPPORTED_BACKENDS",
    "SQLITE_BUSY_TIMEOUT_MS",
    "connect",
    "current_revision",
    "head_revision",
    "stored_revision",
    "upgrade_to_head",
]

#: Database back ends the record supports (SQLAlchemy dialect names).
SUPPORTED_BACKENDS = ("sqlite", "postgresql")

#: How long an SQLite writer waits for another process's lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

#: The newest revision in ``migrations/versions`` (a test checks it against
#: Alembic's head). Opening a workspace already at this revision does not
#: load Alembic at all, which keeps every command's start quick.
SCHEMA_HEAD = "0003"


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def connect(url: str) -> Engine:
    """Create an engine for a record database URL.

    Parameters
    ----------
    url : str
        ``sqlite:///PATH`` or ``postgresql+psycopg://…``.

    Returns
    -------
    Engine
        An engine; SQLite connections get WAL mode, foreign keys and a busy
        timeout.

    Raises
    ------
    InputError
        If the URL is malformed or names an unsupported back end (the message
        never repeats the URL, which may hold a password).

    Examples
    --------
    >>> engine = connect("sqlite://")
    >>> engine.dialect.name
    'sqlite'
    >>> connect("mysql://example/db")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tumorboard.errors.InputError: database URL: back end 'mysql' is not supported ...
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InputError("database URL: not a valid SQLAlchemy URL") from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise InputError(
            f"database URL: back end {backend!r} is not supported (use sqlite or postgresql)"
        )
    if backend == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """Return the newest schema revision shipped with this tumorboard.

    Examples
    --------
    >>> head_revision()
    '0003'
    """
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the schema revision of a database (``None`` when it has none).

    Examples
    --------
    >>> current_revision(connect("sqlite://")) is None
    True
    """
    from alembic.runtime.migration import MigrationContext

    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except OperationalError as exc:
        raise InputError(f"database: cannot connect ({type(exc.orig).__name__})") from None


def stored_revision(engine: Engine) -> str | None:
    """The revision in ``alembic_version`` read with plain SQL (None if there is none).

    Examples
    --------
    >>> stored_revision(connect("sqlite://")) is None
    True
    """
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except OperationalError as exc:
        if "no such table" in str(exc.orig).lower():
            return None
        raise InputError(f"database: cannot connect ({type(exc.orig).__name__})") from None
    except ProgrammingError:  # PostgreSQL's UndefinedTable: a database without the record yet
        return None
    except DatabaseError as exc:  # e.g. SQLite's "file is not a database"
        reason = " ".join(str(exc.orig).split())[:120]
        raise InputError(f"database: the record cannot be read ({reason})") from None
    return str(rows[0][0]) if len(rows) == 1 else None


def upgrade_to_head(engine: Engine) -> str:
    """Apply every migration the database has not seen yet, in one transaction.

    Returns
    -------
    str
        The revision the database is at afterwards.

    Examples
    --------
    >>> engine = connect("sqlite://")
    >>> upgrade_to_head(engine) == head_revision()
    True
    """
    if stored_revision(engine) == SCHEMA_HEAD:
        return SCHEMA_HEAD
    from alembic import command

    config = _alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise InputError(f"database: cannot connect ({type(exc.orig).__name__})") from None
    revision = current_revision(engine)
    assert revision is not None
    return revision
