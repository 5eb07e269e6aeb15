"""Signing in and out: ``POST /api/login``, ``POST /api/logout``, ``GET /api/me``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from tumorboard.web.auth import CurrentUser, end_session, log_in

__all__ = ["Credentials", "router"]

router = APIRouter(prefix="/api")


class Credentials(BaseModel):
    """The body of ``POST /api/login``."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


@router.post("/login")
def login(credentials: Credentials, request: Request, response: Response) -> dict[str, Any]:
    """Check the password, set the session cookie, return the user and the CSRF token."""
    return log_in(request, response, credentials.username, credentials.password)


@router.post("/logout")
def logout(request: Request, response: Response, _user: CurrentUser) -> dict[str, bool]:
    """End the session (needs the CSRF token like every change)."""
    end_session(request, response)
    return {"signed_out": True}


@router.get("/me")
def me(user: CurrentUser, request: Request) -> dict[str, str]:
    """The signed-in user and the session's CSRF token (a reloaded page needs no storage)."""
    return {**user.as_dict(), "csrf_token": str(request.state.csrf_token)}
