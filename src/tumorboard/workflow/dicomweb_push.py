"""Push a patient's exported DICOM objects to a DICOMweb server (STOW-RS), idempotently.

:func:`push_patient` writes the objects of
:func:`tumorboard.workflow.export.export_patient` into a private temporary
folder, asks the server (QIDO-RS) which of their SOPInstanceUIDs it already
holds, and stores only the others, one STOW-RS request per study. The
export's UIDs are stable for the same content, so exporting the same record
twice sends nothing the second time and never duplicates an object; a changed
result has new UIDs and arrives as new objects (a new series: see the
versions of :mod:`tumorboard.workflow.export`).

After storing a study's objects the push asks the server again which it
holds: an object counts as sent only when the server lists it, so a server
that answers "stored" but discards an object (Orthanc does so for an object
its filter refuses) is caught. Every failure -- server down, credentials
refused, objects refused or discarded, a connection cut in the middle -- is
one :class:`DicomwebError` line that ends with how many objects this push
stored before it stopped (only those the server confirmed), and exporting
again sends the rest.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tumorboard.workflow.dicomweb_server import (
    DicomwebError,
    DicomwebServer,
    describe_failure,
)

if TYPE_CHECKING:
    from dicomweb_client import DICOMwebClient

__all__ = ["PushSummary", "push_patient"]

#: Objects sent in one STOW-RS request at most.
_BATCH = 50


@dataclass
class PushSummary:
    """What :func:`push_patient` did (the JSON of ``tumorboard export --dicomweb --json``).

    Attributes
    ----------
    host : str
        The server, as ``host:port``.
    counts : dict of str to int
        Objects exported, per type (seg, pm, sr).
    sent : int
        Objects stored by this push.
    already_on_server : int
        Objects the server held already (not sent again).
    """

    host: str
    counts: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    already_on_server: int = 0

    def as_json(self) -> dict[str, Any]:
        """The summary as plain JSON types.

        Examples
        --------
        >>> PushSummary("pacs:8042", {"sr": 2}, sent=2).as_json()["sent"]
        2
        """
        return {
            "dicomweb": self.host,
            "counts": dict(sorted(self.counts.items())),
            "sent": self.sent,
            "already_on_server": self.already_on_server,
        }


def push_patient(
    workspace: Any,
    patient_key: str,
    server: DicomwebServer,
    *,
    what: Sequence[str] | None,
    deidentify: bool = False,
    salt: str | None = None,
) -> PushSummary:
    """Export the patient's objects and store those the server lacks.

    Parameters
    ----------
    workspace : Workspace
    patient_key : str
    server : DicomwebServer
    what : sequence of str or None
        Object types (see :func:`tumorboard.workflow.export.parse_what`; None: all).
    deidentify : bool
    salt : str, optional
        As for :func:`tumorboard.workflow.export.export_patient`.

    Returns
    -------
    PushSummary

    Raises
    ------
    InputError
        Unknown patient or nothing to export (nothing is sent).
    DicomwebError
        The server is down, refused the credentials or refused objects.
    """
    import pydicom

    from tumorboard.workflow.export import export_patient

    summary = PushSummary(host=server.host)
    with tempfile.TemporaryDirectory(prefix="tumorboard-push-") as folder:
        exported = export_patient(
            workspace, patient_key, Path(folder), what=what, deidentify=deidentify, salt=salt
        )
        summary.counts = {kind: len(names) for kind, names in exported.files.items()}
        datasets = [
            pydicom.dcmread(Path(folder) / name)
            for names in exported.files.values()
            for name in names
        ]
        client = server.client()
        by_study: dict[str, list[Any]] = {}
        for dataset in datasets:
            by_study.setdefault(str(dataset.StudyInstanceUID), []).append(dataset)
        try:
            for study, members in by_study.items():
                _push_study(client, server, study, members, summary)
        except DicomwebError as exc:
            raise DicomwebError(
                f"{exc} ({summary.sent} of {len(datasets)} objects stored by this export "
                "before it stopped; export again to send the rest)"
            ) from None
    return summary


def _push_study(
    client: DICOMwebClient,
    server: DicomwebServer,
    study: str,
    members: list[Any],
    summary: PushSummary,
) -> None:
    """Store the study's objects the server lacks, and count those it then holds."""
    present = _on_server(client, server, study)
    new = [d for d in members if str(d.SOPInstanceUID) not in present]
    summary.already_on_server += len(members) - len(new)
    if not new:
        return
    refused = 0
    for start in range(0, len(new), _BATCH):
        refused += _store(client, server, study, new[start : start + _BATCH])
    held = _on_server(client, server, study)
    kept = [d for d in new if str(d.SOPInstanceUID) in held]
    summary.sent += len(kept)
    if refused or len(kept) < len(new):
        lost = len(new) - len(kept)
        why = "refused" if refused >= lost else "did not keep (refused or discarded)"
        raise DicomwebError(
            f"DICOMweb server {server.host}: {why} {lost} of {len(new)} objects "
            "while storing (STOW-RS)"
        )


def _on_server(client: DICOMwebClient, server: DicomwebServer, study: str) -> set[str]:
    """SOPInstanceUIDs of the study the server holds (none for an unknown study)."""
    import requests

    doing = "listing the study's objects on the server"
    try:
        found = client.search_for_instances(
            study_instance_uid=study, fields=["SOPInstanceUID"], get_remaining=True
        )
    except requests.exceptions.HTTPError as exc:
        if getattr(exc.response, "status_code", None) == 404:
            return set()
        raise describe_failure(server, exc, doing) from None
    except (requests.exceptions.RequestException, ValueError) as exc:
        raise describe_failure(server, exc, doing) from None
    uids: set[str] = set()
    for item in found:
        try:
            uids.add(str(item["00080018"]["Value"][0]))
        except (KeyError, IndexError, TypeError):
            continue
    return uids


def _store(client: DICOMwebClient, server: DicomwebServer, study: str, batch: list[Any]) -> int:
    """STOW-RS one batch; the number of objects the answer says were refused."""
    import requests

    doing = "storing objects (STOW-RS)"
    try:
        answer = client.store_instances(batch, study_instance_uid=study)
    except requests.exceptions.HTTPError as exc:
        raise describe_failure(server, exc, doing) from None
    except (requests.exceptions.RequestException, ValueError) as exc:
        raise describe_failure(server, exc, doing) from None
    return len(getattr(answer, "FailedSOPSequence", None) or [])
