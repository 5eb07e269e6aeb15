"""The PET demo section runs on the reference case and all its truth checks pass."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from tumorboard.errors import InputError
from tumorboard.pet.lesion_table import LesionPetRecord
from tumorboard.phantoms import pet_case
from tumorboard.pipeline import demo_pet
from tumorboard.pipeline.demo_pet import _pet_timepoint, percist_outcome, run_section
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


def _reading(label: int, sul_peak: float) -> LesionPetRecord:
    return LesionPetRecord(
        label=label,
        volume_ml=10.0,
        suvbw_max=sul_peak * 1.5,
        suvbw_mean=sul_peak,
        suvbw_peak=sul_peak * 1.2,
        sul_peak=sul_peak,
        mtv_ml=8.0,
        tlg=40.0,
    )


def test_percist_uses_the_hottest_lesion_of_each_scan() -> None:
    """PERCIST 1.0: the hottest lesion may be a different lesion at follow-up."""
    names = {1: "liver", 2: "bone", 3: "lymph node"}
    baseline = _pet_timepoint(
        "baseline", dt.date(2025, 1, 1), [_reading(1, 10.0), _reading(2, 4.0)], 2.0, 0.2, names
    )
    follow_up = _pet_timepoint(
        "follow-up",
        dt.date(2025, 4, 1),
        [_reading(1, 3.0), _reading(2, 4.2), _reading(3, 5.0)],
        2.1,
        0.2,
        names,
    )
    outcome = percist_outcome((baseline, follow_up))
    assert outcome.error is None
    assert outcome.n_lesions == (2, 3)
    assert outcome.hottest_sul_peak == (Decimal("10.00"), Decimal("5.00"))
    assert outcome.category == "PMR"  # 10.0 -> 5.0: -50 % and -5 SUL
    only_hottest = _pet_timepoint(
        "follow-up", dt.date(2025, 4, 1), [_reading(1, 3.0)], 2.1, 0.2, names
    )
    assert percist_outcome((baseline, only_hottest)).hottest_sul_peak[1] == Decimal("3.00")


def test_percist_rejection_is_reported_not_hidden() -> None:
    names = {1: "liver"}
    baseline = _pet_timepoint("baseline", dt.date(2025, 4, 1), [_reading(1, 10.0)], 2.0, 0.2, names)
    earlier = _pet_timepoint("follow-up", dt.date(2025, 1, 1), [_reading(1, 9.0)], 2.0, 0.2, names)
    outcome = percist_outcome((baseline, earlier))
    assert outcome.category is None
    assert outcome.error is not None and "\n" not in outcome.error


def test_engine_rejection_is_a_failed_check_in_the_section(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def reject(*args: object, **kwargs: object) -> None:
        raise InputError("row 3: rule 'at most 5 PET target lesions per scan (PERCIST)'")

    monkeypatch.setattr(demo_pet, "assess_patient", reject)
    keys = ("fdg_baseline", "fdg_followup")
    records = {key: [_reading(1, 10.0), _reading(2, 4.0)] for key in keys}
    liver = {key: (2.0, 0.2, 2.8) for key in keys}
    timepoints = {tp.key: tp for tp in pet_case.TIMEPOINTS}
    scans = {key: (SimpleNamespace(injected_dose_bq=3e8), timepoints[key]) for key in keys}
    truth = [{"suv": {"fdg_baseline": 8.0, "fdg_followup": 9.5}}]
    checks: dict[str, bool] = {}
    fragment, summary = demo_pet._percist_part(records, liver, scans, truth, checks)
    failed = [name for name, ok in checks.items() if not ok]
    assert any("rejected: row 3: rule 'at most 5 PET target" in name for name in failed)
    assert summary["category"] is None and "at most 5" in summary["engine_error"]
    assert "criteria engine rejected the input" in fragment
