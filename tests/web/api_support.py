"""Shared by the API tests of the reading room (constants, the test client, signing in)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

from starlette.exceptions import StarletteDeprecationWarning

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))

with warnings.catch_warnings():  # starlette asks for 'httpx2', which the project does not use
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

__all__ = ["BASELINE", "PASSWORD", "PATIENT", "USERS", "WEEK12", "TestClient", "sign_in"]

PATIENT = "DWI-001"
BASELINE = "2024-01-08"
WEEK12 = "2024-04-01"
PASSWORD = "correct horse battery staple"
USERS = {"ada": "reader", "bob": "reader", "vera": "viewer", "root": "admin"}


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Sign in; return the CSRF token."""
    response = client.post("/api/login", json={"username": name, "password": password})
    assert response.status_code == 200, response.text
    token = response.json()["csrf_token"]
    assert isinstance(token, str) and len(token) >= 32
    return token
