"""``tumorboard user`` and ``tumorboard serve``: the reading room's accounts and server."""

from __future__ import annotations

import argparse
import errno
import getpass
import json
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from tumorboard.errors import InputError

__all__ = ["read_password_file", "register", "run_serve", "run_user_add"]

#: A password file larger than this is not a password file.
MAX_PASSWORD_FILE_BYTES = 4096


def register(subparsers: Any) -> None:
    """Add the ``user`` and ``serve`` commands."""
    user = subparsers.add_parser(
        "user",
        help="reading-room accounts: add, list, disable",
        description="Local accounts of the reading room ('tumorboard serve'), kept in the "
        "workspace's record with argon2id password hashes. Roles: viewer (reads), reader "
        "(also curates, measures and signs), admin.",
    )
    actions = user.add_subparsers(title="actions", dest="action", metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="add a user",
        description="Add a user. The password is read from a file (first line; never from "
        "the command line, where other users of the machine can see it) and must be at "
        "least 12 characters long.",
    )
    _workspace_option(add)
    add.add_argument("name", metavar="NAME", help="user name (letters, digits, . _ @ -)")
    add.add_argument(
        "--role",
        required=True,
        choices=("viewer", "reader", "admin"),
        help="viewer reads; reader also curates, measures and signs; admin also manages users",
    )
    add.add_argument(
        "--password-file", required=True, type=Path, metavar="FILE", help="file with the password"
    )
    _author_option(add)
    add.set_defaults(handler=run_user_add)
    listing = actions.add_parser("list", help="list users", description="List the users.")
    _workspace_option(listing)
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    listing.set_defaults(handler=run_user_list)
    disable = actions.add_parser(
        "disable",
        help="disable a user",
        description="Disable a user: they can no longer sign in and their sessions end.",
    )
    _workspace_option(disable)
    disable.add_argument("name", metavar="NAME", help="the user to disable")
    _author_option(disable)
    disable.set_defaults(handler=run_user_disable)

    serve = subparsers.add_parser(
        "serve",
        help="serve the reading room (web application) of a workspace",
        description="Serve the reading room until stopped (Ctrl-C or SIGTERM end it cleanly). "
        "Requests are not logged with their paths (they name patients).",
    )
    _workspace_option(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port to listen on")
    serve.add_argument(
        "--secure-cookies",
        action="store_true",
        help="mark the session cookie Secure (served over HTTPS)",
    )
    serve.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="a reverse proxy whose X-Forwarded-Proto/-For headers are believed (repeatable)",
    )
    serve.set_defaults(handler=run_serve)


def _workspace_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace", type=Path, required=True, metavar="WORKSPACE", help="the workspace"
    )


def _author_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--author", default=None, help="who makes the change (default: this session's login name)"
    )


def _author(args: argparse.Namespace) -> str:
    if args.author:
        return str(args.author)
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        raise InputError(
            "cannot tell who makes the change (no login name): give --author"
        ) from None


def read_password_file(path: Path) -> str:
    r"""The password in a file: its first line, without the line ending.

    Raises
    ------
    InputError
        If the file is missing, too large, not UTF-8 or empty.

    Examples
    --------
    >>> import tempfile
    >>> file = Path(tempfile.mkdtemp()) / "pw"
    >>> _ = file.write_text("correct horse battery\n")
    >>> read_password_file(file)
    'correct horse battery'
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_PASSWORD_FILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"--password-file {path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"--password-file {path}: is a folder, not a file") from None
    if len(data) > MAX_PASSWORD_FILE_BYTES:
        raise InputError(f"--password-file {path}: larger than {MAX_PASSWORD_FILE_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"--password-file {path}: not UTF-8 text") from None
    lines = text.splitlines()
    password = lines[0] if lines else ""
    if not password:
        raise InputError(f"--password-file {path}: empty (the password is its first line)")
    return password


def run_user_add(args: argparse.Namespace) -> int:
    """Add a user."""
    from tumorboard.store import open_workspace
    from tumorboard.web.users import add_user, check_password_rules, check_user_name, role_rank

    check_user_name(args.name)
    role_rank(args.role)
    password = check_password_rules(read_password_file(args.password_file))
    author = _author(args)
    workspace = open_workspace(args.workspace)
    try:
        user = add_user(workspace, args.name, args.role, password, author=author)
    finally:
        workspace.close()
    sys.stdout.write(f"added user {user.name} ({user.role})\n")
    return 0


def run_user_list(args: argparse.Namespace) -> int:
    """List the users."""
    from tumorboard.store import open_workspace
    from tumorboard.web.users import list_users

    workspace = open_workspace(args.workspace)
    try:
        users = list_users(workspace)
    finally:
        workspace.close()
    if args.json:
        sys.stdout.write(json.dumps({"users": [u.as_dict() for u in users]}) + "\n")
        return 0
    for user in users:
        state = " (disabled)" if user.disabled else ""
        sys.stdout.write(f"{user.name}\t{user.role}{state}\n")
    return 0


def run_user_disable(args: argparse.Namespace) -> int:
    """Disable a user."""
    from tumorboard.store import open_workspace
    from tumorboard.web.users import disable_user

    author = _author(args)
    workspace = open_workspace(args.workspace)
    try:
        disable_user(workspace, args.name, author=author)
    finally:
        workspace.close()
    sys.stdout.write(f"disabled user {args.name}\n")
    return 0


def _bound_socket(host: str, port: int) -> socket.socket:
    if not 0 < port < 65536:
        raise InputError(f"--port {port}: must be 1..65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise InputError(f"--host {host[:80]}: not an address of this machine") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise InputError(
                f"port {port} on {host}: already in use (choose another --port)"
            ) from None
        if exc.errno == errno.EACCES:
            raise InputError(f"port {port} on {host}: permission denied") from None
        raise InputError(f"cannot listen on {host}:{port} ({exc.strerror})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def run_serve(args: argparse.Namespace) -> int:
    """Serve the reading room until SIGTERM or Ctrl-C."""
    import uvicorn

    from tumorboard.web.app import create_app

    sock = _bound_socket(args.host, args.port)
    try:
        app = create_app(
            args.workspace,
            secure_cookies=args.secure_cookies,
            trusted_proxies=frozenset(args.trusted_proxy),
        )
        config = uvicorn.Config(
            app,
            access_log=False,  # request lines name patients (their ids are in the paths)
            log_level="warning",
            lifespan="on",
            server_header=False,
            timeout_graceful_shutdown=10,
        )
        server = uvicorn.Server(config)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        sys.stderr.write(f"tumorboard serve: http://{shown}:{port}/ (stop with Ctrl-C)\n")
        sys.stderr.flush()
        # uvicorn shuts down gracefully on SIGTERM / SIGINT, then re-raises the signal to
        # the handler it found: make that a no-op so that a stop is a clean exit 0
        previous = {s: signal.signal(s, _ignore) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            server.run(sockets=[sock])
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
    finally:
        sock.close()
    return 0


def _ignore(_signal: int, _frame: Any) -> None:
    """A signal handler that does nothing (the server has already stopped)."""
