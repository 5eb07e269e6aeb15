"""``tumorboard export --dicomweb`` against a real Orthanc: STOW-RS, idempotent, versioned.

The objects on the server must be exactly those ``export --out`` writes (same
SOPInstanceUIDs), and a second export must not add any: counted with QIDO-RS
per result series and with Orthanc's own instance count. A re-signed form
arrives as a new series next to the old one. Every failure (server down,
wrong password, a path that is no DICOMweb service, objects the server
discards, a connection cut in the middle of an upload) is one line, exit 1,
and counts as stored only what the server holds.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pydicom
import pytest
from cutting_proxy import cutting_proxy
from dicomweb_client import DICOMwebClient
from dicomweb_client.session_utils import create_session_from_user_pass
from dwi_exams import write_exam
from orthanc_server import OrthancServer, running_orthanc

from tumorboard.cli.main import main

READS = (
    "patient_id,timepoint,date,modality,lesion_id,organ,role,is_node,longest_diameter_mm,"
    "short_axis_mm,mean_hu,viable_diameter_mm,sul_peak,status\n"
    "DWI-001,baseline,2024-01-08,mr,L1,liver,target,false,50,,,,,present\n"
    "DWI-001,week 12,2024-04-01,mr,L1,liver,target,false,30,,,,,present\n"
)


@pytest.fixture
def board(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    workspace = tmp_path / "board"
    assert main(["init", str(workspace)]) == 0
    folders = [str(write_exam(tmp_path / "dicom", exam)) for exam in ("baseline", "week12")]
    assert main(["import", "--workspace", str(workspace), *folders]) == 0
    (tmp_path / "reads.csv").write_text(READS)
    assert (
        main(["lesion", "import", "--workspace", str(workspace), str(tmp_path / "reads.csv")]) == 0
    )
    assert main(["run", "--workspace", str(workspace), "--quiet"]) == 0
    capsys.readouterr()
    return workspace


def _client(orthanc: OrthancServer) -> DICOMwebClient:
    return DICOMwebClient(
        orthanc.dicomweb_url,
        session=create_session_from_user_pass(orthanc.user, orthanc.password),
    )


def _push(
    orthanc: OrthancServer, board: Path, password: str | None = None, url: str | None = None
) -> tuple[int, Any]:
    secret = orthanc.password_file(board.parent, password)
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        code = main(
            [
                "export",
                "--workspace",
                str(board),
                "DWI-001",
                "--dicomweb",
                url or orthanc.dicomweb_url,
                "--user",
                orthanc.user,
                "--password-file",
                str(secret),
                "--json",
            ]
        )
    return code, json.loads(buffer.getvalue()) if code == 0 else None


def _series_counts(client: DICOMwebClient, objects: list[pydicom.Dataset]) -> dict[str, int]:
    """QIDO-RS: instances on the server per result series."""
    counts = {}
    for series in {(str(d.StudyInstanceUID), str(d.SeriesInstanceUID)) for d in objects}:
        found = client.search_for_instances(
            study_instance_uid=series[0], series_instance_uid=series[1], get_remaining=True
        )
        counts[series[1]] = len(found)
    return counts


def _sign(board: Path, signer: str) -> None:
    from tumorboard.store import open_workspace
    from tumorboard.workflow.sign_off import sign_form

    workspace = open_workspace(board)
    try:
        sign_form(workspace, "DWI-001", signer)
    finally:
        workspace.close()


def _on_server(client: DICOMwebClient) -> set[str]:
    return {
        str(item["00080018"]["Value"][0])
        for item in client.search_for_instances(get_remaining=True)
    }


def test_export_to_pacs_twice_stores_each_object_once(
    orthanc: OrthancServer, board: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sign(board, "dr-one")
    assert main(["export", "--workspace", str(board), "DWI-001", "--out", str(tmp_path / "o")]) == 0
    objects = [pydicom.dcmread(p) for p in sorted((tmp_path / "o").rglob("*.dcm"))]
    assert len(objects) == 11  # 2 SEG, 4 PM, 2 SR, 2 SC, 1 PDF (tests/store/test_export.py)
    expected = {str(d.SOPInstanceUID) for d in objects}
    code, first = _push(orthanc, board)
    assert code == 0 and first["sent"] == 11 and first["already_on_server"] == 0
    assert first["counts"] == {"pdf": 1, "pm": 4, "sc": 2, "seg": 2, "sr": 2}
    client = _client(orthanc)
    assert _on_server(client) == expected  # exactly the objects export --out writes
    counts = _series_counts(client, objects)
    assert sum(counts.values()) == 11
    stored = orthanc.instance_count()
    code, second = _push(orthanc, board)
    assert code == 0 and second["sent"] == 0 and second["already_on_server"] == 11
    assert _series_counts(client, objects) == counts  # no series grew
    assert orthanc.instance_count() == stored
    sr = next(d for d in objects if d.Modality == "SR")
    back = client.retrieve_instance(
        str(sr.StudyInstanceUID), str(sr.SeriesInstanceUID), str(sr.SOPInstanceUID)
    )
    assert back.ContentSequence == sr.ContentSequence  # the report itself, read back
    assert "DWI-001" not in capsys.readouterr().err


def test_push_with_a_wrong_password_is_one_line_and_stores_nothing(
    orthanc: OrthancServer, board: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = _push(orthanc, board, password="wrong-pw")
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "HTTP 401" in err and "wrong-pw" not in err
    assert f"127.0.0.1:{orthanc.http_port}" in err
    assert orthanc.instance_count() == 0


def test_a_resigned_form_goes_to_pacs_as_a_new_series_next_to_the_old_one(
    orthanc: OrthancServer, board: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _sign(board, "dr-one")
    code, first = _push(orthanc, board)
    assert code == 0 and first["sent"] == 11
    _sign(board, "dr-two")
    code, second = _push(orthanc, board)
    assert code == 0 and (second["sent"], second["already_on_server"]) == (1, 10)
    client = _client(orthanc)
    documents = client.search_for_series(search_filters={"Modality": "DOC"}, get_remaining=True)
    described = sorted(str(s["0008103E"]["Value"][0]) for s in documents)
    assert described == [
        "tumorboard case report form (signed)",
        "tumorboard case report form (signed) v2, replaces v1",
    ]
    assert orthanc.instance_count() == 12  # the old version stays


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "DWI-001" not in err and "Test^Dwi" not in err
    return err


def test_push_to_a_server_that_is_down_is_one_line(
    orthanc: OrthancServer, board: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    orthanc.stop()
    code, _ = _push(orthanc, board)
    err = _one_line(capsys)
    assert code == 1 and "cannot connect" in err and f"127.0.0.1:{orthanc.http_port}" in err
    assert "(0 of 10 objects stored by this export" in err
    orthanc.start()
    assert orthanc.instance_count() == 0


def test_push_to_a_path_that_is_no_dicomweb_service_stores_nothing(
    orthanc: OrthancServer, board: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = _push(orthanc, board, url=f"{orthanc.url}/no-such-dicom-web")
    err = _one_line(capsys)
    assert code == 1 and "HTTP 404" in err and "storing objects (STOW-RS)" in err
    assert orthanc.instance_count() == 0


#: Orthanc refuses every SR it receives (and still answers STOW-RS with success).
_REFUSE_SR = """
function ReceivedInstanceFilter(dicom, origin, info)
  return dicom.Modality ~= 'SR'
end
"""


def test_objects_the_server_discards_are_not_counted_as_stored(
    board: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_orthanc(lua=_REFUSE_SR) as orthanc:
        code, _ = _push(orthanc, board)
        err = _one_line(capsys)
        assert code == 1 and "did not keep (refused or discarded) 1 of 5 objects" in err
        client = _client(orthanc)
        held = client.search_for_instances(get_remaining=True)
        assert held and all(str(i["00080060"]["Value"][0]) != "SR" for i in held)
        # the count in the message is what the server holds, no more
        assert f"({len(held)} of 10 objects stored by this export" in err
        assert len(held) == orthanc.instance_count() == 4  # the first study, but its SR


def test_a_connection_cut_in_the_middle_of_a_push_counts_what_arrived_and_resumes(
    orthanc: OrthancServer, board: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with cutting_proxy(orthanc.http_port, cut_post=2) as proxy:
        code, _ = _push(orthanc, board, url=f"http://127.0.0.1:{proxy.port}/dicom-web")
        assert proxy.cut
    err = _one_line(capsys)
    assert code == 1 and "the connection was cut while storing objects (STOW-RS)" in err
    assert "(5 of 10 objects stored by this export" in err
    assert orthanc.instance_count() == 5  # the first study; nothing of the cut upload
    code, again = _push(orthanc, board)
    assert code == 0 and (again["sent"], again["already_on_server"]) == (5, 5)
    assert orthanc.instance_count() == 10
