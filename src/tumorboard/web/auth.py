"""Sign-in, sessions, roles and CSRF protection of the reading room.

* Passwords are checked against argon2id hashes (:mod:`tumorboard.web.users`).
* A session is a random token (32 bytes) in an HttpOnly, SameSite=Strict
  cookie, Secure when the app is told so or when a trusted proxy says the
  browser came over HTTPS (``X-Forwarded-Proto``). The record keeps only the
  SHA-256 of the token, with an absolute expiry (:data:`SESSION_LIFETIME`)
  and an idle timeout (:data:`IDLE_TIMEOUT`).
* Each session has a CSRF token, returned by the login; every POST, PUT,
  PATCH and DELETE must send it back in the ``X-CSRF-Token`` header (compared
  in constant time), or it is refused with 403.
* Failed logins are limited per user name and per client address
  (:data:`MAX_LOGIN_FAILURES` within :data:`LOGIN_WINDOW`): beyond that, 429.

Routes use :func:`current_user` (401 without a valid session) and
:func:`require_role` (403 for a lower role) as FastAPI dependencies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response
from sqlalchemy import delete, select

from tumorboard.store.models import User, WebSession, utc_now
from tumorboard.web.users import role_rank, verify_password

__all__ = [
    "CSRF_HEADER",
    "CurrentUser",
    "IDLE_TIMEOUT",
    "LOGIN_WINDOW",
    "MAX_LOGIN_FAILURES",
    "Reader",
    "SESSION_COOKIE",
    "SESSION_LIFETIME",
    "LoginLimiter",
    "WebUser",
    "current_user",
    "end_session",
    "log_in",
    "require_role",
    "token_sha256",
]

#: Name of the session cookie.
SESSION_COOKIE = "tumorboard_session"
#: Header that carries the CSRF token on every state-changing request.
CSRF_HEADER = "X-CSRF-Token"
#: A session ends this long after login, however active.
SESSION_LIFETIME = dt.timedelta(hours=12)
#: A session ends after this long without a request.
IDLE_TIMEOUT = dt.timedelta(minutes=30)
#: The last-seen time is written at most this often (fewer writes per request).
TOUCH_INTERVAL = dt.timedelta(seconds=30)
#: Failed logins allowed per user name and per client address within the window.
MAX_LOGIN_FAILURES = 5
#: The window of the login rate limit.
LOGIN_WINDOW = dt.timedelta(minutes=5)

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: A hash verified when the user does not exist, so both cases take as long.
_DUMMY_HASH: list[str] = []


@dataclass(frozen=True)
class WebUser:
    """The signed-in user of a request.

    Examples
    --------
    >>> WebUser("ada", "reader").may("viewer"), WebUser("ada", "reader").may("admin")
    (True, False)
    """

    name: str
    role: str

    def may(self, role: str) -> bool:
        """Whether this user's role is at least ``role``."""
        return role_rank(self.role) >= role_rank(role)

    def as_dict(self) -> dict[str, str]:
        """Plain JSON types."""
        return {"name": self.name, "role": self.role}


def token_sha256(token: str) -> str:
    """The SHA-256 hex digest under which a session token is stored.

    Examples
    --------
    >>> len(token_sha256("abc")), token_sha256("abc") == token_sha256("abc")
    (64, True)
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class LoginLimiter:
    """Counts failed logins per user name and per client address.

    Parameters
    ----------
    max_failures : int
        Failures allowed within ``window_s``; the next attempt is refused.
    window_s : float
        Length of the sliding window in seconds.
    clock : callable, optional
        Monotonic seconds (tests pass their own).

    Examples
    --------
    >>> now = [0.0]
    >>> limiter = LoginLimiter(2, 60.0, clock=lambda: now[0])
    >>> limiter.blocked("ada", "10.0.0.1")
    False
    >>> limiter.failed("ada", "10.0.0.1"); limiter.failed("ada", "10.0.0.2")
    >>> limiter.blocked("ada", "10.0.0.3"), limiter.blocked("bob", "10.0.0.3")
    (True, False)
    >>> now[0] = 61.0
    >>> limiter.blocked("ada", "10.0.0.3")
    False
    """

    def __init__(
        self,
        max_failures: int = MAX_LOGIN_FAILURES,
        window_s: float = LOGIN_WINDOW.total_seconds(),
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def blocked(self, username: str, client: str) -> bool:
        """Whether a login for this user name or from this client is refused now."""
        now = self._clock()
        with self._lock:
            return any(
                len(self._recent(key, now)) >= self.max_failures
                for key in (f"user:{username.casefold()}", f"ip:{client}")
            )

    def failed(self, username: str, client: str) -> None:
        """Count a failed login."""
        now = self._clock()
        with self._lock:
            for key in (f"user:{username.casefold()}", f"ip:{client}"):
                self._recent(key, now)
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str) -> None:
        """Forget the user name's failures (the address's stay counted)."""
        with self._lock:
            self._failures.pop(f"user:{username.casefold()}", None)


def _workspace(request: Request) -> Any:
    return request.app.state.workspace


def client_address(request: Request) -> str:
    """The client's address; behind a trusted proxy, the one it reports."""
    peer = request.client.host if request.client else "unknown"
    if peer in request.app.state.trusted_proxies:
        forwarded = request.headers.get("x-forwarded-for", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1][:64]
    return peer


def uses_https(request: Request) -> bool:
    """Whether the browser talks HTTPS (directly, or to a trusted proxy that says so)."""
    if request.app.state.secure_cookies or request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else None
    if peer is not None and peer in request.app.state.trusted_proxies:
        return request.headers.get("x-forwarded-proto", "").strip().lower() == "https"
    return False


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite gives back naive datetimes: they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def log_in(request: Request, response: Response, username: str, password: str) -> dict[str, Any]:
    """Check a password, open a session and set its cookie.

    Returns
    -------
    dict
        ``user`` (name and role) and ``csrf_token``.

    Raises
    ------
    HTTPException
        429 when rate-limited, 401 for a wrong name or password or a disabled
        user (one message for all three).
    """
    limiter: LoginLimiter = request.app.state.login_limiter
    client = client_address(request)
    if limiter.blocked(username, client):
        raise HTTPException(429, "too many failed logins: wait a few minutes and try again")
    workspace = _workspace(request)
    with workspace.session() as session:
        user = session.scalars(select(User).where(User.name == username)).one_or_none()
        stored = user.password_hash if user is not None else _dummy_hash()
        valid = verify_password(stored, password) and user is not None and not user.disabled
        if not valid or user is None:
            limiter.failed(username, client)
            raise HTTPException(401, "wrong user name or password")
        limiter.succeeded(username)
        now = utc_now()
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        session.execute(delete(WebSession).where(WebSession.expires_at < now))
        session.add(
            WebSession(
                token_sha256=token_sha256(token),
                user_id=user.id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
        web_user = WebUser(user.name, user.role)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        secure=uses_https(request),
        httponly=True,
        samesite="strict",
    )
    return {"user": web_user.as_dict(), "csrf_token": csrf}


def _dummy_hash() -> str:
    if not _DUMMY_HASH:
        from tumorboard.web.users import hash_password

        _DUMMY_HASH.append(hash_password(secrets.token_urlsafe(16)))
    return _DUMMY_HASH[0]


def end_session(request: Request, response: Response) -> None:
    """Delete the request's session from the record and clear its cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with _workspace(request).session() as session:
            session.execute(
                delete(WebSession).where(WebSession.token_sha256 == token_sha256(token))
            )
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=uses_https(request), httponly=True, samesite="strict"
    )


def current_user(request: Request) -> WebUser:
    """FastAPI dependency: the signed-in user, checked against the CSRF token.

    Raises
    ------
    HTTPException
        401 without a valid, unexpired session; 403 for a POST, PUT, PATCH or
        DELETE whose ``X-CSRF-Token`` header does not match the session's.
    """
    cached = getattr(request.state, "web_user", None)
    if isinstance(cached, WebUser):
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 200:
        raise HTTPException(401, "not signed in")
    now = utc_now()
    with _workspace(request).session() as session:
        row = session.execute(
            select(WebSession, User)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.token_sha256 == token_sha256(token))
        ).one_or_none()
        if row is None:
            raise HTTPException(401, "not signed in")
        web_session, user = row
        expired = _aware(web_session.expires_at) <= now
        idle = now - _aware(web_session.last_seen_at) > IDLE_TIMEOUT
        if expired or idle or user.disabled:
            session.delete(web_session)
            # the deletion is committed, then the request refused
            csrf = None
        else:
            csrf = web_session.csrf_token
            if now - _aware(web_session.last_seen_at) > TOUCH_INTERVAL:
                web_session.last_seen_at = now
        web_user = WebUser(user.name, user.role)
    if csrf is None:
        raise HTTPException(401, "session expired: sign in again")
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode("utf-8"), csrf.encode("utf-8")):
            raise HTTPException(403, "missing or wrong CSRF token (send X-CSRF-Token)")
    request.state.web_user = web_user
    request.state.csrf_token = csrf
    return web_user


def require_role(role: str) -> Callable[[Request], WebUser]:
    """FastAPI dependency factory: the signed-in user, if their role is at least ``role``.

    Examples
    --------
    >>> check = require_role("reader")
    >>> callable(check)
    True
    >>> require_role("root")
    Traceback (most recent call last):
    ...
    tumorboard.errors.InputError: role 'root': must be one of viewer, reader, admin
    """
    role_rank(role)

    def dependency(request: Request) -> WebUser:
        user = current_user(request)
        if not user.may(role):
            raise HTTPException(403, f"your role ({user.role}) may not do this: needs {role}")
        return user

    dependency.__name__ = f"require_{role}"
    return dependency


#: A route parameter: the signed-in user (any role); 401/403 as :func:`current_user`.
CurrentUser = Annotated[WebUser, Depends(current_user)]
#: A route parameter: the signed-in user, a reader or admin (403 for a viewer).
Reader = Annotated[WebUser, Depends(require_role("reader"))]
