"""Signing the case-report form: a frozen PDF per version, never overwritten.

A sign-off writes the patient's form as the record stands now (the same
writer as ``tumorboard report``), keeps its PDF in the object store and adds a
:class:`~tumorboard.store.models.SignOff` row with the next version number, the
signer and the time. A signed version is never changed: a later change to the
record is signed as a new version, and every earlier PDF stays readable.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from tumorboard.errors import InputError

__all__ = ["SignedForm", "sign_form", "signed_forms"]


@dataclass(frozen=True)
class SignedForm:
    """One signed version of a patient's case-report form.

    Attributes
    ----------
    version : int
        1 for the first signature, then 2, 3, ...
    signer : str
        Who signed.
    signed_at : datetime
        When (UTC).
    pdf_object_sha256 : str
        The frozen PDF in the workspace's object store.
    """

    version: int
    signer: str
    signed_at: dt.datetime
    pdf_object_sha256: str

    def as_json(self) -> dict[str, Any]:
        """The JSON of ``tumorboard sign --json`` and of the reading room."""
        return {
            "version": self.version,
            "signer": self.signer,
            "signed_at": self.signed_at.isoformat(),
            "pdf_object_sha256": self.pdf_object_sha256,
        }


def _patient(session: Any, patient_key: str, workspace: Any) -> Any:
    from tumorboard.store.models import Patient

    patient = session.scalars(
        select(Patient).where(Patient.patient_key == patient_key)
    ).one_or_none()
    if patient is None:
        raise InputError(f"sign: no patient with that id in workspace {workspace.root}")
    return patient


def sign_form(workspace: Any, patient_key: str, signer: str) -> SignedForm:
    """Freeze the patient's case-report form as a new signed version.

    Parameters
    ----------
    workspace : Workspace
    patient_key : str
        The patient's id in the record.
    signer : str
        The user who signs (kept on the sign-off and in the change log).

    Returns
    -------
    SignedForm
        The new version.

    Raises
    ------
    InputError
        Unknown patient, an empty signer, or a patient with nothing to report.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from tumorboard.store import init_workspace
    >>> workspace = init_workspace(Path(tempfile.mkdtemp()) / "board")
    >>> sign_form(workspace, "P-404", "dr-who")
    Traceback (most recent call last):
    ...
    tumorboard.errors.InputError: sign: no patient with that id in workspace ...
    """
    from tumorboard.store.models import ChangeLogEntry, SignOff
    from tumorboard.workflow.record_report import write_record_report

    signer = signer.strip()
    if not signer:
        raise InputError("sign: the signer's name must not be empty")
    with workspace.session() as session:
        _patient(session, patient_key, workspace)
    with tempfile.TemporaryDirectory(prefix="tumorboard-sign-") as scratch:
        staging = Path(scratch)
        write_record_report(workspace, patient_key, staging)
        pdf = staging / "crf.pdf"
        if not pdf.is_file():
            raise InputError("sign: the case-report form PDF was not written")
        sha256 = workspace.objects.put_file(pdf)
    with workspace.session() as session:
        patient = _patient(session, patient_key, workspace)
        latest = session.scalar(
            select(func.max(SignOff.version)).where(SignOff.patient_id == patient.id)
        )
        row = SignOff(
            patient_id=patient.id,
            version=(latest or 0) + 1,
            signer=signer,
            signed_at=dt.datetime.now(dt.UTC),
            pdf_object_sha256=sha256,
        )
        session.add(row)
        session.flush()
        session.add(
            ChangeLogEntry(
                table_name="sign_offs",
                row_id=row.id,
                field="version",
                old_value=None if latest is None else str(latest),
                new_value=str(row.version),
                author=signer,
            )
        )
        session.commit()
        return SignedForm(row.version, row.signer, row.signed_at, row.pdf_object_sha256)


def signed_forms(workspace: Any, patient_key: str) -> list[SignedForm]:
    """Every signed version of the patient's form, oldest first.

    Parameters
    ----------
    workspace : Workspace
    patient_key : str

    Returns
    -------
    list of SignedForm

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from tumorboard.store import init_workspace
    >>> workspace = init_workspace(Path(tempfile.mkdtemp()) / "board")
    >>> signed_forms(workspace, "P-404")
    Traceback (most recent call last):
    ...
    tumorboard.errors.InputError: sign: no patient with that id in workspace ...
    """
    from tumorboard.store.models import SignOff

    with workspace.session() as session:
        patient = _patient(session, patient_key, workspace)
        rows = session.scalars(
            select(SignOff).where(SignOff.patient_id == patient.id).order_by(SignOff.version)
        )
        return [SignedForm(r.version, r.signer, r.signed_at, r.pdf_object_sha256) for r in rows]
