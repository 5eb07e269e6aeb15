"""``tumorboard user add`` and ``tumorboard serve`` as processes: sign in, SIGTERM, exit 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tumorboard.store import init_workspace

TUMORBOARD = [sys.executable, "-m", "tumorboard.cli.main"]
PASSWORD = "correct horse battery staple"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TUMORBOARD, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def workspace_root(tmp_path: Path) -> Path:
    init_workspace(tmp_path / "board").close()
    return tmp_path / "board"


def test_user_add_reads_the_password_from_a_file_only(workspace_root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    added = _run(
        "user",
        "add",
        "--workspace",
        str(workspace_root),
        "ada",
        "--role",
        "reader",
        "--password-file",
        str(secret),
    )
    assert added.returncode == 0, added.stderr
    assert PASSWORD not in added.stdout + added.stderr
    again = _run(
        "user",
        "add",
        "--workspace",
        str(workspace_root),
        "ada",
        "--role",
        "viewer",
        "--password-file",
        str(secret),
    )
    assert again.returncode == 1
    assert again.stderr.count("\n") == 1 and "already exists" in again.stderr
    short = tmp_path / "short"
    short.write_text("tiny\n")
    refused = _run(
        "user",
        "add",
        "--workspace",
        str(workspace_root),
        "bob",
        "--role",
        "reader",
        "--password-file",
        str(short),
    )
    assert refused.returncode == 1 and "at least 12 characters" in refused.stderr
    assert refused.stderr.count("\n") == 1
    missing = _run(
        "user",
        "add",
        "--workspace",
        str(workspace_root),
        "bob",
        "--role",
        "reader",
        "--password-file",
        str(tmp_path / "none"),
    )
    assert missing.returncode == 1 and "no such file" in missing.stderr
    bad_role = _run(
        "user",
        "add",
        "--workspace",
        str(workspace_root),
        "bob",
        "--role",
        "root",
        "--password-file",
        str(secret),
    )
    assert bad_role.returncode == 2
    listed = _run("user", "list", "--workspace", str(workspace_root))
    assert listed.stdout == "ada\treader\n"


def _wait_until_serving(process: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("tumorboard serve did not start listening within 60 s")


def test_serve_answers_until_sigterm_then_exits_0(workspace_root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD)
    assert (
        _run(
            "user",
            "add",
            "--workspace",
            str(workspace_root),
            "ada",
            "--role",
            "reader",
            "--password-file",
            str(secret),
        ).returncode
        == 0
    )
    port = _free_port()
    process = subprocess.Popen(
        [
            *TUMORBOARD,
            "serve",
            "--workspace",
            str(workspace_root),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        _wait_until_serving(process, port)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            assert client.get("/api/patients").status_code == 401
            login = client.post("/api/login", json={"username": "ada", "password": PASSWORD})
            assert login.status_code == 200
            assert client.get("/api/patients").json() == {"patients": []}
        busy = _run(
            "serve", "--workspace", str(workspace_root), "--host", "127.0.0.1", "--port", str(port)
        )
        assert busy.returncode == 1
        assert busy.stderr.strip().endswith("already in use (choose another --port)")
        assert busy.stderr.count("\n") == 1
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    # no request line with its path (paths name patients) is logged
    assert "/api/" not in stdout + stderr
