"""Edit the tracked lesions of the record: add, measure, rename, split, merge, NE, new.

What ``tumorboard lesion`` does from the command line. Every edit is one
transaction: it either changes the record completely, with one
:class:`~tumorboard.store.models.ChangeLogEntry` (author, time, old and new
value) per changed field, or it is refused with one line
(:class:`EditRefused`) and changes nothing. After an edit the patient's reads
must still be a valid ``assess`` measurement table (the criteria's own parser
checks them, so ``tumorboard timeline`` keeps working); an edit that would
break a rule of the table is refused, naming the rule.

Split and merged lesions follow RECIST 1.1 (Eisenhauer et al., Eur J Cancer
2009;45:228-247, section 4.3.2, "Lesions that split or coalesce on
treatment"): when a non-nodal target lesion fragments, "the longest diameters
of the fragmented portions should be added together"; when lesions have truly
coalesced, the longest diameter of the coalesced lesion is measured. In the
record a fragment is a new lesion whose reads carry ``part_of`` = the parent
(the parent gets status ``split``); a lesion merged into another gets status
``merged`` and ``merged_into_id``, and its reads ``part_of`` = the lesion it
merged into, which the criteria count as 0 mm (the convention of
:mod:`tumorboard.criteria.target_sums`; the text does not give a number for
the absorbed lesions).

Tumorboard defaults, not from the text: only baseline target lesions that
are not lymph nodes are split (the text speaks of non-nodal lesions); only
baseline lesions of the same role and the same kind (node or not) are merged;
a diameter is at most :data:`MAX_DIAMETER_MM`.

Examples
--------
>>> ws = _example_workspace()
>>> measure_lesion(ws, "P1", "L1", "2024-03-04", [Value("longest_diameter_mm", "34")],
...                author="reader-a").changes
2
>>> [(e["field"], e["old"], e["new"]) for e in lesion_history(ws, "P1", "L1")][-2:]
[('status', None, 'present'), ('longest_diameter_mm', None, '34')]
>>> ws.close()
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from pydicom.uid import generate_uid
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tumorboard.criteria.measurements_csv import (
    MAX_MEASUREMENT_MAGNITUDE,
    MAX_SIGNIFICANT_DIGITS,
    is_baseline_label,
    parse_measurement_rows,
)
from tumorboard.criteria.records import LIVER_REFERENCE_ID, PRE_BASELINE_LABEL
from tumorboard.errors import InputError
from tumorboard.store.models import (
    ChangeLogEntry,
    Exam,
    Lesion,
    LesionRead,
    Measurement,
    Patient,
    Series,
    Study,
)
from tumorboard.store.workspace import Workspace
from tumorboard.workflow.dates import parse_iso_date
from tumorboard.workflow.lesion_reads import NUMBER_COLUMNS, measurement_rows, timepoint_label

__all__ = [
    "LESION_ROLES",
    "MAX_DIAMETER_MM",
    "READ_STATUSES",
    "EditRefused",
    "EditResult",
    "StaleReads",
    "Value",
    "add_lesion",
    "add_new_lesion",
    "expecting_reads_version",
    "lesion_history",
    "mark_not_evaluable",
    "measure_lesion",
    "merge_lesions",
    "reads_version",
    "rename_lesion",
    "split_lesion",
]

#: Roles a lesion is given at baseline (a lesion first seen later is ``new``).
LESION_ROLES = ("target", "non-target")
#: Statuses ``lesion measure --status`` sets (``not-evaluated`` is ``lesion ne``).
READ_STATUSES = ("present", "absent", "too-small", "unequivocal-progression", "equivocal")
#: Largest diameter accepted (tumorboard bound: a longer one is a typing error).
MAX_DIAMETER_MM = Decimal(1000)
#: Diameters: larger than 0 and at most :data:`MAX_DIAMETER_MM`.
DIAMETER_QUANTITIES = frozenset({"longest_diameter_mm", "short_axis_mm", "viable_diameter_mm"})
#: Quantities of the table that may be negative (attenuation in HU).
SIGNED_QUANTITIES = frozenset({"mean_hu"})
_SIZES = ("longest_diameter_mm", "short_axis_mm")
#: Read statuses a new diameter turns into ``present``.
_UNMEASURED = ("absent", "too-small", "not-evaluated")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_QUANTITY_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_MODALITY = re.compile(r"[a-z][a-z0-9-]{0,31}")
_TEXT_LIMIT = 64
_T = TypeVar("_T")


class EditRefused(InputError):
    """An edit the record refuses (unknown patient, lesion or exam, a broken rule).

    Nothing was changed. The message is one line and never names the patient.
    """


@dataclass(frozen=True)
class Value:
    """One number to record: a quantity, the number as typed and its unit.

    ``unit`` may be left out for a column of the measurement table (its unit
    is known, :data:`~tumorboard.workflow.lesion_reads.NUMBER_COLUMNS`); any
    other quantity needs one.
    """

    quantity: str
    text: str
    unit: str | None = None


@dataclass
class EditResult:
    """What an edit did."""

    action: str
    lesions: list[str]
    exam: str | None = None
    changes: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types.

        Examples
        --------
        >>> EditResult("rename", ["L9"], changes=1).as_dict()
        {'action': 'rename', 'lesions': ['L9'], 'exam': None, 'changes': 1}
        """
        return {
            "action": self.action,
            "lesions": list(self.lesions),
            "exam": self.exam,
            "changes": self.changes,
        }


# ---------------------------------------------------------------- public edits
def add_lesion(
    workspace: Workspace,
    patient_key: str,
    label: str,
    *,
    organ: str,
    role: str,
    author: str,
    is_node: bool = False,
    exam: str | None = None,
    values: Sequence[Value] = (),
    modality: str | None = None,
) -> EditResult:
    """Add a baseline lesion (target or non-target), optionally read at an exam.

    Parameters
    ----------
    workspace : Workspace
        The open workspace.
    patient_key : str
        The patient's id in the record.
    label : str
        The lesion's label, unique within the patient.
    organ : str
        Organ or site.
    role : {"target", "non-target"}
        Its role (a lesion first seen at a follow-up is added with
        :func:`add_new_lesion`).
    author : str
        Who edits.
    is_node : bool
        A lymph node (measured by its short axis).
    exam : str, optional
        ISO date of the exam where it is read; must be the baseline exam
        once the patient has one.
    values : sequence of Value
        Its numbers at that exam (a present target needs its size).
    modality : str, optional
        Imaging procedure of the read (``ct``, ``mr``, ``pet-fdg``);
        default: the modality of the other reads of that exam, else the
        exam's CT or MR, else ``ct``.

    Returns
    -------
    EditResult

    Raises
    ------
    EditRefused
        Unknown patient or exam, a label in use, a read that is not at the
        baseline, a value out of range, or a broken table rule.

    Examples
    --------
    >>> ws = _example_workspace()
    >>> add_lesion(ws, "P1", "N1", organ="lymph node", role="non-target", is_node=True,
    ...            exam="2024-01-08", author="reader-a").lesions
    ['N1']
    >>> add_lesion(ws, "P1", "N1", organ="lung", role="target", author="reader-a")
    Traceback (most recent call last):
    ...
    tumorboard.workflow.lesion_edits.EditRefused: lesion N1: label already in use for this patient
    >>> ws.close()
    """
    if role not in LESION_ROLES:
        raise EditRefused(f"--role: must be one of {', '.join(LESION_ROLES)}; got {role!r}")

    def edit(editor: _Editor) -> EditResult:
        lesion = editor.create_lesion(label, organ=organ, role=role, is_node=is_node)
        result = EditResult("add", [lesion.label], changes=0)
        if exam is not None:
            where = editor.exam(exam)
            baseline = editor.baseline_exam()
            if baseline is not None and baseline.id != where.id:
                raise EditRefused(
                    f"lesion {lesion.label}: a {role} lesion is chosen at the baseline "
                    f"({_describe(baseline)}), not at {_describe(where)}; a lesion first seen "
                    "later is new ('tumorboard lesion new')"
                )
            read = editor.ensure_read(lesion, where, modality, status="present")
            editor.set_values(lesion, where, read, values)
            result.exam = where.exam_date.isoformat()
        elif values:
            raise EditRefused(f"lesion {lesion.label}: values need an exam (--exam DATE)")
        return result

    return _run(workspace, patient_key, author, edit)


def add_new_lesion(
    workspace: Workspace,
    patient_key: str,
    label: str,
    exam: str,
    *,
    organ: str,
    author: str,
    is_node: bool = False,
    values: Sequence[Value] = (),
    equivocal: bool = False,
    modality: str | None = None,
) -> EditResult:
    """Record a lesion first seen at a follow-up exam (role ``new``).

    An unequivocal new lesion is status ``present`` (progression under
    RECIST 1.1); ``equivocal`` records a finding not yet unequivocal (the
    criteria hold it until a later exam confirms it).

    Parameters
    ----------
    workspace, patient_key, label, organ, author, is_node, modality
        As for :func:`add_lesion`.
    exam : str
        ISO date of the exam; must be after the baseline.
    values : sequence of Value
        Its numbers, if measured.
    equivocal : bool
        Status ``equivocal`` instead of ``present``.

    Returns
    -------
    EditResult

    Raises
    ------
    EditRefused
        Unknown patient or exam, a label in use, an exam not after the
        baseline, a value out of range.

    Examples
    --------
    >>> ws = _example_workspace()
    >>> add_new_lesion(ws, "P1", "X1", "2024-03-04", organ="bone", author="reader-a").exam
    '2024-03-04'
    >>> add_new_lesion(ws, "P1", "X2", "2024-01-08", organ="bone", author="reader-a")
    Traceback (most recent call last):
    ...
    tumorboard.workflow.lesion_edits.EditRefused: lesion X2: a new lesion is seen
    after the baseline (2024-01-08 'baseline'), not at it
    >>> ws.close()
    """

    def edit(editor: _Editor) -> EditResult:
        where = editor.exam(exam)
        baseline = editor.baseline_exam()
        if baseline is None:
            raise EditRefused(
                "the patient has no baseline read yet: a new lesion is seen after the baseline"
            )
        if where.exam_date <= baseline.exam_date:
            raise EditRefused(
                f"lesion {label.strip()}: a new lesion is seen after the baseline "
                f"({_describe(baseline)}), not at it"
                if where.id == baseline.id
                else f"lesion {label.strip()}: {_describe(where)} is before the baseline "
                f"({_describe(baseline)})"
            )
        lesion = editor.create_lesion(label, organ=organ, role="new", is_node=is_node)
        status = "equivocal" if equivocal else "present"
        read = editor.ensure_read(lesion, where, modality, status=status)
        editor.set_values(lesion, where, read, values)
        return EditResult("new", [lesion.label], where.exam_date.isoformat())

    return _run(workspace, patient_key, author, edit)


def measure_lesion(
    workspace: Workspace,
    patient_key: str,
    label: str,
    exam: str,
    values: Sequence[Value],
    *,
    author: str,
    status: str | None = None,
    modality: str | None = None,
) -> EditResult:
    """Record numbers (and optionally the status) of a lesion at an exam (source ``manual``).

    A read is created when the lesion has none at that exam. A new diameter
    on a read marked ``absent``, ``too-small`` or ``not-evaluated`` makes it
    ``present`` unless ``status`` says otherwise. A value equal to the
    current one changes nothing.

    Parameters
    ----------
    workspace, patient_key, label, author, modality
        As for :func:`add_lesion`.
    exam : str
        ISO date of the exam.
    values : sequence of Value
        The numbers (may be empty when only ``status`` is set).
    status : str, optional
        One of :data:`READ_STATUSES`.

    Returns
    -------
    EditResult

    Raises
    ------
    EditRefused
        Unknown patient, lesion or exam; a lesion merged into another at
        that exam; a value out of range (the message names the quantity); a
        broken table rule.

    Examples
    --------
    >>> ws = _example_workspace()
    >>> measure_lesion(ws, "P1", "L1", "2024-03-04", [Value("longest_diameter_mm", "nan")],
    ...                author="reader-a")
    Traceback (most recent call last):
    ...
    tumorboard.workflow.lesion_edits.EditRefused: longest_diameter_mm: expected a
    decimal number (digits, optional point and exponent); got 'nan'
    >>> measure_lesion(ws, "P1", "L1", "2024-03-04", [], status="absent",
    ...                author="reader-a").changes
    1
    >>> ws.close()
    """
    if status is not None and status not in READ_STATUSES:
        raise EditRefused(f"--status: must be one of {', '.join(READ_STATUSES)}; got {status!r}")
    if not values and status is None:
        raise EditRefused("nothing to record: give a value or --status")

    def edit(editor: _Editor) -> EditResult:
        lesion = editor.lesion(label)
        where = editor.exam(exam)
        editor.refuse_if_merged(lesion, where)
        read = editor.read(lesion, where)
        new_size = any(v.quantity in _SIZES for v in values)
        if read is None:
            read = editor.ensure_read(lesion, where, modality, status=status or "present")
        elif status is not None:
            editor.set_read_status(read, status)
        elif new_size and read.status in _UNMEASURED:
            editor.set_read_status(read, "present")
        editor.refuse_double_count(lesion, where, read)
        editor.set_values(lesion, where, read, values)
        return EditResult("measure", [lesion.label], where.exam_date.isoformat())

    return _run(workspace, patient_key, author, edit)


def mark_not_evaluable(
    workspace: Workspace,
    patient_key: str,
    label: str,
    exam: str,
    *,
    author: str,
    modality: str | None = None,
) -> EditResult:
    """Mark a lesion not evaluable (NE, status ``not-evaluated``) at an exam.

    Its numbers at that exam stay in the record; the criteria do not use
    them (an unevaluated target makes the target response NE unless the
    others already show progression).

    Examples
    --------
    >>> ws = _example_workspace()
    >>> mark_not_evaluable(ws, "P1", "L1", "2024-03-04", author="reader-a").changes
    1
    >>> mark_not_evaluable(ws, "P1", "L7", "2024-03-04", author="reader-a")
    Traceback (most recent call last):
    ...
    tumorboard.workflow.lesion_edits.EditRefused: no lesion L7 for this patient (lesions: L1, L2)
    >>> ws.close()
    """

    def edit(editor: _Editor) -> EditResult:
        lesion = editor.lesion(label)
        where = editor.exam(exam)
        editor.refuse_if_merged(lesion, where)
        read = editor.read(lesion, where)
        if read is None:
            editor.ensure_read(lesion, where, modality, status="not-evaluated")
        else:
            editor.set_read_status(read, "not-evaluated")
        return EditResult("ne", [lesion.label], where.exam_date.isoformat())

    return _run(workspace, patient_key, author, edit)


def rename_lesion(
    workspace: Workspace, patient_key: str, label: str, new_label: str, *, author: str
) -> EditResult:
    """Give a lesion a new label (its tracking UID, reads and numbers stay).

    Reads of other lesions whose ``part_of`` names the old label (fragments,
    merged lesions) are changed with it.

    Examples
    --------
    >>> ws = _example_workspace()
    >>> rename_lesion(ws, "P1", "L1", "liver-1", author="reader-a").lesions
    ['liver-1']
    >>> rename_lesion(ws, "P1", "liver-1", "liver-reference", author="reader-a")
    Traceback (most recent call last):
    ...
    tumorboard.workflow.lesion_edits.EditRefused: lesion label 'liver-reference' is
    reserved for the PERCIST liver reference
    >>> ws.close()
    """

    def edit(editor: _Editor) -> EditResult:
        lesion = editor.lesion(label)
        wanted = editor.free_label(new_label)
        old = lesion.label
        if wanted == old:
            return EditResult("rename", [old])
        editor.log("lesions", lesion.id, "label", old, wanted)
        lesion.label = wanted
        for read in editor.reads_naming(old):
            notes = dict(read.notes or {})
            editor.log("lesion_reads", read.id, "part_of", old, wanted)
            notes["part_of"] = wanted
            read.notes = notes
        return EditResult("rename", [wanted])

    return _run(workspace, patient_key, author, edit)


def split_lesion(
    workspace: Workspace,
    patient_key: str,
    label: str,
    exam: str,
    fragments: Sequence[tuple[str, str]],
    *,
    author: str,
    modality: str | None = None,
) -> EditResult:
    """Split a baseline target lesion into two or more fragments at a follow-up exam.

    RECIST 1.1 (section 4.3.2): the longest diameters of the fragments are
    added together for the target sum. Each fragment becomes a lesion of its
    own (same organ and role, a new tracking UID) whose reads carry
    ``part_of`` = the parent; the parent gets status ``split`` and its own
    read at that exam, if any, becomes ``absent`` so that only the fragments
    count. Later exams measure the fragments (or the parent again, if they
    coalesce).

    Parameters
    ----------
    workspace, patient_key, author, modality
        As for :func:`add_lesion`.
    label : str
        The lesion that split (a baseline target, not a lymph node:
        tumorboard default, the text speaks of non-nodal lesions).
    exam : str
        ISO date of the follow-up exam where it is seen split.
    fragments : sequence of (str, str)
        Label and longest diameter (mm) of each fragment; at least two.

    Returns
    -------
    EditResult

    Examples
    --------
    >>> ws = _example_workspace()
    >>> split_lesion(ws, "P1", "L1", "2024-03-04", [("L1a", "15"), ("L1b", "12")],
    ...              author="reader-a").lesions
    ['L1', 'L1a', 'L1b']
    >>> [(lesion["label"], lesion["status"]) for lesion in _example_lesions(ws)]
    [('L1', 'split'), ('L1a', 'active'), ('L1b', 'active'), ('L2', 'active')]
    >>> ws.close()
    """

    def edit(editor: _Editor) -> EditResult:
        parent = editor.lesion(label)
        where = editor.exam(exam)
        if len(fragments) < 2:
            raise EditRefused(f"lesion {parent.label}: a split needs at least two fragments")
        if parent.is_node:
            raise EditRefused(
                f"lesion {parent.label}: lymph nodes are not split (RECIST 1.1 describes "
                "fragmenting non-nodal lesions; tumorboard default)"
            )
        editor.refuse_if_merged(parent, where)
        baseline = editor.require_baseline_lesion(parent, where, "split")
        if editor.role_at(parent, baseline) != "target":
            raise EditRefused(
                f"lesion {parent.label}: only target lesions are split (the fragments' "
                "diameters are added to the target sum); a non-target lesion is assessed whole"
            )
        own = editor.read(parent, where)
        if own is not None:
            editor.set_read_status(own, "absent")
        if parent.status != "split":
            editor.log("lesions", parent.id, "status", parent.status, "split")
            parent.status = "split"
        created = []
        for fragment_label, diameter in fragments:
            fragment = editor.create_lesion(
                fragment_label, organ=parent.organ or "", role="target", is_node=False
            )
            read = editor.ensure_read(
                fragment, where, modality, status="present", part_of=parent.label
            )
            editor.set_values(fragment, where, read, [Value("longest_diameter_mm", diameter)])
            created.append(fragment.label)
        return EditResult("split", [parent.label, *created], where.exam_date.isoformat())

    return _run(workspace, patient_key, author, edit)


def merge_lesions(
    workspace: Workspace,
    patient_key: str,
    labels: Sequence[str],
    into: str,
    exam: str,
    *,
    author: str,
    values: Sequence[Value] = (),
    modality: str | None = None,
) -> EditResult:
    """Merge lesions that have coalesced into one of them, at a follow-up exam.

    RECIST 1.1 (section 4.3.2): once lesions have truly coalesced and can no
    longer be told apart, the longest diameter of the coalesced lesion is
    measured. The lesion named by ``into`` keeps its label and tracking UID
    and carries that diameter (``values``); each lesion of ``labels`` gets
    status ``merged`` and ``merged_into_id``, and its read at that exam (and,
    implied, at later exams) is ``absent`` with ``part_of`` = ``into``, which
    the criteria count as 0 mm.

    Parameters
    ----------
    workspace, patient_key, author, modality
        As for :func:`add_lesion`.
    labels : sequence of str
        The lesions merged into ``into``.
    into : str
        The coalesced lesion.
    exam : str
        ISO date of the follow-up exam where they are seen coalesced.
    values : sequence of Value
        The coalesced lesion's numbers (a target needs its size).

    Returns
    -------
    EditResult

    Examples
    --------
    >>> ws = _example_workspace()
    >>> merge_lesions(ws, "P1", ["L2"], "L1", "2024-03-04",
    ...               values=[Value("longest_diameter_mm", "70")], author="reader-a").lesions
    ['L1', 'L2']
    >>> [(e["label"], e["status"], e["merged_into"]) for e in _example_lesions(ws)]
    [('L1', 'active', None), ('L2', 'merged', 'L1')]
    >>> ws.close()
    """

    def edit(editor: _Editor) -> EditResult:
        where = editor.exam(exam)
        survivor = editor.lesion(into)
        absorbed = [editor.lesion(label) for label in labels]
        if not absorbed:
            raise EditRefused("a merge needs at least one lesion besides --into")
        ids = [lesion.id for lesion in absorbed]
        if survivor.id in ids or len(set(ids)) != len(ids):
            raise EditRefused("a merge names each lesion once, and --into not among them")
        baseline = None
        for lesion in [survivor, *absorbed]:
            if lesion.status == "merged":
                raise EditRefused(f"lesion {lesion.label} is already merged into another lesion")
            baseline = editor.require_baseline_lesion(lesion, where, "merged")
        assert baseline is not None
        role = editor.role_at(survivor, baseline)
        for lesion in absorbed:
            if editor.role_at(lesion, baseline) != role:
                raise EditRefused(
                    f"lesion {lesion.label}: a {editor.role_at(lesion, baseline)} lesion is not "
                    f"merged into a {role} lesion (tumorboard merges lesions of one role)"
                )
            if lesion.is_node != survivor.is_node:
                raise EditRefused(
                    f"lesion {lesion.label}: a lymph node and a lesion that is not a node are "
                    "not merged (tumorboard default: they are measured differently)"
                )
        read = editor.read(survivor, where)
        if read is None:
            read = editor.ensure_read(survivor, where, modality, status="present")
        elif any(v.quantity in _SIZES for v in values) and read.status != "present":
            editor.set_read_status(read, "present")
        editor.set_values(survivor, where, read, values)
        for lesion in absorbed:
            own = editor.read(lesion, where)
            if own is None:
                editor.ensure_read(
                    lesion, where, read.modality, status="absent", part_of=survivor.label
                )
            else:
                editor.set_read_status(own, "absent")
                editor.set_part_of(own, survivor.label)
            editor.log("lesions", lesion.id, "status", lesion.status, "merged")
            lesion.status = "merged"
            editor.log(
                "lesions",
                lesion.id,
                "merged_into_id",
                _text(lesion.merged_into_id),
                str(survivor.id),
            )
            lesion.merged_into_id = survivor.id
        return EditResult(
            "merge",
            [survivor.label, *(lesion.label for lesion in absorbed)],
            where.exam_date.isoformat(),
        )

    return _run(workspace, patient_key, author, edit)


def lesion_history(
    workspace: Workspace, patient_key: str, label: str | None = None
) -> list[dict[str, Any]]:
    """The change log of a patient's lesions, oldest first.

    Parameters
    ----------
    workspace : Workspace
        The open workspace.
    patient_key : str
        The patient's id in the record.
    label : str, optional
        Only this lesion (by its current label; its entries under earlier
        labels are included).

    Returns
    -------
    list of dict
        ``changed_at`` (ISO 8601, UTC), ``author``, ``lesion`` (current
        label), ``exam`` (ISO date, or None for a change of the lesion
        itself), ``table``, ``row_id``, ``field``, ``old``, ``new``.

    Raises
    ------
    EditRefused
        Unknown patient or lesion.

    Examples
    --------
    >>> ws = _example_workspace()
    >>> rename_lesion(ws, "P1", "L2", "lung-1", author="reader-b").changes
    1
    >>> entry = lesion_history(ws, "P1", "lung-1")[-1]
    >>> entry["author"], entry["field"], entry["old"], entry["new"], entry["exam"]
    ('reader-b', 'label', 'L2', 'lung-1', None)
    >>> ws.close()
    """
    with workspace.session() as session:
        patient = _patient(session, patient_key)
        editor = _Editor(session, patient, author="")
        lesions = {lesion.id: lesion for lesion in editor.lesions()}
        if label is not None:
            chosen = editor.lesion(label)
            lesions = {chosen.id: chosen}
        reads = {
            read.id: (read.lesion_id, exam)
            for read, exam in session.execute(
                select(LesionRead, Exam)
                .join(Exam, LesionRead.exam_id == Exam.id)
                .where(LesionRead.lesion_id.in_(list(lesions)))
            )
        }
        measurements = {
            measurement.id: (measurement.lesion_id, exam)
            for measurement, exam in session.execute(
                select(Measurement, Exam)
                .join(Exam, Measurement.exam_id == Exam.id)
                .where(Measurement.lesion_id.in_(list(lesions)))
            )
        }
        owners: dict[tuple[str, int], tuple[int, Exam | None]] = {
            ("lesions", lesion_id): (lesion_id, None) for lesion_id in lesions
        }
        owners.update({("lesion_reads", k): v for k, v in reads.items()})
        owners.update({("measurements", k): v for k, v in measurements.items()})
        history: list[ChangeLogEntry] = []
        for table in ("lesions", "lesion_reads", "measurements"):
            row_ids = [key[1] for key in owners if key[0] == table]
            for start in range(0, len(row_ids), 500):
                chunk = row_ids[start : start + 500]
                history.extend(
                    session.scalars(
                        select(ChangeLogEntry).where(
                            ChangeLogEntry.table_name == table, ChangeLogEntry.row_id.in_(chunk)
                        )
                    )
                )
        history.sort(key=lambda entry: (_utc(entry.changed_at), entry.id))
        result = []
        for entry in history:
            lesion_id, exam = owners[(entry.table_name, entry.row_id)]
            result.append(
                {
                    "changed_at": _utc(entry.changed_at).isoformat(),
                    "author": entry.author,
                    "lesion": lesions[lesion_id].label,
                    "exam": None if exam is None else exam.exam_date.isoformat(),
                    "table": entry.table_name,
                    "row_id": entry.row_id,
                    "field": entry.field,
                    "old": entry.old_value,
                    "new": entry.new_value,
                }
            )
        return result


# ---------------------------------------------------------------- the editor
#: The reads version the caller saw (:func:`expecting_reads_version`), or None: no check.
_EXPECTED_VERSION: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "expected_reads_version", default=None
)
#: The tables whose changes make a patient's reads a new version.
_READ_TABLES = ("lesions", "lesion_reads", "measurements")


class StaleReads(EditRefused):
    """The patient's reads changed since the editor saw them; nothing was changed."""


def reads_version(session: Session, patient: Patient) -> int:
    """The version of a patient's reads: the id of the newest change-log entry on them (0 if none).

    Examples
    --------
    >>> workspace = _example_workspace()
    >>> _ = rename_lesion(workspace, "P1", "L1", "liver-1", author="reader-a")
    >>> with workspace.session() as session:
    ...     reads_version(session, session.scalars(select(Patient)).one()) > 0
    True
    >>> workspace.close()
    """
    from sqlalchemy import func

    newest = session.scalar(
        select(func.max(ChangeLogEntry.id)).where(
            ChangeLogEntry.patient_id == patient.id,
            ChangeLogEntry.table_name.in_(_READ_TABLES),
        )
    )
    return int(newest or 0)


@contextlib.contextmanager
def expecting_reads_version(version: int | None) -> Iterator[None]:
    """Refuse the edits made inside unless the patient's reads are still at ``version``.

    The check runs in the edit's own transaction (optimistic concurrency: a
    second reader saving over reads that changed since they loaded them gets
    :class:`StaleReads` and nothing is written). ``None`` checks nothing.

    Examples
    --------
    >>> workspace = _example_workspace()
    >>> with workspace.session() as session:
    ...     seen = reads_version(session, session.scalars(select(Patient)).one())
    >>> rename_lesion(workspace, "P1", "L1", "liver-1", author="dr-a").lesions
    ['liver-1']
    >>> with expecting_reads_version(seen):
    ...     rename_lesion(workspace, "P1", "L2", "liver-2", author="dr-b")
    Traceback (most recent call last):
    ...
    tumorboard.workflow.lesion_edits.StaleReads: the lesion reads changed since you loaded them ...
    >>> workspace.close()
    """
    token = _EXPECTED_VERSION.set(version)
    try:
        yield
    finally:
        _EXPECTED_VERSION.reset(token)


def _run(workspace: Workspace, patient_key: str, author: str, edit: Callable[[_Editor], _T]) -> _T:
    """Run ``edit`` in one transaction; refuse it if the reads would break a table rule."""
    author = _check_text(author, "--author")
    try:
        with workspace.session() as session:
            patient = _patient(session, patient_key)
            expected = _EXPECTED_VERSION.get()
            if expected is not None and reads_version(session, patient) != expected:
                newest = session.scalars(
                    select(ChangeLogEntry)
                    .where(
                        ChangeLogEntry.patient_id == patient.id,
                        ChangeLogEntry.table_name.in_(_READ_TABLES),
                    )
                    .order_by(ChangeLogEntry.id.desc())
                    .limit(1)
                ).one()
                raise StaleReads(
                    f"the lesion reads changed since you loaded them (by {newest.author} at "
                    f"{_utc(newest.changed_at):%Y-%m-%d %H:%M} UTC); nothing was saved: reload "
                    "and edit again"
                )
            editor = _Editor(session, patient, author)
            valid_before = _table_error(session, patient) is None
            result = edit(editor)
            session.flush()
            if valid_before:
                problem = _table_error(session, patient)
                if problem is not None:
                    raise EditRefused(
                        f"the edit would break a rule of the measurement table: {problem}"
                    )
            if isinstance(result, EditResult):
                result.changes = editor.changes
    except IntegrityError:
        raise EditRefused(
            "another session changed this patient's lesions at the same time (a label now in "
            "use?); nothing was changed: run the command again"
        ) from None
    return result


def _patient(session: Session, patient_key: str) -> Patient:
    patient = session.scalars(
        select(Patient).where(Patient.patient_key == patient_key)
    ).one_or_none()
    if patient is None:
        raise EditRefused("no patient with that id in this workspace")
    return patient


def _table_error(session: Session, patient: Patient) -> str | None:
    rows, fields = measurement_rows(session, patient)
    if not rows:
        return None
    try:
        parse_measurement_rows(rows, fields)
    except InputError as exc:
        return re.sub(r"^row \d+: ", "", str(exc))
    return None


class _Editor:
    """The edits of one transaction on one patient, each change logged."""

    def __init__(self, session: Session, patient: Patient, author: str) -> None:
        self.session = session
        self.patient = patient
        self.author = author
        self.changes = 0

    # -- lookups -------------------------------------------------------------
    def lesions(self) -> list[Lesion]:
        return list(
            self.session.scalars(
                select(Lesion).where(Lesion.patient_id == self.patient.id).order_by(Lesion.label)
            )
        )

    def lesion(self, label: str) -> Lesion:
        wanted = label.strip()
        lesion = self.session.scalars(
            select(Lesion).where(Lesion.patient_id == self.patient.id, Lesion.label == wanted)
        ).one_or_none()
        if lesion is None:
            known = [lesion.label for lesion in self.lesions()]
            shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
            raise EditRefused(
                f"no lesion {_shown(wanted)} for this patient"
                + (f" (lesions: {shown})" if known else " (it has no lesions yet)")
            )
        return lesion

    def exam(self, text: str) -> Exam:
        date = parse_iso_date(text.strip())
        if date is None:
            raise EditRefused(f"--exam: expected a date YYYY-MM-DD; got {text[:40]!r}")
        exams = list(
            self.session.scalars(
                select(Exam).where(Exam.patient_id == self.patient.id).order_by(Exam.exam_date)
            )
        )
        found = [exam for exam in exams if exam.exam_date == date]
        if not found:
            dates = ", ".join(exam.exam_date.isoformat() for exam in exams[:12])
            raise EditRefused(
                f"no exam on {date.isoformat()} for this patient"
                + (f" (exams: {dates})" if exams else " (it has no exams yet)")
            )
        if len(found) > 1:
            names = ", ".join(repr(timepoint_label(exam)) for exam in found)
            raise EditRefused(
                f"{len(found)} exams on {date.isoformat()} ({names}); tumorboard lesion "
                "edits one exam per day"
            )
        return found[0]

    def read(self, lesion: Lesion, exam: Exam) -> LesionRead | None:
        return self.session.scalars(
            select(LesionRead).where(
                LesionRead.lesion_id == lesion.id, LesionRead.exam_id == exam.id
            )
        ).one_or_none()

    def reads_of(self, lesion: Lesion) -> list[tuple[LesionRead, Exam]]:
        return [
            (read, exam)
            for read, exam in self.session.execute(
                select(LesionRead, Exam)
                .join(Exam, LesionRead.exam_id == Exam.id)
                .where(LesionRead.lesion_id == lesion.id)
                .order_by(Exam.exam_date, Exam.id)
            )
        ]

    def reads_naming(self, label: str) -> list[LesionRead]:
        ids = [lesion.id for lesion in self.lesions()]
        return [
            read
            for read in self.session.scalars(
                select(LesionRead).where(LesionRead.lesion_id.in_(ids)).order_by(LesionRead.id)
            )
            if (read.notes or {}).get("part_of") == label
        ]

    def baseline_exam(self) -> Exam | None:
        """The exam the measurement table takes as the baseline (None without reads)."""
        exams = list(
            self.session.scalars(
                select(Exam)
                .join(LesionRead, LesionRead.exam_id == Exam.id)
                .join(Lesion, LesionRead.lesion_id == Lesion.id)
                .where(Lesion.patient_id == self.patient.id)
                .distinct()
                .order_by(Exam.exam_date, Exam.id)
            )
        )
        exams = [e for e in exams if timepoint_label(e).lower() != PRE_BASELINE_LABEL]
        named = [e for e in exams if is_baseline_label(timepoint_label(e))]
        chosen = named or exams
        return chosen[0] if chosen else None

    def role_at(self, lesion: Lesion, exam: Exam) -> str:
        read = self.read(lesion, exam)
        return read.role if read is not None else lesion.role

    def require_baseline_lesion(self, lesion: Lesion, exam: Exam, what: str) -> Exam:
        baseline = self.baseline_exam()
        if baseline is None or self.read(lesion, baseline) is None:
            raise EditRefused(
                f"lesion {lesion.label}: only lesions read at the baseline are {what}"
            )
        if exam.exam_date <= baseline.exam_date:
            raise EditRefused(
                f"lesion {lesion.label}: lesions are {what} at a follow-up exam, after the "
                f"baseline ({_describe(baseline)})"
            )
        return baseline

    def refuse_if_merged(self, lesion: Lesion, exam: Exam) -> None:
        if lesion.status != "merged" or lesion.merged_into_id is None:
            return
        into = self.session.get(Lesion, lesion.merged_into_id)
        for read, at in self.reads_of(lesion):
            if into is not None and (read.notes or {}).get("part_of") == into.label:
                if exam.exam_date >= at.exam_date:
                    raise EditRefused(
                        f"lesion {lesion.label} merged into {into.label} at {_describe(at)}: "
                        f"edit {into.label}"
                    )
                return

    def refuse_double_count(self, lesion: Lesion, exam: Exam, read: LesionRead) -> None:
        """A split lesion and its fragments are not both measured at one exam."""
        counted = ("present", "too-small")
        parent_label = (read.notes or {}).get("part_of")
        if lesion.status == "split" and read.status in counted:
            for other in self.reads_naming(lesion.label):
                if other.exam_id == exam.id and other.status in counted:
                    raise EditRefused(
                        f"lesion {lesion.label} is split at {_describe(exam)}: its fragments "
                        "are measured there (their sum counts); measure them"
                    )
        if parent_label:
            parent = self.session.scalars(
                select(Lesion).where(
                    Lesion.patient_id == self.patient.id, Lesion.label == parent_label
                )
            ).one_or_none()
            own = None if parent is None else self.read(parent, exam)
            if (
                parent is not None
                and parent.status == "split"
                and own is not None
                and own.status in counted
            ):
                raise EditRefused(
                    f"lesion {lesion.label} is a fragment of {parent_label}, which is measured "
                    f"whole at {_describe(exam)}; measure {parent_label}"
                )

    # -- changes -------------------------------------------------------------
    def log(self, table: str, row_id: int, name: str, old: str | None, new: str | None) -> None:
        self.session.add(
            ChangeLogEntry(
                table_name=table,
                row_id=row_id,
                field=name,
                old_value=old,
                new_value=new,
                author=self.author,
            )
        )
        self.changes += 1

    def free_label(self, label: str) -> str:
        text = _check_text(label, "lesion label")
        if text == LIVER_REFERENCE_ID:
            raise EditRefused(
                f"lesion label {LIVER_REFERENCE_ID!r} is reserved for the PERCIST liver reference"
            )
        taken = self.session.scalars(
            select(Lesion.id).where(Lesion.patient_id == self.patient.id, Lesion.label == text)
        ).first()
        if taken is not None:
            raise EditRefused(f"lesion {_shown(text)}: label already in use for this patient")
        return text

    def create_lesion(self, label: str, *, organ: str, role: str, is_node: bool) -> Lesion:
        text = self.free_label(label)
        lesion = Lesion(
            patient_id=self.patient.id,
            tracking_uid=generate_uid(),
            label=text,
            organ=_check_text(organ, "--organ"),
            is_node=is_node,
            role=role,
            status="active",
        )
        self.session.add(lesion)
        self.session.flush()
        for name in ("label", "organ", "role"):
            self.log("lesions", lesion.id, name, None, getattr(lesion, name))
        if is_node:
            self.log("lesions", lesion.id, "is_node", None, "true")
        return lesion

    def ensure_read(
        self,
        lesion: Lesion,
        exam: Exam,
        modality: str | None,
        *,
        status: str,
        part_of: str | None = None,
    ) -> LesionRead:
        read = self.read(lesion, exam)
        if read is not None:
            return read
        history = self.reads_of(lesion)
        earlier = [r for r, at in history if at.exam_date < exam.exam_date]
        if not history and lesion.role in LESION_ROLES and part_of is None:
            baseline = self.baseline_exam()
            if baseline is not None and baseline.id != exam.id:
                raise EditRefused(
                    f"lesion {lesion.label}: a {lesion.role} lesion is first read at the "
                    f"baseline ({_describe(baseline)}), not at {_describe(exam)}"
                )
        if part_of is None and earlier:
            part_of = (earlier[-1].notes or {}).get("part_of")  # a fragment stays one
        read = LesionRead(
            lesion_id=lesion.id,
            exam_id=exam.id,
            modality=self._modality(modality, lesion, exam),
            role=earlier[-1].role if earlier else lesion.role,
            status=status,
            notes={"part_of": part_of} if part_of else {},
            source="manual",
            author=self.author,
        )
        self.session.add(read)
        self.session.flush()
        self.log("lesion_reads", read.id, "status", None, status)
        if part_of:
            self.log("lesion_reads", read.id, "part_of", None, part_of)
        return read

    def set_read_status(self, read: LesionRead, status: str) -> None:
        if read.status != status:
            self.log("lesion_reads", read.id, "status", read.status, status)
            read.status = status

    def set_part_of(self, read: LesionRead, label: str) -> None:
        notes = dict(read.notes or {})
        if notes.get("part_of") != label:
            self.log("lesion_reads", read.id, "part_of", notes.get("part_of"), label)
            notes["part_of"] = label
            read.notes = notes

    def set_values(
        self, lesion: Lesion, exam: Exam, read: LesionRead, values: Sequence[Value]
    ) -> None:
        checked = [_check_value(value) for value in values]
        quantities = [value.quantity for value in checked]
        if len(set(quantities)) != len(quantities):
            raise EditRefused("each quantity is given once")
        current = self._latest(lesion, exam)
        after = {q: m.value_text for q, m in current.items()}
        after.update({value.quantity: value.text for value in checked})
        long_axis, short_axis = after.get("longest_diameter_mm"), after.get("short_axis_mm")
        if long_axis is not None and short_axis is not None:
            if Decimal(short_axis) > Decimal(long_axis):
                raise EditRefused(
                    f"short_axis_mm {short_axis} is longer than longest_diameter_mm {long_axis} "
                    "(the short axis is perpendicular to the longest diameter)"
                )
        for value in checked:
            old = current.get(value.quantity)
            old_text = None if old is None else old.value_text
            if old_text == value.text and old is not None and _by_reader(old):
                continue  # the reader's value is already this one
            assert value.unit is not None
            measurement = Measurement(
                lesion_id=lesion.id,
                exam_id=exam.id,
                quantity=value.quantity,
                value=float(value.text),
                value_text=value.text,
                unit=value.unit,
                source="manual",
                author=self.author,
            )
            self.session.add(measurement)
            self.session.flush()
            self.log("measurements", measurement.id, value.quantity, old_text, value.text)

    def _latest(self, lesion: Lesion, exam: Exam) -> dict[str, Measurement]:
        """The value of each quantity the criteria use (a reader's over ``run``'s)."""
        from tumorboard.workflow.lesion_reads import current_measurements

        return {
            quantity: measurement
            for (_, exam_id, quantity), measurement in current_measurements(
                self.session, [lesion.id]
            ).items()
            if exam_id == exam.id
        }

    def _modality(self, given: str | None, lesion: Lesion, exam: Exam) -> str:
        if given is not None:
            text = given.strip().lower()
            if not _MODALITY.fullmatch(text):
                raise EditRefused(
                    f"--modality: expected a name like ct, mr or pet-fdg; got {given[:40]!r}"
                )
            return text
        others = list(
            self.session.scalars(
                select(LesionRead.modality)
                .join(Lesion, LesionRead.lesion_id == Lesion.id)
                .where(LesionRead.exam_id == exam.id, Lesion.patient_id == self.patient.id)
            )
        )
        if others:
            return max(set(others), key=lambda m: (others.count(m), m))
        imaged = set(
            self.session.scalars(
                select(Series.modality)
                .join(Study, Series.study_id == Study.id)
                .where(Study.exam_id == exam.id)
            )
        )
        return "mr" if "MR" in imaged and "CT" not in imaged else "ct"


# ---------------------------------------------------------------- checks
def _by_reader(measurement: Measurement) -> bool:
    from tumorboard.workflow.lesion_reads import READER_RANK, source_rank

    return source_rank(measurement.source, measurement.analysis_id) == READER_RANK


def _check_text(text: str, what: str) -> str:
    value = (text or "").strip()
    if not value:
        raise EditRefused(f"{what}: must not be empty")
    if len(value) > _TEXT_LIMIT or not value.isprintable():
        raise EditRefused(
            f"{what}: at most {_TEXT_LIMIT} printable characters on one line; got {value[:40]!r}"
        )
    return value


def _check_value(value: Value) -> Value:
    """Validate one number: an ASCII decimal, finite, in range, with its unit.

    Examples
    --------
    >>> _check_value(Value("short_axis_mm", " 12.5 "))
    Value(quantity='short_axis_mm', text='12.5', unit='mm')
    >>> _check_value(Value("longest_diameter_mm", "0"))
    Traceback (most recent call last):
    ...
    tumorboard.workflow.lesion_edits.EditRefused: longest_diameter_mm: must be larger
    than 0 and at most 1000 mm; got '0'
    """
    quantity = value.quantity.strip()
    if not _QUANTITY_NAME.fullmatch(quantity):
        raise EditRefused(
            f"--quantity: expected a lower-case name (letters, digits, _); got {quantity[:40]!r}"
        )
    known = NUMBER_COLUMNS.get(quantity)
    unit = value.unit.strip() if value.unit is not None else None
    if known is not None and unit not in (None, known):
        raise EditRefused(f"{quantity}: unit must be {known!r} (UCUM); got {unit!r}")
    if known is None and not unit:
        raise EditRefused(f"{quantity}: not a column of the measurement table: give its --unit")
    if unit is not None and (len(unit) > 32 or not unit.isprintable() or " " in unit):
        raise EditRefused(f"{quantity}: --unit must be a UCUM code of at most 32 characters")
    text = value.text.strip()
    if not _DECIMAL.fullmatch(text):
        raise EditRefused(
            f"{quantity}: expected a decimal number (digits, optional point and exponent); "
            f"got {text[:40]!r}"
        )
    number = Decimal(text)
    sign, digits, exponent = number.as_tuple()
    if (
        abs(number) > MAX_MEASUREMENT_MAGNITUDE
        or len(digits) > MAX_SIGNIFICANT_DIGITS
        or not isinstance(exponent, int)
        or abs(exponent) > MAX_SIGNIFICANT_DIGITS
    ):
        raise EditRefused(
            f"{quantity}: {text[:40]!r} is out of range (magnitude at most "
            f"{MAX_MEASUREMENT_MAGNITUDE}, at most {MAX_SIGNIFICANT_DIGITS} digits)"
        )
    if quantity in DIAMETER_QUANTITIES and not Decimal(0) < number <= MAX_DIAMETER_MM:
        raise EditRefused(
            f"{quantity}: must be larger than 0 and at most {MAX_DIAMETER_MM} mm; got {text!r}"
        )
    if known is not None and quantity not in SIGNED_QUANTITIES and number < 0:
        raise EditRefused(f"{quantity}: must not be negative; got {text!r}")
    return Value(quantity, text, unit or known)


# ---------------------------------------------------------------- helpers
def _describe(exam: Exam) -> str:
    if exam.label:
        return f"{exam.exam_date.isoformat()} {exam.label!r}"
    return exam.exam_date.isoformat()


def _shown(label: str) -> str:
    return label[:40] if label.isprintable() else repr(label[:40])


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _utc(moment: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes (stored in UTC); PostgreSQL aware ones."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


# ---------------------------------------------------------------- doc examples
_EXAMPLE_TABLE = (
    "patient_id,timepoint,date,modality,lesion_id,organ,role,is_node,longest_diameter_mm,"
    "short_axis_mm,mean_hu,viable_diameter_mm,sul_peak,status\n"
    "P1,baseline,2024-01-08,ct,L1,liver,target,false,50,,,,,present\n"
    "P1,baseline,2024-01-08,ct,L2,liver,target,false,30,,,,,present\n"
    "P1,week 8,2024-03-04,ct,L1,liver,target,false,40,,,,,present\n"
)


def _example_workspace() -> Workspace:
    """A throw-away workspace with patient P1 (two liver targets) for the examples."""
    import tempfile
    from pathlib import Path

    from tumorboard.store import init_workspace
    from tumorboard.workflow.lesion_reads import import_reads_csv

    folder = Path(tempfile.mkdtemp(prefix="tb-example-"))
    table = folder / "reads.csv"
    table.write_text(_EXAMPLE_TABLE, encoding="utf-8")
    workspace = init_workspace(folder / "board")
    import_reads_csv(workspace, table, author="importer")
    with workspace.session() as session:  # start the examples from an unread follow-up
        lesion = session.scalars(select(Lesion).where(Lesion.label == "L1")).one()
        exam = session.scalars(select(Exam).where(Exam.label == "week 8")).one()
        for measurement in session.scalars(
            select(Measurement).where(Measurement.exam_id == exam.id)
        ):
            session.delete(measurement)
        read = session.scalars(
            select(LesionRead).where(
                LesionRead.exam_id == exam.id, LesionRead.lesion_id == lesion.id
            )
        ).one()
        session.delete(read)
    return workspace


def _example_lesions(workspace: Workspace) -> list[dict[str, Any]]:
    with workspace.session() as session:
        lesions = list(session.scalars(select(Lesion).order_by(Lesion.label)))
        labels = {lesion.id: lesion.label for lesion in lesions}
        return [
            {
                "label": lesion.label,
                "status": lesion.status,
                "merged_into": labels.get(lesion.merged_into_id or 0),
            }
            for lesion in lesions
        ]
