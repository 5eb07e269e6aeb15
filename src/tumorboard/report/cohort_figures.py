"""Figures of a cohort analysis: the ROC curve and box plots by response (PNG).

Plain arrays in, one PNG out; built on :class:`matplotlib.figure.Figure`
directly (no global pyplot state), so any process may draw.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

__all__ = ["write_box_plot", "write_roc_figure"]

#: Size (inches) and resolution of every figure.
FIGURE_SIZE_IN = (4.5, 4.0)
DPI = 120


def write_roc_figure(
    path: str | os.PathLike[str],
    false_positive_rate: Sequence[float],
    sensitivity: Sequence[float],
    *,
    title: str,
    auc: float,
    auc_ci95: tuple[float, float],
    cutoff_point: tuple[float, float] | None = None,
) -> None:
    """Draw an empirical ROC curve with its AUC, 95 % CI and the chosen cut-off.

    Parameters
    ----------
    path : path-like
        The PNG to write.
    false_positive_rate, sensitivity : sequence of float
        The curve's points, in threshold order.
    title : str
    auc : float
    auc_ci95 : (low, high)
    cutoff_point : (1 - specificity, sensitivity), optional

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "roc.png"
    >>> write_roc_figure(out, [0, 0, 1], [0, 1, 1], title="t", auc=1.0, auc_ci95=(1.0, 1.0))
    >>> out.read_bytes()[1:4]
    b'PNG'
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGURE_SIZE_IN, dpi=DPI)
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", linewidth=1)
    axes.step(list(false_positive_rate), list(sensitivity), where="post", color="C0")
    if cutoff_point is not None:
        axes.plot([cutoff_point[0]], [cutoff_point[1]], "o", color="C3", label="Youden cut-off")
        axes.legend(loc="lower right", fontsize=8)
    axes.set_xlim(-0.02, 1.02)
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlabel("1 - specificity")
    axes.set_ylabel("sensitivity")
    axes.set_title(
        f"{title}\nAUC {auc:.2f} (95 % CI {auc_ci95[0]:.2f}-{auc_ci95[1]:.2f})", fontsize=9
    )
    figure.tight_layout()
    figure.savefig(path, format="png")


def write_box_plot(
    path: str | os.PathLike[str],
    groups: Mapping[str, Sequence[float]],
    *,
    title: str,
    ylabel: str,
) -> None:
    """Box plots of one quantity by group (e.g. responders and non-responders), points on top.

    Empty groups are drawn as empty slots.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "box.png"
    >>> write_box_plot(out, {"PR": [1.0, 2.0], "SD": [0.5]}, title="t", ylabel="Ktrans")
    >>> out.stat().st_size > 0
    True
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGURE_SIZE_IN, dpi=DPI)
    axes = figure.add_subplot()
    names = list(groups)
    data = [list(groups[name]) for name in names]
    positions = list(range(1, len(names) + 1))
    filled = [(p, d) for p, d in zip(positions, data, strict=True) if d]
    if filled:
        axes.boxplot([d for _, d in filled], positions=[p for p, _ in filled], widths=0.5)
        for position, values in filled:
            axes.plot([position] * len(values), values, ".", color="C0", alpha=0.6)
    axes.set_xticks(positions, [f"{n}\n(n={len(d)})" for n, d in zip(names, data, strict=True)])
    axes.set_xlim(0.4, len(names) + 0.6)
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, format="png")
