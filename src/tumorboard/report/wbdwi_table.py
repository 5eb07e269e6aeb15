"""The whole-body DWI block of the case-report form: one row per exam.

Rows are the plain records of :func:`tumorboard.pipeline.dwi_compare.comparison_rows`
(tumour volume, ADC statistics and their change against the first exam), so
the form shows the diffusion tumour load beside the size-based criteria. The
change columns name their reference exam (label and date) in the heading,
and a row whose tumour load is flagged as implausible, or that was assessed
with other settings than the reference, says so in its ``check`` cell.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

#: (key, header, decimals) of the columns shown, in order.
#: ``{reference}`` in a heading is replaced by the reference exam's name.
WBDWI_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("total_diffusion_volume_ml", "volume (ml)", 1),
    ("tdv_change_vs_first_pct", "Δ volume vs {reference} (%)", 1),
    ("adc_mean_um2_per_s", "mean ADC (µm²/s)", 0),
    ("adc_median_um2_per_s", "median ADC (µm²/s)", 0),
    ("adc_median_change_vs_first_pct", "Δ median ADC vs {reference} (%)", 1),
    ("adc_p95_um2_per_s", "ADC p95 (µm²/s)", 0),
    ("adc_kurtosis", "kurtosis", 2),
)


def deidentified_rows(rows: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    """The rows with exam labels and dates replaced by ``exam N`` (the reference ``exam 1``)."""
    return [
        {**row, "exam": f"exam {index}", "exam_date": "", "reference_exam": "exam 1"}
        for index, row in enumerate(rows, start=1)
    ]


def reference_name(rows: Sequence[Mapping[str, object]]) -> str:
    """The reference exam of the rows' changes (label and date), as the rows name it.

    Examples
    --------
    >>> reference_name([{"exam": "e1", "reference_exam": "e1 (2025-01-08)"}])
    'e1 (2025-01-08)'
    >>> reference_name([{"exam": "e1"}])
    'e1'
    """
    if not rows:
        return "first exam"
    first = rows[0]
    return str(first.get("reference_exam") or first.get("exam") or "first exam")


def render_wbdwi_fragment(rows: Sequence[Mapping[str, object]]) -> str:
    """An escaped HTML table of the exams, for the case-report form.

    Parameters
    ----------
    rows : sequence of mapping
        One record per exam, first exam first, with the keys of
        :data:`WBDWI_COLUMNS` and ``exam``.
    """
    reference = reference_name(rows)
    head = "".join(
        f"<th>{html.escape(title.format(reference=reference))}</th>"
        for _, title, _ in WBDWI_COLUMNS
    )
    body = []
    for row in rows:
        cells = "".join(
            f"<td>{_number(row.get(key), decimals)}</td>" for key, _, decimals in WBDWI_COLUMNS
        )
        exam = str(row.get("exam", ""))
        if row.get("exam_date"):
            exam += f" ({row['exam_date']})"
        checks = [str(row[key]) for key in ("plausibility_flags",) if row.get(key)]
        if row.get("settings_differ"):
            checks.append(
                f"assessed with other settings than {reference}: {row['settings_differ']}"
            )
        check = html.escape("; ".join(checks))
        body.append(
            f"<tr><td>{html.escape(exam)}</td>{cells}"
            f'<td class="{"crf-flag" if check else ""}">{check}</td></tr>'
        )
    return (
        "<p>Total diffusion volume (computed high-b threshold segmentation) and tumour "
        "ADC of each whole-body diffusion MRI exam; changes against "
        f"{html.escape(reference)}.</p>"
        f'<table class="crf-table"><tr><th>exam</th>{head}<th>check</th></tr>'
        f"{''.join(body)}</table>"
    )


def _number(value: object, decimals: int) -> str:
    if value is None or value == "":
        return ""
    try:
        return f"{float(str(value)):,.{decimals}f}"
    except ValueError:
        return html.escape(str(value))
