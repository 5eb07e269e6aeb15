"""Pull studies from a DICOMweb server (QIDO-RS, WADO-RS) into the record, resumably.

:func:`pull_studies` asks the server (QIDO-RS) which studies match the
``--patient-id`` and ``--study`` selections and which instances each study
holds, skips the instances whose SOPInstanceUID the record already has or
that an earlier, interrupted pull already staged, retrieves the others
(WADO-RS) and imports the staged files with
:func:`tumorboard.workflow.dicom_import.import_paths`, in one transaction.

Staging: each retrieved instance is written, as the bytes the server sent, to
``WORKSPACE/.pull/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``
through a temporary file renamed into place, so a staged file is always
whole; a pull that is interrupted (network cut, server stopped, Ctrl-C)
leaves the record as it was and its staged files for the next pull, which
fetches only what is still missing. A series of which nothing is present is
retrieved as one WADO-RS series request (streamed, each instance staged as
it arrives), the rest instance by instance. Staged files left by an earlier
pull are read back before they are imported (one that does not read, or
holds another instance, is removed and fetched again). Every instance must
carry the UIDs and PatientID the record needs before anything is imported,
so the import takes all of the pull or none of it. After the import the
study's staging folder is removed.

Messages name the server by ``host:port`` and the selections by their
position on the command line, never by a patient id, a name or a password.
"""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from tumorboard.workflow.dicomweb_server import (
    DicomwebError,
    DicomwebServer,
    describe_failure,
    is_uid,
)

if TYPE_CHECKING:
    from dicomweb_client import DICOMwebClient
    from pydicom.dataset import Dataset

    from tumorboard.store.workspace import Workspace
    from tumorboard.workflow.dicom_import import ImportSummary

__all__ = ["PULL_FOLDER", "PullSummary", "pull_studies", "staging_folder"]

#: Folder of the workspace where retrieved instances wait for the import.
PULL_FOLDER = ".pull"

_STUDY_UID = "0020000D"
_SERIES_UID = "0020000E"
_SOP_UID = "00080018"

#: Any transfer syntax the server holds (no transcoding on the server).
_ANY_SYNTAX = (("application/dicom", "*"),)

#: How many SOPInstanceUIDs are looked up in the record per query.
_LOOKUP_CHUNK = 500

#: Threads that remove the staged files after the import.
_REMOVE_THREADS = 4

#: What the record needs of every instance (as :mod:`.dicom_import` does).
_REQUIRED = ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")


@dataclass
class PullSummary:
    """What one pull did (the ``dicomweb`` part of ``tumorboard import --json``).

    Attributes
    ----------
    host : str
        The server, as ``host:port``.
    studies : int
        Studies selected on the server.
    instances : int
        Instances the server lists for them.
    fetched : int
        Instances retrieved by this pull.
    staged_before : int
        Instances an earlier, interrupted pull had retrieved.
    in_record_before : int
        Instances the record already held (not retrieved).
    imported : ImportSummary, optional
        The import of the staged files.
    """

    host: str
    studies: int = 0
    instances: int = 0
    fetched: int = 0
    staged_before: int = 0
    in_record_before: int = 0
    imported: ImportSummary | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain JSON types.

        Examples
        --------
        >>> PullSummary("pacs:8042", studies=1, instances=3, fetched=3).as_dict()["fetched"]
        3
        """
        return {
            "host": self.host,
            "studies": self.studies,
            "instances": self.instances,
            "fetched": self.fetched,
            "staged_before": self.staged_before,
            "in_record_before": self.in_record_before,
        }


@dataclass(frozen=True)
class _Listed:
    study: str
    series: str
    sop: str


def staging_folder(workspace_root: Path, study_uid: str) -> Path:
    """Where the instances of a study wait between retrieval and import.

    Examples
    --------
    >>> staging_folder(Path("/w"), "1.2.3").as_posix()
    '/w/.pull/1.2.3'
    """
    if not is_uid(study_uid):
        raise DicomwebError("the server sent an invalid StudyInstanceUID")
    return Path(workspace_root) / PULL_FOLDER / study_uid


def pull_studies(
    workspace: Workspace,
    server: DicomwebServer,
    *,
    patient_ids: Sequence[str] = (),
    study_uids: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
    import_progress: Callable[[int, int], None] | None = None,
) -> PullSummary:
    """Retrieve the selected studies from ``server`` and import them.

    Parameters
    ----------
    workspace : Workspace
        The open workspace.
    server : DicomwebServer
        The DICOMweb service.
    patient_ids : sequence of str
        Every study of each of these patients (QIDO-RS on PatientID).
    study_uids : sequence of str
        These studies.
    progress : callable, optional
        Called as ``progress(done, total)`` after each retrieved instance.
    import_progress : callable, optional
        Passed to :func:`~tumorboard.workflow.dicom_import.import_paths`.

    Returns
    -------
    PullSummary

    Raises
    ------
    InputError
        No selection, or a malformed StudyInstanceUID.
    DicomwebError
        The server is down, refused the credentials, does not know a selected
        study, or the retrieval failed; the record is unchanged then.
    """
    from tumorboard.errors import InputError

    if not patient_ids and not study_uids:
        raise InputError("--dicomweb needs at least one --patient-id or --study")
    for number, uid in enumerate(study_uids, start=1):
        if not is_uid(uid):
            raise InputError(f"--study #{number}: not a DICOM UID (digits and dots)")
    client = server.client()
    summary = PullSummary(host=server.host)
    studies = _select_studies(client, server, patient_ids, study_uids)
    summary.studies = len(studies)
    listed = [item for study in studies for item in _list_instances(client, server, study)]
    summary.instances = len(listed)
    in_record = _recorded(workspace, [item.sop for item in listed])
    summary.in_record_before = len(in_record)
    staged = _staged_files(workspace.root, studies)
    wanted = [item for item in listed if item.sop not in in_record]
    present = {item.sop for item in wanted if item.sop in staged}
    summary.staged_before = len(present)
    missing = [item for item in wanted if item.sop not in present]
    begun = {
        (item.study, item.series) for item in listed if item.sop in in_record or item.sop in present
    }
    summary.fetched = _fetch(client, server, workspace.root, missing, begun, progress)
    folders = [staging_folder(workspace.root, s) for s in studies]
    folders = [f for f in folders if f.is_dir()]
    if folders:
        from tumorboard.workflow.dicom_import import import_paths

        summary.imported = import_paths(workspace, folders, progress=import_progress)
        _check_imported(workspace, wanted, summary.imported)
    _remove_staging(folders)
    _remove_if_empty(workspace.root / PULL_FOLDER)
    return summary


def _select_studies(
    client: DICOMwebClient,
    server: DicomwebServer,
    patient_ids: Sequence[str],
    study_uids: Sequence[str],
) -> list[str]:
    """The StudyInstanceUIDs selected, in order, each once."""
    chosen: list[str] = []
    for number, patient in enumerate(patient_ids, start=1):
        found = _query(
            server,
            f"searching the studies of --patient-id #{number}",
            partial(
                client.search_for_studies,
                search_filters={"PatientID": patient},
                fields=["StudyInstanceUID"],
                get_remaining=True,
            ),
        )
        uids = [_value(item, _STUDY_UID) for item in found]
        if not uids:
            raise DicomwebError(
                f"DICOMweb server {server.host}: no study of the patient of --patient-id #{number}"
            )
        chosen.extend(uids)
    chosen.extend(study_uids)
    return list(dict.fromkeys(chosen))


def _list_instances(client: DICOMwebClient, server: DicomwebServer, study: str) -> list[_Listed]:
    found = _query(
        server,
        "listing the instances of a study",
        lambda: client.search_for_instances(
            study_instance_uid=study,
            fields=["SeriesInstanceUID", "SOPInstanceUID"],
            get_remaining=True,
        ),
    )
    listed = [_Listed(study, _value(item, _SERIES_UID), _value(item, _SOP_UID)) for item in found]
    if not listed:
        raise DicomwebError(
            f"DICOMweb server {server.host}: no study with the StudyInstanceUID given "
            "(or the study holds no instance)"
        )
    return list({item.sop: item for item in listed}.values())


def _query(server: DicomwebServer, doing: str, call: Callable[[], Any]) -> list[dict[str, Any]]:
    """Run a QIDO-RS search; network and HTTP failures become one DicomwebError line."""
    import requests

    try:
        answer = call()
    except requests.exceptions.HTTPError as exc:
        if _status(exc) == 404 and "listing" in doing:
            return []  # an unknown study: said as such by the caller
        raise describe_failure(server, exc, doing) from None
    except (requests.exceptions.RequestException, ValueError) as exc:
        raise describe_failure(server, exc, doing) from None
    if not isinstance(answer, list) or not all(isinstance(a, dict) for a in answer):
        raise DicomwebError(f"DICOMweb server {server.host}: unusable answer while {doing}")
    return answer


def _status(exc: Any) -> int | None:
    code = getattr(getattr(exc, "response", None), "status_code", None)
    return code if isinstance(code, int) else None


def _value(item: dict[str, Any], tag: str) -> str:
    """The UID of a QIDO-RS result, checked (the server names files in staging)."""
    try:
        value = item[tag]["Value"][0]
    except (KeyError, IndexError, TypeError):
        value = None
    if not is_uid(value):
        raise DicomwebError("the DICOMweb server sent a search result without a valid UID")
    return str(value)


def _recorded(workspace: Workspace, uids: list[str]) -> set[str]:
    from tumorboard.store.models import Instance

    found: set[str] = set()
    with workspace.session() as session:
        for start in range(0, len(uids), _LOOKUP_CHUNK):
            chunk = uids[start : start + _LOOKUP_CHUNK]
            found.update(
                session.scalars(
                    select(Instance.sop_instance_uid).where(Instance.sop_instance_uid.in_(chunk))
                )
            )
    return found


def _staged_files(root: Path, studies: Iterable[str]) -> dict[str, Path]:
    """Instances an earlier pull staged, read back (unreadable ones removed)."""
    import pydicom

    staged: dict[str, Path] = {}
    for study in studies:
        folder = staging_folder(root, study)
        if not folder.is_dir():
            continue
        for leftover in folder.rglob("*.part"):
            leftover.unlink(missing_ok=True)
        for path in folder.rglob("*.dcm"):
            try:
                dataset = pydicom.dcmread(path)
                intact = (
                    str(dataset.SOPInstanceUID) == path.stem
                    and str(dataset.StudyInstanceUID) == study
                    and _missing_keys(dataset) == []
                )
            except Exception:  # noqa: BLE001 - any unreadable file is fetched again
                intact = False
            if intact:
                staged[path.stem] = path
            else:
                path.unlink(missing_ok=True)
    return staged


def _missing_keys(dataset: Dataset) -> list[str]:
    return [key for key in _REQUIRED if not str(dataset.get(key, "") or "").strip()]


def _fetch(
    client: DICOMwebClient,
    server: DicomwebServer,
    root: Path,
    missing: list[_Listed],
    begun: set[tuple[str, str]],
    progress: Callable[[int, int], None] | None,
) -> int:
    """Retrieve and stage the missing instances; return how many were retrieved.

    A series of which nothing is present yet is asked for whole (one request);
    of the ``begun`` series only the missing instances are asked for.
    """
    import requests

    by_series: dict[tuple[str, str], list[_Listed]] = {}
    for item in missing:
        by_series.setdefault((item.study, item.series), []).append(item)
    fetched = 0
    total = len(missing)

    def staged(dataset: Dataset, expected: _Listed | None, study: str, series: str) -> None:
        nonlocal fetched
        _stage(root, dataset, expected, study, series, server)
        fetched += 1
        if progress is not None:
            progress(fetched, total)

    doing = "retrieving instances"
    try:
        for (study, series), members in by_series.items():
            if (study, series) not in begun and len(members) > 1:
                wanted = {m.sop for m in members}
                received: set[str] = set()
                for dataset in client.iter_series(study, series, media_types=_ANY_SYNTAX):
                    uid = str(dataset.get("SOPInstanceUID", ""))
                    if uid not in wanted or uid in received:
                        continue  # not listed when we asked, or sent twice
                    staged(dataset, None, study, series)
                    received.add(uid)
                members = [m for m in members if m.sop not in received]
            for item in members:
                dataset = client.retrieve_instance(
                    item.study, item.series, item.sop, media_types=_ANY_SYNTAX
                )
                staged(dataset, item, study, series)
    except DicomwebError:
        raise
    except requests.exceptions.HTTPError as exc:
        raise _cut(describe_failure(server, exc, doing), fetched, total) from None
    except (requests.exceptions.RequestException, ValueError, EOFError) as exc:
        raise _cut(describe_failure(server, exc, doing), fetched, total) from None
    return fetched


def _cut(error: DicomwebError, fetched: int, total: int) -> DicomwebError:
    """The failure, saying what is kept for the next pull."""
    return DicomwebError(
        f"{error}; {fetched} of {total} instances retrieved are kept and the same command "
        "resumes; nothing was imported"
    )


def _stage(
    root: Path,
    dataset: Dataset,
    expected: _Listed | None,
    study: str,
    series: str,
    server: DicomwebServer,
) -> Path:
    """Write one retrieved instance into staging, whole or not at all."""
    import pydicom

    sop = str(dataset.get("SOPInstanceUID", ""))
    if (
        not is_uid(sop)
        or (expected is not None and sop != expected.sop)
        or str(dataset.get("StudyInstanceUID", "")) != study
        or str(dataset.get("SeriesInstanceUID", "")) != series
    ):
        raise DicomwebError(
            f"DICOMweb server {server.host}: sent an instance other than the one asked for; "
            "nothing was imported"
        )
    lacking = _missing_keys(dataset)
    if lacking:
        raise DicomwebError(
            f"DICOMweb server {server.host}: an instance of the study has no "
            f"{', '.join(lacking)}; the record needs it, nothing was imported"
        )
    folder = staging_folder(root, study) / series
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{sop}.dcm"
    temporary = folder / f".{sop}.{uuid.uuid4().hex[:8]}.part"
    received = _received_bytes(dataset)
    try:
        if received is not None:
            with open(temporary, "wb") as handle:
                handle.write(received)
        else:
            pydicom.dcmwrite(temporary, dataset, enforce_file_format=False)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def _received_bytes(dataset: Dataset) -> bytes | None:
    """The Part 10 bytes the server sent, when pydicom kept them (``FileDataset.buffer``).

    Writing them as they came is exact and much cheaper than encoding the
    dataset again; without them the dataset is written with pydicom.
    """
    buffer = getattr(dataset, "buffer", None)
    if isinstance(buffer, io.BytesIO) and not buffer.closed:
        data = buffer.getvalue()
        if data[128:132] == b"DICM":
            return data
    return None


def _check_imported(workspace: Workspace, wanted: list[_Listed], imported: ImportSummary) -> None:
    """Every retrieved instance is in the record now (else say so; the rest is kept)."""
    recorded = _recorded(workspace, [item.sop for item in wanted])
    lost = len(wanted) - len(recorded)
    if lost:
        reasons = sorted({item.reason for item in imported.skipped_files})[:3]
        raise DicomwebError(
            f"{lost} retrieved instances could not be imported ({'; '.join(reasons) or 'unknown'})"
        )


def _remove_staging(folders: list[Path]) -> None:
    """Remove the imported staging folders (files unlinked by a few threads: I/O bound)."""
    from concurrent.futures import ThreadPoolExecutor

    files = [path for folder in folders for path in folder.rglob("*") if path.is_file()]
    with ThreadPoolExecutor(max_workers=_REMOVE_THREADS) as pool:
        list(pool.map(_unlink_quietly, files))
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass
