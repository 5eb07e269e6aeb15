"""The whole-body DWI block of the case-report form: one row per exam.

Rows are the plain records of :func:`tumorboard.pipeline.dwi_compare.comparison_rows`
(tumour volume, ADC statistics and their change against the first exam), so
the form shows the diffusion tumour load beside the size-based criteria.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

#: (key, header, decimals) of the columns shown, in order.
WBDWI_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("total_diffusion_volume_ml", "volume (ml)", 1),
    ("tdv_change_vs_first_pct", "Δ volume vs first (%)", 1),
    ("adc_mean_um2_per_s", "mean ADC (µm²/s)", 0),
    ("adc_median_um2_per_s", "median ADC (µm²/s)", 0),
    ("adc_median_change_vs_first_pct", "Δ median ADC (%)", 1),
    ("adc_p95_um2_per_s", "ADC p95 (µm²/s)", 0),
    ("adc_kurtosis", "kurtosis", 2),
)


def deidentified_rows(rows: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
    """The rows with exam labels (which may be dates) replaced by ``exam N``."""
    return [{**row, "exam": f"exam {index}"} for index, row in enumerate(rows, start=1)]


def render_wbdwi_fragment(rows: Sequence[Mapping[str, object]]) -> str:
    """An escaped HTML table of the exams, for the case-report form.

    Parameters
    ----------
    rows : sequence of mapping
        One record per exam, first exam first, with the keys of
        :data:`WBDWI_COLUMNS` and ``exam``.
    """
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title, _ in WBDWI_COLUMNS)
    body = []
    for row in rows:
        cells = "".join(
            f"<td>{_number(row.get(key), decimals)}</td>" for key, _, decimals in WBDWI_COLUMNS
        )
        body.append(f"<tr><td>{html.escape(str(row.get('exam', '')))}</td>{cells}</tr>")
    return (
        "<p>Total diffusion volume (computed high-b threshold segmentation) and tumour "
        "ADC of each whole-body diffusion MRI exam; changes against the first exam.</p>"
        f'<table class="crf-table"><tr><th>exam</th>{head}</tr>{"".join(body)}</table>'
    )


def _number(value: object, decimals: int) -> str:
    if value is None or value == "":
        return ""
    try:
        return f"{float(str(value)):,.{decimals}f}"
    except ValueError:
        return html.escape(str(value))
