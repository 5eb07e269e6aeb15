"""``tumorboard import`` of a 10,000-file study folder against dcm2niix on the same folder.

Writes 20 series x 500 slices (64 x 64, MR) with ``write_dicom_series`` into a
temporary folder, then times, best of N runs, each into a fresh workspace:

* ours: ``import_paths`` (each file read once: header parsed, SHA-256, written
  into the object store; one transaction of 10,000 instance rows) into an
  embedded SQLite workspace;
* re-import: the same folder again into the filled workspace (a no-op);
* the peer: ``dcm2niix -z n -o OUT folder`` (``benchmarks/install_dcm2niix.sh``).

The two are interleaved, round by round, the order alternating (the machine
is shared; a load that changes between the runs of one and of the other
would otherwise decide the ratio); each is the best of its rounds.

Contract (issue "One patient record"): import <= 1.5x dcm2niix's wall time;
re-import <= 10 % of the import. Run:
``python benchmarks/bench_import.py [--repeats 3] [--series 20] [--slices 500]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.volume import Volume
from tumorboard.store import init_workspace
from tumorboard.workflow import import_paths

IMPORT_CONTRACT_RATIO = 1.5
REIMPORT_CONTRACT_FRACTION = 0.10


def write_study(folder: Path, series: int, slices: int) -> int:
    """Write the synthetic study; return the number of files."""
    rng = np.random.default_rng(20261207)
    study = {
        "study_instance_uid": "1.2.826.0.1.3680043.8.498.77",
        "patient_id": "BENCH",
        "patient_name": "Bench^Mark",
        "study_date": "20240108",
    }
    count = 0
    for number in range(1, series + 1):
        volume = Volume(
            rng.uniform(0, 1000, (slices, 64, 64)).astype(np.float32),
            (2.0, 3.0, 3.0),
            (0.0, 0.0, 0.0),
        )
        count += len(
            write_dicom_series(
                volume,
                folder / f"series{number:03d}",
                modality="MR",
                series_description=f"series {number}",
                series_number=number,
                study=study,
                seed=number,
            )
        )
    return count


def best_of(repeats: int, run: object, prepare: object = None) -> float:
    """Best wall time of ``repeats`` calls of ``run`` (``prepare`` untimed before each)."""
    assert callable(run)
    best = float("inf")
    for _ in range(repeats):
        if callable(prepare):
            prepare()
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--series", type=int, default=20)
    parser.add_argument("--slices", type=int, default=500)
    args = parser.parse_args(argv)
    dcm2niix = shutil.which("dcm2niix")
    if dcm2niix is None:
        print("dcm2niix not found; run benchmarks/install_dcm2niix.sh", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tumorboard-bench-import-") as tmp:
        root = Path(tmp)
        folder = root / "study"
        n_files = write_study(folder, args.series, args.slices)
        print(f"wrote {n_files} files ({args.series} series x {args.slices} slices, 64x64)")
        workspace_dir = root / "ws"

        def fresh() -> None:
            shutil.rmtree(workspace_dir, ignore_errors=True)
            init_workspace(workspace_dir).close()

        def ours() -> None:
            from tumorboard.store import open_workspace

            workspace = open_workspace(workspace_dir)
            try:
                summary = import_paths(workspace, [folder])
            finally:
                workspace.close()
            assert summary.files + summary.duplicates == n_files, summary

        def peer() -> None:
            out = root / "dcm2niix_out"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            subprocess.run(
                [dcm2niix, "-z", "n", "-o", str(out), str(folder)],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

        peer()  # warm the page cache
        peer_times, our_times = [], []
        for round_number in range(args.repeats):
            order = [(peer, None, peer_times), (ours, fresh, our_times)]
            for run, prepare, times in order if round_number % 2 == 0 else order[::-1]:
                times.append(best_of(1, run, prepare))
            print(
                f"round {round_number + 1}: import {our_times[-1]:.2f} s, "
                f"dcm2niix {peer_times[-1]:.2f} s (load average {os.getloadavg()[0]:.1f})"
            )
        peer_s, ours_s = min(peer_times), min(our_times)
        again_s = best_of(args.repeats, ours)  # the filled workspace of the last run
    ratio = ours_s / peer_s
    fraction = again_s / ours_s
    print(f"tumorboard import:  {ours_s:.2f} s (best of {args.repeats})")
    print(f"dcm2niix -z n:      {peer_s:.2f} s (best of {args.repeats})")
    print(f"re-import:          {again_s:.2f} s")
    verdict = "meets" if ratio <= IMPORT_CONTRACT_RATIO else "MISSES"
    print(
        f"ratio import/dcm2niix: {ratio:.2f} ({verdict} the <= {IMPORT_CONTRACT_RATIO:g}x contract)"
    )
    verdict = "meets" if fraction <= REIMPORT_CONTRACT_FRACTION else "MISSES"
    print(
        f"re-import/import: {fraction:.3f} ({verdict} the <= "
        f"{REIMPORT_CONTRACT_FRACTION:g} contract)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
