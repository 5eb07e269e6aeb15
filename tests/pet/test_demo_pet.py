"""The PET demo section runs on the reference case and all its truth checks pass."""

from __future__ import annotations

import json
from pathlib import Path

from tumorboard.pipeline.demo_pet import run_section
from tumorboard.pipeline.demo_section import DemoContext


def test_demo_section(tmp_path: Path) -> None:
    context = DemoContext(phantom_dir=tmp_path / "phantom", out_dir=tmp_path / "out")
    section = run_section(context)
    assert section.slug == "pet"
    assert len(section.checks) >= 12
    failed = [name for name, ok in section.checks.items() if not ok]
    assert not failed, failed
    assert (tmp_path / "out" / "pet" / "pituitary_fused.png").is_file()
    summary = json.loads((tmp_path / "out" / "pet" / "pet_summary.json").read_text())
    assert summary["netpet"] == "P4a"
    assert summary["pituitary"]["tre_max_mm"] < 2.0
    assert 'src="pet/pituitary_fused.png"' in section.html
    assert "Krenning" in section.html and "PERCIST" in section.html
