"""Alembic environment of the tumorboard record.

Run only through :func:`tumorboard.store.database.upgrade_to_head`, which passes
an open connection in ``config.attributes["connection"]``; there is no
``alembic.ini`` to point at a database by accident.
"""

from __future__ import annotations

from alembic import context

from tumorboard.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - guarded by upgrade_to_head
    raise RuntimeError("tumorboard migrations run only through tumorboard.store.database")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
