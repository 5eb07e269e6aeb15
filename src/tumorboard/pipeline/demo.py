"""``tumorboard demo``: the reference patient through every pipeline, into one report.

Sections are modules ``tumorboard.pipeline.demo_<topic>`` listed in
:data:`SECTION_MODULES`; each returns a :class:`DemoSection`. A section that
fails is reported (in the page and on stderr) and makes the demo exit
non-zero, as does any failed truth check: the demo is also a validation run.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tumorboard.errors import InputError
from tumorboard.outputs import output_directory
from tumorboard.phantoms.reference_patient import PHANTOM_VERSION, ensure_reference_patient
from tumorboard.pipeline.demo_section import DemoContext, DemoSection
from tumorboard.report.demo_report import SectionFailure, render_demo_report

#: Section modules in report order; missing modules are skipped.
SECTION_MODULES = ("dwi", "crf", "pet", "dce", "guide")
#: A file that marks a directory as a demo output (so a re-run may replace it).
DEMO_MARKER = ".tumorboard-demo"


@dataclass(frozen=True)
class DemoResult:
    """What the demo produced."""

    report: Path
    sections: tuple[DemoSection, ...]
    failures: tuple[SectionFailure, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        """No failed section and every truth check passed."""
        return not self.failures and all(
            ok for section in self.sections for ok in section.checks.values()
        )


def run_demo(
    out: Path,
    *,
    cache_dir: Path | None = None,
    force: bool = False,
    rebuild: bool = False,
    extra_sections: Sequence[tuple[str, Callable[[DemoContext], DemoSection]]] = (),
) -> DemoResult:
    """Build (or reuse) the reference patient, run every section, write ``report.html``.

    Parameters
    ----------
    out : Path
        Output directory; replaced when it holds a previous demo or ``force``.
    cache_dir : Path, optional
        Where the reference patient is cached.
    force : bool
        Replace ``out`` even if it is not a previous demo output.
    rebuild : bool
        Rebuild the cached reference patient.
    extra_sections : sequence of (name, callable)
        Sections from above this layer (the face passes the patient-record
        section of :mod:`tumorboard.workflow.demo_record`), run after the others.
    """
    start = time.perf_counter()
    replace = force or (out / DEMO_MARKER).is_file()
    if out.exists() and not replace:
        raise InputError(f"output {out} exists and is not a tumorboard demo; use --force")
    phantom = ensure_reference_patient(cache_dir, rebuild=rebuild)
    sections: list[DemoSection] = []
    failures: list[SectionFailure] = []
    with output_directory(out, force=True, inputs=[phantom]) as staging:
        (staging / DEMO_MARKER).write_text("tumorboard demo output\n")
        context = DemoContext(phantom_dir=phantom, out_dir=staging)
        runners: list[tuple[str, Callable[[DemoContext], DemoSection]]] = []
        for name in SECTION_MODULES:
            try:
                module = importlib.import_module(f"tumorboard.pipeline.demo_{name}")
            except ModuleNotFoundError as exc:
                if exc.name == f"tumorboard.pipeline.demo_{name}":
                    continue
                raise
            runners.append((name, module.run_section))
        for name, run_section in [*runners, *extra_sections]:
            section_start = time.perf_counter()
            try:
                sections.append(run_section(context))
            except Exception as exc:  # a failed section is reported, the rest still runs
                failures.append(SectionFailure(title=name, message=f"{type(exc).__name__}: {exc}"))
            print(f"  {name:<6} {time.perf_counter() - section_start:5.1f} s", file=sys.stderr)
        render_demo_report(sections, failures, staging / "report.html", PHANTOM_VERSION)
    return DemoResult(
        report=out / "report.html",
        sections=tuple(sections),
        failures=tuple(failures),
        seconds=time.perf_counter() - start,
    )
