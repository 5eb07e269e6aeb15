"""The reading room's speed: a component change round trip and API p95 under 20 readers.

Builds an embedded SQLite workspace with the two WB-DWI exams of
``tests/store/dwi_exams.py`` (imported and run), adds a reader, starts
``tumorboard serve`` on 127.0.0.1 (a free port) and measures over HTTP:

* component change round trip: ``POST .../components`` removing then keeping
  the normal-structure component (volume recomputed and stored, the exam
  JSON returned), ``--changes`` times; median and max;
* API p95: ``--readers`` concurrent simulated readers (httpx async clients,
  all signed in before the clock starts: 20 argon2id logins at one instant
  are not the API under test) each making ``--requests`` GETs in turn over
  the worklist, patients, timeline, WB-DWI exam and audit routes, pausing
  ``--think-ms`` between two requests as a reader looking at the screen does
  (0: back to back, a saturation test); p50/p95/max of all, ``--repeats``
  times (the median p95 is the result). ``GET /api/me`` (the session check
  alone) is measured the same way in the same run as a peer: the floor the
  machine and the server give any request at that moment.

Before the clock: one warm-up pass over every route (the first request after
a start imports and decodes; that cold time is printed apart). The machine's
load average (``os.getloadavg``) is printed before and after: on a shared
machine the numbers mean little without it.

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


def _paths() -> list[str]:
    return [
        "/api/worklist",
        "/api/patients",
        f"/api/patients/{PATIENT}/timeline",
        f"/api/patients/{PATIENT}/dwi/{EXAM}",
        f"/api/audit?patient={PATIENT}",
    ]


def _warm_up(base: str) -> dict[str, float]:
    """One request per route (and the exam's images); the cold times, not measured after."""
    url = f"/api/patients/{PATIENT}/dwi/{EXAM}"
    cold = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        client.post("/api/login", json={"username": "reader", "password": PASSWORD})
        for path in [*_paths(), f"{url}/mip.png", f"{url}/mip_overlay.json", "/api/me"]:
            start = time.perf_counter()
            client.get(path).raise_for_status()
            cold[path] = time.perf_counter() - start
    return cold


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


async def _signed_in(base: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=60)
    login = await client.post("/api/login", json={"username": "reader", "password": PASSWORD})
    login.raise_for_status()
    return client


async def _reader(
    client: httpx.AsyncClient, paths: list[str], requests: int, offset: int, think_s: float
) -> list[float]:
    times = []
    for number in range(requests):
        start = time.perf_counter()
        response = await client.get(paths[(number + offset) % len(paths)])
        times.append(time.perf_counter() - start)
        response.raise_for_status()
        if think_s:  # spread the readers: each waits think_s +/- 50 %
            await asyncio.sleep(think_s * (0.5 + ((number * 7 + offset * 13) % 10) / 10))
    return times


async def _load(
    base: str, readers: int, requests: int, think_s: float, paths: list[str]
) -> list[float]:
    clients = [await _signed_in(base) for _ in range(readers)]  # logins before the clock
    try:
        results = await asyncio.gather(
            *(_reader(c, paths, requests, n, think_s) for n, c in enumerate(clients))
        )
    finally:
        for client in clients:
            await client.aclose()
    return [t for times in results for t in times]


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _load_average() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def _ms(value: float) -> str:
    return f"{value * 1000:.0f} ms"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--readers", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--think-ms", type=float, nargs="+", default=[500.0, 0.0])
    args = parser.parse_args(argv)
    loads_before = _load_average()
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
            cold = _warm_up(base)
            changes = _round_trips(base, args.changes)
            runs: dict[tuple[float, str], list[list[float]]] = {}
            for think in args.think_ms:
                for _ in range(args.repeats):
                    for name, paths in (("API", _paths()), ("peer /api/me", ["/api/me"])):
                        found = asyncio.run(
                            _load(base, args.readers, args.requests, think / 1000, paths)
                        )
                        runs.setdefault((think, name), []).append(found)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    print(
        f"cores: {os.cpu_count()}; load average (1/5/15 min) before {loads_before}, after "
        f"{_load_average()}"
    )
    print(
        "first request of each route after the start (cold): "
        + ", ".join(f"{path.rsplit('/', 1)[-1] or path} {_ms(t)}" for path, t in cold.items())
    )
    print(
        f"component change round trip ({len(changes)} changes): median "
        f"{_ms(statistics.median(changes))}, max {_ms(max(changes))} (contract <= 1000 ms)"
    )
    for (think, name), repeats in runs.items():
        p95s = [_percentile(r, 95) for r in repeats]
        every = [t for r in repeats for t in r]
        print(
            f"{name}, {args.readers} concurrent readers, think {think:g} ms, {args.repeats} x "
            f"{len(repeats[0])} GETs: p95 per run {', '.join(_ms(p) for p in p95s)} "
            f"(median {_ms(statistics.median(p95s))}); all: p50 {_ms(_percentile(every, 50))}, "
            f"max {_ms(max(every))}" + (" (contract p95 <= 200 ms)" if name == "API" else "")
        )
    print(f"serve exit status after SIGTERM: {process.returncode}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
