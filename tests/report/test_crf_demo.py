from __future__ import annotations

from pathlib import Path

from tumorboard.pipeline.demo_crf import run_section
from tumorboard.pipeline.demo_section import DemoContext


def test_demo_section_passes_its_checks(tmp_path: Path) -> None:
    section = run_section(DemoContext(phantom_dir=tmp_path / "unused", out_dir=tmp_path))
    assert section.slug == "crf"
    assert section.checks and all(section.checks.values()), section.checks
    assert 'href="crf/crf.pdf"' in section.html
    assert "new baseline lesion" in section.html
    assert (tmp_path / "crf" / "sdtm" / "rs.csv").is_file()
