"""``tumorboard lesion`` and ``tumorboard timeline``: lesions in the record; a patient's course."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Exit status of a refused edit: the command names something the record does not
#: have, or asks for an edit the record refuses (nothing was changed).
REFUSED = 2

_RULES = (
    "Split and merged lesions follow RECIST 1.1 (Eisenhauer 2009, section 4.3.2): the longest "
    "diameters of a target's fragments are added together; lesions that have truly coalesced "
    "are measured as one. Tumorboard defaults (not from the text): only baseline targets that "
    "are not lymph nodes are split; only baseline lesions of one role and kind are merged; a "
    "lesion merged into another counts 0 mm."
)


def register(subparsers: Any) -> None:
    """Add the ``lesion`` and ``timeline`` commands."""
    lesion = subparsers.add_parser(
        "lesion",
        help="tracked lesions in the record: add, measure, rename, split, merge, NE, new, "
        "import a table, history",
        description="Tracked lesions of a patient in a workspace's record. Every edit is one "
        "transaction and keeps who, when, the old and the new value in the change log; an "
        "edit the record refuses (unknown patient, lesion or exam, a broken rule of the "
        "measurement table) changes nothing and exits with status 2.",
        epilog=_RULES,
    )
    actions = lesion.add_subparsers(title="actions", dest="action", metavar="ACTION")
    importer = actions.add_parser(
        "import",
        help="import a measurement table in the 'tumorboard assess' format",
        description="Import MEASUREMENTS.csv (the 'tumorboard assess' format, same rules) into "
        "the record: lesions get stable tracking UIDs, exams are matched by date, changed "
        "values are logged; rows whose part_of names another lesion mark it split or merged.",
    )
    _workspace_option(importer)
    importer.add_argument(
        "table", type=Path, metavar="MEASUREMENTS.csv", help="the measurement table (CSV)"
    )
    _author_option(importer)
    _json_option(importer)
    importer.set_defaults(handler=run_lesion_import)

    add = _action(
        actions,
        "add",
        "add a baseline lesion (target or non-target), optionally measured at an exam",
        "Add a lesion chosen at the baseline. With --exam (the baseline exam) it is read "
        "there, with its size if given; a present target needs its size.",
    )
    _label_option(add, "label of the new lesion, unique within the patient")
    add.add_argument("--organ", required=True, help="organ or site, e.g. liver, lung")
    add.add_argument("--node", action="store_true", help="a lymph node (measured by short axis)")
    add.add_argument(
        "--role", required=True, choices=("target", "non-target"), help="role at baseline"
    )
    add.add_argument(
        "--exam", metavar="DATE", help="ISO date of the (baseline) exam where it is read"
    )
    _size_options(add)
    _modality_option(add)
    add.set_defaults(handler=run_lesion_add)

    measure = _action(
        actions,
        "measure",
        "record a lesion's numbers (and status) at an exam",
        "Record numbers of a lesion at an exam (source manual). A new diameter on a read "
        "marked absent, too-small or not-evaluated makes it present. Numbers are ASCII "
        "decimals, finite and in range; diameters are > 0 and at most 1000 mm.",
    )
    _label_option(measure, "the lesion")
    _exam_option(measure)
    _size_options(measure)
    measure.add_argument(
        "--quantity",
        metavar="NAME",
        help="another quantity, e.g. mean_hu, sul_peak, volume_ml (a column of the "
        "measurement table) or any lower-case name (kept, not used by the criteria)",
    )
    measure.add_argument("--value", metavar="V", help="the value of --quantity")
    measure.add_argument(
        "--unit",
        metavar="U",
        help="UCUM unit of --quantity (default for a table column: its unit, e.g. g/mL)",
    )
    measure.add_argument(
        "--status",
        choices=("present", "absent", "too-small", "unequivocal-progression", "equivocal"),
        help="what was seen (default: present for a new read; not-evaluated is 'lesion ne')",
    )
    _modality_option(measure)
    measure.set_defaults(handler=run_lesion_measure)

    rename = _action(
        actions,
        "rename",
        "give a lesion a new label",
        "Rename a lesion; its tracking UID, reads and numbers stay, and fragments or merged "
        "lesions that name it follow.",
    )
    _label_option(rename, "the lesion's current label")
    rename.add_argument("--to", required=True, metavar="NEW", help="the new label")
    rename.set_defaults(handler=run_lesion_rename)

    split = _action(
        actions,
        "split",
        "split a target lesion into fragments at a follow-up exam",
        "A baseline target lesion seen fragmented at a follow-up exam: each fragment becomes "
        "a lesion of its own (lineage kept: its reads name the parent), and the sum of the "
        "fragments' longest diameters counts for the target (RECIST 1.1).",
    )
    _label_option(split, "the lesion that split")
    _exam_option(split)
    split.add_argument(
        "--fragment",
        nargs=2,
        action="append",
        required=True,
        metavar=("LABEL", "LONG_AXIS_MM"),
        help="a fragment's new label and longest diameter in mm (give two or more)",
    )
    _modality_option(split)
    split.set_defaults(handler=run_lesion_split)

    merge = _action(
        actions,
        "merge",
        "merge coalesced lesions into one at a follow-up exam",
        "Lesions that have truly coalesced at a follow-up exam: the lesion named by --into "
        "keeps its label and carries the coalesced lesion's size; the others get status "
        "merged (and merged_into_id) and count 0 mm from that exam on.",
    )
    merge.add_argument(
        "--label",
        action="append",
        required=True,
        metavar="L",
        help="a lesion merged into --into (repeat for several)",
    )
    merge.add_argument("--into", required=True, metavar="L", help="the coalesced lesion")
    _exam_option(merge)
    _size_options(merge, whose="of the coalesced lesion ")
    _modality_option(merge)
    merge.set_defaults(handler=run_lesion_merge)

    ne = _action(
        actions,
        "ne",
        "mark a lesion not evaluable (NE) at an exam",
        "Mark a lesion not evaluated at an exam (status not-evaluated); its numbers there "
        "stay in the record and are not used.",
    )
    _label_option(ne, "the lesion")
    _exam_option(ne)
    _modality_option(ne)
    ne.set_defaults(handler=run_lesion_ne)

    new = _action(
        actions,
        "new",
        "record a new lesion first seen at a follow-up exam",
        "A lesion first seen after the baseline (role new). Unequivocal by default (status "
        "present: progression under RECIST 1.1); --equivocal records a finding the criteria "
        "hold until a later exam confirms it.",
    )
    _label_option(new, "label of the new lesion, unique within the patient")
    _exam_option(new)
    new.add_argument("--organ", required=True, help="organ or site, e.g. liver, bone")
    new.add_argument("--node", action="store_true", help="a lymph node")
    new.add_argument(
        "--equivocal", action="store_true", help="equivocal, not (yet) unequivocal new disease"
    )
    _size_options(new)
    _modality_option(new)
    new.set_defaults(handler=run_lesion_new)

    history = actions.add_parser(
        "history",
        help="the change log of a patient's lesions",
        description="Who changed what and when, with the old and the new value, oldest first.",
    )
    _workspace_option(history)
    history.add_argument("patient_id", metavar="PATIENT_ID", help="the patient's id in the record")
    history.add_argument(
        "--label", metavar="L", help="only this lesion (its current label; earlier labels included)"
    )
    _json_option(history)
    history.set_defaults(handler=run_lesion_history)

    timeline = subparsers.add_parser(
        "timeline",
        help="a patient's exams, therapy lines and responses from the record",
        description="Exams (date, modalities), therapy lines and the response under each "
        "criteria against baseline and against nadir, from the workspace's record.",
    )
    _workspace_option(timeline)
    timeline.add_argument("patient_id", metavar="PATIENT_ID", help="the patient's id in the record")
    timeline.add_argument("--json", action="store_true", help="print the timeline as JSON")
    timeline.set_defaults(handler=run_timeline)


def _action(actions: Any, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(
        name, help=summary, description=description, epilog=_RULES
    )
    _workspace_option(parser)
    parser.add_argument("patient_id", metavar="PATIENT_ID", help="the patient's id in the record")
    _author_option(parser)
    _json_option(parser)
    return parser


def _workspace_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace", type=Path, required=True, metavar="WORKSPACE", help="the workspace"
    )


def _author_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--author",
        default=None,
        help="who reads or edits, kept with every change (default: the login name of this session)",
    )


def _json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _label_option(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument("--label", required=True, metavar="L", help=text)


def _exam_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--exam", required=True, metavar="DATE", help="ISO date (YYYY-MM-DD) of the exam"
    )


def _modality_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--modality",
        help="imaging procedure of a new read: ct, mr, pet-fdg ... (default: that of the "
        "exam's other reads, else its CT or MR, else ct)",
    )


def _size_options(parser: argparse.ArgumentParser, whose: str = "") -> None:
    parser.add_argument(
        "--long-axis-mm", metavar="X", help=f"longest diameter {whose}in mm (non-nodal lesions)"
    )
    parser.add_argument(
        "--short-axis-mm", metavar="X", help=f"short axis {whose}in mm (lymph nodes)"
    )


def run_lesion_import(args: argparse.Namespace) -> int:
    """Import the table and print a one-line summary (or JSON)."""
    from tumorboard.store import open_workspace
    from tumorboard.workflow.lesion_reads import import_reads_csv

    author = _author(args)
    if author is None:
        return REFUSED
    workspace = open_workspace(args.workspace)
    try:
        summary = import_reads_csv(workspace, args.table, author).as_dict()
    finally:
        workspace.close()
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        sys.stdout.write(
            f"{summary['reads']} new reads, {summary['values_changed']} values changed "
            f"({summary['lesions']} new lesions, {summary['exams']} new exams)\n"
        )
    return 0


def run_lesion_add(args: argparse.Namespace) -> int:
    """``lesion add``: a baseline lesion."""
    from tumorboard.workflow.lesion_edits import add_lesion

    return _edit(
        args,
        lambda ws, author: add_lesion(
            ws,
            args.patient_id,
            args.label,
            organ=args.organ,
            role=args.role,
            is_node=args.node,
            exam=args.exam,
            values=_sizes(args),
            modality=args.modality,
            author=author,
        ),
    )


def run_lesion_measure(args: argparse.Namespace) -> int:
    """``lesion measure``: numbers and status of a lesion at an exam."""
    from tumorboard.workflow.lesion_edits import EditRefused, Value, measure_lesion

    values = _sizes(args)
    if (args.quantity is None) != (args.value is None):
        return _refused(args, EditRefused("--quantity and --value go together"))
    if args.unit is not None and args.quantity is None:
        return _refused(args, EditRefused("--unit belongs to --quantity"))
    if args.quantity is not None:
        values.append(Value(args.quantity, args.value, args.unit))
    return _edit(
        args,
        lambda ws, author: measure_lesion(
            ws,
            args.patient_id,
            args.label,
            args.exam,
            values,
            status=args.status,
            modality=args.modality,
            author=author,
        ),
    )


def run_lesion_rename(args: argparse.Namespace) -> int:
    """``lesion rename``."""
    from tumorboard.workflow.lesion_edits import rename_lesion

    return _edit(
        args,
        lambda ws, author: rename_lesion(ws, args.patient_id, args.label, args.to, author=author),
    )


def run_lesion_split(args: argparse.Namespace) -> int:
    """``lesion split``: fragments of a target lesion."""
    from tumorboard.workflow.lesion_edits import split_lesion

    fragments = [(label, size) for label, size in args.fragment]
    return _edit(
        args,
        lambda ws, author: split_lesion(
            ws,
            args.patient_id,
            args.label,
            args.exam,
            fragments,
            modality=args.modality,
            author=author,
        ),
    )


def run_lesion_merge(args: argparse.Namespace) -> int:
    """``lesion merge``: coalesced lesions into one."""
    from tumorboard.workflow.lesion_edits import merge_lesions

    return _edit(
        args,
        lambda ws, author: merge_lesions(
            ws,
            args.patient_id,
            args.label,
            args.into,
            args.exam,
            values=_sizes(args),
            modality=args.modality,
            author=author,
        ),
    )


def run_lesion_ne(args: argparse.Namespace) -> int:
    """``lesion ne``: not evaluable at an exam."""
    from tumorboard.workflow.lesion_edits import mark_not_evaluable

    return _edit(
        args,
        lambda ws, author: mark_not_evaluable(
            ws, args.patient_id, args.label, args.exam, modality=args.modality, author=author
        ),
    )


def run_lesion_new(args: argparse.Namespace) -> int:
    """``lesion new``: a lesion first seen at a follow-up."""
    from tumorboard.workflow.lesion_edits import add_new_lesion

    return _edit(
        args,
        lambda ws, author: add_new_lesion(
            ws,
            args.patient_id,
            args.label,
            args.exam,
            organ=args.organ,
            is_node=args.node,
            values=_sizes(args),
            equivocal=args.equivocal,
            modality=args.modality,
            author=author,
        ),
    )


def run_lesion_history(args: argparse.Namespace) -> int:
    """``lesion history``: the change log as a table (or JSON)."""
    from tumorboard.store import open_workspace
    from tumorboard.workflow.lesion_edits import EditRefused, lesion_history

    workspace = open_workspace(args.workspace)
    try:
        entries = lesion_history(workspace, args.patient_id, args.label)
    except EditRefused as exc:
        return _refused(args, exc)
    finally:
        workspace.close()
    if args.json:
        sys.stdout.write(json.dumps({"changes": entries}) + "\n")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"lesion history ({len(entries)} changes)", title_justify="left")
    for column in ("when (UTC)", "author", "lesion", "exam", "field", "old", "new"):
        table.add_column(column)
    for entry in entries:
        table.add_row(
            entry["changed_at"][:19].replace("T", " "),
            entry["author"],
            entry["lesion"],
            entry["exam"] or "",
            entry["field"],
            "" if entry["old"] is None else entry["old"],
            "" if entry["new"] is None else entry["new"],
        )
    width = None if sys.stdout.isatty() else 200
    Console(highlight=False, width=width).print(table)
    return 0


def _sizes(args: argparse.Namespace) -> list[Any]:
    from tumorboard.workflow.lesion_edits import Value

    values = []
    if args.long_axis_mm is not None:
        values.append(Value("longest_diameter_mm", args.long_axis_mm))
    if args.short_axis_mm is not None:
        values.append(Value("short_axis_mm", args.short_axis_mm))
    return values


def _author(args: argparse.Namespace) -> str | None:
    """``--author``, else the login name; None (after one line on stderr) if neither."""
    if args.author is not None:
        return str(args.author)
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        sys.stderr.write(
            f"tumorboard {args.command}: error: cannot tell who is editing (no login name): "
            "give --author\n"
        )
        return None


def _refused(args: argparse.Namespace, exc: Exception) -> int:
    action = f" {args.action}" if getattr(args, "action", None) else ""
    message = " ".join(str(exc).split())
    sys.stderr.write(f"tumorboard {args.command}{action}: error: {message}\n")
    return REFUSED


def _edit(args: argparse.Namespace, call: Callable[[Any, str], Any]) -> int:
    """Run one edit; print its one-line summary (or JSON), or refuse with exit status 2."""
    from tumorboard.store import open_workspace
    from tumorboard.workflow.lesion_edits import EditRefused

    author = _author(args)
    if author is None:
        return REFUSED
    workspace = open_workspace(args.workspace)
    try:
        result = call(workspace, author)
    except EditRefused as exc:
        return _refused(args, exc)
    finally:
        workspace.close()
    summary = result.as_dict()
    if args.json:
        sys.stdout.write(json.dumps(summary) + "\n")
        return 0
    where = f" at {summary['exam']}" if summary["exam"] else ""
    sys.stdout.write(
        f"lesion {args.action}: {', '.join(summary['lesions'])}{where} "
        f"({summary['changes']} changes logged)\n"
    )
    return 0


def run_timeline(args: argparse.Namespace) -> int:
    """Print the patient's timeline as a table (or JSON)."""
    from tumorboard.store import open_workspace
    from tumorboard.workflow.timeline import patient_timeline

    workspace = open_workspace(args.workspace)
    try:
        timeline = patient_timeline(workspace, args.patient_id)
    finally:
        workspace.close()
    if args.json:
        sys.stdout.write(json.dumps(timeline) + "\n")
        return 0
    from tumorboard.cli.timeline_table import print_timeline

    print_timeline(timeline)
    return 0
