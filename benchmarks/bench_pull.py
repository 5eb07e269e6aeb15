"""``tumorboard import --dicomweb`` of a 2,000-instance study against plain dicomweb-client loops.

Starts a private Orthanc with the DICOMweb plugin on 127.0.0.1
(``tests/pacs/orthanc_server.py``), stores a synthetic study of 10 series x 200
slices (64 x 64, MR, ``write_dicom_series``) through its REST API, then times,
best of N runs, alternating:

* ours: :func:`tumorboard.workflow.dicomweb_pull.pull_studies` into a fresh
  SQLite workspace: QIDO-RS listing, record and staging look-ups, WADO-RS
  retrieval (one streamed request per series), staging files written
  atomically, and the import of all of them (header read, SHA-256, copy into
  the object store, one transaction);
* the contract's peer, the plain per-instance loop:
  ``search_for_instances(study)`` then ``retrieve_instance`` for each instance
  (datasets kept in memory, nothing written);
* for reference, the plain per-series loop: ``search_for_series(study)`` then
  ``retrieve_series`` for each series (in memory).

Contract (issue 12): ours <= 1.5x the plain retrieval loop. Run:
``python benchmarks/bench_pull.py [--repeats 3] [--series 10] [--slices 200]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from dicomweb_client import DICOMwebClient
from dicomweb_client.session_utils import create_session_from_user_pass

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "pacs"))

from orthanc_server import OrthancServer, running_orthanc  # noqa: E402

from tumorboard.imaging.dicom_write import write_dicom_series  # noqa: E402
from tumorboard.imaging.volume import Volume  # noqa: E402
from tumorboard.store import init_workspace  # noqa: E402
from tumorboard.workflow.dicomweb_pull import pull_studies  # noqa: E402
from tumorboard.workflow.dicomweb_server import DicomwebServer  # noqa: E402

CONTRACT_RATIO = 1.5
STUDY_UID = "1.2.826.0.1.3680043.8.498.78"


def write_study(folder: Path, series: int, slices: int) -> list[Path]:
    rng = np.random.default_rng(20261208)
    study = {
        "study_instance_uid": STUDY_UID,
        "patient_id": "BENCH",
        "patient_name": "Bench^Mark",
        "study_date": "20240108",
    }
    files: list[Path] = []
    for number in range(1, series + 1):
        volume = Volume(
            rng.uniform(0, 1000, (slices, 64, 64)).astype(np.float32),
            (2.0, 3.0, 3.0),
            (0.0, 0.0, 0.0),
        )
        files += write_dicom_series(
            volume,
            folder / f"series{number:03d}",
            modality="MR",
            series_description=f"series {number}",
            series_number=number,
            study=study,
            seed=f"bench-pull-{number}",
        )
    return files


def _client(orthanc: OrthancServer) -> DICOMwebClient:
    return DICOMwebClient(
        orthanc.dicomweb_url,
        session=create_session_from_user_pass(orthanc.user, orthanc.password),
    )


def plain_instance_loop(orthanc: OrthancServer) -> tuple[float, int]:
    start = time.perf_counter()
    client = _client(orthanc)
    listed = client.search_for_instances(study_instance_uid=STUDY_UID, get_remaining=True)
    datasets = [
        client.retrieve_instance(
            STUDY_UID, item["0020000E"]["Value"][0], item["00080018"]["Value"][0]
        )
        for item in listed
    ]
    return time.perf_counter() - start, len(datasets)


def plain_series_loop(orthanc: OrthancServer) -> tuple[float, int]:
    start = time.perf_counter()
    client = _client(orthanc)
    count = 0
    for item in client.search_for_series(study_instance_uid=STUDY_UID, get_remaining=True):
        count += len(client.retrieve_series(STUDY_UID, item["0020000E"]["Value"][0]))
    return time.perf_counter() - start, count


def ours(orthanc: OrthancServer, scratch: Path, run: int, password_file: Path) -> tuple[float, int]:
    workspace = init_workspace(scratch / f"ws{run}")
    server = DicomwebServer.from_options(orthanc.dicomweb_url, orthanc.user, password_file)
    try:
        start = time.perf_counter()
        summary = pull_studies(workspace, server, study_uids=[STUDY_UID])
        elapsed = time.perf_counter() - start
    finally:
        workspace.close()
    assert summary.imported is not None
    return elapsed, summary.imported.files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--series", type=int, default=10)
    parser.add_argument("--slices", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pull-") as tmp, running_orthanc() as orthanc:
        scratch = Path(tmp)
        files = write_study(scratch / "study", args.series, args.slices)
        start = time.perf_counter()
        orthanc.upload(files)
        print(f"{len(files)} instances stored in Orthanc in {time.perf_counter() - start:.1f} s")
        password_file = orthanc.password_file(scratch)
        times: dict[str, list[float]] = {"ours": [], "instance loop": [], "series loop": []}
        for run in range(args.repeats):
            for name, call in (
                ("instance loop", lambda: plain_instance_loop(orthanc)),
                ("ours", lambda r=run: ours(orthanc, scratch, r, password_file)),
                ("series loop", lambda: plain_series_loop(orthanc)),
            ):
                elapsed, count = call()
                assert count == len(files), (name, count)
                times[name].append(elapsed)
                print(f"run {run + 1}: {name:13s} {elapsed:6.2f} s ({count} instances)")
        best = {name: min(values) for name, values in times.items()}
        ratio = best["ours"] / best["instance loop"]
        print(
            f"best of {args.repeats}: ours {best['ours']:.2f} s, plain instance loop "
            f"{best['instance loop']:.2f} s, plain series loop {best['series loop']:.2f} s"
        )
        print(
            f"ratio ours / instance loop = {ratio:.2f} (contract <= {CONTRACT_RATIO}); "
            f"ours / series loop = {best['ours'] / best['series loop']:.2f}"
        )
        return 0 if ratio <= CONTRACT_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
