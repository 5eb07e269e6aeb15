"""Rendering of the case-report-form document: printable HTML (jinja2) and PDF (WeasyPrint).

The HTML is self-contained (figures are inline PNG data URIs, styles are
inline), so the file can be mailed or archived as is; the PDF is printed
from the same HTML.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from tumorboard.errors import InputError
from tumorboard.report.clinical_text import plain


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("tumorboard.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["plain"] = plain
    return environment


def render_crf_html(
    document: dict[str, Any],
    *,
    fragment: bool = False,
    extra_sections: Sequence[tuple[str, str]] = (),
) -> str:
    """Render the CRF document as a printable HTML page (or a fragment without ``<html>``).

    ``extra_sections`` are ``(title, html)`` pairs of already escaped
    fragments (e.g. the WB-DWI table, the reading guide) placed after the
    patients.
    """
    environment = _environment()
    name = "crf_body.html.j2" if fragment else "crf.html.j2"
    sections = [(title, Markup(body)) for title, body in extra_sections]
    return environment.get_template(name).render(doc=document, extra_sections=sections)


def write_crf_pdf(html: str, path: str | os.PathLike[str]) -> int:
    """Render ``html`` to a PDF with WeasyPrint and return the number of pages.

    Raises
    ------
    InputError
        If WeasyPrint cannot render (its message is included).
    """
    try:
        with warnings.catch_warnings():
            # WeasyPrint warns at import that a future version will need
            # HarfBuzz-Subset; the installed version renders without it.
            warnings.filterwarnings(
                "ignore", message="HarfBuzz-Subset", category=DeprecationWarning
            )
            import weasyprint
    except Exception as exc:  # pragma: no cover - depends on system libraries
        raise InputError(f"PDF output needs WeasyPrint, which failed to load: {exc}") from None
    logger = logging.getLogger("weasyprint")
    level = logger.level
    logger.setLevel(logging.ERROR)  # font-subsetting notices are not the user's concern
    try:
        rendered = weasyprint.HTML(string=html, base_url=str(Path(path).parent)).render()
        rendered.write_pdf(str(path))
    finally:
        logger.setLevel(level)
    return len(rendered.pages)
