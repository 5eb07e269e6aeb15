"""The record's everyday speed: ``timeline`` in a 1,000-patient workspace, ``run`` with nothing new.

Builds an embedded SQLite workspace of ``--patients`` patients: each has a
reads table of 5 exams x 3 lesions (imported with ``lesion import`` from one
CSV, as a site would), and one patient has 20 exams. It then times, median of
``--repeats``:

* ``timeline``: :func:`patient_timeline` of the 20-exam patient (queries,
  criteria engine over the record's reads, JSON) against its peer measured in
  the same run, the criteria engine alone on the same patient's table parsed
  from CSV (``tumorboard assess``'s core without the form);
* ``run`` with nothing new: :func:`run_analyses` over a workspace whose three
  WB-DWI exams are all analysed (the plan, the digests, the reuse look-ups),
  and the whole ``tumorboard run`` command (process start included).

Contracts (issue "One patient record"): timeline <= 200 ms; run with nothing
new <= 1 s. Run: ``python benchmarks/bench_record.py [--patients 1000]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "store"))

from dwi_exams import write_exam  # noqa: E402

from tumorboard.criteria.engine import ALL_CRITERIA, assess_patient  # noqa: E402
from tumorboard.criteria.measurements_csv import read_measurements_csv  # noqa: E402
from tumorboard.store import init_workspace  # noqa: E402
from tumorboard.workflow import import_paths  # noqa: E402
from tumorboard.workflow.analysis_runs import run_analyses  # noqa: E402
from tumorboard.workflow.lesion_reads import import_reads_csv  # noqa: E402
from tumorboard.workflow.timeline import patient_timeline  # noqa: E402

TIMELINE_CONTRACT_S = 0.200
RUN_CONTRACT_S = 1.0
HEADER = (
    "patient_id,timepoint,date,modality,lesion_id,organ,role,is_node,longest_diameter_mm,"
    "short_axis_mm,mean_hu,viable_diameter_mm,sul_peak,status"
)


def reads_rows(patient: str, exams: int) -> list[str]:
    """A patient's reads: 3 target lesions shrinking then growing over ``exams`` exams."""
    start = dt.date(2024, 1, 8)
    rows = []
    for index in range(exams):
        date = start + dt.timedelta(weeks=8 * index)
        label = "baseline" if index == 0 else f"week {8 * index}"
        scale = 1.0 - 0.05 * min(index, 6) + 0.04 * max(0, index - 6)
        for lesion, (organ, size) in enumerate((("liver", 40), ("lung", 25), ("bone", 30))):
            rows.append(
                f"{patient},{label},{date.isoformat()},ct,L{lesion + 1},{organ},target,false,"
                f"{size * scale:.1f},,,,,present"
            )
    return rows


def median_time(repeats: int, run: object) -> float:
    """Median wall time of ``run()`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    """Build the workspaces, time, print and check the contracts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        table = root / "reads.csv"
        lines = [HEADER, *reads_rows("LONG-20", 20)]
        for number in range(args.patients - 1):
            lines.extend(reads_rows(f"P{number:05d}", 5))
        table.write_text("\n".join(lines) + "\n")
        single = root / "long.csv"
        single.write_text("\n".join([HEADER, *reads_rows("LONG-20", 20)]) + "\n")
        workspace = init_workspace(root / "board")
        start = time.perf_counter()
        import_reads_csv(workspace, table, author="bench")
        print(
            f"lesion import of {len(lines) - 1} reads of {args.patients} patients: "
            f"{time.perf_counter() - start:.1f} s"
        )
        ours = median_time(args.repeats, lambda: patient_timeline(workspace, "LONG-20"))
        (series,) = read_measurements_csv(single)
        peer = median_time(args.repeats, lambda: assess_patient(series, ALL_CRITERIA))
        workspace.close()

        dwi = init_workspace(root / "dwi")
        import_paths(dwi, [write_exam(root / "dicom", e) for e in ("baseline", "week12", "week24")])
        first = run_analyses(dwi)
        assert not first.failed, first.failed
        nothing_new = median_time(max(3, args.repeats // 3), lambda: run_analyses(dwi))
        dwi.close()
        command = [
            sys.executable,
            "-m",
            "tumorboard.cli.main",
            "run",
            "--workspace",
            str(root / "dwi"),
            "--quiet",
        ]
        cli = median_time(5, lambda: subprocess.run(command, check=True))
    print(
        f"timeline (20 exams, {args.patients} patients): {ours * 1000:.1f} ms "
        f"(contract <= {TIMELINE_CONTRACT_S * 1000:.0f} ms)"
    )
    print(
        f"criteria engine alone on the same patient:  {peer * 1000:.1f} ms "
        f"(timeline / engine = {ours / peer:.1f}x)"
    )
    print(f"run with nothing new (in process):           {nothing_new * 1000:.1f} ms")
    print(
        f"tumorboard run with nothing new (command):   {cli * 1000:.0f} ms "
        f"(contract <= {RUN_CONTRACT_S * 1000:.0f} ms)"
    )
    ok = ours <= TIMELINE_CONTRACT_S and cli <= RUN_CONTRACT_S
    print("contracts met" if ok else "CONTRACT MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
