"""The demo's ``report.html``: the sections of every capability on one page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from tumorboard import __version__
from tumorboard.report.demo_section import DemoSection


@dataclass(frozen=True)
class SectionFailure:
    """A section that could not be produced, shown in the report."""

    title: str
    message: str


def render_demo_report(
    sections: Sequence[DemoSection],
    failures: Sequence[SectionFailure],
    path: Path,
    phantom_version: str,
) -> None:
    """Render the sections into ``path`` (an HTML file next to their figures)."""
    environment = Environment(
        loader=PackageLoader("tumorboard.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    template = environment.get_template("demo_report.html.j2")
    checks = [(name, ok) for section in sections for name, ok in section.checks.items()]
    text = template.render(
        version=__version__,
        phantom_version=phantom_version,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sections=sections,
        failures=failures,
        checks=checks,
    )
    path.write_text(text, encoding="utf-8")
