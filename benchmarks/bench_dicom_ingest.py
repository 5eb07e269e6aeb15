"""DICOM ingest of a multi-station WB-DWI exam: tumorboard against dcm2niix.

Writes a whole-body diffusion exam (4 stations x 44 slices x 3 b-values,
96 x 128 matrix, 528 files, one vendor b-value style per station) with
``write_dicom_series`` into a temporary folder, then times, best of N runs,

* ours: ``read_diffusion_series(folder)`` (scan headers, read pixels, stitch
  the stations of every b-value), and
* the peer: ``dcm2niix -z n -o OUT folder`` (Debian package ``dcm2niix``;
  ``benchmarks/install_dcm2niix.sh`` installs it).

Contract: ours <= 2x the wall time of dcm2niix. Run:
``python benchmarks/bench_dicom_ingest.py [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.diffusion_dicom import diffusion_b_value_elements, read_diffusion_series
from tumorboard.imaging.volume import Volume

STATIONS = 4
SLICES = 44
OVERLAP = 4
B_VALUES = (50.0, 600.0, 900.0)
MATRIX = (96, 128)
SPACING_MM = (5.0, 3.5, 3.5)
VENDORS = (
    ("standard", "SIEMENS"),
    ("siemens", "SIEMENS"),
    ("ge", "GE MEDICAL SYSTEMS"),
    ("philips", "Philips Medical Systems"),
)
CONTRACT_RATIO = 2.0


def write_exam(folder: Path, rng: np.random.Generator) -> int:
    """Write the synthetic exam; return the number of files."""
    count = 0
    for station in range(STATIONS):
        vendor, manufacturer = VENDORS[station % len(VENDORS)]
        z0 = -900.0 + station * (SLICES - OVERLAP) * SPACING_MM[0]
        study = {
            "study_instance_uid": "1.2.826.0.1.3680043.8.498.1",
            "frame_of_reference_uid": "1.2.826.0.1.3680043.8.498.2",
            "patient_name": "Bench^Mark",
            "patient_id": "BENCH",
            "manufacturer": manufacturer,
        }
        for index, b_value in enumerate(B_VALUES):
            signal = 1000.0 * np.exp(-b_value * 1.0e-3) * rng.uniform(0.5, 1.5, (SLICES, *MATRIX))
            volume = Volume(signal, SPACING_MM, (-224.0, -168.0, z0))
            paths = write_dicom_series(
                volume,
                folder / f"station{station + 1}",
                modality="MR",
                series_description=f"WB-DWI station {station + 1} b{b_value:g}",
                series_number=100 * (station + 1) + index,
                study=study,
                extra=diffusion_b_value_elements(b_value, vendor),  # type: ignore[arg-type]
            )
            count += len(paths)
    return count


def best_of(repeats: int, run: object) -> float:
    """Best wall time of ``repeats`` calls of ``run``."""
    assert callable(run)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    dcm2niix = shutil.which("dcm2niix")
    if dcm2niix is None:
        print("dcm2niix not found; run benchmarks/install_dcm2niix.sh", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tumorboard-bench-dicom-") as tmp:
        root = Path(tmp)
        folder = root / "exam"
        start = time.perf_counter()
        n_files = write_exam(folder, np.random.default_rng(20261121))
        write_s = time.perf_counter() - start
        print(
            f"wrote {n_files} files ({STATIONS} stations x {SLICES} slices x "
            f"{len(B_VALUES)} b-values, {MATRIX[0]}x{MATRIX[1]}) in {write_s:.2f} s"
        )

        result = read_diffusion_series(folder)  # warm the page cache and imports
        print(
            f"ours: {len(result.b_values_s_per_mm2)} b-values, {result.stations} stations, "
            f"stitched shape {result.images[B_VALUES[0]].shape}"
        )

        def ours() -> None:
            read_diffusion_series(folder)

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

        peer()
        ours_s = best_of(args.repeats, ours)
        peer_s = best_of(args.repeats, peer)
    ratio = ours_s / peer_s
    verdict = "meets" if ratio <= CONTRACT_RATIO else "MISSES"
    print(f"tumorboard read_diffusion_series: {ours_s * 1000:.1f} ms (best of {args.repeats})")
    print(f"dcm2niix -z n:                    {peer_s * 1000:.1f} ms (best of {args.repeats})")
    print(f"ratio ours/dcm2niix: {ratio:.2f} ({verdict} the <= {CONTRACT_RATIO:g}x contract)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
