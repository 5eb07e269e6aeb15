"""The reading room: users, web sessions, WB-DWI curations; an append-only audit trail.

``change_log`` gains ``patient_id`` (filled here for the entries already in
the record) and becomes append-only: triggers refuse UPDATE and DELETE on
SQLite and PostgreSQL, and TRUNCATE on PostgreSQL.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: The message of every refused change to the audit trail.
APPEND_ONLY_MESSAGE = "change_log is append-only: entries cannot be changed or deleted"

#: How the patient of an existing entry is found (as models.PATIENT_OF_ROW at 0003).
_PATIENT_OF_ROW = {
    "patients": "SELECT id FROM patients WHERE id = change_log.row_id",
    "lesions": "SELECT patient_id FROM lesions WHERE id = change_log.row_id",
    "lesion_reads": (
        "SELECT lesions.patient_id FROM lesion_reads JOIN lesions "
        "ON lesions.id = lesion_reads.lesion_id WHERE lesion_reads.id = change_log.row_id"
    ),
    "measurements": (
        "SELECT lesions.patient_id FROM measurements JOIN lesions "
        "ON lesions.id = measurements.lesion_id WHERE measurements.id = change_log.row_id"
    ),
    "exams": "SELECT patient_id FROM exams WHERE id = change_log.row_id",
    "therapy_lines": "SELECT patient_id FROM therapy_lines WHERE id = change_log.row_id",
    "sign_offs": "SELECT patient_id FROM sign_offs WHERE id = change_log.row_id",
    "case_facts": "SELECT patient_id FROM case_facts WHERE id = change_log.row_id",
    "analyses": "SELECT patient_id FROM analyses WHERE id = change_log.row_id",
}


def _create_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION change_log_append_only() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER change_log_no_update_or_delete BEFORE UPDATE OR DELETE "
            "ON change_log FOR EACH ROW EXECUTE FUNCTION change_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER change_log_no_truncate BEFORE TRUNCATE "
            "ON change_log FOR EACH STATEMENT EXECUTE FUNCTION change_log_append_only()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER change_log_no_{action.lower()} BEFORE {action} ON change_log "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
        )


def _drop_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER change_log_no_truncate ON change_log")
        op.execute("DROP TRIGGER change_log_no_update_or_delete ON change_log")
        op.execute("DROP FUNCTION change_log_append_only()")
        return
    op.execute("DROP TRIGGER change_log_no_update")
    op.execute("DROP TRIGGER change_log_no_delete")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("name", name=op.f("uq_users_name")),
    )
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_web_sessions_token_sha256")),
    )
    op.create_table(
        "dwi_curations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=False),
        sa.Column("removed_components", sa.JSON(), nullable=False),
        sa.Column("kept_components", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["exam_id"],
            ["exams.id"],
            name=op.f("fk_dwi_curations_exam_id_exams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dwi_curations")),
        sa.UniqueConstraint("exam_id", name=op.f("uq_dwi_curations_exam_id")),
    )
    with op.batch_alter_table("change_log") as batch:
        batch.add_column(sa.Column("patient_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_change_log_patient_id"), ["patient_id"], unique=False)
    for table, query in _PATIENT_OF_ROW.items():
        op.execute(
            sa.text(
                f"UPDATE change_log SET patient_id = ({query}) WHERE table_name = :table"
            ).bindparams(table=table)
        )
    _create_append_only_triggers()


def downgrade() -> None:
    """Undo this revision (the audit trail keeps its entries, without patient_id)."""
    _drop_append_only_triggers()
    with op.batch_alter_table("change_log") as batch:
        batch.drop_index(batch.f("ix_change_log_patient_id"))
        batch.drop_column("patient_id")
    op.drop_table("dwi_curations")
    op.drop_table("web_sessions")
    op.drop_table("users")
