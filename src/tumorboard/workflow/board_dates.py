"""The date of a patient's next tumour board, as the worklist orders patients by it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from tumorboard.errors import InputError

__all__ = ["set_next_board_date"]


def set_next_board_date(
    workspace: Any, patient_key: str, board_date: dt.date | None, *, author: str
) -> dict[str, Any]:
    """Set (or clear, with ``None``) the date of the patient's next tumour board.

    The change is kept in the change log (who, when, old and new date).

    Parameters
    ----------
    workspace : Workspace
    patient_key : str
        The patient's id in the record.
    board_date : date or None
        The board's date; ``None`` clears it.
    author : str
        Who sets it.

    Returns
    -------
    dict
        ``patient_id``, ``next_board_date`` (ISO date or None) and ``changed``.

    Raises
    ------
    InputError
        Unknown patient.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from tumorboard.store import init_workspace
    >>> ws = init_workspace(Path(tempfile.mkdtemp()) / "board")
    >>> set_next_board_date(ws, "P-404", dt.date(2025, 3, 4), author="coordinator")
    Traceback (most recent call last):
    ...
    tumorboard.errors.InputError: board date: no patient with that id in the record
    >>> ws.close()
    """
    from tumorboard.store.models import ChangeLogEntry, Patient

    with workspace.session() as session:
        patient = session.scalars(
            select(Patient).where(Patient.patient_key == patient_key)
        ).one_or_none()
        if patient is None:
            raise InputError("board date: no patient with that id in the record")
        old = patient.next_board_date
        changed = old != board_date
        if changed:
            patient.next_board_date = board_date
            session.add(
                ChangeLogEntry(
                    table_name="patients",
                    row_id=patient.id,
                    patient_id=patient.id,
                    field="next_board_date",
                    old_value=None if old is None else old.isoformat(),
                    new_value=None if board_date is None else board_date.isoformat(),
                    author=author,
                )
            )
            session.commit()
        return {
            "patient_id": patient_key,
            "next_board_date": None if board_date is None else board_date.isoformat(),
            "changed": changed,
        }
