"""A throw-away PostgreSQL server for the tests, on a Unix socket in a temporary folder.

The server is Debian's ``postgresql`` (``/usr/lib/postgresql/*/bin``), started
with ``initdb`` + ``pg_ctl`` on a socket only (no TCP port), trust
authentication, fsync off, and stopped and deleted afterwards. PostgreSQL
refuses to run as root, so when the tests run as root (CI) the server runs as
the unprivileged ``postgres`` user that the Debian package creates.

The server's folder is on ``/dev/shm`` (memory) when there is one: a session's
server holds a database per test (about a hundred, some 10 MB each), and on a
disk those files were written back and then deleted file by file, which took
45-50 s at the end of a loaded run; in memory both cost next to nothing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "tumorboard"
#: tmpfs for the server's files (see above); the system's temporary folder without it.
MEMORY_DIR = Path("/dev/shm")


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError(
        "PostgreSQL server binaries not found: install Debian's 'postgresql' "
        "(scripts/install_test_dependencies.sh does)"
    )


@dataclass
class PostgresServer:
    """A running server: its socket folder and a way to make empty databases."""

    socket_dir: Path
    bin_dir: Path
    run_as: str | None

    def url(self, database: str) -> str:
        """SQLAlchemy URL of a database on this server (psycopg 3, Unix socket)."""
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.socket_dir}"

    def create_database(self, template: str | None = None) -> str:
        """Create a fresh database and return its URL: empty, or a copy of ``template``
        (the URL of a database of this server that nobody is connected to)."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        copy = ["-T", template.split("@/")[1].split("?")[0]] if template else []
        self._run("createdb", "-h", str(self.socket_dir), "-U", SUPERUSER, *copy, name)
        return self.url(name)

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a private PostgreSQL server; stop and delete it on exit."""
    bin_dir = _bin_dir()
    run_as = "postgres" if os.geteuid() == 0 else None
    in_memory = MEMORY_DIR.is_dir() and os.access(MEMORY_DIR, os.W_OK | os.X_OK)
    root = Path(tempfile.mkdtemp(prefix="tb-pg-", dir=MEMORY_DIR if in_memory else None))
    user = pwd.getpwnam(run_as) if run_as else None
    if user:
        os.chown(root, user.pw_uid, user.pw_gid)
    data, sockets = root / "data", root / "socket"
    server = PostgresServer(socket_dir=sockets, bin_dir=bin_dir, run_as=run_as)
    try:
        server._run("initdb", "-D", str(data), "-U", SUPERUSER, "-A", "trust", "--no-sync")
        sockets.mkdir()
        if user:
            os.chown(sockets, user.pw_uid, user.pw_gid)
        options = f"-k {sockets} -c listen_addresses='' -F -c max_connections=50"
        server._run(
            "pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"
        )
        yield server
    finally:
        try:
            server._run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        except (subprocess.SubprocessError, OSError):
            pass
        shutil.rmtree(root, ignore_errors=True)
