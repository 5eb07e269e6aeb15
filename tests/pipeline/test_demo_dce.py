"""The liver DCE demo section: reads the cached patient's DICOM, maps, checks against truth."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from tumorboard.dce.lesion_summary import LesionSummary, ParameterSummary
from tumorboard.phantoms.liver_dce import Visit, write_into_reference_patient
from tumorboard.pipeline.demo_dce import (
    DEMO_KTRANS_THRESHOLD_PER_MIN,
    VisitMaps,
    change_table,
    phantom_folder,
    run_section,
)
from tumorboard.pipeline.demo_section import DemoContext


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    write_into_reference_patient(cache)
    out = tmp_path_factory.mktemp("demo")
    context = DemoContext(phantom_dir=cache, out_dir=out)
    return context, run_section(context)


@pytest.mark.slow
def test_section_reads_the_cache_and_passes_its_truth_checks(demo):
    context, section = demo
    assert section.slug == "dce"
    assert section.checks and all(section.checks.values()), section.checks
    assert len(section.checks) == 6
    assert section.patient.startswith("NET patient (TB-REF-0001")
    out = context.out_dir / "dce"
    assert not (out / "phantom").exists()  # the cached patient was used
    for name in ("ktrans.png", "arterial_fraction.png", "lesions.csv"):
        assert (out / name).stat().st_size > 0
        assert f"dce/{name}" in section.html
    assert "tumorboard dce map --dynamic" in section.html


@pytest.mark.slow
def test_section_writes_what_dce_map_writes(demo):
    context, _ = demo
    for visit in ("baseline", "followup"):
        tofts = context.out_dir / "dce" / visit / "extended-tofts"
        dual = context.out_dir / "dce" / visit / "dual-input"
        assert (tofts / "ktrans_per_min.nii.gz").is_file()
        assert (dual / "arterial_fraction.nii.gz").is_file()
        with open(dual / "lesions.csv", newline="") as handle:
            assert [r["lesion"] for r in csv.DictReader(handle)] == ["1", "2", "3", "4"]


@pytest.mark.slow
def test_lesion_table(demo):
    context, _ = demo
    with open(context.out_dir / "dce" / "lesions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["lesion"] for r in rows] == ["1", "2", "3", "4"]
    # lesions 1, 2 and 4 are well perfused at baseline and respond; 3 does neither
    assert [r["high_baseline_perfusion"] for r in rows] == ["True", "True", "False", "True"]
    change = [float(r["fp_change_percent"]) for r in rows]
    assert change[0] < -30 and change[1] < -30 and change[3] < -30 and change[2] > 0
    for row in rows:
        assert float(row["arterial_fraction_baseline"]) > 0.7


def test_fallback_writes_the_phantom_once(tmp_path):
    context = DemoContext(phantom_dir=tmp_path / "no-cache", out_dir=tmp_path / "out")
    folder = phantom_folder(context)
    assert folder == tmp_path / "out" / "dce" / "phantom"
    truth = folder / "baseline" / "truth.json"
    stamp = truth.stat().st_mtime_ns
    assert phantom_folder(context) == folder and truth.stat().st_mtime_ns == stamp
    assert (folder / "followup" / "dicom").is_dir()


def test_high_baseline_threshold_is_configurable():
    def maps(visit: Visit, values: list[float]) -> VisitMaps:
        lesions = {
            i + 1: LesionSummary(
                i + 1,
                10,
                0.0,
                tuple(
                    ParameterSummary(p, v, v, v, 10, (), ())
                    for p in ("ktrans_per_min", "fp_ml_per_100ml_per_min", "arterial_fraction")
                ),
            )
            for i, v in enumerate(values)
        }
        return VisitMaps(visit, {}, {}, lesions, [])

    visits = {
        Visit.BASELINE: maps(Visit.BASELINE, [0.5, 0.9, 1.5]),
        Visit.FOLLOW_UP: maps(Visit.FOLLOW_UP, [0.5, 0.4, np.nan]),
    }
    flags = [
        c.high_baseline
        for c in change_table(visits, ktrans_threshold_per_min=DEMO_KTRANS_THRESHOLD_PER_MIN)[
            "ktrans_per_min"
        ]
    ]
    assert flags == [False, True, True]
    high = change_table(visits, ktrans_threshold_per_min=1.0)["ktrans_per_min"]
    assert [c.high_baseline for c in high] == [False, False, True]
    assert high[1].change_percent == pytest.approx(-55.5556, rel=1e-4)
