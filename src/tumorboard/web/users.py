"""Local accounts of the reading room: argon2id password hashes and roles.

``tumorboard user add`` and the login route use these functions. A password
is read from a file by the command line, never from its arguments; it must be
at least :data:`MIN_PASSWORD_LENGTH` characters long and is stored only as an
argon2id hash (argon2-cffi's :class:`~argon2.PasswordHasher`, PHC string).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tumorboard.errors import InputError
from tumorboard.store.models import USER_ROLES, ChangeLogEntry, User, WebSession

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "USER_ROLES",
    "UserInfo",
    "add_user",
    "check_password_rules",
    "check_user_name",
    "disable_user",
    "hash_password",
    "list_users",
    "role_rank",
    "verify_password",
]

#: Shortest password accepted (OWASP ASVS 2.1.1 asks for at least 12).
MIN_PASSWORD_LENGTH = 12
#: Longest password accepted (argon2 hashes anything; this bounds the work).
MAX_PASSWORD_LENGTH = 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

#: argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile).
_HASHER = PasswordHasher()


@dataclass(frozen=True)
class UserInfo:
    """A user as listed (never with the hash)."""

    name: str
    role: str
    disabled: bool
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types.

        Examples
        --------
        >>> UserInfo("ada", "reader", False, "2026-01-01T00:00:00+00:00").as_dict()["role"]
        'reader'
        """
        return {
            "name": self.name,
            "role": self.role,
            "disabled": self.disabled,
            "created_at": self.created_at,
        }


def role_rank(role: str) -> int:
    """Rank of a role: viewer 0 < reader 1 < admin 2.

    Examples
    --------
    >>> role_rank("viewer") < role_rank("reader") < role_rank("admin")
    True
    >>> role_rank("root")
    Traceback (most recent call last):
    ...
    tumorboard.errors.InputError: role 'root': must be one of viewer, reader, admin
    """
    if role not in USER_ROLES:
        raise InputError(f"role {role[:40]!r}: must be one of {', '.join(USER_ROLES)}")
    return USER_ROLES.index(role)


def check_user_name(name: str) -> str:
    """Return a valid user name, or raise :class:`InputError`.

    Examples
    --------
    >>> check_user_name("dr.ada")
    'dr.ada'
    >>> check_user_name("<script>")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tumorboard.errors.InputError: user name: 1 to 64 letters, digits or . _ @ - ...
    """
    if not _NAME.match(name):
        raise InputError(
            "user name: 1 to 64 letters, digits or . _ @ - (starting with a letter or digit)"
        )
    return name


def check_password_rules(password: str) -> str:
    """Return the password if it follows the rules, or raise :class:`InputError`.

    Examples
    --------
    >>> check_password_rules("correct horse battery") == "correct horse battery"
    True
    >>> check_password_rules("short")
    Traceback (most recent call last):
    ...
    tumorboard.errors.InputError: password: must be at least 12 characters long (got 5)
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(
            f"password: must be at least {MIN_PASSWORD_LENGTH} characters long "
            f"(got {len(password)})"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InputError(f"password: must be at most {MAX_PASSWORD_LENGTH} characters long")
    return password


def hash_password(password: str) -> str:
    """Hash a password with argon2id.

    Examples
    --------
    >>> hash_password("correct horse battery").startswith("$argon2id$")
    True
    """
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Tell whether ``password`` matches an argon2 hash (False for a damaged hash).

    Examples
    --------
    >>> stored = hash_password("correct horse battery")
    >>> verify_password(stored, "correct horse battery"), verify_password(stored, "wrong")
    (True, False)
    """
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def add_user(workspace: Any, name: str, role: str, password: str, *, author: str) -> UserInfo:
    """Add a user to the workspace's record (the change is audited).

    Parameters
    ----------
    workspace : Workspace
    name : str
        Unique user name.
    role : str
        ``viewer``, ``reader`` or ``admin``.
    password : str
        At least :data:`MIN_PASSWORD_LENGTH` characters.
    author : str
        Who adds the user (the audit trail's author).

    Raises
    ------
    InputError
        Bad name, role or password, or a name already taken.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from tumorboard.store import init_workspace
    >>> ws = init_workspace(Path(tempfile.mkdtemp()) / "board")
    >>> add_user(ws, "ada", "reader", "correct horse battery", author="admin").role
    'reader'
    >>> add_user(ws, "ada", "viewer", "correct horse battery", author="admin")
    Traceback (most recent call last):
    ...
    tumorboard.errors.InputError: user 'ada': already exists
    >>> ws.close()
    """
    check_user_name(name)
    role_rank(role)
    check_password_rules(password)
    password_hash = hash_password(password)
    try:
        with workspace.session() as session:
            user = User(name=name, password_hash=password_hash, role=role, disabled=False)
            session.add(user)
            session.flush()
            session.add(
                ChangeLogEntry(
                    table_name="users", row_id=user.id, field="role", new_value=role, author=author
                )
            )
            return _info(user)
    except IntegrityError:
        raise InputError(f"user {name!r}: already exists") from None


def list_users(workspace: Any) -> list[UserInfo]:
    """Every user of the record, by name.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from tumorboard.store import init_workspace
    >>> ws = init_workspace(Path(tempfile.mkdtemp()) / "board")
    >>> list_users(ws)
    []
    >>> ws.close()
    """
    with workspace.session() as session:
        return [_info(user) for user in session.scalars(select(User).order_by(User.name))]


def disable_user(workspace: Any, name: str, *, author: str) -> UserInfo:
    """Disable a user and end their web sessions (the change is audited).

    Raises
    ------
    InputError
        If there is no such user.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from tumorboard.store import init_workspace
    >>> ws = init_workspace(Path(tempfile.mkdtemp()) / "board")
    >>> _ = add_user(ws, "ada", "reader", "correct horse battery", author="admin")
    >>> disable_user(ws, "ada", author="admin").disabled
    True
    >>> ws.close()
    """
    with workspace.session() as session:
        user = session.scalars(select(User).where(User.name == name)).one_or_none()
        if user is None:
            raise InputError(f"user {name[:64]!r}: no such user")
        if not user.disabled:
            user.disabled = True
            session.add(
                ChangeLogEntry(
                    table_name="users",
                    row_id=user.id,
                    field="disabled",
                    old_value="false",
                    new_value="true",
                    author=author,
                )
            )
        for web_session in session.scalars(select(WebSession).where(WebSession.user_id == user.id)):
            session.delete(web_session)
        return _info(user)


def _info(user: User) -> UserInfo:
    return UserInfo(user.name, user.role, bool(user.disabled), user.created_at.isoformat())
