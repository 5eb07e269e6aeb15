"""CSV writing that spreadsheets cannot turn into formulas.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is read as a formula by Excel, LibreOffice and Google Sheets
(``=HYPERLINK(...)``, ``+cmd|' /C calc'!A0``, ``@SUM(...)``). As OWASP's
"CSV Injection" page recommends, such a cell is written with a single quote
in front, which spreadsheets show as text; the csv module quotes cells that
hold the separator, quotes or line breaks. The rule applies to the values
and to the column names.

One exception, by design: a cell that is entirely a plain ASCII decimal
number with a leading minus (``-12.5``, ``-3``, ``-1.5e-3``) is written as it
is, so that negative changes, HU and coordinates stay numbers. Such a cell
cannot hold a formula. ``-inf``, ``-nan`` and anything else starting with
``-`` get the quote.

The quote changes the text of the CSV only: JSON outputs keep the raw values
(``crf.json`` holds the ids and labels as given).

This module lives in :mod:`tumorboard.privacy` rather than
:mod:`tumorboard.imaging` because it is an output-safety rule shared by every
layer that writes a table (``report``, ``pipeline``, ``radiomics``, ``cli``)
and it depends on nothing but the standard library.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

__all__ = ["FORMULA_PREFIXES", "SafeWriter", "safe_cell", "safe_row", "write_csv"]

#: First characters that make a spreadsheet evaluate a cell (OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FIRST = frozenset(FORMULA_PREFIXES)
_NEGATIVE_NUMBER = re.compile(r"-(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def safe_cell(value: object) -> str:
    r"""The text of one CSV cell, with a formula prefix neutralised.

    ``None`` becomes the empty string, other values ``str(value)``.

    Examples
    --------
    >>> safe_cell('=HYPERLINK("http://x","y")')
    '\'=HYPERLINK("http://x","y")'
    >>> safe_cell("@SUM(A1)"), safe_cell("+cmd"), safe_cell("\tx")
    ("'@SUM(A1)", "'+cmd", "'\tx")
    >>> safe_cell("-12.5"), safe_cell(-3), safe_cell("-2+3"), safe_cell(None), safe_cell("L1")
    ('-12.5', '-3', "'-2+3", '', 'L1')
    """
    text = "" if value is None else value if type(value) is str else str(value)
    if text[:1] in _FIRST and not _NEGATIVE_NUMBER.fullmatch(text):
        return "'" + text
    return text


def safe_row(columns: Sequence[str], row: Mapping[str, object] | Sequence[object]) -> list[str]:
    """One row's safe cells in the order of ``columns``.

    A mapping may omit columns (empty cells) but must not hold others; a
    sequence must have one value per column.

    Raises
    ------
    ValueError
        For a key that is not a column, or a sequence of the wrong length.

    Examples
    --------
    >>> safe_row(["id", "change_pct"], {"id": "+1 555"}), safe_row(["a"], ["@x"])
    (["'+1 555", ''], ["'@x"])
    """
    if isinstance(row, Mapping):
        if not set(row).issubset(columns):
            extra = [key for key in row if key not in columns]
            raise ValueError(f"row has keys that are not columns: {', '.join(map(str, extra))}")
        get = row.get
        return [safe_cell(get(column)) for column in columns]
    if len(row) != len(columns):
        raise ValueError(f"row has {len(row)} values for {len(columns)} columns")
    return [safe_cell(value) for value in row]


def write_csv(
    path: str | os.PathLike[str],
    columns: Sequence[str],
    rows: Iterable[Mapping[str, object] | Sequence[object]],
    *,
    lineterminator: str = "\r\n",
) -> int:
    r"""Write a header and rows to a UTF-8 CSV file, every cell through :func:`safe_cell`.

    Parameters
    ----------
    path : path-like
        The file to write (replaced if it exists; write into a staging
        folder from :mod:`tumorboard.outputs` for atomic outputs).
    columns : sequence of str
        Column names, in order (neutralised like the values).
    rows : iterable of mapping or sequence
        Rows as ``{column: value}`` (missing columns are empty) or as value
        sequences in column order.
    lineterminator : str
        Line ending; the csv module's default ``\r\n`` unless given.

    Returns
    -------
    int
        The number of data rows written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> rows = [{"id": "=1+1", "=x": -1.5}, ["@a", "b"]]
    >>> write_csv(path, ["id", "=x"], rows, lineterminator="\n")
    2
    >>> print(path.read_text(encoding="utf-8"), end="")
    id,'=x
    '=1+1,-1.5
    '@a,b
    """
    count = 0
    with open(Path(path), "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator=lineterminator)
        writer.writerow([safe_cell(column) for column in columns])
        for row in rows:
            writer.writerow(safe_row(columns, row))
            count += 1
    return count


class SafeWriter:
    r"""A :func:`csv.writer` whose every cell goes through :func:`safe_cell`.

    For code that writes rows one by one into an open file (``newline=""``).

    Examples
    --------
    >>> import io
    >>> buffer = io.StringIO()
    >>> SafeWriter(buffer, lineterminator="\n").writerow(["=1+1", -2.5, None])
    >>> buffer.getvalue()
    "'=1+1,-2.5,\n"
    """

    def __init__(self, handle: TextIO, **fmtparams: Any) -> None:
        self._writer = csv.writer(handle, **fmtparams)

    def writerow(self, row: Iterable[object]) -> None:
        """Write one row."""
        self._writer.writerow([safe_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        """Write several rows."""
        for row in rows:
            self.writerow(row)
