"""``tumorboard import --dicomweb`` against a real Orthanc: pull, resume, and the bad cases.

The phantom is the WB-DWI exam of :mod:`dwi_exams` (two series of 12 slices),
loaded into Orthanc through STOW-RS. What the pull must give is what importing
the same files from a folder gives; how often each instance was fetched is
counted where dicomweb-client decodes the server's multipart answers, below
tumorboard's code.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pydicom
import pytest
import requests
from dicomweb_client import DICOMwebClient
from dicomweb_client.session_utils import create_session_from_user_pass
from dwi_exams import write_exam
from orthanc_server import OrthancServer, free_port
from sqlalchemy import func, select

from tumorboard.cli.main import main
from tumorboard.store import open_workspace
from tumorboard.store.models import Instance, Patient, Series

PATIENT = "DWI-001"


@pytest.fixture
def phantom(tmp_path: Path) -> list[Path]:
    """The baseline WB-DWI exam's 24 files."""
    folder = write_exam(tmp_path / "dicom", "baseline")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert len(files) == 24
    return files


@pytest.fixture
def loaded(orthanc: OrthancServer, phantom: list[Path]) -> str:
    """The phantom stored in Orthanc through STOW-RS; its StudyInstanceUID."""
    client = DICOMwebClient(
        orthanc.dicomweb_url,
        session=create_session_from_user_pass(orthanc.user, orthanc.password),
    )
    client.store_instances([pydicom.dcmread(p) for p in phantom])
    assert orthanc.instance_count() == 24
    return str(pydicom.dcmread(phantom[0]).StudyInstanceUID)


def _workspace(tmp_path: Path, name: str = "board", database: str | None = None) -> Path:
    workspace = tmp_path / name
    extra = ["--database", database] if database else []
    assert main(["init", str(workspace), *extra]) == 0
    return workspace


def _pull(
    orthanc: OrthancServer, workspace: Path, *selection: str, password: str | None = None
) -> tuple[int, dict[str, Any] | None]:
    secret = orthanc.password_file(workspace.parent, password)
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        code = main(
            [
                "import",
                "--workspace",
                str(workspace),
                "--dicomweb",
                orthanc.dicomweb_url,
                *selection,
                "--user",
                orthanc.user,
                "--password-file",
                str(secret),
                "--json",
            ]
        )
    return code, json.loads(buffer.getvalue()) if code == 0 else None


def _record(workspace: Path) -> dict[str, Any]:
    """What the record holds: series (uid -> kind, b-values, instance count), instance uids."""
    ws = open_workspace(workspace)
    try:
        with ws.session() as session:
            series = {
                s.series_instance_uid: (s.kind, s.b_values_s_per_mm2, s.modality)
                for s in session.scalars(select(Series))
            }
            counts = dict(
                session.execute(
                    select(Series.series_instance_uid, func.count(Instance.id))
                    .join(Instance)
                    .group_by(Series.series_instance_uid)
                ).all()
            )
            uids = set(session.scalars(select(Instance.sop_instance_uid)))
            patients = session.scalar(select(func.count(Patient.id)))
    finally:
        ws.close()
    return {"series": series, "counts": counts, "uids": uids, "patients": patients}


def _timeline(workspace: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["timeline", "--workspace", str(workspace), PATIENT, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Counts every instance dicomweb-client decodes from a WADO-RS answer.

    ``state["cut_after"] = n`` makes the n+1-th instance fail as a cut
    connection does (``requests``' ChunkedEncodingError); ``state["on_each"]``
    is called after each instance.
    """
    state: dict[str, Any] = {"uids": Counter(), "cut_after": None, "on_each": None}
    original = DICOMwebClient._http_get_multipart_application_dicom

    def counting(self: DICOMwebClient, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for dataset in original(self, *args, **kwargs):
            if state["cut_after"] is not None and sum(state["uids"].values()) >= state["cut_after"]:
                raise requests.exceptions.ChunkedEncodingError("Connection broken: test cut")
            state["uids"][str(dataset.SOPInstanceUID)] += 1
            yield dataset
            if state["on_each"] is not None:
                state["on_each"]()

    monkeypatch.setattr(DICOMwebClient, "_http_get_multipart_application_dicom", counting)
    yield state


def test_pull_gives_the_record_a_folder_import_gives(
    orthanc: OrthancServer,
    loaded: str,
    phantom: list[Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fetched: dict[str, Any],
) -> None:
    workspace = _workspace(tmp_path)
    code, summary = _pull(orthanc, workspace, "--study", loaded)
    assert code == 0 and summary is not None
    assert summary["dicomweb"]["instances"] == 24
    assert summary["dicomweb"]["fetched"] == 24
    assert (summary["files"], summary["patients"], summary["studies"], summary["series"]) == (
        24,
        1,
        1,
        2,
    )
    assert sum(fetched["uids"].values()) == 24
    timeline = _timeline(workspace, capsys)
    assert [(e["date"], e["modalities"]) for e in timeline["exams"]] == [("2024-01-08", ["MR"])]
    reference = _workspace(tmp_path, "reference")
    assert main(["import", "--workspace", str(reference), str(phantom[0].parents[1])]) == 0
    pulled, imported = _record(workspace), _record(reference)
    assert pulled == imported
    assert {kind for kind, _, _ in pulled["series"].values()} == {"wbdwi"}
    assert pulled["uids"] == {str(pydicom.dcmread(p).SOPInstanceUID) for p in phantom}
    assert not (workspace / ".pull").exists()  # staging removed after the import
    # pulling again fetches nothing and changes nothing
    code, again = _pull(orthanc, workspace, "--patient-id", PATIENT)
    assert code == 0 and again is not None
    assert again["dicomweb"]["fetched"] == 0 and again["dicomweb"]["in_record_before"] == 24
    assert again["files"] == 0 and sum(fetched["uids"].values()) == 24
    assert _record(workspace) == pulled
    assert PATIENT not in capsys.readouterr().err


def test_pull_on_postgresql(
    orthanc: OrthancServer, loaded: str, tmp_path: Path, postgres_url: str
) -> None:
    workspace = _workspace(tmp_path, database=postgres_url)
    code, summary = _pull(orthanc, workspace, "--study", loaded)
    assert code == 0 and summary is not None and summary["files"] == 24
    assert len(_record(workspace)["uids"]) == 24


def _assert_unchanged(workspace: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The record holds nothing, and the error was one line without secrets; the line."""
    record = _record(workspace)
    assert record["uids"] == set() and record["patients"] == 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for secret in ("s3cret", PATIENT, "Test^Dwi", "19600101", "wrong-pw"):
        assert secret not in err
    return err


def test_interrupted_pull_resumes_and_fetches_each_instance_once(
    orthanc: OrthancServer,
    loaded: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fetched: dict[str, Any],
) -> None:
    workspace = _workspace(tmp_path)
    capsys.readouterr()
    fetched["cut_after"] = 7  # in the middle of the first series
    code, _ = _pull(orthanc, workspace, "--study", loaded)
    assert code == 1
    err = _assert_unchanged(workspace, capsys)
    assert f"127.0.0.1:{orthanc.http_port}" in err and "cut" in err and "7 of 24" in err
    staged = list((workspace / ".pull").rglob("*.dcm"))
    assert len(staged) == 7 and not list((workspace / ".pull").rglob("*.part"))
    fetched["cut_after"] = None
    code, summary = _pull(orthanc, workspace, "--study", loaded)
    assert code == 0 and summary is not None
    assert summary["dicomweb"]["staged_before"] == 7 and summary["dicomweb"]["fetched"] == 17
    assert summary["files"] == 24
    assert len(fetched["uids"]) == 24 and set(fetched["uids"].values()) == {1}
    assert fetched["uids"].keys() == _record(workspace)["uids"]
    assert not (workspace / ".pull").exists()


def test_server_stopped_mid_pull_then_resumed(
    orthanc: OrthancServer,
    loaded: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fetched: dict[str, Any],
) -> None:
    workspace = _workspace(tmp_path)
    capsys.readouterr()

    def stop_after_five() -> None:
        if sum(fetched["uids"].values()) == 5:
            orthanc.stop()

    fetched["on_each"] = stop_after_five
    code, _ = _pull(orthanc, workspace, "--study", loaded)
    assert code == 1
    err = _assert_unchanged(workspace, capsys)
    assert f"DICOMweb server 127.0.0.1:{orthanc.http_port}:" in err and "resumes" in err
    kept = len(list((workspace / ".pull").rglob("*.dcm")))
    assert 5 <= kept < 24 and kept == sum(fetched["uids"].values())
    fetched["on_each"] = None
    orthanc.start()
    code, summary = _pull(orthanc, workspace, "--study", loaded)
    assert code == 0 and summary is not None and summary["files"] == 24
    assert summary["dicomweb"]["staged_before"] == kept
    assert len(fetched["uids"]) == 24 and set(fetched["uids"].values()) == {1}


def test_a_corrupt_staged_file_is_fetched_again(
    orthanc: OrthancServer,
    loaded: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fetched: dict[str, Any],
) -> None:
    workspace = _workspace(tmp_path)
    fetched["cut_after"] = 3
    assert _pull(orthanc, workspace, "--study", loaded)[0] == 1
    staged = sorted((workspace / ".pull").rglob("*.dcm"))
    assert len(staged) == 3
    staged[0].write_bytes(staged[0].read_bytes()[:200])  # as a crash could leave it
    fetched["cut_after"] = None
    code, summary = _pull(orthanc, workspace, "--study", loaded)
    assert code == 0 and summary is not None
    assert summary["dicomweb"]["staged_before"] == 2 and summary["dicomweb"]["fetched"] == 22
    assert fetched["uids"][staged[0].stem] == 2  # the broken one, and only it, again
    assert len(_record(workspace)["uids"]) == 24


@pytest.mark.parametrize(
    "case", ["server down", "wrong password", "unknown study", "unknown patient"]
)
def test_bad_cases_are_one_line_and_change_nothing(
    orthanc: OrthancServer,
    loaded: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
) -> None:
    workspace = _workspace(tmp_path)
    capsys.readouterr()
    selection = ["--study", loaded]
    password = None
    if case == "server down":
        orthanc.http_port = free_port()  # nothing listens there
    elif case == "wrong password":
        password = "wrong-pw"
    elif case == "unknown study":
        selection = ["--study", loaded + ".9"]
    else:
        selection = ["--patient-id", "NOBODY-7"]
    code, _ = _pull(orthanc, workspace, *selection, password=password)
    assert code == 1
    err = _assert_unchanged(workspace, capsys)
    assert err.startswith(
        f"tumorboard import: error: DICOMweb server 127.0.0.1:{orthanc.http_port}"
    )
    expected = {
        "server down": "cannot connect",
        "wrong password": "password was refused (HTTP 401)",
        "unknown study": "no study with the StudyInstanceUID given",
        "unknown patient": "no study of the patient of --patient-id #1",
    }[case]
    assert expected in err and "NOBODY" not in err
    assert not list((workspace / ".pull").rglob("*.dcm"))  # nothing half-written


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--dicomweb", "http://127.0.0.1:9/dicom-web", "--study", "1.2.x"], "--study #1"),
        (["--dicomweb", "http://127.0.0.1:9/dicom-web"], "needs at least one"),
        (["--dicomweb", "http://u:pw@127.0.0.1:9/x", "--study", "1.2"], "not inside the URL"),
        (["--dicomweb", "ftp://127.0.0.1/x", "--study", "1.2"], "http:// or https://"),
        (["--study", "1.2"], "need --dicomweb"),
        (["--dicomweb", "http://127.0.0.1:9/d", "--study", "1.2", "--user", "u"], "--user needs"),
    ],
)
def test_bad_options_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    workspace = _workspace(tmp_path)
    capsys.readouterr()
    assert main(["import", "--workspace", str(workspace), *arguments]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "pw@" not in err
