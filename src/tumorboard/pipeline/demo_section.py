"""The unit the demo report is assembled from.

Each capability contributes one section to ``report.html``: a module under
:mod:`tumorboard.pipeline` named ``demo_<topic>`` exposing::

    def run_section(context: DemoContext) -> DemoSection: ...

:mod:`tumorboard.pipeline.demo` calls the sections in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class DemoContext:
    """Where a demo section reads its inputs and writes its outputs.

    Attributes
    ----------
    phantom_dir : Path
        Root of the cached reference patient (DICOM and truth), read-only.
    out_dir : Path
        The demo's output directory; a section writes under ``out_dir / slug``
        and refers to files relative to ``out_dir`` in its HTML.
    """

    phantom_dir: Path
    out_dir: Path


@dataclass(frozen=True)
class DemoSection:
    """One titled part of the demo report.

    Attributes
    ----------
    slug : str
        Short identifier, also the sub-directory of the section's files.
    title : str
        Heading shown in the report.
    html : str
        An HTML fragment (no ``<html>``/``<body>``), already escaped.
    checks : dict of str to bool
        Named truth checks the section performed (e.g. volume within 3 % of
        truth), shown as pass/fail in the report.
    """

    slug: str
    title: str
    html: str
    checks: dict[str, bool] = field(default_factory=dict)
