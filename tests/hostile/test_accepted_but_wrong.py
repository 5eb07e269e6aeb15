"""Inputs that were accepted with a wrong answer (issue 15, item 11).

``dce fit`` reported ``converged=true`` for an input function that is zero at
every time (ve = 5000) and for a tissue curve without any enhancement. Now
:func:`tumorboard.dce.fit.fit_curves` refuses an all-zero input function in
one line and never flags a curve whose samples do not vary as converged.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from tumorboard.cli.main import main
from tumorboard.dce.aif import parker_aif

TIMES = np.arange(0, 240, 4.0)


def _write(path: Path, columns: dict[str, np.ndarray]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(columns))
        writer.writerows(zip(*(np.round(v, 6) for v in columns.values()), strict=True))
    return path


def _fit(tmp_path: Path, cp: np.ndarray, curve: np.ndarray) -> tuple[int, list[dict[str, str]]]:
    aif = _write(tmp_path / "aif.csv", {"time_s": TIMES, "cp_mM": cp})
    curves = _write(tmp_path / "curves.csv", {"time_s": TIMES, "roi": curve})
    out = tmp_path / "params.csv"
    argv = ["dce", "fit", "--curves", str(curves), "--aif", str(aif)]
    code = main([*argv, "--model", "extended-tofts", "--out", str(out)])
    if code != 0:
        return code, []
    with open(out, encoding="utf-8") as handle:
        return code, list(csv.DictReader(handle))


def test_dce_fit_never_claims_convergence_on_an_all_zero_aif(tmp_path: Path) -> None:
    code, rows = _fit(tmp_path, np.zeros(TIMES.size), np.linspace(0.0, 0.3, TIMES.size))
    assert code == 1 or all(row["converged"] == "false" for row in rows)


def test_dce_fit_never_claims_convergence_on_a_constant_curve(tmp_path: Path) -> None:
    code, rows = _fit(tmp_path, parker_aif(TIMES, 10.0) / 0.55, np.full(TIMES.size, 0.2))
    assert code == 1 or all(row["converged"] == "false" for row in rows)
