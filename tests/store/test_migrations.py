"""A record saved by an earlier tumorboard keeps its data when the schema moves on.

``data/workspace-0001.db`` is an SQLite record written by tumorboard at schema
revision 0001 (one imported study of 32 instances, six lesion reads of the
RECIST story of ``test_reads_and_timeline``). ``data/workspace-0002.db`` is the
same record brought to 0002 by the tumorboard of that revision, with a therapy
line, two renames of a lesion (three change-log entries) and two analyses (one
done with its JSON result, one claimed by a run). Opening a record upgrades it
to the head revision; every row must still be there, the timeline must still
give the responses worked out by hand, and the change-log entries name their
patient. On PostgreSQL the same rows are loaded into a database at the saved
revision and upgraded.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from tumorboard.store import open_workspace
from tumorboard.store.database import _alembic_config, connect, current_revision, head_revision
from tumorboard.store.workspace import WORKSPACE_FILE, WORKSPACE_FORMAT_VERSION
from tumorboard.workflow.timeline import patient_timeline

DATA = Path(__file__).parent / "data"
SAVED = DATA / "workspace-0001.db"

#: What each saved record holds, counted when it was written.
SAVED_ROWS_0001 = {
    "patients": 1,
    "studies": 1,
    "series": 6,
    "instances": 32,
    "exams": 3,
    "lesions": 2,
    "lesion_reads": 6,
    "measurements": 6,
}
SAVED_ROWS = SAVED_ROWS_0001
SAVED_ROWS_0002 = {**SAVED_ROWS_0001, "therapy_lines": 1, "change_log": 3, "analyses": 2}
SAVED_RECORDS = {"0001": SAVED_ROWS_0001, "0002": SAVED_ROWS_0002}


def _saved_workspace(root: Path, database: str, saved: Path = SAVED) -> Path:
    root.mkdir(mode=0o700)
    (root / "objects").mkdir()
    if database == "embedded-sqlite":
        shutil.copy(saved, root / "tumorboard.db")
    description = {"format_version": WORKSPACE_FORMAT_VERSION, "database": database}
    (root / WORKSPACE_FILE).write_text(json.dumps(description))
    return root


def _counts(engine: sa.Engine, expected: dict[str, int] = SAVED_ROWS) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in expected
        }


def _check_recist_story(workspace_root: Path, revision: str = "0001") -> None:
    workspace = open_workspace(workspace_root)
    expected = SAVED_RECORDS[revision]
    try:
        assert workspace.schema_revision == head_revision() != revision
        assert _counts(workspace.engine, expected) == expected
        recist = {
            p["timepoint"]: p
            for p in patient_timeline(workspace, "NET-001")["responses"]["recist1.1"]
        }
        assert recist["week 8"]["overall"] == "PR"
        assert recist["week 16"]["vs_baseline"] == "SD"
        assert recist["week 16"]["vs_nadir"] == "PD"
        if revision != "0001":
            _check_0002_rows(workspace.engine)
    finally:
        workspace.close()


def _check_0002_rows(engine: sa.Engine) -> None:
    """The 0002 rows survive, and the saved change-log entries name their patient."""
    with engine.connect() as connection:
        patient = connection.execute(sa.text("SELECT id FROM patients")).scalar_one()
        entries = connection.execute(
            sa.text(
                "SELECT table_name, field, old_value, new_value, author, patient_id "
                "FROM change_log ORDER BY id"
            )
        ).all()
        analyses = connection.execute(
            sa.text("SELECT status, claimed_by, result FROM analyses ORDER BY id")
        ).all()
    assert [tuple(e) for e in entries] == [
        ("therapy_lines", "baseline_exam", None, "2024-01-08", "reader-a", patient),
        ("lesions", "label", "L2", "liver-2", "reader-a", patient),
        ("lesions", "label", "liver-2", "L2", "reader-b", patient),
    ]
    assert [(a[0], a[1]) for a in analyses] == [("done", None), ("running", "otherhost:123")]
    done_result = analyses[0][2]
    done_result = json.loads(done_result) if isinstance(done_result, str) else done_result
    assert done_result["total_diffusion_volume_ml"] == 12.5


@pytest.mark.parametrize("revision", sorted(SAVED_RECORDS))
def test_saved_sqlite_record_is_upgraded_with_its_data(tmp_path: Path, revision: str) -> None:
    path = DATA / f"workspace-{revision}.db"
    saved = connect(f"sqlite:///{path}")
    try:
        assert current_revision(saved) == revision
        assert _counts(saved, SAVED_RECORDS[revision]) == SAVED_RECORDS[revision]
    finally:
        saved.dispose()
    root = _saved_workspace(tmp_path / "board", "embedded-sqlite", path)
    _check_recist_story(root, revision)


@pytest.mark.parametrize("revision", sorted(SAVED_RECORDS))
def test_saved_rows_in_postgresql_are_upgraded(  # type: ignore[no-untyped-def]
    tmp_path: Path, postgres, revision: str
) -> None:
    url = postgres.create_database()
    engine = connect(url)
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    saved = connect(f"sqlite:///{DATA / f'workspace-{revision}.db'}")
    source = sa.MetaData()
    source.reflect(saved)
    target = sa.MetaData()
    target.reflect(engine)
    with saved.connect() as reading, engine.begin() as writing:
        for table in source.sorted_tables:
            if table.name == "alembic_version":
                continue
            rows = [dict(row._mapping) for row in reading.execute(table.select())]
            if rows:
                writing.execute(target.tables[table.name].insert(), rows)
        for table in target.sorted_tables:  # identity sequences past the copied ids
            if "id" in table.c and table.name != "alembic_version":
                writing.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"coalesce(max(id), 0) + 1, false) FROM {table.name}"
                    )
                )
    saved.dispose()
    assert current_revision(engine) == revision
    engine.dispose()
    _check_recist_story(_saved_workspace(tmp_path / "board", url), revision)


def test_migrations_downgrade_to_the_first_revision_and_back(tmp_path: Path) -> None:
    copy = tmp_path / "old.db"
    shutil.copy(SAVED, copy)
    engine = connect(f"sqlite:///{copy}")
    config = _alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            command.downgrade(config, "0001")
        assert current_revision(engine) == "0001"
        assert _counts(engine) == SAVED_ROWS
    finally:
        engine.dispose()


def test_every_earlier_revision_has_a_saved_record() -> None:
    """Each revision before the head comes with a record saved at it (tested above)."""
    scripts = ScriptDirectory.from_config(_alembic_config())
    earlier = [r.revision for r in scripts.walk_revisions() if r.revision != head_revision()]
    assert earlier, "there is only one revision: nothing to migrate from"
    for revision in earlier:
        assert (Path(__file__).parent / "data" / f"workspace-{revision}.db").is_file(), revision


def test_schema_head_constant_is_alembic_head() -> None:
    """Opening a current workspace skips Alembic on the strength of this constant."""
    from tumorboard.store.database import SCHEMA_HEAD

    assert SCHEMA_HEAD == head_revision()


def test_change_log_is_append_only(tmp_path: Path, database_url: str | None) -> None:
    """UPDATE and DELETE of audit entries are refused by the database itself."""
    from tumorboard.store import init_workspace
    from tumorboard.store.models import ChangeLogEntry, Patient

    workspace = init_workspace(tmp_path / "board", database_url)
    try:
        with workspace.session() as session:
            patient = Patient(patient_key="P-1")
            session.add(patient)
            session.flush()
            session.add(
                ChangeLogEntry(table_name="patients", row_id=patient.id, field="name", author="a")
            )
        statements = [
            "UPDATE change_log SET author = 'someone else'",
            "UPDATE change_log SET patient_id = NULL",
            "DELETE FROM change_log",
        ]
        if workspace.backend == "postgresql":
            statements.append("TRUNCATE change_log")
        for statement in statements:
            with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                with workspace.engine.begin() as connection:
                    connection.execute(sa.text(statement))
        with workspace.engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT author, patient_id FROM change_log")).all()
        assert [tuple(r) for r in rows] == [("a", patient.id)]
    finally:
        workspace.close()
