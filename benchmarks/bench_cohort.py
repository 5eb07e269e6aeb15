"""``cohort run`` throughput: 2 Dask workers against 1 on a synthetic WB-DWI cohort.

Writes ``--patients`` patients of three WB-DWI exams each (the small phantom
of ``tests/store/dwi_exams.py``), imports them into two fresh workspaces, and
runs ``run_cohort`` with 1 worker and with 2 workers (local clusters of
processes, one thread each); the same run measures ``run`` (one process, no
Dask) on a third copy as the peer for the scheduler overhead.

With ``--cohort prrt`` the cohort is the PRRT perfusion phantom of
``tumorboard phantom cohort`` instead (baseline and follow-up DCE series with
lesion SEGs: two ``dce`` analyses per patient, each a real model fit), whose
tasks are large enough for the cluster's start to matter less.

Contract (issue "Cohorts"): 2 workers >= 1.7x the throughput of 1 worker;
scheduler overhead <= 5 % of task time. Run:
``python benchmarks/bench_cohort.py [--patients 40] [--cohort wbdwi|prrt]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "store"))

from dwi_exams import write_exam  # noqa: E402

from tumorboard.store import init_workspace  # noqa: E402
from tumorboard.workflow import import_paths  # noqa: E402
from tumorboard.workflow.analysis_runs import run_analyses  # noqa: E402
from tumorboard.workflow.cohort_run import run_cohort  # noqa: E402

SPEEDUP_CONTRACT = 1.7
OVERHEAD_CONTRACT = 0.05


def main(argv: list[str] | None = None) -> int:
    """Build the cohort, time the three runs, print and check the contracts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=40)
    parser.add_argument("--cohort", choices=("wbdwi", "prrt"), default="wbdwi")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        if args.cohort == "prrt":
            from tumorboard.phantoms.prrt_cohort import write_prrt_cohort

            write_prrt_cohort(root / "dicom", args.patients, seed=2012, auc=0.8)
            folders = [root / "dicom"]
        else:
            folders = [
                write_exam(root / "dicom" / f"P{n:03d}", exam, f"P{n:03d}")
                for n in range(args.patients)
                for exam in ("baseline", "week12", "week24")
            ]
        boards = {}
        for name in ("serial", "one", "two"):
            workspace = init_workspace(root / name)
            import_paths(workspace, folders)
            workspace.close()
            boards[name] = root / name
        from tumorboard.store import open_workspace

        workspace = open_workspace(boards["serial"])
        start = time.perf_counter()
        serial = run_analyses(workspace)
        serial_s = time.perf_counter() - start
        workspace.close()
        start = time.perf_counter()
        one = run_cohort(boards["one"], workers=1)
        one_s = time.perf_counter() - start
        start = time.perf_counter()
        two = run_cohort(boards["two"], workers=2)
        two_s = time.perf_counter() - start
    tasks = serial.analyses_run
    assert one.tasks_done == two.tasks_done == tasks and not (one.failed or two.failed)
    speedup = one_s / two_s
    overhead = (one_s - serial_s) / serial_s
    print(f"{tasks} analyses of {args.patients} patients")
    print(f"run (one process, no Dask):  {serial_s:.1f} s")
    print(f"cohort run, 1 worker:        {one_s:.1f} s (overhead vs run {overhead:+.1%})")
    print(f"cohort run, 2 workers:       {two_s:.1f} s (speed-up {speedup:.2f}x)")
    ok = speedup >= SPEEDUP_CONTRACT and overhead <= OVERHEAD_CONTRACT
    print("contracts met" if ok else "CONTRACT MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
