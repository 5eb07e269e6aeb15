"""``tumorboard export --dicomweb`` against a real Orthanc: STOW-RS, idempotent.

The objects on the server must be exactly those ``export --out`` writes (same
SOPInstanceUIDs), and a second export must not add any: counted with QIDO-RS
per result series and with Orthanc's own instance count.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pydicom
import pytest
from dicomweb_client import DICOMwebClient
from dicomweb_client.session_utils import create_session_from_user_pass
from dwi_exams import write_exam
from orthanc_server import OrthancServer

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


def _push(orthanc: OrthancServer, board: Path, password: str | None = None) -> tuple[int, Any]:
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
                orthanc.dicomweb_url,
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


def test_export_to_pacs_twice_stores_each_object_once(
    orthanc: OrthancServer, board: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--workspace", str(board), "DWI-001", "--out", str(tmp_path / "o")]) == 0
    objects = [pydicom.dcmread(p) for p in sorted((tmp_path / "o").rglob("*.dcm"))]
    assert len(objects) == 8  # 2 SEG, 4 PM, 2 SR (tests/store/test_export.py)
    expected = {str(d.SOPInstanceUID) for d in objects}
    code, first = _push(orthanc, board)
    assert code == 0 and first["sent"] == 8 and first["already_on_server"] == 0
    assert first["counts"] == {"pm": 4, "seg": 2, "sr": 2}
    client = _client(orthanc)
    on_server = {
        str(item["00080018"]["Value"][0])
        for item in client.search_for_instances(get_remaining=True)
    }
    assert on_server == expected  # exactly the objects export --out writes
    counts = _series_counts(client, objects)
    assert sum(counts.values()) == 8
    stored = orthanc.instance_count()
    code, second = _push(orthanc, board)
    assert code == 0 and second["sent"] == 0 and second["already_on_server"] == 8
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
