"""Sign-in, sessions, roles, CSRF and the login rate limit of the reading room."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from api_support import PASSWORD, TestClient, sign_in

from tumorboard.store.models import WebSession
from tumorboard.web.app import create_app
from tumorboard.web.auth import IDLE_TIMEOUT, MAX_LOGIN_FAILURES, SESSION_COOKIE, token_sha256


def test_login_sets_a_strict_http_only_cookie_and_returns_the_csrf_token(app: Any) -> None:
    with TestClient(app) as client:
        response = client.post("/api/login", json={"username": "ada", "password": PASSWORD})
        assert response.status_code == 200
        body = response.json()
        assert body["user"] == {"name": "ada", "role": "reader"}
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain http on localhost, no proxy
        # /api/me gives the same CSRF token back: a reloaded page needs no storage
        me = client.get("/api/me").json()
        assert me == {"name": "ada", "role": "reader", "csrf_token": body["csrf_token"]}
        token = client.cookies[SESSION_COOKIE]

    # the record keeps the SHA-256 of the token, never the token
    with app.state.workspace.session() as session:
        stored = session.scalars(sa.select(WebSession.token_sha256)).all()
    assert stored == [token_sha256(token)] and token not in stored


@pytest.mark.parametrize(
    ("username", "password"), [("ada", "wrong password here"), ("nobody", PASSWORD)]
)
def test_a_wrong_name_or_password_is_401_with_one_message(
    client: TestClient, username: str, password: str
) -> None:
    response = client.post("/api/login", json={"username": username, "password": password})
    assert response.status_code == 401
    assert response.json() == {"detail": "wrong user name or password"}
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert client.get("/api/patients").status_code == 401


def test_without_a_session_every_route_is_401(client: TestClient) -> None:
    for path in ("/api/patients", "/api/worklist", "/api/me", "/api/audit?patient=DWI-001"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.json() == {"detail": "not signed in"}
    client.cookies.set(SESSION_COOKIE, "forged-token")
    assert client.get("/api/patients").status_code == 401


def test_changes_need_the_csrf_token(reader: tuple[TestClient, str]) -> None:
    client, csrf = reader
    url = "/api/patients/DWI-001/dwi/2024-01-08/components"
    for headers in ({}, {"X-CSRF-Token": "not-the-token"}, {"X-CSRF-Token": csrf[:-1]}):
        response = client.post(url, json={"remove": [2], "version": 0}, headers=headers)
        assert response.status_code == 403, headers
        assert "CSRF" in response.json()["detail"]
    # nothing was changed by the refused requests
    exam = client.get("/api/patients/DWI-001/dwi/2024-01-08").json()
    assert exam["curation"]["version"] == 0
    assert all(c["kept"] for c in exam["components"])
    # logout is a change too
    assert client.post("/api/logout").status_code == 403
    assert client.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get("/api/me").status_code == 401


def test_a_viewer_reads_but_is_refused_every_change(app: Any) -> None:
    with TestClient(app) as client:
        csrf = sign_in(client, "vera")
        assert client.get("/api/patients").status_code == 200
        headers = {"X-CSRF-Token": csrf}
        changes = [
            ("/api/patients/DWI-001/dwi/2024-01-08/components", {"remove": [2], "version": 0}),
            (
                "/api/patients/DWI-001/lesions",
                {"label": "L1", "organ": "liver", "role": "target"},
            ),
            ("/api/patients/DWI-001/sign", {}),
        ]
        for url, body in changes:
            response = client.post(url, json=body, headers=headers)
            assert response.status_code == 403, url
            assert "viewer" in response.json()["detail"]
        audit = client.get("/api/audit", params={"patient": "DWI-001"}).json()["changes"]
        assert audit == []


def test_failed_logins_are_limited_per_user_name_and_per_address(app: Any) -> None:
    with TestClient(app) as client:
        for _ in range(MAX_LOGIN_FAILURES):
            wrong = {"username": "ada", "password": "not the password"}
            assert client.post("/api/login", json=wrong).status_code == 401
        # the right password is refused too while the limit holds
        right = client.post("/api/login", json={"username": "ada", "password": PASSWORD})
        assert right.status_code == 429
        assert "too many failed logins" in right.json()["detail"]
        # the same address is limited for other names as well
        other = client.post("/api/login", json={"username": "bob", "password": PASSWORD})
        assert other.status_code == 429
    # after the window the user can sign in again
    limiter = app.state.login_limiter
    limiter._clock = lambda: 10_000_000.0
    with TestClient(app) as client:
        assert sign_in(client, "ada")


def test_an_idle_session_expires(app: Any) -> None:
    with TestClient(app) as client:
        sign_in(client, "ada")
        assert client.get("/api/me").status_code == 200
        long_ago = dt.datetime.now(dt.UTC) - IDLE_TIMEOUT - dt.timedelta(minutes=1)
        with app.state.workspace.session() as session:
            session.execute(sa.update(WebSession).values(last_seen_at=long_ago))
        response = client.get("/api/me")
        assert response.status_code == 401
        assert "expired" in response.json()["detail"]
        with app.state.workspace.session() as session:
            assert session.scalars(sa.select(WebSession)).all() == []


def test_a_disabled_user_cannot_sign_in_and_loses_their_session(app: Any) -> None:
    from tumorboard.web.users import disable_user

    with TestClient(app) as client:
        sign_in(client, "bob")
        disable_user(app.state.workspace, "bob", author="root")
        assert client.get("/api/me").status_code == 401
        response = client.post("/api/login", json={"username": "bob", "password": PASSWORD})
        assert response.status_code == 401


def test_cookie_is_secure_when_asked_or_behind_a_trusted_https_proxy(
    sqlite_workspace_root: Path,
) -> None:
    secure = create_app(sqlite_workspace_root, secure_cookies=True)
    proxied = create_app(sqlite_workspace_root, trusted_proxies=frozenset({"testclient"}))
    untrusted = create_app(sqlite_workspace_root)
    try:
        for application, https_header, expected in (
            (secure, {}, True),
            (proxied, {"X-Forwarded-Proto": "https"}, True),
            (proxied, {}, False),
            (untrusted, {"X-Forwarded-Proto": "https"}, False),  # not a trusted proxy
        ):
            with TestClient(application) as client:
                response = client.post(
                    "/api/login",
                    json={"username": "ada", "password": PASSWORD},
                    headers=https_header,
                )
                assert response.status_code == 200
                assert ("Secure" in response.headers["set-cookie"]) is expected
    finally:
        for application in (secure, proxied, untrusted):
            application.state.workspace.close()


def test_every_response_has_the_security_headers(reader: tuple[TestClient, str]) -> None:
    client, _ = reader
    for path in ("/api/patients", "/api/nothing-here", "/api/patients/DWI-001/timeline"):
        response = client.get(path)
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
