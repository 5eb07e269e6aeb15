"""Figures of the case-report form: spider, waterfall and lesion timeline.

Each function takes plain per-lesion data (no images) and returns a
self-contained ``data:image/png;base64,...`` URI that both browsers and
WeasyPrint render from an ``<img>`` tag (PNG rather than SVG: WeasyPrint
draws SVG in Python and took twice as long over the form's PDF). Figures are built on
:class:`matplotlib.figure.Figure` directly, so no global pyplot state is touched.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

from matplotlib import rc_context
from matplotlib.figure import Figure

# Figures are decorated with rc_context(text.parse_math=False): labels are user
# text (lesion ids, timepoints), where a '$' must never start mathtext.

_STATUS_MARKERS = {
    "target": ("o", "#1f77b4"),
    "non-target": ("s", "#7f7f7f"),
    "new": ("^", "#d62728"),
    "new-baseline": ("D", "#ff7f0e"),
}


#: Figure resolution: sharp on screen and in print at the form's width.
DPI = 110


def _to_uri(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"data:image/png;base64,{encoded}"


@rc_context({"text.parse_math": False})
def spider_plot(
    days: Sequence[int],
    percent_change: Mapping[str, Sequence[float | None]],
    title: str = "Change from baseline per target lesion",
) -> str:
    """Lines of % change from baseline against days, one per lesion (``None`` = gap).

    Parameters
    ----------
    days : sequence of int
        Days from baseline of each timepoint.
    percent_change : mapping of str to sequence
        Lesion id (or ``"sum"``) to its % change at each timepoint.
    title : str
        Axes title.
    """
    figure = Figure(figsize=(6.0, 3.2))
    axes = figure.add_subplot()
    for name, values in percent_change.items():
        points = [(d, v) for d, v in zip(days, values, strict=True) if v is not None]
        if not points:
            continue
        style = {"linewidth": 2.5, "color": "black"} if name == "sum" else {"linewidth": 1.2}
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name, **style)
    for level, colour in ((20, "#d62728"), (-30, "#2ca02c")):
        axes.axhline(level, linestyle="--", linewidth=0.8, color=colour)
    axes.axhline(0, linewidth=0.6, color="grey")
    axes.set_xlabel("days from baseline")
    axes.set_ylabel("change from baseline (%)")
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=7, loc="best")
    return _to_uri(figure)


@rc_context({"text.parse_math": False})
def waterfall_plot(best_change: Mapping[str, float], title: str = "Best change") -> str:
    """Bars of the best (lowest) % change, sorted from largest increase to largest decrease."""
    figure = Figure(figsize=(6.0, 2.8))
    axes = figure.add_subplot()
    items = sorted(best_change.items(), key=lambda item: -item[1])
    colours = [
        "#d62728" if value >= 20 else "#2ca02c" if value <= -30 else "#1f77b4" for _, value in items
    ]
    axes.bar([name for name, _ in items], [value for _, value in items], color=colours)
    axes.axhline(20, linestyle="--", linewidth=0.8, color="#d62728")
    axes.axhline(-30, linestyle="--", linewidth=0.8, color="#2ca02c")
    axes.axhline(0, linewidth=0.6, color="grey")
    axes.set_ylabel("best change (%)")
    axes.set_title(title, fontsize=10)
    axes.tick_params(axis="x", labelsize=7, rotation=45)
    return _to_uri(figure)


@rc_context({"text.parse_math": False})
def lesion_timeline_plot(
    timepoints: Sequence[str],
    lesions: Sequence[tuple[str, str, Sequence[bool]]],
) -> str:
    """Which lesion was seen when.

    Parameters
    ----------
    timepoints : sequence of str
        Timepoint labels (x axis).
    lesions : sequence of (lesion id, kind, seen per timepoint)
        ``kind`` is ``target``, ``non-target``, ``new`` or ``new-baseline``.
    """
    figure = Figure(figsize=(6.0, 0.6 + 0.3 * max(len(lesions), 1)))
    axes = figure.add_subplot()
    shown: set[str] = set()
    for row, (_name, kind, seen) in enumerate(lesions):
        marker, colour = _STATUS_MARKERS.get(kind, ("o", "black"))
        xs = [i for i, flag in enumerate(seen) if flag]
        axes.scatter(
            xs, [row] * len(xs), marker=marker, color=colour, label=None if kind in shown else kind
        )
        shown.add(kind)
    axes.set_yticks(range(len(lesions)), [name for name, _, _ in lesions], fontsize=7)
    axes.set_xticks(range(len(timepoints)), list(timepoints), fontsize=7)
    axes.set_ylim(-0.7, len(lesions) - 0.3)
    axes.invert_yaxis()
    axes.set_title("Lesion timeline", fontsize=10)
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _to_uri(figure)
