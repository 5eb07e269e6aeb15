"""Formula prefixes in labels and column names do not reach the CSVs of ``dwi compare``
and ``dce fit`` (issue 15, item 7); negative numbers stay numbers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from tumorboard.cli.main import main
from tumorboard.dce.aif import InputFunction, parker_aif
from tumorboard.dce.fit import simulate

FORMULA = '=HYPERLINK("http://evil.example","x")'
AT_SUM = "@SUM(1+1)*cmd|' /C calc'!A0"


def cells(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def no_formula(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert cell[:1] not in ("=", "+", "@", "\t", "\r"), cell
            if cell[:1] == "-":
                float(cell)


def exam(folder: Path, volume_ml: float, date: str) -> Path:
    folder.mkdir()
    adc = {"mean": 950.0, "median": 900.0, "sd": 120.0, "p95": 1300.0}
    summary = {
        "total_diffusion_volume_ml": volume_ml,
        "adc_um2_per_s": {**adc, "skewness": 0.2, "kurtosis": 3.1},
        "exam": {"date": date},
    }
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    rows = ["bin_lower_um2_per_s,bin_upper_um2_per_s,voxels", "500,550,10", "550,600,30"]
    (folder / "histogram.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def test_dwi_compare_labels(tmp_path: Path) -> None:
    first, second = (
        exam(tmp_path / "e1", 120.0, "2025-01-15"),
        exam(tmp_path / "e2", 60.0, "2025-04-16"),
    )
    out = tmp_path / "o"
    plus = "+cmd|' /C calc'!A0"  # a label cannot hold '=' (LABEL=DIR)
    args = ["dwi", "compare", "--exam", f"{plus}={first}", "--exam", f"{AT_SUM}={second}"]
    assert main([*args, "--out", str(out)]) == 0
    rows = cells(out / "comparison.csv")
    no_formula(rows)
    assert [row[0] for row in rows[1:]] == ["'" + plus, "'" + AT_SUM]
    change = rows[0].index("tdv_change_vs_first_pct")
    assert rows[2][change] == "-50.0"  # a negative number stays a number


def test_dce_fit_curve_names(tmp_path: Path) -> None:
    times = np.arange(0, 240, 4.0)
    plasma = parker_aif(times, 10.0) / 0.55
    truth = {"ktrans_per_min": [0.1, 0.3], "ve": [0.2, 0.3], "vp": [0.02, 0.05]}
    curves = simulate(times, InputFunction(times, plasma), "extended-tofts", truth)
    names = [FORMULA, "-2+3+cmd|' /C calc'!A0"]
    with open(tmp_path / "curves.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time_s", *names])
        writer.writerows(
            [f"{t:g}", *(f"{c:.10g}" for c in row)] for t, row in zip(times, curves.T, strict=True)
        )
    with open(tmp_path / "aif.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["time_s", "cp_mM"])
        writer.writerows([f"{t:g}", f"{c:.10g}"] for t, c in zip(times, plasma, strict=True))
    out = tmp_path / "params.csv"
    args = ["dce", "fit", "--curves", str(tmp_path / "curves.csv"), "--aif"]
    assert (
        main([*args, str(tmp_path / "aif.csv"), "--model", "extended-tofts", "--out", str(out)])
        == 0
    )
    rows = cells(out)
    no_formula(rows)
    assert [row[0] for row in rows[1:]] == ["'" + name for name in names]
