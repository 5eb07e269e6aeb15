"""The reading guide as HTML: a full page (``guide.html``) or a report fragment."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from tumorboard.guide.engine import GuideResult


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("tumorboard.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )


def render_guide_page(result: GuideResult | dict[str, Any]) -> str:
    """A standalone HTML page of the guide (escaped)."""
    data = result.as_dict() if isinstance(result, GuideResult) else result
    return _environment().get_template("guide.html.j2").render(guide=data)


def render_guide_fragment(result: GuideResult | dict[str, Any]) -> str:
    """The guide as an HTML fragment for the case report (no ``<html>``/``<body>``)."""
    data = result.as_dict() if isinstance(result, GuideResult) else result
    return _environment().get_template("guide_section.html.j2").render(guide=data)
