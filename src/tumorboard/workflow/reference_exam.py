"""The reference exam of each WB-DWI exam: the first exam of its therapy line.

Every WB-DWI percentage and response class of an exam is relative to one
reference exam (the pre-treatment exam). The rule of the record:

* an exam belongs to the latest therapy line that started on or before its
  date;
* the reference of that line is the exam set with ``tumorboard baseline``
  when there is one, else the line's pre-treatment exam: the last exam on or
  before the line's start, or the first exam after it when none precedes it;
* an exam before every line (or a patient with no line) refers to the
  patient's first exam.

This rule is tumorboard's default (the sources name no rule for choosing the
reference exam); ``tumorboard baseline`` sets another.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["LineStart", "reference_dates"]


@dataclass(frozen=True)
class LineStart:
    """When a therapy line started and, if the reader set one, its baseline exam.

    Attributes
    ----------
    start_date : date
        First day of the line.
    baseline_date : date or None
        Date of the exam set as the line's reference.
    """

    start_date: dt.date
    baseline_date: dt.date | None = None


def reference_dates(
    exam_dates: Sequence[dt.date], lines: Sequence[LineStart] = ()
) -> dict[dt.date, dt.date]:
    """Map each exam date to the date of its reference exam.

    Parameters
    ----------
    exam_dates : sequence of date
        The dates of the patient's exams of one modality.
    lines : sequence of LineStart
        The patient's therapy lines, any order.

    Returns
    -------
    dict of date to date
        Every exam date to its reference exam's date (an exam may be its own
        reference).

    Examples
    --------
    >>> d = dt.date.fromisoformat
    >>> exams = [d("2024-01-08"), d("2024-04-08"), d("2024-10-07"), d("2025-01-13")]
    >>> refs = reference_dates(exams)
    >>> sorted({v.isoformat() for v in refs.values()})
    ['2024-01-08']
    >>> lines = [LineStart(d("2024-01-10")), LineStart(d("2024-10-01"), d("2024-10-07"))]
    >>> [ref.isoformat() for ref in reference_dates(exams, lines).values()]
    ['2024-01-08', '2024-01-08', '2024-10-07', '2024-10-07']
    >>> [ref.isoformat() for ref in reference_dates(exams, [LineStart(d("2024-10-01"))]).values()]
    ['2024-01-08', '2024-01-08', '2024-04-08', '2024-04-08']
    """
    ordered = sorted(set(exam_dates))
    if not ordered:
        return {}
    starts = sorted(lines, key=lambda line: line.start_date)
    found: dict[dt.date, dt.date] = {}
    for date in ordered:
        current = [line for line in starts if line.start_date <= date]
        if not current:
            found[date] = ordered[0]
            continue
        line = current[-1]
        if line.baseline_date is not None and line.baseline_date <= date:
            found[date] = line.baseline_date
            continue
        before = [other for other in ordered if other <= line.start_date]
        after = [other for other in ordered if line.start_date < other <= date]
        found[date] = before[-1] if before else after[0]
    return found
