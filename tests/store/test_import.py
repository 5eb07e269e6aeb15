"""``tumorboard import`` into the record, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from dicom_study import BIRTH_DATE, EXPECTED_SERIES, PATIENT_NAME, study_attributes, write_study
from sqlalchemy import func, select

from tumorboard.cli.main import main
from tumorboard.errors import InputError
from tumorboard.store import init_workspace, open_workspace
from tumorboard.store.models import Exam, Instance, Patient, Series, Study
from tumorboard.workflow import import_paths

TOTAL_FILES = sum(count for _, count in EXPECTED_SERIES.values())


@pytest.fixture
def study_dir(tmp_path: Path) -> Path:
    return write_study(tmp_path / "export")


@pytest.fixture
def workspace(workspace_dir: Path, database_url: str | None):  # type: ignore[no-untyped-def]
    ws = init_workspace(workspace_dir, database_url)
    yield ws
    ws.close()


def _count(ws, model) -> int:  # type: ignore[no-untyped-def]
    with ws.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)))


def test_import_records_every_series_with_its_kind(workspace, study_dir: Path) -> None:
    (study_dir / "README.txt").write_text("exported by PACS")
    os.mkfifo(study_dir / "pipe")
    summary = import_paths(workspace, [study_dir]).as_dict()
    assert summary["files"] == TOTAL_FILES
    assert (summary["patients"], summary["studies"], summary["series"]) == (1, 1, 6)
    assert summary["duplicates"] == 0
    skipped = {item["path"]: item["reason"] for item in summary["skipped_files"]}
    assert set(skipped) == {"README.txt", "pipe"}
    assert skipped["README.txt"].startswith("not a DICOM file")
    assert skipped["pipe"] == "not a regular file"
    with workspace.session() as session:
        kinds = {s.description: s.kind for s in session.scalars(select(Series))}
        assert kinds == {
            "WB DWI b50": "wbdwi",
            "WB DWI b900": "wbdwi",
            "3-plane loc": "localiser",
            "PET AC": "pet",
            "CT": "ct",
            "DCE liver": "dce",
        }
        pet = session.scalars(select(Series).where(Series.modality == "PT")).one()
        assert pet.tracer == "Ga68-DOTATATE"
        b50 = session.scalars(select(Series).where(Series.description == "WB DWI b50")).one()
        assert b50.b_values_s_per_mm2 == [50.0]
        patient = session.scalars(select(Patient)).one()
        assert patient.name == PATIENT_NAME
        assert patient.birth_date.strftime("%Y%m%d") == BIRTH_DATE
        exam = session.scalars(select(Exam)).one()
        assert exam.exam_date.isoformat() == "2024-01-08"
        for instance in session.scalars(select(Instance)):
            assert workspace.objects.has(instance.sha256)


def test_reimport_is_a_no_op(workspace, study_dir: Path) -> None:
    import_paths(workspace, [study_dir])
    objects_before = sorted(p.name for p in workspace.objects.root.rglob("*"))
    again = import_paths(workspace, [study_dir]).as_dict()
    assert again["files"] == 0 and again["duplicates"] == TOTAL_FILES
    assert _count(workspace, Instance) == TOTAL_FILES
    assert _count(workspace, Series) == 6
    assert sorted(p.name for p in workspace.objects.root.rglob("*")) == objects_before


def test_a_study_arriving_in_two_parts_is_merged(workspace, study_dir: Path) -> None:
    first = [study_dir / name for name in ("dwi_b50", "pet")]
    rest = [p for p in study_dir.iterdir() if p not in first]
    import_paths(workspace, first)
    second = import_paths(workspace, rest).as_dict()
    assert second["studies"] == 1 and second["files"] == TOTAL_FILES - 8
    assert _count(workspace, Study) == 1
    assert _count(workspace, Exam) == 1
    assert _count(workspace, Series) == 6


def test_half_a_series_then_the_rest_keeps_one_series(workspace, study_dir: Path) -> None:
    files = sorted((study_dir / "dce").iterdir())
    import_paths(workspace, files[:5])
    import_paths(workspace, files[5:])
    with workspace.session() as session:
        series = session.scalars(select(Series).where(Series.description == "DCE liver")).one()
        assert len(series.instances) == 12


def test_zip_archive_and_dicomdir(workspace, study_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(study_dir.rglob("*.dcm")):
            zipped.write(path, path.relative_to(study_dir))
    summary = import_paths(workspace, [archive]).as_dict()
    assert summary["files"] == TOTAL_FILES
    assert not list((workspace.root / "tmp").glob("*")), "unpacked files are removed"
    medium = tmp_path / "medium"
    shutil.copytree(study_dir, medium)
    (medium / "DICOMDIR").write_bytes(b"index")
    again = import_paths(workspace, [medium / "DICOMDIR"]).as_dict()
    assert again["duplicates"] == TOTAL_FILES
    assert [s["path"] for s in again["skipped_files"]] == ["DICOMDIR"]


def test_zip_member_leaving_its_folder_is_refused(workspace, tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("../../outside.dcm", b"x")
    with pytest.raises(InputError, match="unsafe name"):
        import_paths(workspace, [archive])
    assert not (tmp_path / "outside.dcm").exists()
    assert _count(workspace, Instance) == 0


def test_dicom_without_patient_id_is_listed_not_fatal(workspace, tmp_path: Path) -> None:
    study = study_attributes()
    study["patient_id"] = ""
    write_study(tmp_path / "anonymous", study)
    summary = import_paths(workspace, [tmp_path / "anonymous"]).as_dict()
    assert summary["files"] == 0
    assert len(summary["skipped_files"]) == TOTAL_FILES
    assert all("PatientID" in s["reason"] for s in summary["skipped_files"])


def test_a_failed_import_leaves_the_record_unchanged(
    workspace, study_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = []
    original = workspace.objects.put_new_file_bytes

    def fail_after_ten(data: bytes) -> tuple[str, bool]:
        if len(stored) == 10:
            raise OSError(28, "No space left on device")
        stored.append(data)
        return original(data)

    monkeypatch.setattr(workspace.objects, "put_new_file_bytes", fail_after_ten)
    with pytest.raises(OSError):
        import_paths(workspace, [study_dir])
    assert _count(workspace, Instance) == 0 and _count(workspace, Patient) == 0
    monkeypatch.undo()
    summary = import_paths(workspace, [study_dir]).as_dict()
    assert summary["files"] == TOTAL_FILES


def _import_in_child(workspace: str, folder: str, queue) -> None:  # type: ignore[no-untyped-def]
    code = main(["import", "--workspace", workspace, folder, "--json"])
    queue.put(code)


def test_two_imports_at_once_neither_fail_nor_duplicate(workspace, study_dir: Path) -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    children = [
        context.Process(target=_import_in_child, args=(str(workspace.root), str(study_dir), queue))
        for _ in range(2)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=300)
        assert child.exitcode == 0
    assert sorted(queue.get(timeout=5) for _ in children) == [0, 0]
    assert _count(workspace, Instance) == TOTAL_FILES
    assert _count(workspace, Series) == 6 and _count(workspace, Patient) == 1


def test_cli_import_json_contract_and_no_identifier_printed(
    workspace, study_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "--workspace", str(workspace.root), str(study_dir), "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert set(summary) == {"patients", "studies", "series", "files", "skipped_files", "duplicates"}
    assert main(["import", "--workspace", str(workspace.root), str(study_dir)]) == 0
    captured_again = capsys.readouterr()
    assert "already in the record" in captured_again.out
    for text in (captured.out, captured.err, captured_again.out, captured_again.err):
        assert "Hostile" not in text and "NET-001" not in text and BIRTH_DATE not in text


def test_import_into_a_missing_workspace_is_one_line(
    tmp_path: Path, study_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "--workspace", str(tmp_path / "nowhere"), str(study_dir)]) == 1
    assert "tumorboard init" in capsys.readouterr().err


def test_reopened_workspace_sees_the_import(workspace, study_dir: Path) -> None:
    import_paths(workspace, [study_dir])
    reopened = open_workspace(workspace.root)
    try:
        assert _count(reopened, Instance) == TOTAL_FILES
    finally:
        reopened.close()


def test_changed_file_is_read_again_and_unchanged_is_not(
    workspace, study_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_paths(workspace, [study_dir])
    touched = sorted((study_dir / "ct").iterdir())[0]
    os.utime(touched, ns=(1, 1))
    read: list[Path] = []
    import tumorboard.workflow.import_reading as importer

    original = importer.read_slice_header

    def spy(path, **kwargs):  # type: ignore[no-untyped-def]
        read.append(Path(path))
        return original(path, **kwargs)

    monkeypatch.setattr(importer, "read_slice_header", spy)
    summary = import_paths(workspace, [study_dir]).as_dict()
    assert read == [touched]
    assert summary["duplicates"] == TOTAL_FILES and summary["files"] == 0


def test_kill_9_during_import_leaves_a_consistent_record(workspace, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    big = tmp_path / "big"
    for part in range(8):
        write_study(
            big / f"part{part}",
            study_attributes(study_uid=f"1.2.826.0.1.99.{part}"),
            seed=str(part),
        )
    expected = 8 * TOTAL_FILES
    command = [
        sys.executable,
        "-c",
        "from tumorboard.cli.main import entry; entry()",
        "import",
        "--workspace",
        str(workspace.root),
        str(big),
    ]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    objects = workspace.objects.root
    deadline = time.monotonic() + 120
    while child.poll() is None and time.monotonic() < deadline:
        if any(objects.glob("*/*")) or any(objects.glob(".tmp-*")):
            break
        time.sleep(0.005)
    assert child.poll() is None, "the import finished before it could be killed"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    assert _count(workspace, Instance) in (0, expected)  # all or nothing
    summary = import_paths(workspace, [big]).as_dict()
    assert summary["files"] + summary["duplicates"] == expected
    assert _count(workspace, Instance) == expected
    assert _count(workspace, Study) == 8
    leftovers = [*objects.glob(".tmp-*"), *objects.glob("*/.tmp-*")]
    assert not leftovers, "leftovers of the killed import are removed"


def test_a_recorded_instance_with_other_bytes_leaves_no_object_behind(
    workspace, study_dir: Path, tmp_path: Path
) -> None:
    import pydicom

    import_paths(workspace, [study_dir])
    objects_before = sorted(p.name for p in workspace.objects.root.glob("??/*"))
    source = sorted((study_dir / "ct").iterdir())[0]
    dataset = pydicom.dcmread(source)
    dataset.SeriesDescription = "re-exported with another description"
    copy_dir = tmp_path / "again"
    copy_dir.mkdir()
    dataset.save_as(copy_dir / "same-uid.dcm")
    summary = import_paths(workspace, [copy_dir]).as_dict()
    assert summary["files"] == 0 and summary["duplicates"] == 1
    assert sorted(p.name for p in workspace.objects.root.glob("??/*")) == objects_before
    assert _count(workspace, Instance) == TOTAL_FILES
