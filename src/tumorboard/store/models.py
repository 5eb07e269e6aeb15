"""The patient record: SQLAlchemy 2 typed ORM tables.

One table per concept of the record (patients, studies, series, instances,
exams, therapy lines, tracked lesions, measurements, analyses with their
provenance, assessments, case facts, sign-offs and the change log) and of
the reading room (users, web sessions, WB-DWI curations). The tables know
nothing of science: the pipelines compute, the record keeps what
they computed and where it came from.

Patient names and birth dates are stored because the board needs them on the
identified form; ``__repr__`` of every row leaves them out, so a row printed
in a log or a traceback shows no identifier.

The schema is created only through the Alembic migrations in
``tumorboard/store/migrations`` (a test checks that these models and the
migrations agree); never with ``metadata.create_all``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Connection,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Mapper, mapped_column, relationship

__all__ = [
    "Analysis",
    "AnalysisInput",
    "AnalysisOutput",
    "Assessment",
    "Base",
    "CaseFacts",
    "ChangeLogEntry",
    "DwiCuration",
    "Exam",
    "ImportedFile",
    "Instance",
    "Lesion",
    "LesionRead",
    "Measurement",
    "Patient",
    "Series",
    "SignOff",
    "Study",
    "TherapyLine",
    "USER_ROLES",
    "User",
    "WebSession",
]

#: Constraint names fixed by convention, so that migrations are the same on
#: SQLite and PostgreSQL and can be altered later by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Length of a DICOM UI value (PS3.5 Table 6.2-1).
UID_LENGTH = 64


def utc_now() -> dt.datetime:
    """Return the current time in UTC, timezone-aware.

    Examples
    --------
    >>> utc_now().tzinfo is not None
    True
    """
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of every record table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    def __repr__(self) -> str:
        """Show the table and primary key only (never patient attributes)."""
        return f"<{type(self).__name__} id={getattr(self, 'id', None)}>"


class Patient(Base):
    """A patient, keyed by the DICOM PatientID as imported."""

    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(16))
    next_board_date: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    studies: Mapped[list[Study]] = relationship(back_populates="patient")
    exams: Mapped[list[Exam]] = relationship(back_populates="patient")


class Exam(Base):
    """A timepoint of a patient: the studies of one visit, assessed together."""

    __tablename__ = "exams"
    __table_args__ = (UniqueConstraint("patient_id", "exam_date", "label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    exam_date: Mapped[dt.date] = mapped_column(Date)
    label: Mapped[str] = mapped_column(String(64), default="")
    is_baseline: Mapped[bool] = mapped_column(default=False)

    patient: Mapped[Patient] = relationship(back_populates="exams")
    studies: Mapped[list[Study]] = relationship(back_populates="exam")


class Study(Base):
    """A DICOM study (StudyInstanceUID); a study arriving in parts is one row."""

    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    exam_id: Mapped[int | None] = mapped_column(ForeignKey("exams.id", ondelete="SET NULL"))
    study_instance_uid: Mapped[str] = mapped_column(String(UID_LENGTH), unique=True)
    study_date: Mapped[dt.date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(String(200))
    accession_number: Mapped[str | None] = mapped_column(String(64))

    patient: Mapped[Patient] = relationship(back_populates="studies")
    exam: Mapped[Exam | None] = relationship(back_populates="studies")
    series: Mapped[list[Series]] = relationship(back_populates="study")


class Series(Base):
    """A DICOM series with its classification (what kind of acquisition it is)."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"))
    series_instance_uid: Mapped[str] = mapped_column(String(UID_LENGTH), unique=True)
    modality: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(String(200))
    protocol: Mapped[str | None] = mapped_column(String(200))
    tracer: Mapped[str | None] = mapped_column(String(64))
    b_values_s_per_mm2: Mapped[list[float] | None] = mapped_column(JSON)
    frame_of_reference_uid: Mapped[str | None] = mapped_column(String(UID_LENGTH))
    series_date: Mapped[dt.date | None] = mapped_column(Date)

    study: Mapped[Study] = relationship(back_populates="series")
    instances: Mapped[list[Instance]] = relationship(back_populates="series")


class Instance(Base):
    """One DICOM file, kept in the content-addressed object store."""

    __tablename__ = "instances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    sop_instance_uid: Mapped[str] = mapped_column(String(UID_LENGTH), unique=True)
    sop_class_uid: Mapped[str] = mapped_column(String(UID_LENGTH))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)

    series: Mapped[Series] = relationship(back_populates="instances")


class ImportedFile(Base):
    """A source file already imported, so that a re-import need not read it again.

    Keyed by the SHA-256 of its absolute path; a file whose size and
    modification time are unchanged is the same file (as rsync and git
    decide), and its instance is already in the record.
    """

    __tablename__ = "imported_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    sop_instance_uid: Mapped[str] = mapped_column(String(UID_LENGTH))


class TherapyLine(Base):
    """A line of therapy (drug, class, start and end)."""

    __tablename__ = "therapy_lines"
    __table_args__ = (UniqueConstraint("patient_id", "line_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    line_number: Mapped[int] = mapped_column(Integer)
    drug: Mapped[str | None] = mapped_column(String(200))
    drug_class: Mapped[str | None] = mapped_column(String(64))
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    baseline_exam_id: Mapped[int | None] = mapped_column(
        ForeignKey("exams.id", ondelete="SET NULL")
    )


class Lesion(Base):
    """A tracked lesion with a stable tracking UID across timepoints."""

    __tablename__ = "lesions"
    __table_args__ = (UniqueConstraint("patient_id", "label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    tracking_uid: Mapped[str] = mapped_column(String(UID_LENGTH), unique=True)
    label: Mapped[str] = mapped_column(String(64))
    organ: Mapped[str | None] = mapped_column(String(64))
    is_node: Mapped[bool] = mapped_column(default=False)
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("lesions.id", ondelete="SET NULL")
    )


class Analysis(Base):
    """One run of a pipeline, with the provenance needed to reuse or repeat it."""

    __tablename__ = "analyses"
    __table_args__ = (UniqueConstraint("kind", "inputs_sha256", "settings_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    exam_id: Mapped[int | None] = mapped_column(ForeignKey("exams.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    tumorboard_version: Mapped[str] = mapped_column(String(32))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    settings_sha256: Mapped[str] = mapped_column(String(64))
    inputs_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    #: ``host:pid`` of the run working on it while ``status`` is ``running``
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    #: The analysis's JSON result (e.g. the WB-DWI ``summary.json``), no identifiers
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AnalysisInput(Base):
    """An input of an analysis: a series (by UID) and the digest of its files."""

    __tablename__ = "analysis_inputs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"))
    series_instance_uid: Mapped[str] = mapped_column(String(UID_LENGTH))
    sha256: Mapped[str] = mapped_column(String(64))


class AnalysisOutput(Base):
    """An output object of an analysis (a map, mask or figure in the object store)."""

    __tablename__ = "analysis_outputs"
    __table_args__ = (UniqueConstraint("analysis_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    object_sha256: Mapped[str] = mapped_column(String(64))


class LesionRead(Base):
    """How a lesion was read at one exam: modality, role, status and row notes.

    The numbers of the read are :class:`Measurement` rows; together they are
    one row of the ``assess`` measurement table.
    """

    __tablename__ = "lesion_reads"
    __table_args__ = (UniqueConstraint("lesion_id", "exam_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lesion_id: Mapped[int] = mapped_column(ForeignKey("lesions.id", ondelete="CASCADE"))
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"))
    modality: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32))
    notes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class Measurement(Base):
    """One value of one lesion at one exam, with its source and author.

    ``value_text`` is the number exactly as measured or entered (the criteria
    compute with exact decimals); ``value`` is the same number as a float for
    queries and plots.
    """

    __tablename__ = "measurements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lesion_id: Mapped[int] = mapped_column(ForeignKey("lesions.id", ondelete="CASCADE"))
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"))
    quantity: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(String(48))
    unit: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    analysis_id: Mapped[int | None] = mapped_column(ForeignKey("analyses.id", ondelete="SET NULL"))
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class Assessment(Base):
    """The response of one criteria at one exam, against baseline and nadir."""

    __tablename__ = "assessments"
    __table_args__ = (UniqueConstraint("exam_id", "criteria"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"))
    criteria: Mapped[str] = mapped_column(String(16))
    vs_baseline: Mapped[str | None] = mapped_column(String(16))
    vs_nadir: Mapped[str | None] = mapped_column(String(16))
    overall: Mapped[str | None] = mapped_column(String(16))
    analysis_id: Mapped[int | None] = mapped_column(ForeignKey("analyses.id", ondelete="SET NULL"))


class CaseFacts(Base):
    """Facts of the case for the reading guide, versioned by time of entry."""

    __tablename__ = "case_facts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    author: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class SignOff(Base):
    """A signed version of the case-report form, frozen as a PDF object."""

    __tablename__ = "sign_offs"
    __table_args__ = (UniqueConstraint("patient_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    signer: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    pdf_object_sha256: Mapped[str] = mapped_column(String(64))


class ChangeLogEntry(Base):
    """Who changed what and when, with the old and new value (the audit trail).

    The table is append-only: triggers of migration 0003 refuse UPDATE and
    DELETE on SQLite and PostgreSQL (and TRUNCATE on PostgreSQL).
    ``patient_id`` names the patient the changed row belongs to (None for rows
    of no patient, e.g. users); a writer that leaves it out gets it filled
    from ``table_name`` and ``row_id`` when the entry is inserted.
    """

    __tablename__ = "change_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64))
    row_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    #: No foreign key: the audit trail outlives what it describes.
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)


#: How the patient of a change-log entry is found from its table and row id.
PATIENT_OF_ROW = {
    "patients": "SELECT id FROM patients WHERE id = :row_id",
    "lesions": "SELECT patient_id FROM lesions WHERE id = :row_id",
    "lesion_reads": (
        "SELECT lesions.patient_id FROM lesion_reads JOIN lesions "
        "ON lesions.id = lesion_reads.lesion_id WHERE lesion_reads.id = :row_id"
    ),
    "measurements": (
        "SELECT lesions.patient_id FROM measurements JOIN lesions "
        "ON lesions.id = measurements.lesion_id WHERE measurements.id = :row_id"
    ),
    "exams": "SELECT patient_id FROM exams WHERE id = :row_id",
    "therapy_lines": "SELECT patient_id FROM therapy_lines WHERE id = :row_id",
    "sign_offs": "SELECT patient_id FROM sign_offs WHERE id = :row_id",
    "case_facts": "SELECT patient_id FROM case_facts WHERE id = :row_id",
    "analyses": "SELECT patient_id FROM analyses WHERE id = :row_id",
    "dwi_curations": (
        "SELECT exams.patient_id FROM dwi_curations JOIN exams "
        "ON exams.id = dwi_curations.exam_id WHERE dwi_curations.id = :row_id"
    ),
}


@event.listens_for(ChangeLogEntry, "before_insert")
def _fill_patient_id(_mapper: Mapper[Any], connection: Connection, entry: ChangeLogEntry) -> None:
    """Name the patient of an entry whose writer did not."""
    if entry.patient_id is not None:
        return
    query = PATIENT_OF_ROW.get(entry.table_name)
    if query is not None:
        entry.patient_id = connection.execute(text(query), {"row_id": entry.row_id}).scalar()


#: Roles of a reading-room user, from least to most allowed.
USER_ROLES = ("viewer", "reader", "admin")


class User(Base):
    """A local account of the reading room (``tumorboard user add``).

    ``password_hash`` is an argon2id hash in PHC string format; the password
    itself is never stored.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    disabled: Mapped[bool] = mapped_column(default=False)


class WebSession(Base):
    """A signed-in browser: only the SHA-256 of its random token is kept."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class DwiCuration(Base):
    """A reader's curation of an exam's WB-DWI components.

    ``removed_components`` are candidate component ids taken out of the
    tumour load; ``kept_components`` are ids kept on purpose (e.g. below the
    minimum volume). ``version`` counts the changes: a writer names the
    version it saw, and a stale one is refused (optimistic concurrency).
    """

    __tablename__ = "dwi_curations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    exam_id: Mapped[int] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), unique=True)
    removed_components: Mapped[list[int]] = mapped_column(JSON, default=list)
    kept_components: Mapped[list[int]] = mapped_column(JSON, default=list)
    version: Mapped[int] = mapped_column(Integer, default=0)
    author: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
