"""A record saved by an earlier tumorboard keeps its data when the schema moves on.

``data/workspace-0001.db`` is an SQLite record written by tumorboard at schema
revision 0001 (one imported study of 32 instances, six lesion reads of the
RECIST story of ``test_reads_and_timeline``). Opening it upgrades it to the
head revision; every row must still be there and the timeline must still give
the responses worked out by hand. On PostgreSQL the same rows are loaded into
a database at revision 0001 and upgraded.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from tumorboard.store import open_workspace
from tumorboard.store.database import _alembic_config, connect, current_revision, head_revision
from tumorboard.store.workspace import WORKSPACE_FILE, WORKSPACE_FORMAT_VERSION
from tumorboard.workflow.timeline import patient_timeline

SAVED = Path(__file__).parent / "data" / "workspace-0001.db"

#: What the saved record holds, counted when it was written.
SAVED_ROWS = {
    "patients": 1,
    "studies": 1,
    "series": 6,
    "instances": 32,
    "exams": 3,
    "lesions": 2,
    "lesion_reads": 6,
    "measurements": 6,
}


def _saved_workspace(root: Path, database: str) -> Path:
    root.mkdir(mode=0o700)
    (root / "objects").mkdir()
    if database == "embedded-sqlite":
        shutil.copy(SAVED, root / "tumorboard.db")
    description = {"format_version": WORKSPACE_FORMAT_VERSION, "database": database}
    (root / WORKSPACE_FILE).write_text(json.dumps(description))
    return root


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in SAVED_ROWS
        }


def _check_recist_story(workspace_root: Path) -> None:
    workspace = open_workspace(workspace_root)
    try:
        assert workspace.schema_revision == head_revision() != "0001"
        assert _counts(workspace.engine) == SAVED_ROWS
        recist = {
            p["timepoint"]: p
            for p in patient_timeline(workspace, "NET-001")["responses"]["recist1.1"]
        }
        assert recist["week 8"]["overall"] == "PR"
        assert recist["week 16"]["vs_baseline"] == "SD"
        assert recist["week 16"]["vs_nadir"] == "PD"
    finally:
        workspace.close()


def test_saved_sqlite_record_is_upgraded_with_its_data(tmp_path: Path) -> None:
    saved = connect(f"sqlite:///{SAVED}")
    try:
        assert current_revision(saved) == "0001"
        assert _counts(saved) == SAVED_ROWS
    finally:
        saved.dispose()
    _check_recist_story(_saved_workspace(tmp_path / "board", "embedded-sqlite"))


def test_saved_rows_in_postgresql_at_0001_are_upgraded(tmp_path: Path, postgres) -> None:  # type: ignore[no-untyped-def]
    url = postgres.create_database()
    engine = connect(url)
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    saved = connect(f"sqlite:///{SAVED}")
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
    assert current_revision(engine) == "0001"
    engine.dispose()
    _check_recist_story(_saved_workspace(tmp_path / "board", url))


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
