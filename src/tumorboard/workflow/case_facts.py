"""The case facts of a patient for the reading guide, versioned by time of entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from tumorboard.errors import InputError

__all__ = ["latest_case_facts", "set_case_facts"]


def set_case_facts(workspace: Any, patient_key: str, facts_json: Path, *, author: str) -> int:
    """Keep a ``FACTS.json`` as the patient's newest case facts (earlier ones stay).

    The file is checked with the guide's own rules first (size, depth, every
    field), so the record never holds facts the guide would refuse.

    Parameters
    ----------
    workspace : Workspace
    patient_key : str
        The patient's id in the record.
    facts_json : Path
        The facts, as for ``tumorboard guide FACTS.json``.
    author : str
        Who enters them (kept on the row and in the change log).

    Returns
    -------
    int
        How many fact keys were stored.

    Raises
    ------
    InputError
        Unknown patient, or facts the guide refuses (one line naming the field).

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from tumorboard.store import init_workspace
    >>> folder = Path(tempfile.mkdtemp())
    >>> ws = init_workspace(folder / "board")
    >>> _ = (folder / "FACTS.json").write_text(json.dumps({"ki67_pct": 12}))
    >>> set_case_facts(ws, "P-404", folder / "FACTS.json", author="dr-a")
    Traceback (most recent call last):
    ...
    tumorboard.errors.InputError: facts: no patient with that id in the record
    >>> ws.close()
    """
    from tumorboard.guide.facts import load_facts_json
    from tumorboard.imaging.input_limits import load_json_file
    from tumorboard.store.models import CaseFacts, ChangeLogEntry, Patient

    with workspace.session() as session:
        patient = session.scalars(
            select(Patient).where(Patient.patient_key == patient_key)
        ).one_or_none()
        if patient is None:
            raise InputError("facts: no patient with that id in the record")
        load_facts_json(facts_json)  # the guide's rules, one line on the first broken one
        data = load_json_file(facts_json, what="FACTS")
        if not isinstance(data, dict):  # pragma: no cover - load_facts_json refuses it
            raise InputError(f"FACTS {facts_json.name}: expected a JSON object")
        row = CaseFacts(patient_id=patient.id, facts=data, author=author)
        session.add(row)
        session.flush()
        session.add(
            ChangeLogEntry(
                table_name="case_facts",
                row_id=row.id,
                patient_id=patient.id,
                field="facts",
                old_value=None,
                new_value=f"{len(data)} keys",
                author=author,
            )
        )
        session.commit()
        return len(data)


def latest_case_facts(session: Any, patient_id: int) -> dict[str, Any] | None:
    """The patient's newest case facts, or None.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from tumorboard.store import init_workspace
    >>> ws = init_workspace(Path(tempfile.mkdtemp()) / "board")
    >>> with ws.session() as session:
    ...     latest_case_facts(session, 1) is None
    True
    >>> ws.close()
    """
    from tumorboard.store.models import CaseFacts

    facts = session.scalars(
        select(CaseFacts.facts)
        .where(CaseFacts.patient_id == patient_id)
        .order_by(CaseFacts.created_at.desc(), CaseFacts.id.desc())
    ).first()
    return None if facts is None else dict(facts)
