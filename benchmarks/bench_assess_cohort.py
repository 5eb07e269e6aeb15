"""Benchmark: ``tumorboard assess`` on a cohort, against the criteria alone in the same run.

Target (issue 15, item 12): 300 patients in <= 30 s on this 2-core machine,
memory flat in the number of patients. The cohort is the synthetic one of
``bench_criteria.py`` (5 targets, 4 non-targets, a new lesion at a random
follow-up, a PERCIST liver reference; 8 timepoints), written as the assess
CSV. Each size runs ``tumorboard assess`` in a fresh process (wall time and
peak RSS from ``wait4``), and the criteria engine alone on the same
patients in this process, so the ratio does not depend on the machine's load
as much as the seconds do.

Run::

    python benchmarks/bench_assess_cohort.py [--patients 100 300] [--timepoints 8] [--deidentify]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tumorboard.criteria.engine import ALL_CRITERIA, assess_cohort
from tumorboard.criteria.measurements_csv import REQUIRED_COLUMNS, read_measurements_csv
from tumorboard.criteria.records import LIVER_REFERENCE_ID, PatientSeries

_HERE = Path(__file__).resolve().parent


def _synthetic_cohort(n_patients: int, n_timepoints: int) -> list[PatientSeries]:
    spec = importlib.util.spec_from_file_location("bench_criteria", _HERE / "bench_criteria.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cohort: list[PatientSeries] = module.synthetic_cohort(
        n_patients, n_timepoints, np.random.default_rng(20261121)
    )
    return cohort


def write_cohort_csv(cohort: list[PatientSeries], path: Path) -> int:
    """The cohort as the ``assess`` measurement table; returns the number of rows."""

    def text(value: object) -> str:
        return "" if value is None else str(value)

    rows = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*REQUIRED_COLUMNS, "sul_sd"])
        for series in cohort:
            for tp in series.timepoints:
                for m in tp.measurements:
                    reference = m.lesion_id == LIVER_REFERENCE_ID
                    writer.writerow(
                        [
                            series.patient_id,
                            tp.label,
                            tp.date.isoformat(),
                            m.modality,
                            m.lesion_id,
                            m.organ,
                            "" if reference else m.role.value,
                            "" if reference else str(m.is_node).lower(),
                            text(m.longest_diameter_mm),
                            text(m.short_axis_mm),
                            text(m.mean_hu),
                            text(m.viable_diameter_mm),
                            text(m.sul_peak),
                            "" if reference else m.status.value,
                            text(m.sul_sd),
                        ]
                    )
                    rows += 1
    return rows


def run_assess(table: Path, out: Path, extra: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one ``tumorboard assess`` process."""
    command = [sys.executable, "-m", "tumorboard.cli.main", "assess", str(table)]
    start = time.perf_counter()
    process = subprocess.Popen([*command, *extra, "--out", str(out)])
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"assess failed on {table}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--timepoints", type=int, default=8)
    parser.add_argument("--deidentify", action="store_true", help="assess --deidentify")
    args = parser.parse_args()
    extra = ["--deidentify"] if args.deidentify else []
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for count in args.patients:
            table = Path(folder) / f"cohort{count}.csv"
            rows = write_cohort_csv(_synthetic_cohort(count, args.timepoints), table)
            start = time.perf_counter()
            cohort = read_measurements_csv(table)
            read_s = time.perf_counter() - start
            start = time.perf_counter()
            assess_cohort(cohort, ALL_CRITERIA, workers=1)
            criteria_s = time.perf_counter() - start
            seconds, rss = run_assess(table, Path(folder) / f"out{count}", extra)
            results.append((count, seconds, rss))
            print(
                f"{count} patients x {args.timepoints} timepoints ({rows} rows): "
                f"assess {seconds:.2f} s, peak RSS {rss:.0f} MB; criteria alone "
                f"{criteria_s:.3f} s (+ reading the CSV {read_s:.2f} s); "
                f"assess / criteria = {seconds / criteria_s:.0f}x, "
                f"assess / (read + criteria) = {seconds / (read_s + criteria_s):.1f}x"
            )
    if len(results) >= 2:
        (n0, s0, r0), (n1, s1, r1) = results[0], results[-1]
        print(
            f"RSS {n0} -> {n1} patients: {r0:.0f} -> {r1:.0f} MB "
            f"({(r1 - r0) / (n1 - n0) * 1024:.0f} kB per extra patient); "
            f"time per extra patient {(s1 - s0) / (n1 - n0) * 1000:.0f} ms; "
            f"target: {n1} patients <= 30 s"
        )


if __name__ == "__main__":
    main()
