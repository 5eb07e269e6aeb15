"""The patient record: a workspace on SQLite or PostgreSQL, and its object store.

``store`` knows tables and objects, not science: it keeps what the pipelines
computed, with provenance, and hands records to ``criteria``, ``guide`` and
``report``, which stay pure.
"""

from tumorboard.store.database import connect, current_revision, head_revision, upgrade_to_head
from tumorboard.store.objects import ObjectStore, sha256_of_file
from tumorboard.store.workspace import Workspace, init_workspace, open_workspace

__all__ = [
    "ObjectStore",
    "Workspace",
    "connect",
    "current_revision",
    "head_revision",
    "init_workspace",
    "open_workspace",
    "sha256_of_file",
    "upgrade_to_head",
]
