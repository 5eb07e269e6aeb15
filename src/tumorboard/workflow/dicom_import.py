"""Import DICOM files into the record: each file once, each study merged.

:func:`import_paths` reads every file once, parsing its header and storing
it in the workspace's content-addressed object store (:mod:`.import_reading`,
on two processes for a large study), and records patients, studies, exams
(one per patient and study date), series with their kind
(:mod:`.series_kind`) and instances in ONE database transaction: a killed
import leaves the record as it was (stored objects without a row are reused
by the next import), and nothing half-imported is ever visible. The objects
are flushed to disk once, before the transaction commits. A file whose
SOPInstanceUID is already recorded is a duplicate and gets no row (an object
written for it is removed); a file at the same path with the same size and
modification time as one imported before is not even opened (its stamp is
kept in ``imported_files``), so re-importing a folder costs one ``stat`` per
file. A study that arrives in two parts is merged into one study row; its
series gain the new instances.

Files that are not DICOM, or lack the UIDs a record needs, are counted and
listed with the reason, never fatal. Patient names and birth dates are stored
(the board needs them) and never appear in messages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tumorboard.errors import TumorboardError
from tumorboard.imaging.dicom_scan import DicomSlice
from tumorboard.imaging.diffusion_dicom import b_value_of
from tumorboard.store.models import Exam, ImportedFile, Instance, Patient, Series, Study
from tumorboard.store.workspace import Workspace
from tumorboard.workflow.dates import parse_dicom_date
from tumorboard.workflow.import_reading import missing_uids, read_and_store
from tumorboard.workflow.input_files import (
    SkippedFile,
    gather_input_files,
    remove_stale_unpacked,
)
from tumorboard.workflow.series_kind import SeriesFacts, classify_series

__all__ = ["ImportSummary", "import_paths"]

#: How many UIDs are looked up in one query.
_LOOKUP_CHUNK = 500


@dataclass
class ImportSummary:
    """What one import did (the JSON of ``tumorboard import --json``)."""

    patients: int = 0
    studies: int = 0
    series: int = 0
    files: int = 0
    duplicates: int = 0
    skipped_files: list[SkippedFile] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain JSON types."""
        return {
            "patients": self.patients,
            "studies": self.studies,
            "series": self.series,
            "files": self.files,
            "duplicates": self.duplicates,
            "skipped_files": [
                {"path": item.shown_as, "reason": item.reason} for item in self.skipped_files
            ],
        }


@dataclass
class _FileFacts:
    """The header facts of one new file."""

    slice: DicomSlice
    sha256: str
    size_bytes: int
    text: dict[str, str | None]
    b_value: float | None


def import_paths(
    workspace: Workspace,
    paths: Iterable[Path],
    progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Import DICOM files from folders, zip archives and DICOMDIRs.

    Parameters
    ----------
    workspace : Workspace
        The open workspace.
    paths : iterable of Path
        What to import.
    progress : callable, optional
        Called as ``progress(done, total)`` after each file header is read.

    Returns
    -------
    ImportSummary
        ``patients``, ``studies`` and ``series`` touched by the import,
        ``files`` newly recorded, ``duplicates`` already in the record, and
        the ``skipped_files`` with their reasons.
    """
    workspace.objects.remove_stale_temporaries()
    with ExitStack() as scratch:
        unpacked = workspace.root / "tmp"
        remove_stale_unpacked(unpacked)
        files, skipped = gather_input_files([Path(p) for p in paths], scratch, unpacked)
        summary = ImportSummary(skipped_files=list(skipped))
        prefix = os.path.join(os.path.realpath(unpacked), "")
        stamps = {item.path: _stamp(item.path, prefix) for item in files}
        seen_before = _unchanged_files(workspace, [s for s in stamps.values() if s])
        to_read = [item for item in files if stamps[item.path] not in seen_before]
        headers, created = _read_files(workspace, to_read, summary, progress)
        unreadable = list(summary.skipped_files)
        for attempt in range(2):
            try:
                recorded = _record(workspace, headers, stamps, summary)
                break
            except IntegrityError:
                if attempt:  # pragma: no cover - a third writer in the same instant
                    raise
                summary.skipped_files = list(unreadable)  # another import won a race: again
        _remove_unused(workspace, created - recorded)
        summary.duplicates += len(files) - len(to_read)
    return summary


@dataclass(frozen=True)
class _Stamp:
    """Identity of a source file: digest of its absolute path, size and mtime."""

    path_sha256: str
    size_bytes: int
    mtime_ns: int


def _stamp(path: Path, unpacked_prefix: str) -> _Stamp | None:
    """The file's stamp; None for files unpacked from an archive (new every time)."""
    absolute = os.path.abspath(path)
    if absolute.startswith(unpacked_prefix):
        return None
    info = os.stat(absolute)
    digest = hashlib.sha256(os.fsencode(absolute)).hexdigest()
    return _Stamp(digest, info.st_size, info.st_mtime_ns)


def _unchanged_files(workspace: Workspace, stamps: list[_Stamp]) -> set[_Stamp]:
    """The stamps that match an imported file exactly (path, size and mtime)."""
    found: set[_Stamp] = set()
    with workspace.session() as session:
        for start in range(0, len(stamps), _LOOKUP_CHUNK):
            chunk = {s.path_sha256: s for s in stamps[start : start + _LOOKUP_CHUNK]}
            rows = session.execute(
                select(
                    ImportedFile.path_sha256, ImportedFile.size_bytes, ImportedFile.mtime_ns
                ).where(ImportedFile.path_sha256.in_(list(chunk)))
            )
            for key, size, mtime in rows:
                if chunk[key].size_bytes == size and chunk[key].mtime_ns == mtime:
                    found.add(chunk[key])
    return found


@dataclass
class _Header:
    """One readable file: its header, its input entry and the record's texts."""

    slice: DicomSlice
    item: Any
    text: dict[str, str | None]
    sha256: str | None


def _read_files(
    workspace: Workspace,
    files: list[Any],
    summary: ImportSummary,
    progress: Callable[[int, int], None] | None,
) -> tuple[list[_Header], set[str]]:
    """Read every file once, parsing its header and storing it (:mod:`.import_reading`).

    Returns
    -------
    headers : list of _Header
        The files that are DICOM, in input order (the others are added to
        ``summary.skipped_files``).
    created : set of str
        Digests of the objects this import wrote (to remove those that end
        up in no row: a duplicate SOPInstanceUID with other bytes).
    """
    headers: list[_Header] = []
    created: set[str] = set()
    total = len(files)
    report = None if progress is None else (lambda done: progress(done, total))
    found_files = read_and_store(workspace.objects, [item.path for item in files], report)
    for item, found in zip(files, found_files, strict=True):
        if found.slice is None:
            summary.skipped_files.append(SkippedFile(item.shown_as, found.skip_reason or ""))
            continue
        headers.append(_Header(found.slice, item, found.text, found.sha256))
        if found.created and found.sha256:
            created.add(found.sha256)
    return headers, created


def _remove_unused(workspace: Workspace, digests: set[str]) -> None:
    """Remove objects this import wrote that no row names.

    Such an object is a file whose SOPInstanceUID was already recorded with
    other bytes; no other import can record it (the UID is taken), so removing
    it races with nobody.
    """
    if not digests:
        return
    with workspace.session() as session:  # an object a row names (restored by this read) stays
        named = _named_objects(session, sorted(digests))
    for digest in digests - named:
        workspace.objects.path(digest).unlink(missing_ok=True)


def _named_objects(session: Session, digests: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(digests), _LOOKUP_CHUNK):
        chunk = digests[start : start + _LOOKUP_CHUNK]
        found.update(session.scalars(select(Instance.sha256).where(Instance.sha256.in_(chunk))))
    return found


def _missing_uids(header: _Header) -> list[str]:
    """The record's required UIDs that the file lacks (keys of :data:`_KEYWORDS`)."""
    return missing_uids(header.slice, header.text)


def _existing_instances(session: Session, uids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(uids), _LOOKUP_CHUNK):
        chunk = uids[start : start + _LOOKUP_CHUNK]
        found.update(
            session.scalars(
                select(Instance.sop_instance_uid).where(Instance.sop_instance_uid.in_(chunk))
            )
        )
    return found


def _record(
    workspace: Workspace,
    headers: list[_Header],
    stamps: dict[Path, _Stamp | None],
    summary: ImportSummary,
) -> set[str]:
    """Write the rows of the new files in one transaction; return the digests they name."""
    with workspace.session() as session:
        known = _existing_instances(session, [h.text["sop_uid"] or "" for h in headers])
        new: list[_FileFacts] = []
        seen: set[str] = set()
        recorded: dict[str, tuple[_Stamp, str]] = {}
        duplicates = 0
        for found in headers:
            item, text = found.item, found.text
            missing = _missing_uids(found)
            if missing:
                reason = "DICOM without " + ", ".join(_KEYWORDS[k] for k in missing)
                summary.skipped_files.append(SkippedFile(item.shown_as, reason))
                continue
            uid = text["sop_uid"] or ""
            stamp = stamps.get(item.path)
            if stamp is not None:
                recorded[stamp.path_sha256] = (stamp, uid)
            if uid in known or uid in seen:
                duplicates += 1
                continue
            seen.add(uid)
            sha = found.sha256 or workspace.objects.put_file(item.path)
            size = stamp.size_bytes if stamp else _size(item.path)
            new.append(_FileFacts(found.slice, sha, size, text, _b_value(found.slice)))
        summary.duplicates = duplicates
        summary.files = len(new)
        touched = _write_rows(session, new)
        summary.patients, summary.studies, summary.series = touched
        _remember_files(session, recorded)
        workspace.objects.sync()  # the objects are on disk before the rows naming them
    return {facts.sha256 for facts in new}


def _size(path: Path) -> int:
    return os.stat(path).st_size


def _remember_files(session: Session, recorded: dict[str, tuple[_Stamp, str]]) -> None:
    """Insert or refresh the stamps of the files read by this import.

    New stamps go in with one multi-row ``INSERT`` (an ORM object per file
    made this a tenth of a 10,000-file import); the few that changed are
    updated one by one.
    """
    keys = list(recorded)
    existing: dict[str, tuple[int, int, str]] = {}
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        chunk = keys[start : start + _LOOKUP_CHUNK]
        query = select(
            ImportedFile.path_sha256,
            ImportedFile.size_bytes,
            ImportedFile.mtime_ns,
            ImportedFile.sop_instance_uid,
        ).where(ImportedFile.path_sha256.in_(chunk))
        for key, size, mtime, uid in session.execute(query):
            existing[key] = (size, mtime, uid)
    rows = []
    for key, (stamp, uid) in recorded.items():
        now = (stamp.size_bytes, stamp.mtime_ns, uid)
        if key not in existing:
            rows.append(
                {
                    "path_sha256": key,
                    "size_bytes": stamp.size_bytes,
                    "mtime_ns": stamp.mtime_ns,
                    "sop_instance_uid": uid,
                }
            )
        elif existing[key] != now:
            session.execute(
                update(ImportedFile)
                .where(ImportedFile.path_sha256 == key)
                .values(size_bytes=stamp.size_bytes, mtime_ns=stamp.mtime_ns, sop_instance_uid=uid)
            )
    if rows:
        session.execute(insert(ImportedFile), rows)


_KEYWORDS = {
    "patient_id": "PatientID",
    "study_uid": "StudyInstanceUID",
    "sop_uid": "SOPInstanceUID",
    "series_uid": "SeriesInstanceUID",
}


def _b_value(header: DicomSlice) -> float | None:
    if not header.has_pixels:
        return None
    try:
        return b_value_of(header)
    except TumorboardError:
        return None


def _write_rows(session: Session, new: list[_FileFacts]) -> tuple[int, int, int]:
    by_series: dict[str, list[_FileFacts]] = {}
    for facts in new:
        by_series.setdefault(facts.slice.series_instance_uid, []).append(facts)
    patients: dict[str, Patient] = {}
    studies: dict[str, Study] = {}
    with session.no_autoflush:
        written = {
            uid: _write_series(session, patients, studies, uid, members)
            for uid, members in by_series.items()
        }
    session.flush()
    rows = [
        {
            "series_id": written[uid].id,
            "sop_instance_uid": facts.text["sop_uid"],
            "sop_class_uid": facts.text["sop_class"] or "",
            "sha256": facts.sha256,
            "size_bytes": facts.size_bytes,
        }
        for uid, members in by_series.items()
        for facts in members
    ]
    if rows:  # one executemany, not one ORM object per file
        session.execute(insert(Instance), rows)
    return len(patients), len(studies), len(by_series)


def _write_series(
    session: Session,
    patients: dict[str, Patient],
    studies: dict[str, Study],
    series_uid: str,
    members: list[_FileFacts],
) -> Series:
    first = members[0]
    patient = _patient(session, patients, first)
    study = _study(session, studies, patient, first)
    series = session.scalars(
        select(Series).where(Series.series_instance_uid == series_uid)
    ).one_or_none()
    kind_facts = _series_facts(members, series)
    if series is None:
        series = Series(
            study=study,
            series_instance_uid=series_uid,
            modality=first.text["modality"] or "OT",
            description=first.text["series_description"],
            protocol=first.text["protocol"],
            frame_of_reference_uid=first.text["frame_of_reference"],
            series_date=parse_dicom_date(first.text["series_date"]),
            tracer=_tracer(first.slice) if first.text["modality"] == "PT" else None,
            kind="",
        )
        session.add(series)
    series.b_values_s_per_mm2 = sorted(kind_facts.b_values_s_per_mm2) or None
    series.kind = classify_series(kind_facts).value
    return series


def _patient(session: Session, cache: dict[str, Patient], facts: _FileFacts) -> Patient:
    key = facts.text["patient_id"] or ""
    if key in cache:
        return cache[key]
    patient = session.scalars(select(Patient).where(Patient.patient_key == key)).one_or_none()
    if patient is None:
        dataset = facts.slice.dataset
        name = dataset.get("PatientName")
        patient = Patient(
            patient_key=key,
            name=str(name) if name else None,
            birth_date=parse_dicom_date(str(dataset.get("PatientBirthDate") or "")),
            sex=str(dataset.get("PatientSex") or "") or None,
        )
        session.add(patient)
    cache[key] = patient
    return patient


def _study(session: Session, cache: dict[str, Study], patient: Patient, facts: _FileFacts) -> Study:
    uid = facts.text["study_uid"] or ""
    if uid in cache:
        return cache[uid]
    study = session.scalars(select(Study).where(Study.study_instance_uid == uid)).one_or_none()
    if study is None:
        study_date = parse_dicom_date(facts.text["study_date"])
        study = Study(
            patient=patient,
            study_instance_uid=uid,
            study_date=study_date,
            description=facts.text["study_description"],
            accession_number=facts.text["accession"],
        )
        session.add(study)
        if study_date is not None:
            study.exam = _exam(session, patient, study_date)
    cache[uid] = study
    return study


def _exam(session: Session, patient: Patient, exam_date: dt.date) -> Exam:
    if patient.id is not None:
        exam = session.scalars(
            select(Exam).where(
                Exam.patient_id == patient.id, Exam.exam_date == exam_date, Exam.label == ""
            )
        ).one_or_none()
        if exam is not None:
            return exam
    for pending in session.new:
        if isinstance(pending, Exam) and pending.patient is patient:
            if pending.exam_date == exam_date:
                return pending
    exam = Exam(patient=patient, exam_date=exam_date, label="")
    session.add(exam)
    return exam


def _series_facts(members: list[_FileFacts], existing: Series | None) -> SeriesFacts:
    first = members[0]
    b_values = {f.b_value for f in members if f.b_value is not None}
    if existing is not None and existing.b_values_s_per_mm2:
        b_values.update(existing.b_values_s_per_mm2)
    positions = Counter(
        tuple(round(float(v), 2) for v in f.slice.image_position_mm)
        for f in members
        if f.slice.image_position_mm is not None
    )
    temporal = {f.text["temporal_position"] for f in members if f.text["temporal_position"]}
    declared = first.text["temporal_positions"]
    count = int(declared) if declared and declared.isdigit() else len(temporal)
    return SeriesFacts(
        modality=first.text["modality"] or "",
        sop_class_uid=first.text["sop_class"] or "",
        image_type=SeriesFacts.image_type_of(
            f.text["image_type"] or "" for f in members if f.text["image_type"]
        ),
        description=first.text["series_description"] or "",
        b_values_s_per_mm2=frozenset(b_values),
        instances_per_position=max(positions.values(), default=1),
        temporal_positions=count,
    )


def _tracer(header: DicomSlice) -> str | None:
    try:
        items = header.dataset.get("RadiopharmaceuticalInformationSequence") or []
        for item in items:
            text = item.get("Radiopharmaceutical")
            if text:
                return str(text)[:64]
            for code in item.get("RadiopharmaceuticalCodeSequence") or []:
                if code.get("CodeMeaning"):
                    return str(code.CodeMeaning)[:64]
    except (TypeError, ValueError, AttributeError, KeyError):
        return None
    return None
