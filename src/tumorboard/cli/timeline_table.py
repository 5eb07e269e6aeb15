"""The terminal table of ``tumorboard timeline`` (rich)."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["print_timeline"]


def _number(value: object, digits: int = 1) -> str:
    return "" if not isinstance(value, int | float) else f"{value:.{digits}f}"


def _dwi_cells(dwi: dict[str, Any] | None) -> tuple[str, str]:
    if not dwi:
        return "", ""
    classes = dwi.get("classes_ml") or {}
    volume = _number(dwi.get("total_diffusion_volume_ml"))
    change = dwi.get("tdv_change_pct")
    if isinstance(change, int | float):
        volume += f" ({change:+.1f} % vs {dwi.get('reference_exam_date')})"
    class_text = " / ".join(_number(classes.get(name)) for name in ("red", "yellow", "green"))
    return volume, class_text


def _pet_cell(pet: dict[str, Any] | None) -> str:
    if not pet:
        return ""
    return (
        ", ".join(
            f"{lesion['lesion']} {_number(lesion.get('sul_peak'), 2) or '-'}"
            for lesion in pet.get("lesions", [])
        )
        or "no lesion SEG"
    )


def print_timeline(timeline: dict[str, Any]) -> None:
    """Print exams, therapy lines, responses, WB-DWI and PET values as tables.

    Examples
    --------
    >>> print_timeline({"patient_id": "P", "exams": [{"date": "2024-01-08", "label": "",
    ...     "modalities": ["MR"], "dwi": {"total_diffusion_volume_ml": 2.88,
    ...     "classes_ml": {"red": 2.88, "yellow": 0, "green": 0}}}],
    ...     "therapy_lines": [], "responses": {}})  # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
    timeline ...
    """
    from rich.console import Console
    from rich.table import Table

    # Piped output is not cut to 80 columns (rich's default off a terminal).
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    table = Table(title="timeline", title_justify="left")
    for column in ("date", "exam", "modalities"):
        table.add_column(column)
    criteria = list(timeline["responses"])
    for name in criteria:
        table.add_column(f"{name}\nvs baseline / nadir")
    table.add_column("WB-DWI TDV ml")
    table.add_column("classes ml\nred / yellow / green")
    table.add_column("PET SULpeak")
    by_date: dict[str, dict[str, str]] = {}
    for name, points in timeline["responses"].items():
        for point in points:
            text = f"{point['vs_baseline'] or '-'} / {point['vs_nadir'] or '-'}"
            by_date.setdefault(point["date"], {})[name] = text
    for exam in timeline["exams"]:
        cells = by_date.get(exam["date"], {})
        table.add_row(
            exam["date"],
            exam["label"] or "",
            ", ".join(exam["modalities"]),
            *(cells.get(name, "") for name in criteria),
            *_dwi_cells(exam.get("dwi")),
            _pet_cell(exam.get("pet")),
        )
    console.print(table)
    if timeline.get("therapy_lines"):
        lines = Table(title="therapy lines", title_justify="left")
        for column in ("line", "drug", "class", "start", "end", "baseline exam"):
            lines.add_column(column)
        for line in timeline["therapy_lines"]:
            lines.add_row(
                str(line["line"]),
                line.get("drug") or "",
                line.get("drug_class") or "",
                line.get("start_date") or "",
                line.get("end_date") or "",
                line.get("baseline_exam_date") or "",
            )
        console.print(lines)
