from __future__ import annotations

import csv
import time

from tumorboard.pipeline.demo_dce import run_section
from tumorboard.pipeline.demo_section import DemoContext

#: The demo must stay well inside its one-minute budget (this section: 8 s).
SECTION_SECONDS = 8.0


def test_demo_section_runs_and_passes_its_truth_checks(tmp_path):
    start = time.perf_counter()
    section = run_section(DemoContext(phantom_dir=tmp_path / "cache", out_dir=tmp_path))
    elapsed = time.perf_counter() - start
    assert section.slug == "dce"
    assert section.checks and all(section.checks.values()), section.checks
    out = tmp_path / "dce"
    for name in ("ktrans.png", "arterial_fraction.png", "lesions.csv"):
        assert (out / name).stat().st_size > 0
        assert f"dce/{name}" in section.html
    with open(out / "lesions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["lesion"] for r in rows] == ["1", "2", "3"]
    assert [r["high_baseline_perfusion"] for r in rows] == ["True", "True", "False"]
    assert elapsed < SECTION_SECONDS
