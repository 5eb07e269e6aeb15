"""The reading room's speed: a component change round trip and API p95 under 20 readers.

Builds an embedded SQLite workspace with the two WB-DWI exams of
``tests/store/dwi_exams.py`` (imported and run), adds a reader, starts
``tumorboard serve`` on 127.0.0.1 (a free port) and measures over HTTP:

* component change round trip: ``POST .../components`` removing then keeping
  the normal-structure component (volume recomputed and stored, the exam
  JSON returned), ``--changes`` times; median and max;
* API p95: ``--readers`` concurrent simulated readers (httpx async clients,
  each signed in) each making ``--requests`` GETs in turn over the worklist,
  patients, timeline, WB-DWI exam and audit routes, pausing ``--think-ms``
  between two requests as a reader looking at the screen does (0: back to
  back, a saturation test); p50/p95/max of all.

Contracts (issue 13): component change round trip <= 1 s; API p95 <= 200 ms
with 20 concurrent readers. A bounded load test against 127.0.0.1 only.
Run: ``python benchmarks/bench_web.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "store"))

from dwi_exams import write_exam  # noqa: E402

from tumorboard.store import init_workspace  # noqa: E402
from tumorboard.web.users import add_user  # noqa: E402
from tumorboard.workflow import import_paths  # noqa: E402
from tumorboard.workflow.analysis_runs import run_analyses  # noqa: E402

PATIENT = "DWI-001"
EXAM = "2024-01-08"
PASSWORD = "benchmark password 1234"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _workspace(root: Path) -> Path:
    folders = [
        write_exam(root / "dicom", e, PATIENT, normal_structure=True)
        for e in ("baseline", "week12")
    ]
    workspace = init_workspace(root / "board")
    try:
        import_paths(workspace, folders)
        run_analyses(workspace)
        add_user(workspace, "reader", "reader", PASSWORD, author="bench")
    finally:
        workspace.close()
    return root / "board"


def _wait(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("tumorboard serve exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("tumorboard serve did not start")


def _round_trips(base: str, changes: int) -> list[float]:
    url = f"/api/patients/{PATIENT}/dwi/{EXAM}"
    with httpx.Client(base_url=base, timeout=30) as client:
        csrf = client.post("/api/login", json={"username": "reader", "password": PASSWORD}).json()[
            "csrf_token"
        ]
        exam = client.get(url).json()
        normal = min(exam["components"], key=lambda c: c["voxels"])["component_id"]
        version = exam["curation"]["version"]
        times = []
        for number in range(changes):
            body = {"remove" if number % 2 == 0 else "keep": [normal], "version": version}
            start = time.perf_counter()
            response = client.post(f"{url}/components", json=body, headers={"X-CSRF-Token": csrf})
            times.append(time.perf_counter() - start)
            response.raise_for_status()
            version = response.json()["version"]
    return times


async def _reader(base: str, requests: int, offset: int, think_s: float) -> list[float]:
    paths = [
        "/api/worklist",
        "/api/patients",
        f"/api/patients/{PATIENT}/timeline",
        f"/api/patients/{PATIENT}/dwi/{EXAM}",
        f"/api/audit?patient={PATIENT}",
    ]
    times = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        login = await client.post("/api/login", json={"username": "reader", "password": PASSWORD})
        login.raise_for_status()
        for number in range(requests):
            start = time.perf_counter()
            response = await client.get(paths[(number + offset) % len(paths)])
            times.append(time.perf_counter() - start)
            response.raise_for_status()
            if think_s:  # spread the readers: each waits think_s +/- 50 %
                await asyncio.sleep(think_s * (0.5 + ((number * 7 + offset * 13) % 10) / 10))
    return times


async def _load(base: str, readers: int, requests: int, think_s: float) -> list[float]:
    results = await asyncio.gather(*(_reader(base, requests, n, think_s) for n in range(readers)))
    return [t for times in results for t in times]


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25)
    parser.add_argument("--think-ms", type=float, nargs="+", default=[500.0, 0.0])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-web-") as scratch:
        root = _workspace(Path(scratch))
        port = _free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tumorboard.cli.main",
                "serve",
                "--workspace",
                str(root),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ},
        )
        try:
            _wait(port, process)
            base = f"http://127.0.0.1:{port}"
            changes = _round_trips(base, args.changes)
            loads = {
                think: asyncio.run(_load(base, args.readers, args.requests, think / 1000))
                for think in args.think_ms
            }
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    print(f"cores: {os.cpu_count()}")
    print(
        f"component change round trip ({len(changes)} changes): median "
        f"{statistics.median(changes) * 1000:.0f} ms, max {max(changes) * 1000:.0f} ms "
        "(contract <= 1000 ms)"
    )
    for think, load in loads.items():
        print(
            f"API with {args.readers} concurrent readers, think {think:g} ms ({len(load)} GETs): "
            f"p50 {_percentile(load, 50) * 1000:.0f} ms, p95 {_percentile(load, 95) * 1000:.0f} "
            f"ms, max {max(load) * 1000:.0f} ms (contract p95 <= 200 ms)"
        )
    print(f"serve exit status after SIGTERM: {process.returncode}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
