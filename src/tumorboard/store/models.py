"""The patient record: SQLAlchemy 2 typed ORM tables.

One table per concept of the record (patients, studies, series, instances,
exams, therapy lines, tracked lesions, measurements, analyses with their
provenance, assessments, case facts, sign-offs and the change log). The
tables know nothing of science: the pipelines compute, the record keeps what
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
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Analysis",
    "AnalysisInput",
    "AnalysisOutput",
    "Assessment",
    "Base",
    "CaseFacts",
    "ChangeLogEntry",
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
    """Who changed what and when, with the old and new value (the audit trail)."""

    __tablename__ = "change_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64))
    row_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
