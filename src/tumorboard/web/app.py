"""The reading room's FastAPI application.

:func:`create_app` opens the workspace, adds the API routes (one module per
concept), the image routes of :mod:`tumorboard.web.images` when that module is
present, and the built front end of ``static/`` at ``/``. Every response
carries security headers; a :class:`~tumorboard.errors.TumorboardError` (bad
input) becomes a 400 with its one-line message, a stale curation a 409.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tumorboard.errors import TumorboardError
from tumorboard.store.workspace import open_workspace
from tumorboard.web.auth import LoginLimiter

__all__ = [
    "SECURITY_HEADERS",
    "STATIC_DIR",
    "WORKER_THREADS",
    "EscapedJSONResponse",
    "SecurityHeaders",
    "create_app",
]

#: The built front end (index.html and its scripts), served at ``/``.
STATIC_DIR = Path(__file__).with_name("static")

#: Headers of every response: no inline script, no framing, no MIME sniffing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
        "img-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}

#: Threads that run the (synchronous) routes; more wait their turn.
WORKER_THREADS = 8

_ROUTE_MODULES = (
    "routes_session",
    "routes_patients",
    "routes_dwi",
    "routes_pet",
    "routes_dce",
    "routes_reads",
    "routes_form",
    "routes_audit",
)


class EscapedJSONResponse(JSONResponse):
    r"""JSON with ``<``, ``>`` and ``&`` written as ``\u003c`` ... (still the same JSON).

    User text (lesion labels, patient names) is data: even a response opened
    as a page, or pasted into HTML by mistake, cannot start a tag.

    Examples
    --------
    >>> EscapedJSONResponse({"label": "<script>"}).body
    b'{"label":"\\u003cscript\\u003e"}'
    """

    def render(self, content: Any) -> bytes:
        """Serialise as :class:`JSONResponse` does, then escape the HTML specials."""
        body = super().render(content)
        return body.replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")


class SecurityHeaders:
    """ASGI middleware: :data:`SECURITY_HEADERS` on every response, ``no-store`` on the API.

    A plain ASGI wrapper of ``send`` (no extra task or body stream per request,
    unlike an ``@app.middleware("http")`` function).

    Examples
    --------
    >>> import asyncio
    >>> async def endpoint(scope, receive, send):
    ...     await send({"type": "http.response.start", "status": 200, "headers": []})
    >>> sent = []
    >>> async def send(message):
    ...     sent.append(message)
    >>> scope = {"type": "http", "path": "/api/patients", "headers": []}
    >>> asyncio.run(SecurityHeaders(endpoint)(scope, None, send))
    >>> dict(sent[0]["headers"])[b"cache-control"]
    b'no-store'
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response's start message."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = str(scope.get("path", "")).startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if api:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


#: Modules the first image or curation request would otherwise import (seconds, cold).
_PRELOAD = (
    "tumorboard.imaging.nifti",
    "tumorboard.report.dwi_figures",
    "tumorboard.pipeline.dwi_curate",
    "tumorboard.pipeline.dwi_assess",
    "tumorboard.workflow.dwi_curation",
    "tumorboard.workflow.exam_images",
    "PIL.Image",
)


def _preload() -> None:
    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # pragma: no cover - reported by the request that needs it
            pass


def _one_line(text: object) -> str:
    return " ".join(str(text).split())[:500]


def create_app(
    workspace_root: Path,
    *,
    secure_cookies: bool = False,
    trusted_proxies: frozenset[str] = frozenset(),
) -> FastAPI:
    """Build the reading room for a workspace.

    Parameters
    ----------
    workspace_root : Path
        An existing workspace (opened now; its schema is brought up to date).
    secure_cookies : bool
        Mark the session cookie Secure (the app is served over HTTPS).
    trusted_proxies : frozenset of str
        Addresses of reverse proxies whose ``X-Forwarded-Proto`` and
        ``X-Forwarded-For`` headers are believed.

    Returns
    -------
    FastAPI
        With ``app.state.workspace`` the open workspace (closed at shutdown).

    Raises
    ------
    InputError
        If ``workspace_root`` is not a workspace.

    Examples
    --------
    >>> import tempfile
    >>> from tumorboard.store import init_workspace
    >>> folder = Path(tempfile.mkdtemp()) / "board"
    >>> init_workspace(folder).close()
    >>> app = create_app(folder)
    >>> app.url_path_for("login")
    '/api/login'
    >>> app.state.workspace.close()
    """
    workspace = open_workspace(Path(workspace_root))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        # sync routes run in this pool: a few threads keep the GIL and the database
        # pool from thrashing on a small machine (a request waits its turn instead)
        anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        # the image and curation modules import in the background, not in a reader's request
        threading.Thread(target=_preload, name="tumorboard-preload", daemon=True).start()
        yield
        workspace.close()

    app = FastAPI(
        title="tumorboard reading room",
        lifespan=lifespan,
        default_response_class=EscapedJSONResponse,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.workspace = workspace
    app.state.secure_cookies = secure_cookies
    app.state.trusted_proxies = frozenset(trusted_proxies)
    app.state.login_limiter = LoginLimiter()

    app.add_middleware(SecurityHeaders)

    @app.exception_handler(TumorboardError)
    async def bad_input(_request: Request, exc: TumorboardError) -> JSONResponse:
        from tumorboard.workflow.dwi_curation import StaleCuration
        from tumorboard.workflow.lesion_edits import StaleReads

        status = 409 if isinstance(exc, StaleCuration | StaleReads) else 400
        return EscapedJSONResponse({"detail": _one_line(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
        return EscapedJSONResponse({"detail": _one_line(message)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return EscapedJSONResponse(
            {"detail": _one_line(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    for name in _ROUTE_MODULES:
        module = importlib.import_module(f"tumorboard.web.{name}")
        app.include_router(module.router)
    if importlib.util.find_spec("tumorboard.web.images") is not None:
        images = importlib.import_module("tumorboard.web.images")
        app.include_router(images.router)
    if STATIC_DIR.is_dir():
        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static")
    return app
