"""WB-DWI: one reference exam, named wherever a change or a class is shown (issue 9, item 5).

Also: every setting recorded, ``dwi compare`` refusing mixed settings, repeated
exams and missing dates, and implausible tumour loads flagged. The synthetic
exams are built from S0 and ADC maps; the truth (which voxels are tumour,
body fractions, organ shapes) comes from those generating maps.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

import tumorboard.report.dwi_figures as dwi_figures
from tumorboard.cli.main import main
from tumorboard.imaging.nifti import write_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.pipeline.dwi_compare import comparison_rows, read_assessed_exam
from tumorboard.pipeline.dwi_plausibility import MAX_BODY_FRACTION
from tumorboard.report.wbdwi_table import render_wbdwi_fragment

B_VALUES = (50.0, 600.0, 900.0)
SPACING = (10.0, 5.0, 5.0)
SHAPE = (24, 48, 48)
BODY_S0, BODY_ADC = 250.0, 1500.0  # computed b1000: 56, below the threshold 100


def _grid() -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
    zz, yy, xx = np.indices(SHAPE)
    return zz, yy, xx


def _body() -> NDArray[np.bool_]:
    _, yy, xx = _grid()
    return np.asarray(((yy - 24) / 20.0) ** 2 + ((xx - 24) / 20.0) ** 2 <= 1)


def _write_exam(
    folder: Path, regions: list[tuple[NDArray[np.bool_], float, float]], seed: int = 0
) -> list[str]:
    """Write b50/b600/b900 NIfTIs of the body with ``(mask, S0, ADC)`` regions; return args."""
    rng = np.random.default_rng(seed)
    body = _body()
    s0 = np.where(body, BODY_S0, 0.0)
    adc = np.where(body, BODY_ADC, 0.0)
    for mask, region_s0, region_adc in regions:
        s0[mask], adc[mask] = region_s0, region_adc
    folder.mkdir(parents=True, exist_ok=True)
    args = []
    for b in B_VALUES:
        clean = s0 * np.exp(-b * adc * 1e-6)
        noisy = np.hypot(clean + rng.normal(0, 2, SHAPE), rng.normal(0, 2, SHAPE))
        path = write_nifti(Volume(noisy.astype(np.float32), SPACING), folder / f"b{b:g}.nii.gz")
        args += ["--image", f"{b:g}={path}"]
    return args


def _ball(z: int, y: int, x: int, radius: float) -> NDArray[np.bool_]:
    zz, yy, xx = _grid()
    return np.asarray(((zz - z) * 2) ** 2 + (yy - y) ** 2 + (xx - x) ** 2 <= radius**2)


def _assess(tmp_path: Path, name: str, args: list[str]) -> dict[str, Any]:
    out = tmp_path / name
    assert main(["dwi", "assess", *args, "--out", str(out)]) == 0
    return dict(json.loads((out / "summary.json").read_text()))


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture
def two_exams(tmp_path: Path) -> tuple[Path, Path]:
    """Exam 1 (tumour ADC 700, radius 6) and exam 2 (ADC 1100, radius 5), dated."""
    first = _write_exam(tmp_path / "in1", [(_ball(12, 20, 18, 6), 500.0, 700.0)], seed=1)
    _assess(tmp_path, "e1", [*first, "--date", "2025-01-08", "--label", "exam 1"])
    second = _write_exam(tmp_path / "in2", [(_ball(12, 20, 18, 5), 800.0, 1100.0)], seed=2)
    reference = str(tmp_path / "e1" / "summary.json")
    args = [*second, "--date", "2025-04-02", "--label", "exam 2", "--reference", reference]
    _assess(tmp_path, "e2", args)
    return tmp_path / "e1", tmp_path / "e2"


def test_reference_is_named_in_summary_figures_and_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: the figures said 'vs exam 4', the table 'vs first', neither with a date."""
    titles: dict[str, list[str]] = {"mip": [], "histogram": []}
    real_mip, real_histogram = dwi_figures.mip_figure, dwi_figures.histogram_figure

    def mip(*args: Any, **kwargs: Any) -> None:
        titles["mip"].append(f"{kwargs.get('title', '')}\n{kwargs.get('subtitle', '')}")
        real_mip(*args, **kwargs)

    def histogram(*args: Any, **kwargs: Any) -> None:
        titles["histogram"].append(str(kwargs.get("title", "")))
        real_histogram(*args, **kwargs)

    monkeypatch.setattr(dwi_figures, "mip_figure", mip)
    monkeypatch.setattr(dwi_figures, "histogram_figure", histogram)
    first = _write_exam(tmp_path / "in1", [(_ball(12, 20, 18, 6), 500.0, 700.0)], seed=1)
    _assess(tmp_path, "e1", [*first, "--date", "2025-01-08", "--label", "exam 1"])
    second = _write_exam(tmp_path / "in2", [(_ball(12, 20, 18, 5), 800.0, 1100.0)], seed=2)
    reference = str(tmp_path / "e1" / "summary.json")
    args = [*second, "--date", "2025-04-02", "--label", "exam 2", "--reference", reference]
    summary = _assess(tmp_path, "e2", args)
    name = "exam 1 (2025-01-08)"
    assert summary["exam"] == {"label": "exam 2", "date": "2025-04-02"}
    assert summary["reference_exam"] == name
    assert summary["reference"]["label"] == "exam 1"
    assert summary["reference"]["date"] == "2025-01-08"
    # the second exam's figures name the same reference as its summary
    assert name in titles["mip"][-1] and "exam 2 (2025-04-02)" in titles["mip"][-1]
    assert "change and classes vs " + name in titles["mip"][-1]
    assert name in titles["histogram"][-1]
    # the first exam is its own reference, and says so
    assert "this exam" in titles["mip"][0] and "this exam" in titles["histogram"][0]
    # the comparison table and the form's table name the same exam
    exams = [read_assessed_exam(label, tmp_path / label) for label in ("e1", "e2")]
    rows = comparison_rows(exams)
    assert {row["reference_exam"] for row in rows} == {"e1 (2025-01-08)"}
    html = render_wbdwi_fragment(rows)
    assert "vs e1 (2025-01-08) (%)" in html and "against e1 (2025-01-08)" in html


def test_settings_record_every_option_and_the_exclusion_file(tmp_path: Path) -> None:
    tumour = _ball(12, 20, 18, 6)
    organ = _ball(12, 30, 32, 3)
    args = _write_exam(tmp_path / "in", [(tumour, 500.0, 700.0), (organ, 700.0, 800.0)])
    labels = write_nifti(
        Volume(np.where(organ, 4, 0).astype(np.uint8), SPACING), tmp_path / "organs.nii.gz"
    )
    summary = _assess(
        tmp_path,
        "e",
        [*args, "--exclude", str(labels), "--exclude-labels", "4", "--min-b", "50"]
        + ["--computed-b", "1200", "--threshold", "90", "--date", "2025-01-08"],
    )
    settings = summary["settings"]
    digest = hashlib.sha256(labels.read_bytes()).hexdigest()
    assert settings["exclusion"] == {"files_sha256": [digest], "labels": [4]}
    assert settings["threshold"] == 90.0 and settings["threshold_sd"] is None
    assert settings["computed_b_s_per_mm2"] == 1200.0 and settings["min_b_s_per_mm2"] == 50.0
    assert settings["green_lower_um2_per_s"] == 1500.0
    assert summary["exam"]["date"] == "2025-01-08"
    plain = _assess(tmp_path, "plain", [*args, "--date", "2025-01-09"])
    assert plain["settings"]["exclusion"] is None


def test_compare_refuses_different_settings_unless_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Was: exams of different thresholds compared silently (+7,007 % in the review)."""
    tumour = _ball(12, 20, 18, 6)
    args = _write_exam(tmp_path / "in1", [(tumour, 500.0, 700.0)], seed=1)
    _assess(tmp_path, "e1", [*args, "--date", "2025-01-08"])
    args = _write_exam(tmp_path / "in2", [(tumour, 500.0, 700.0)], seed=2)
    _assess(tmp_path, "e2", [*args, "--date", "2025-04-02", "--threshold", "150"])
    exams = ["--exam", f"a={tmp_path / 'e1'}", "--exam", f"b={tmp_path / 'e2'}"]
    out = tmp_path / "cmp"
    assert main(["dwi", "compare", *exams, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "different settings (threshold" in err
    assert "--allow-different-settings" in err and not out.exists()
    assert main(["dwi", "compare", *exams, "--allow-different-settings", "--out", str(out)]) == 0
    rows = _rows(out / "comparison.csv")
    assert [r["settings_differ"] for r in rows] == ["", "threshold"]


def test_compare_sorts_by_date_and_refuses_repeats(
    two_exams: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = two_exams
    out = tmp_path / "cmp"
    # given in reverse order: the table starts with the earlier exam
    argv = ["dwi", "compare", "--exam", f"late={second}", "--exam", f"early={first}"]
    assert main([*argv, "--out", str(out)]) == 0
    rows = _rows(out / "comparison.csv")
    assert [r["exam"] for r in rows] == ["early", "late"]
    assert [r["exam_date"] for r in rows] == ["2025-01-08", "2025-04-02"]
    assert float(rows[0]["tdv_change_vs_first_pct"]) == 0.0
    assert float(rows[1]["tdv_change_vs_first_pct"]) < 0  # radius 6 -> 5
    assert {r["reference_exam"] for r in rows} == {"early (2025-01-08)"}
    capsys.readouterr()
    for extra in (["--exam", f"again={first}"], []):
        repeated = ["dwi", "compare", "--exam", f"a={first}", "--exam", f"b={first}"]
        assert main([*repeated, *extra, "--out", str(tmp_path / "rep")]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "are the same exam" in err
    # another folder holding the same exam date is the same exam too
    copy = tmp_path / "copy"
    copy.mkdir()
    for item in first.iterdir():
        (copy / item.name).write_bytes(item.read_bytes())
    assert (
        main(
            ["dwi", "compare", "--exam", f"a={first}", "--exam", f"c={copy}"]
            + ["--out", str(tmp_path / "rep")]
        )
        == 1
    )
    assert "same date 2025-01-08" in capsys.readouterr().err


def test_compare_refuses_an_undated_exam(
    two_exams: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = two_exams
    summary = json.loads((second / "summary.json").read_text())
    summary["exam"]["date"] = None
    (second / "summary.json").write_text(json.dumps(summary))
    argv = ["dwi", "compare", "--exam", f"a={first}", "--exam", f"b={second}"]
    assert main([*argv, "--out", str(tmp_path / "cmp")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exam b: its summary.json has no exam date" in err


@pytest.mark.parametrize(("fraction", "flagged"), [(0.46, False), (0.54, True)])
def test_tumour_load_over_half_the_body_is_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fraction: float, flagged: bool
) -> None:
    """The 50 % edge, pinned on both sides (0.46 and 0.54 of the generated body)."""
    body = _body()
    _, _, xx = _grid()
    # tumour: the body voxels left of a cut chosen from the generating body mask
    order = np.sort(xx[body])
    cut = order[int(fraction * order.size)]
    tumour = body & (xx < cut)
    truth = tumour.sum() / body.sum()
    assert abs(truth - fraction) < 0.03
    args = _write_exam(tmp_path / "in", [(tumour, 500.0, 700.0)])
    summary = _assess(tmp_path, "e", [*args, "--date", "2025-01-08"])
    flags = summary["plausibility_flags"]
    assert any("% of the body" in flag for flag in flags) is flagged
    assert ("check: tumour load" in capsys.readouterr().err) is flagged
    assert MAX_BODY_FRACTION == 0.5


def _organ_case() -> dict[str, NDArray[np.bool_]]:
    zz, yy, xx = _grid()
    body = _body()
    brain = body & (zz >= 20) & (((yy - 24) / 12.0) ** 2 + ((xx - 24) / 12.0) ** 2 <= 1)
    left = (zz >= 8) & (zz < 12) & (yy >= 26) & (yy < 34) & (xx >= 10) & (xx < 18)
    right = (zz >= 8) & (zz < 12) & (yy >= 26) & (yy < 34) & (xx >= 30) & (xx < 38)
    return {"brain": brain, "left": left, "right": right, "tumour": _ball(4, 16, 24, 4)}


def test_brain_and_kidneys_without_exclusion_are_flagged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = _organ_case()
    # generating volumes: brain >= 300 ml at the top, kidneys 64 ml each, mirrored
    voxel_ml = float(np.prod(SPACING)) / 1000.0
    assert parts["brain"].sum() * voxel_ml > 300 and parts["left"].sum() * voxel_ml == 64.0
    regions = [
        (parts["brain"], 700.0, 800.0),
        (parts["left"], 1500.0, 2000.0),
        (parts["right"], 1500.0, 2000.0),
        (parts["tumour"], 500.0, 700.0),
    ]
    args = _write_exam(tmp_path / "in", regions)
    warnings: list[list[str]] = []
    real_mip = dwi_figures.mip_figure

    def mip(*a: Any, **kwargs: Any) -> None:
        warnings.append(list(kwargs.get("warnings", ())))
        real_mip(*a, **kwargs)

    monkeypatch.setattr(dwi_figures, "mip_figure", mip)
    flags = _assess(tmp_path, "bare", [*args, "--date", "2025-01-08"])["plausibility_flags"]
    assert len(flags) == 2
    assert "looks like the brain" in flags[0] and "look like the kidneys" in flags[1]
    assert warnings[-1] == flags  # drawn on the MIP
    # the same exam with its organ exclusion: nothing to flag
    organs = np.zeros(SHAPE, np.uint8)
    organs[parts["brain"]] = 4
    organs[parts["left"] | parts["right"]] = 9
    mask = write_nifti(Volume(organs, SPACING), tmp_path / "organs.nii.gz")
    excluded = _assess(tmp_path, "excl", [*args, "--date", "2025-01-09", "--exclude", str(mask)])
    assert excluded["plausibility_flags"] == []
    # the form's table shows the flag of the bare exam
    exams = [read_assessed_exam(n, tmp_path / n) for n in ("bare", "excl")]
    html = render_wbdwi_fragment(comparison_rows(exams))
    assert "looks like the brain" in html


def test_one_high_adc_lesion_is_not_a_kidney_pair(tmp_path: Path) -> None:
    """A single lesion of renal ADC, or two at different heights, is not flagged."""
    parts = _organ_case()
    zz, _, _ = _grid()
    low_right = np.roll(parts["right"], -6, axis=0)  # 60 mm lower than the left one
    regions = [(parts["left"], 1500.0, 2000.0), (low_right, 1500.0, 2000.0)]
    args = _write_exam(tmp_path / "in", [*regions, (parts["tumour"], 500.0, 700.0)])
    flags = _assess(tmp_path, "e", [*args, "--date", "2025-01-08"])["plausibility_flags"]
    assert flags == []
    assert zz[low_right].mean() + 6 == pytest.approx(zz[parts["left"]].mean())
