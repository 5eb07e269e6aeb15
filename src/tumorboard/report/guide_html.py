"""The reading guide as HTML: a full page (``guide.html``) or a report fragment.

Both render ``guide_section.html.j2`` from the ``guide.json`` content
(:meth:`tumorboard.guide.GuideResult.as_dict`), with every value escaped. The
section opens with the guide's statement that it is a reading aid for the
tumour board, not a decision.

Including the guide in another report (the case-report form, the demo):

* from Python, ``render_guide_fragment(result)`` returns the HTML fragment
  (no ``<html>``/``<body>``); mark it safe (``markupsafe.Markup``) when
  passing it into an autoescaping jinja2 template;
* from a template in ``report/templates``, ``{% include
  "guide_section.html.j2" %}`` with the ``guide.json`` dict bound to the
  variable ``guide`` renders the same fragment.

The fragment uses the CSS classes ``disclaimer``, ``data``, ``source`` and
``quote``; the including page styles them (``guide.html.j2`` shows one way).
Every recommendation shows its source: the paper, section, verbatim quote
and source file, or ``tumorboard default`` with its reason. Input values are
written as clinical text (``yes``, ``unknown``, ``lanreotide``), never as
Python values.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from tumorboard.guide.engine import GuideResult
from tumorboard.report.clinical_text import plain

#: The fragment template, for reports that include it directly.
GUIDE_SECTION_TEMPLATE = "guide_section.html.j2"


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("tumorboard.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        keep_trailing_newline=True,
    )
    environment.filters["plain"] = plain
    return environment


def _as_payload(result: GuideResult | dict[str, Any]) -> dict[str, Any]:
    return result.as_dict() if isinstance(result, GuideResult) else result


def render_guide_page(result: GuideResult | dict[str, Any]) -> str:
    """A standalone HTML page of the guide (the CLI's ``guide.html``).

    Parameters
    ----------
    result : GuideResult or dict
        The guide's result, or its ``guide.json`` content.

    Returns
    -------
    str
        A complete, escaped HTML document.
    """
    return _environment().get_template("guide.html.j2").render(guide=_as_payload(result))


def render_guide_fragment(result: GuideResult | dict[str, Any]) -> str:
    """The guide as an HTML fragment for a report (no ``<html>``/``<body>``).

    Parameters
    ----------
    result : GuideResult or dict
        The guide's result, or its ``guide.json`` content.

    Returns
    -------
    str
        Escaped HTML: the reading-aid statement, the summary table (WHO grade,
        risk, origin, imaging in order, response criteria, PRRT, pituitary),
        the recommendations with their inputs and sources, and the missing
        facts with the steps they would change.
    """
    return _environment().get_template(GUIDE_SECTION_TEMPLATE).render(guide=_as_payload(result))
