"""The unit the demo report is assembled from (re-exported from the report layer).

Each capability contributes one section to ``report.html``: a module under
:mod:`tumorboard.pipeline` named ``demo_<topic>`` exposing::

    def run_section(context: DemoContext) -> DemoSection: ...

:mod:`tumorboard.pipeline.demo` calls the sections in order. The records are
defined in :mod:`tumorboard.report.demo_section` so that the report renders
them without importing the pipeline.
"""

from __future__ import annotations

from tumorboard.report.demo_section import DemoContext, DemoSection

__all__ = ["DemoContext", "DemoSection"]
