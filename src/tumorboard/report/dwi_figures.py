"""Figures of the WB-DWI reading: coronal inverted-grey MIP with classes, ADC histograms.

The MIP is shown as radiologists read whole-body DWI: coronal, the patient's
right on the viewer's left, head up, inverted grey (bright signal black).
A ray through the body is coloured when it meets tumour, in the class that
most of its tumour voxels have (ties go to the less favourable class: red
before yellow before green), so the picture shows the dominant response of
each region; the class volumes in the table count every voxel.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import rc_context  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from tumorboard.dwi.response_classes import GREEN_LOWER_UM2_PER_S, ResponseClass  # noqa: E402
from tumorboard.imaging.volume import Volume  # noqa: E402
from tumorboard.lesions.adc_histogram import AdcHistogram  # noqa: E402

# Figures are decorated with rc_context(text.parse_math=False): labels and titles
# are user text (exam labels), where a '$' must never start mathtext.

CLASS_COLOURS = {
    ResponseClass.RED: (0.86, 0.1, 0.1),
    ResponseClass.YELLOW: (0.98, 0.8, 0.05),
    ResponseClass.GREEN: (0.1, 0.7, 0.2),
}
_OVERLAY_ALPHA = 0.85
#: argmax takes the first maximum, so listing red first breaks ties toward red.
_WORST_FIRST = (ResponseClass.RED, ResponseClass.YELLOW, ResponseClass.GREEN)


def _axis_along(volume: Volume, lps_axis: int) -> int:
    """Array axis (0 = z, 1 = y, 2 = x) best aligned with an LPS axis (0 = x, 1 = y, 2 = z)."""
    index_axis = int(np.argmax(np.abs(volume.direction[lps_axis, :])))
    return 2 - index_axis


def coronal_mip(
    image: Volume, classes: Volume | None = None
) -> tuple[NDArray[np.float32], NDArray[np.uint8] | None, tuple[float, float, float, float]]:
    """Coronal maximum-intensity projection and the worst class along each ray.

    Returns
    -------
    mip : ndarray, shape (rows, cols)
        Rows run inferior to superior, columns patient right to left.
    ray_class : ndarray of uint8 or None
        :class:`ResponseClass` of each ray (0 = no tumour).
    extent_mm : tuple
        ``(left, right, bottom, top)`` for :func:`matplotlib.pyplot.imshow`.
    """
    ap_axis = _axis_along(image, 1)
    si_axis = _axis_along(image, 2)
    lr_axis = 3 - ap_axis - si_axis
    mip = image.array.max(axis=ap_axis)
    ray_class = None
    if classes is not None:
        cls = classes.array
        counts = np.stack([(cls == value).sum(axis=ap_axis) for value in _WORST_FIRST], axis=0)
        winner = np.asarray(_WORST_FIRST, dtype=np.uint8)[np.argmax(counts, axis=0)]
        ray_class = np.where(counts.sum(axis=0) > 0, winner, 0).astype(np.uint8)
    # remaining axes in array order; make rows = superior-inferior
    remaining = [axis for axis in range(3) if axis != ap_axis]
    if remaining.index(si_axis) == 1:
        mip = mip.T
        ray_class = None if ray_class is None else ray_class.T
    # orient: row index increasing superior, column index increasing patient left
    if image.direction[2, 2 - si_axis] < 0:
        mip = mip[::-1]
        ray_class = None if ray_class is None else ray_class[::-1]
    if image.direction[0, 2 - lr_axis] < 0:
        mip = mip[:, ::-1]
        ray_class = None if ray_class is None else ray_class[:, ::-1]
    height_mm = image.spacing_mm[si_axis] * mip.shape[0]
    width_mm = image.spacing_mm[lr_axis] * mip.shape[1]
    return np.asarray(mip, dtype=np.float32), ray_class, (0.0, width_mm, 0.0, height_mm)


def mip_position_mm(image: Volume, point_lps_mm: Sequence[float]) -> tuple[float, float]:
    """Where a patient point lands on :func:`coronal_mip`'s picture (its extent, mm).

    Examples
    --------
    >>> volume = Volume(np.zeros((4, 5, 6), np.float32), (2.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    >>> volume.array[3, 1, 4] = 9.0  # z = 6 mm, y = 1 mm, x = 4 mm
    >>> mip, _, _ = coronal_mip(volume)
    >>> x_mm, y_mm = mip_position_mm(volume, (4.0, 1.0, 6.0))
    >>> row, col = int(y_mm // 2.0), int(x_mm // 1.0)
    >>> float(mip[row, col])
    9.0
    """
    ap_axis = _axis_along(image, 1)
    si_axis = _axis_along(image, 2)
    lr_axis = 3 - ap_axis - si_axis
    index = np.asarray(image.lps_to_index(np.asarray(point_lps_mm, dtype=np.float64)))
    index = index.reshape(-1)[:3]
    shape = image.spatial_shape
    row = float(index[si_axis])
    col = float(index[lr_axis])
    if image.direction[2, 2 - si_axis] < 0:
        row = shape[si_axis] - 1 - row
    if image.direction[0, 2 - lr_axis] < 0:
        col = shape[lr_axis] - 1 - col
    return (col + 0.5) * image.spacing_mm[lr_axis], (row + 0.5) * image.spacing_mm[si_axis]


def summary_subtitle(summary: Mapping[str, Any], reference_label: str = "") -> str:
    """Second and third title lines of the figures, from a ``summary.json`` payload.

    The change and the classes name their one reference exam (label and date,
    ``summary["reference_exam"]``; ``reference_label`` only for older summaries).

    Examples
    --------
    >>> summary = {"total_diffusion_volume_ml": 290.0, "tdv_change_pct": -24.5,
    ...            "adc_um2_per_s": {"median": 886.0}, "classes_reference": "given",
    ...            "reference_exam": "exam 1 (2025-01-08)"}
    >>> print(summary_subtitle(summary))
    TDV 290.0 ml (-24.5 %) · median ADC 886 µm²/s
    change and classes vs exam 1 (2025-01-08)
    """
    reference = str(summary.get("reference_exam") or reference_label or "reference exam")
    text = f"TDV {summary['total_diffusion_volume_ml']:.1f} ml"
    if "tdv_change_pct" in summary:
        text += f" ({summary['tdv_change_pct']:+.1f} %)"
    text += f" \u00b7 median ADC {summary['adc_um2_per_s']['median']:.0f} \u00b5m\u00b2/s"
    if summary.get("classes_reference") == "self":
        return text + "\nclasses vs this exam's p95 (no reference exam)"
    return text + f"\nchange and classes vs {reference}"


def class_legend_labels(
    yellow_lower_um2_per_s: float | None,
    green_lower_um2_per_s: float = GREEN_LOWER_UM2_PER_S,
) -> dict[ResponseClass, str]:
    """Legend text of each class with its ADC range in um^2/s."""
    green = f"green: ADC \u2265 {green_lower_um2_per_s:.0f}"
    if yellow_lower_um2_per_s is None:
        return {
            ResponseClass.RED: "red",
            ResponseClass.YELLOW: "yellow",
            ResponseClass.GREEN: green,
        }
    if yellow_lower_um2_per_s >= green_lower_um2_per_s:
        yellow = "yellow: none (reference p95 \u2265 green bound)"
        red_upper = green_lower_um2_per_s
    else:
        yellow = f"yellow: {yellow_lower_um2_per_s:.0f}\u2013{green_lower_um2_per_s:.0f}"
        red_upper = yellow_lower_um2_per_s
    return {
        ResponseClass.RED: f"red: ADC < {red_upper:.0f}",
        ResponseClass.YELLOW: yellow,
        ResponseClass.GREEN: green,
    }


@rc_context({"text.parse_math": False})
def mip_figure(
    image: Volume,
    classes: Volume | None,
    path: str | os.PathLike[str],
    title: str = "",
    *,
    subtitle: str = "",
    yellow_lower_um2_per_s: float | None = None,
    green_lower_um2_per_s: float = GREEN_LOWER_UM2_PER_S,
    warnings: Sequence[str] = (),
    annotations: Sequence[tuple[str, Sequence[float]]] = (),
    colour_label: str = "ADC classes (\u00b5m\u00b2/s)",
) -> None:
    """Save the coronal inverted-grey MIP with the class overlay as PNG.

    Parameters
    ----------
    image : Volume
        The computed high-b image.
    classes : Volume or None
        :class:`ResponseClass` map on the same grid (no overlay when None).
    path : path-like
        PNG file to write.
    title : str
        First title line, e.g. ``"Exam 2 (2025-04-16)"``.
    subtitle : str
        Second title line, e.g. the tumour volume and the reference exam.
    yellow_lower_um2_per_s, green_lower_um2_per_s : float
        Class bounds, shown in the legend (ADC in um^2/s).
    warnings : sequence of str
        Plausibility flags, printed in red under the title.
    annotations : sequence of (str, point)
        Labels drawn at patient points (LPS mm): component numbers, lesion names.
    colour_label : str
        Title of the class legend.
    """
    mip, ray_class, extent = coronal_mip(image, classes)
    window = float(np.percentile(mip, 99.5)) or 1.0
    height = 7.5
    width = max(3.5, height * (extent[1] / extent[3]) + 1.2)
    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    ax.imshow(
        mip,
        cmap="gray_r",
        vmin=0,
        vmax=window,
        origin="lower",
        extent=extent,
        interpolation="nearest",
    )
    if ray_class is not None and ray_class.any():
        overlay = np.zeros((*ray_class.shape, 4))
        for value, colour in CLASS_COLOURS.items():
            overlay[ray_class == value] = (*colour, _OVERLAY_ALPHA)
        ax.imshow(overlay, origin="lower", extent=extent, interpolation="nearest")
        labels = class_legend_labels(yellow_lower_um2_per_s, green_lower_um2_per_s)
        ax.legend(
            handles=[Patch(color=CLASS_COLOURS[v], label=labels[v]) for v in CLASS_COLOURS],
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            fontsize=7,
            framealpha=0.9,
            title=colour_label,
            title_fontsize=7,
        )
    for text, point in annotations:
        x_mm, y_mm = mip_position_mm(image, point)
        ax.annotate(
            text,
            (x_mm, y_mm),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=7,
            color="black",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "0.4", "alpha": 0.85},
            arrowprops={"arrowstyle": "-", "color": "0.3", "lw": 0.6},
        )
    ax.set_axis_off()
    for x, ha, letter in ((0.01, "left", "R"), (0.99, "right", "L")):
        ax.text(
            x,
            0.99,
            letter,
            transform=ax.transAxes,
            va="top",
            ha=ha,
            fontsize=11,
            fontweight="bold",
            color="tab:blue",
        )
    ax.text(
        0.01, 0.01, "coronal MIP, inverted grey", transform=ax.transAxes, fontsize=6, color="0.35"
    )
    lines = [line for line in (title, subtitle) if line]
    if lines:
        ax.set_title("\n".join(lines), fontsize=9)
    for row, warning in enumerate(warnings):
        ax.text(
            0.5,
            0.97 - 0.035 * row,
            f"CHECK: {warning}",
            transform=ax.transAxes,
            ha="center",
            va="top",
            fontsize=6,
            color="tab:red",
            wrap=True,
        )
    fig.tight_layout()
    # the legend sits below the picture so it never hides the thighs
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


@rc_context({"text.parse_math": False})
def histogram_figure(
    histograms: Mapping[str, AdcHistogram],
    path: str | os.PathLike[str],
    yellow_lower_um2_per_s: float | None = None,
    max_um2_per_s: float = 3000.0,
    *,
    title: str = "",
    green_lower_um2_per_s: float = GREEN_LOWER_UM2_PER_S,
) -> None:
    """Save relative-frequency ADC histograms (one line per exam) as PNG.

    The class ranges are shaded behind the curves (red below the reference
    p95, yellow up to the green bound, green above) and named in the legend.

    Parameters
    ----------
    histograms : mapping of str to AdcHistogram
        Label (exam) to histogram, drawn in this order.
    path : path-like
        PNG file to write.
    yellow_lower_um2_per_s : float, optional
        The reference exam's p95 ADC (yellow lower bound), um^2/s.
    max_um2_per_s : float
        Right end of the ADC axis (raised to show the data when larger).
    title : str
        Figure title.
    green_lower_um2_per_s : float
        Green lower bound, um^2/s.
    """
    upper = max(
        [max_um2_per_s]
        + [
            float(h.upper_um2_per_s[h.counts > 0].max())
            for h in histograms.values()
            if h.counts.any()
        ]
    )
    fig, ax = plt.subplots(figsize=(6.8, 3.8), dpi=110)
    labels = class_legend_labels(yellow_lower_um2_per_s, green_lower_um2_per_s)
    red_upper = green_lower_um2_per_s
    if yellow_lower_um2_per_s is not None:
        red_upper = min(yellow_lower_um2_per_s, green_lower_um2_per_s)
        ax.axvspan(
            0,
            red_upper,
            color=CLASS_COLOURS[ResponseClass.RED],
            alpha=0.07,
            lw=0,
            label=labels[ResponseClass.RED],
        )
        if red_upper < green_lower_um2_per_s:
            ax.axvspan(
                red_upper,
                green_lower_um2_per_s,
                color=CLASS_COLOURS[ResponseClass.YELLOW],
                alpha=0.12,
                lw=0,
                label=labels[ResponseClass.YELLOW],
            )
    ax.axvspan(
        green_lower_um2_per_s,
        upper,
        color=CLASS_COLOURS[ResponseClass.GREEN],
        alpha=0.08,
        lw=0,
        label=labels[ResponseClass.GREEN],
    )
    for label, histogram in histograms.items():
        centres = (histogram.lower_um2_per_s + histogram.upper_um2_per_s) / 2
        ax.step(centres, 100 * histogram.relative_frequency, where="mid", label=label, lw=1.3)
    ax.set_xlim(0, upper)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("ADC (\u00b5m\u00b2/s), 50 \u00b5m\u00b2/s bins")
    ax.set_ylabel("tumour voxels (%)")
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
