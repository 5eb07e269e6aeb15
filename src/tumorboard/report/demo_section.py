"""The unit the demo report is assembled from (a record, no pipeline code).

Each capability contributes one section to ``report.html``; the section
modules live in :mod:`tumorboard.pipeline` (``demo_<topic>``) and return a
:class:`DemoSection`, which :mod:`tumorboard.report.demo_report` renders. The
type lives here so that the report never imports the pipeline.
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
    patient : str
        Which reference patient (and which period of its timeline) the section
        shows, e.g. ``"NET patient (TB-REF-0001, ...), 2025-01-20 to 2025-03-24"``;
        printed under the heading.

    Examples
    --------
    >>> DemoSection("dwi", "WB-DWI", "<p>x</p>", {"ok": True}, "Breast patient").patient
    'Breast patient'
    """

    slug: str
    title: str
    html: str
    checks: dict[str, bool] = field(default_factory=dict)
    patient: str = ""
