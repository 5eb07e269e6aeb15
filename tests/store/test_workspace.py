"""The workspace and its record schema, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import stat
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from tumorboard.cli.main import main
from tumorboard.errors import InputError
from tumorboard.store import connect, init_workspace, open_workspace
from tumorboard.store.database import head_revision
from tumorboard.store.models import Base, Instance, Patient, Series, Study

EXPECTED_TABLES = {
    "patients",
    "studies",
    "series",
    "instances",
    "exams",
    "therapy_lines",
    "lesions",
    "measurements",
    "analyses",
    "analysis_inputs",
    "analysis_outputs",
    "assessments",
    "case_facts",
    "sign_offs",
    "change_log",
    "imported_files",
    "lesion_reads",
}


def test_init_creates_every_table_at_the_head_revision(
    workspace_dir: Path, database_url: str | None
) -> None:
    workspace = init_workspace(workspace_dir, database_url)
    try:
        tables = set(inspect(workspace.engine).get_table_names())
        assert EXPECTED_TABLES <= tables
        assert "alembic_version" in tables
        assert workspace.schema_revision == head_revision()
        assert workspace.backend == ("sqlite" if database_url is None else "postgresql")
    finally:
        workspace.close()


def test_migrations_and_models_agree(workspace_dir: Path, database_url: str | None) -> None:
    workspace = init_workspace(workspace_dir, database_url)
    try:
        with workspace.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        workspace.close()


def test_embedded_record_and_description_are_owner_only(workspace_dir: Path) -> None:
    init_workspace(workspace_dir).close()
    for name in ("tumorboard.db", "workspace.json"):
        assert stat.S_IMODE((workspace_dir / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(workspace_dir.stat().st_mode) == 0o700
    assert (workspace_dir / "objects").is_dir()
    description = json.loads((workspace_dir / "workspace.json").read_text())
    assert description == {"format_version": 1, "database": "embedded-sqlite"}


def test_sqlite_runs_in_wal_mode_with_foreign_keys(workspace_dir: Path) -> None:
    workspace = init_workspace(workspace_dir)
    try:
        with workspace.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        workspace.close()


def _add_patient_with_one_instance(session: object, sop_uid: str = "1.2.3.4.1") -> None:
    patient = Patient(
        patient_key="NET-001", name="Doe^Jane", birth_date=dt.date(1964, 3, 12), sex="F"
    )
    study = Study(patient=patient, study_instance_uid="1.2.3", study_date=dt.date(2024, 1, 8))
    series = Series(study=study, series_instance_uid="1.2.3.4", modality="PT", kind="pet")
    series.instances.append(
        Instance(
            sop_instance_uid=sop_uid,
            sop_class_uid="1.2.840.10008.5.1.4.1.1.128",
            sha256=hashlib.sha256(b"x").hexdigest(),
            size_bytes=5_000_000_000,
        )
    )
    session.add(patient)  # type: ignore[attr-defined]


def test_record_round_trip_keeps_identifiers_out_of_repr(
    workspace_dir: Path, database_url: str | None
) -> None:
    workspace = init_workspace(workspace_dir, database_url)
    try:
        with workspace.session() as session:
            _add_patient_with_one_instance(session)
        reopened = open_workspace(workspace_dir)
        with reopened.session() as session:
            patient = session.scalars(select(Patient)).one()
            assert patient.birth_date == dt.date(1964, 3, 12)
            assert patient.name == "Doe^Jane"
            assert "Doe" not in repr(patient) and "NET-001" not in repr(patient)
            instance = session.scalars(select(Instance)).one()
            assert instance.size_bytes == 5_000_000_000  # larger than a 32-bit integer
        reopened.close()
    finally:
        workspace.close()


def test_an_instance_is_stored_once(workspace_dir: Path, database_url: str | None) -> None:
    workspace = init_workspace(workspace_dir, database_url)
    try:
        with workspace.session() as session:
            _add_patient_with_one_instance(session)
        with pytest.raises(IntegrityError):
            with workspace.session() as session:
                study = session.scalars(select(Study)).one()
                series = Series(
                    study=study, series_instance_uid="1.2.3.5", modality="PT", kind="pet"
                )
                series.instances.append(
                    Instance(
                        sop_instance_uid="1.2.3.4.1",
                        sop_class_uid="1.2.840.10008.5.1.4.1.1.128",
                        sha256="0" * 64,
                        size_bytes=1,
                    )
                )
                session.add(series)
    finally:
        workspace.close()


def test_foreign_keys_are_enforced(workspace_dir: Path, database_url: str | None) -> None:
    workspace = init_workspace(workspace_dir, database_url)
    try:
        with pytest.raises(IntegrityError):
            with workspace.session() as session:
                session.add(Study(patient_id=999, study_instance_uid="9.9"))
    finally:
        workspace.close()


@pytest.mark.parametrize("occupant", ["file", "non-empty folder", "workspace"])
def test_init_refuses_an_occupied_place(workspace_dir: Path, occupant: str) -> None:
    if occupant == "file":
        workspace_dir.write_text("keep me")
    elif occupant == "non-empty folder":
        workspace_dir.mkdir()
        (workspace_dir / "notes.txt").write_text("keep me")
    else:
        init_workspace(workspace_dir).close()
    before = sorted(p.name for p in workspace_dir.parent.rglob("*"))
    with pytest.raises(InputError, match="workspace"):
        init_workspace(workspace_dir)
    assert sorted(p.name for p in workspace_dir.parent.rglob("*")) == before


def test_open_refuses_what_is_not_a_workspace(workspace_dir: Path) -> None:
    workspace_dir.mkdir()
    with pytest.raises(InputError, match="tumorboard init"):
        open_workspace(workspace_dir)
    (workspace_dir / "workspace.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        open_workspace(workspace_dir)
    (workspace_dir / "workspace.json").write_text('{"format_version": 99, "database": "x"}')
    with pytest.raises(InputError, match="format_version"):
        open_workspace(workspace_dir)


def test_unreachable_server_is_one_line_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://alice:s3cret@/nowhere?host={tmp_path}"
    with pytest.raises(InputError) as raised:
        init_workspace(tmp_path / "board", url)
    assert "s3cret" not in str(raised.value)
    assert not (tmp_path / "board").exists()


def test_unsupported_backend_is_refused() -> None:
    with pytest.raises(InputError, match="not supported"):
        connect("mysql://example/db")


def test_cli_init_reports_json_and_refuses_a_second_init(
    workspace_dir: Path, database_url: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["init", str(workspace_dir), "--json"]
    if database_url:
        argv += ["--database", database_url]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["schema_revision"] == head_revision()
    assert summary["backend"] == ("sqlite" if database_url is None else "postgresql")
    assert main(["init", str(workspace_dir)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "already a tumorboard workspace" in error


def test_version_does_not_load_the_science() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from tumorboard.cli.main import main; main(['--version']); "
        "heavy = [m for m in ('scipy', 'matplotlib', 'sqlalchemy', 'tumorboard.criteria', "
        "'tumorboard.pipeline') if m in sys.modules]; print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0
    from tumorboard import __version__

    assert result.stdout.splitlines() == [f"tumorboard {__version__}", "[]"]


@pytest.mark.parametrize("content", [b"", b"x", bytes(range(256)) * 12])
def test_a_damaged_or_emptied_record_is_refused_not_recreated(
    tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    board = tmp_path / "board"
    init_workspace(board).close()
    database = board / "tumorboard.db"
    for sidecar in board.glob("tumorboard.db-*"):
        sidecar.unlink()
    database.write_bytes(content)
    assert main(["timeline", "--workspace", str(board), "P1"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "empty" in err or "not an SQLite database" in err
    assert database.read_bytes() == content  # nothing written over it
