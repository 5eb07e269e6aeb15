"""The CSV contracts of ``tumorboard dce``: CURVES, AIF, PARAMS and lesions tables.

* ``CURVES.csv``: ``time_s`` and one tissue-concentration column (mM) per curve;
* ``AIF.csv``: ``time_s``, ``cp_mM`` (plasma, or whole blood when a
  haematocrit is given) and, for the dual-input model, ``cv_mM``;
* ``PARAMS.csv``: ``curve``, the model's parameters, (``delay_s``), ``r2``,
  ``converged``;
* ``lesions.csv``: ``lesion``, ``n_voxels``, ``failed_fraction`` and the
  median of every parameter.

Every error is one line naming the file, the column (and row) and the rule.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tumorboard.dce.aif import InputFunction, blood_to_plasma, validate_times
from tumorboard.dce.fit import FitResult
from tumorboard.dce.lesion_summary import LesionSummary
from tumorboard.dce.tissue_curves import check_tissue_curve
from tumorboard.errors import InputError
from tumorboard.privacy import SafeWriter

#: Frame times of CURVES.csv and AIF.csv must agree to this fraction of the
#: shortest frame interval (rounding of the written times, nothing more).
TIME_MATCH_FRACTION_OF_STEP = 1e-3


def read_columns(path: Path, what: str) -> dict[str, NDArray[np.float64]]:
    """Read a numeric CSV file into columns (empty cells become NaN).

    Parameters
    ----------
    path : Path
    what : str
        Role of the file in messages (``"curves"``, ``"AIF"``).

    Returns
    -------
    dict of str to ndarray, shape (n_rows,)

    Raises
    ------
    InputError
        Missing or unreadable file, fewer than 2 data rows, duplicate column
        names, ragged rows or non-numeric cells.
    """
    if not path.is_file():
        raise InputError(f"{what} {path}: file not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{what} {path}: cannot be read as CSV ({exc})") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if len(rows) < 3:
        raise InputError(f"{what} {path}: needs a header row and at least 2 data rows")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise InputError(f"{what} {path}: duplicate column names in the header")
    columns: dict[str, list[float]] = {h: [] for h in header}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(
                f"{what} {path}: row {line} has {len(row)} cells, the header has {len(header)}"
            )
        for name, cell in zip(header, row, strict=True):
            try:
                columns[name].append(float(cell) if cell.strip() else math.nan)
            except ValueError:
                raise InputError(
                    f"{what} {path}: column {name} row {line}: not a number ({cell.strip()!r})"
                ) from None
    return {name: np.asarray(values, dtype=np.float64) for name, values in columns.items()}


def require_column(
    columns: dict[str, NDArray[np.float64]], name: str, path: Path, what: str
) -> NDArray[np.float64]:
    """A column of :func:`read_columns`, or an error naming the file and the column."""
    if name not in columns:
        raise InputError(f"{what} {path}: missing column {name}")
    return columns[name]


def check_hct(hct: float, what: str = "--hct") -> float:
    """Return a haematocrit after checking it is a fraction in ``[0, 1)``.

    Raises
    ------
    InputError
        Naming the option, e.g. ``--hct: haematocrit must be in [0, 1), got 45``.
    """
    if not (math.isfinite(hct) and 0.0 <= hct < 1.0):
        raise InputError(f"{what}: haematocrit must be a fraction in [0, 1), got {hct:g}")
    return float(hct)


def read_input_csv(path: Path, hct: float | None, need_portal: bool) -> InputFunction:
    """Read ``AIF.csv`` as plasma input function(s).

    Parameters
    ----------
    path : Path
    hct : float, optional
        Given: the columns hold whole blood and are divided by ``1 - hct``.
        None: they already hold plasma.
    need_portal : bool
        Require (and keep) the ``cv_mM`` column.

    Returns
    -------
    InputFunction
    """
    if hct is not None:
        check_hct(hct)
    columns = read_columns(path, "AIF")
    times = validate_times(
        require_column(columns, "time_s", path, "AIF"), f"AIF {path} column time_s"
    )
    cp = require_column(columns, "cp_mM", path, "AIF")
    cv = columns.get("cv_mM")
    if need_portal and cv is None:
        raise InputError(f"AIF {path}: missing column cv_mM (the dual-input model needs it)")
    if hct is not None:
        cp = blood_to_plasma(cp, hct)
        cv = None if cv is None else blood_to_plasma(cv, hct)
    return InputFunction(times, cp, cv if need_portal else None, source=f"AIF {path}")


@dataclass(frozen=True)
class CurveTable:
    """Tissue curves of ``CURVES.csv``.

    Attributes
    ----------
    times_s : ndarray, shape (nt,)
        The input function's frame times (the curves' own match them within
        :data:`TIME_MATCH_FRACTION_OF_STEP` of a frame interval).
    names : tuple of str
        Column names, one per curve.
    curves : ndarray, shape (n, nt)
        Concentration in mM.
    """

    times_s: NDArray[np.float64]
    names: tuple[str, ...]
    curves: NDArray[np.float64]


def read_curves_csv(path: Path, inputs: InputFunction) -> CurveTable:
    """Read ``CURVES.csv`` and check it against the input function's frame times.

    Raises
    ------
    InputError
        Non-monotonic times, a length or time mismatch with ``inputs``, no
        curve column, NaN/empty or clearly negative concentrations.
    """
    columns = read_columns(path, "curves")
    times = validate_times(
        require_column(columns, "time_s", path, "curves"), f"curves {path} column time_s"
    )
    if times.size != inputs.times_s.size:
        raise InputError(
            f"curves {path} column time_s has {times.size} values, "
            f"{inputs.source} column time_s has {inputs.times_s.size}"
        )
    atol_s = TIME_MATCH_FRACTION_OF_STEP * float(np.min(np.diff(inputs.times_s)))
    differs = ~np.isclose(times, inputs.times_s, atol=atol_s, rtol=0)
    if differs.any():
        i = int(np.argmax(differs))
        raise InputError(
            f"curves {path} column time_s differs from {inputs.source} column time_s "
            f"at row {i + 2} ({times[i]:g} s vs {inputs.times_s[i]:g} s)"
        )
    names = tuple(n for n in columns if n != "time_s")
    if not names:
        raise InputError(f"curves {path}: no curve columns besides time_s")
    curves = np.stack([check_tissue_curve(columns[n], f"curves {path}", n) for n in names])
    return CurveTable(inputs.times_s, names, curves)


def format_value(value: float) -> str:
    """A number as written in the CSV outputs (6 significant digits, ``nan``)."""
    return "nan" if not np.isfinite(value) else f"{float(value):.6g}"


def write_params_csv(
    path: Path,
    names: Sequence[str],
    parameters: Sequence[str],
    result: FitResult,
    *,
    with_delay: bool,
) -> None:
    """Write ``PARAMS.csv``: ``curve``, parameters, (``delay_s``), ``r2``, ``converged``."""
    header = ["curve", *parameters, *(["delay_s"] if with_delay else []), "r2", "converged"]
    with open(path, "w", newline="") as handle:
        writer = SafeWriter(handle)
        writer.writerow(header)
        for i, name in enumerate(names):
            row: list[Any] = [name, *[format_value(result.parameters[p][i]) for p in parameters]]
            if with_delay:
                row.append(format_value(result.delay_s[i]))
            row += [format_value(result.r2[i]), str(bool(result.converged[i])).lower()]
            writer.writerow(row)


def write_lesions_csv(
    path: Path, parameters: Sequence[str], summaries: Sequence[LesionSummary]
) -> None:
    """Write ``lesions.csv``: one row per lesion with the median of every parameter."""
    with open(path, "w", newline="") as handle:
        writer = SafeWriter(handle)
        writer.writerow(
            ["lesion", "n_voxels", "failed_fraction", *[f"{p}_median" for p in parameters]]
        )
        for s in summaries:
            writer.writerow(
                [
                    s.lesion,
                    s.n_voxels,
                    format_value(s.failed_fraction),
                    *[format_value(s.median(p)) for p in parameters],
                ]
            )
