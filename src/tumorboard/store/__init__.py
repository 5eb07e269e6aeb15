"""The patient record: a workspace on SQLite or PostgreSQL, and its object store.

``store`` knows tables and objects, not science: it keeps what the pipelines
computed, with provenance, and hands records to ``criteria``, ``guide`` and
``report``, which stay pure.

The names below are loaded on first use (PEP 562): the importer's reader
processes use only :mod:`tumorboard.store.objects` and start without loading
SQLAlchemy.
"""

from typing import TYPE_CHECKING

from tumorboard.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from tumorboard.store.database import (
        connect,
        current_revision,
        head_revision,
        upgrade_to_head,
    )
    from tumorboard.store.objects import ObjectStore, sha256_of_file
    from tumorboard.store.workspace import Workspace, init_workspace, open_workspace

#: Where each public name lives.
_HOMES = {
    "connect": "database",
    "current_revision": "database",
    "head_revision": "database",
    "upgrade_to_head": "database",
    "ObjectStore": "objects",
    "sha256_of_file": "objects",
    "Workspace": "workspace",
    "init_workspace": "workspace",
    "open_workspace": "workspace",
}

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


__getattr__, __dir__ = lazy_exports(__name__, globals(), _HOMES)
