"""The reading room: a FastAPI application over the patient record.

A face, like :mod:`tumorboard.cli`: routes parse, check the user and the CSRF
token, call :mod:`tumorboard.workflow` and :mod:`tumorboard.store`, and return
JSON; the browser front end in ``static/`` renders. :func:`tumorboard.web.app.create_app`
builds the application; ``tumorboard serve`` runs it with uvicorn.
"""

from __future__ import annotations

__all__: list[str] = []
