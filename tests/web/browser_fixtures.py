"""A running reading room for the browser tests, and the Chromium that drives it.

The workspace holds the WB-DWI reference patient's first two exams (written
by the phantom, imported and analysed with ``tumorboard run``, so the numbers
are the record's own) and a second patient whose name is hostile markup. Three
users are added with ``tumorboard user add`` (two readers and a viewer; the command's
``main``, in the test process), and ``tumorboard serve`` runs as a subprocess on
127.0.0.1 and a free port; it is stopped with SIGTERM after the tests. Chromium is
Debian's (``/usr/bin/chromium``), driven by Playwright, headless.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from playwright.sync_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
#: The reference patient with WB-DWI (its exams 1 and 2 are enough to read and curate).
PATIENT = "TB-REF-0002"
DWI_EXAMS = (1, 2)
#: A patient name that is markup (and would run script if rendered as HTML).
HOSTILE_NAME = "<img src=x onerror=alert(1)>^<script>alert(2)</script>"
HOSTILE_PATIENT = "XSS-0001"
READER = ("reader-a", "reader password 1")
#: A second reader (two readers on one exam).
READER_2 = ("reader-c", "reader password 2")
#: The PRRT cohort (DCE) of the views workspace: its seed and size.
PRRT_SEED = 11
PRRT_PATIENTS = 2
#: The reference patient with the methionine PET and the sellar MRI.
PET_MR_PATIENT = "TB-REF-0003"
VIEWER = ("viewer-b", "viewer password 1")
SERVER_START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ReadingRoom:
    """A served workspace: its URL, folder and the users' credentials."""

    url: str
    workspace: Path
    dwi_dates: tuple[str, ...]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tumorboard(*args: str) -> list[str]:
    return [sys.executable, "-m", "tumorboard.cli.main", *args]


def _write_hostile_patient(folder: Path) -> None:
    from tumorboard.imaging.dicom_write import write_dicom_series
    from tumorboard.imaging.volume import Volume

    volume = Volume(np.ones((3, 8, 8), np.float32), (5.0, 2.0, 2.0), (0.0, 0.0, 0.0))
    write_dicom_series(
        volume,
        folder,
        modality="MR",
        series_description="T2 <b>bold</b>",
        series_number=1,
        study={
            "patient_name": HOSTILE_NAME,
            "patient_id": HOSTILE_PATIENT,
            "patient_birth_date": "19700101",
            "patient_sex": "M",
            "study_date": "20250102",
            "study_time": "080000",
            "series_date": "20250102",
            "study_instance_uid": "1.2.826.0.1.99.42.1",
            "study_description": "<script>alert(1)</script>",
        },
        seed="hostile",
    )


def build_workspace(root: Path, *, dce_pet: bool = False) -> tuple[Path, tuple[str, ...]]:
    """Write, import and analyse the reference patient's WB-DWI exams; return the workspace.

    With ``dce_pet``, also the PRRT cohort's DCE exams (``root/truth.json``
    kept) and the methionine PET/MR case.
    """
    from tumorboard.phantoms.reference_patient import write_wbdwi_exam
    from tumorboard.store import init_workspace
    from tumorboard.workflow.analysis_runs import run_analyses
    from tumorboard.workflow.dicom_import import import_paths

    folders = []
    dates = []
    for exam in DWI_EXAMS:
        entry = write_wbdwi_exam(root / "phantom" / f"exam{exam}", exam)
        dates.append(str(entry["date"]))
        folders.append(root / "phantom" / f"exam{exam}" / "dicom")
    _write_hostile_patient(root / "phantom" / "hostile")
    folders.append(root / "phantom" / "hostile")
    if dce_pet:
        from tumorboard.phantoms.pituitary_case import build_pituitary_case, write_pituitary_case
        from tumorboard.phantoms.prrt_cohort import write_prrt_cohort

        write_prrt_cohort(root / "phantom" / "prrt", PRRT_PATIENTS, seed=PRRT_SEED, auc=0.8)
        shutil.copyfile(root / "phantom" / "prrt" / "truth.json", root / "truth.json")
        paths = write_pituitary_case(build_pituitary_case(), root / "phantom" / "pituitary")
        folders += [root / "phantom" / "prrt" / "dicom", paths["mri"], paths["pet"]]
    workspace = init_workspace(root / "workspace")
    try:
        import_paths(workspace, folders)
        summary = run_analyses(workspace)
        assert not summary.failed, summary.failed
    finally:
        workspace.close()
    shutil.rmtree(root / "phantom")
    return root / "workspace", tuple(dates)


def _add_user(workspace: Path, name: str, role: str, password: str, folder: Path) -> None:
    """``tumorboard user add`` through the command line's ``main`` (in this process:
    the command, not the process, is what the fixture needs; ``tests/web/test_api_cli.py``
    runs ``user add`` as a process)."""
    from tumorboard.cli.main import main

    secret = folder / f"{name}.password"
    secret.write_text(password + "\n", encoding="utf-8")
    secret.chmod(0o600)
    arguments = ["user", "add", "--workspace", str(workspace), name, "--role", role]
    code = main([*arguments, "--password-file", str(secret)])
    if code != 0:
        raise RuntimeError(f"tumorboard user add {name} exited with {code}")
    secret.unlink()


def _wait_until_serving(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tumorboard serve exited with {process.returncode}")
        try:
            urllib.request.urlopen(url + "/api/me", timeout=2)  # noqa: S310 - 127.0.0.1 only
        except urllib.error.HTTPError as error:
            if error.code == 401:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("tumorboard serve did not answer in time")


def copy_workspace(built: tuple[Path, tuple[str, ...]], root: Path) -> tuple[Path, tuple[str, ...]]:
    """A copy at ``root / "workspace"`` of a workspace :func:`build_workspace` built (and
    nobody opened since): the same record for a fraction of the import and analyses."""
    workspace, dates = built
    shutil.copytree(workspace, root / "workspace")
    return root / "workspace", dates


@contextmanager
def serving(
    root: Path, *, dce_pet: bool = False, built: tuple[Path, tuple[str, ...]] | None = None
) -> Iterator[ReadingRoom]:
    """``tumorboard serve`` on a new workspace of the reference patient, stopped after.

    ``built``: a plain workspace from :func:`build_workspace` to copy instead of building.
    """
    if built is not None and not dce_pet:
        workspace, dates = copy_workspace(built, root)
    else:
        workspace, dates = build_workspace(root, dce_pet=dce_pet)
    for (name, password), role in ((READER, "reader"), (VIEWER, "viewer"), (READER_2, "reader")):
        _add_user(workspace, name, role, password, root)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with (root / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            _tumorboard(
                "serve", "--workspace", str(workspace), "--host", "127.0.0.1", "--port", str(port)
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_serving(url, process)
            yield ReadingRoom(url=url, workspace=workspace, dwi_dates=dates)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    if process.returncode != 0:
        tail = (root / "serve.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"tumorboard serve ended with {process.returncode} on SIGTERM: {tail}")


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    args = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
    if os.geteuid() == 0:  # Chromium's sandbox refuses to run as root
        args.append("--no-sandbox")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=args
        )
        try:
            yield launched
        finally:
            launched.close()
