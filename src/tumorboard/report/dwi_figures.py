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
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from tumorboard.dwi.response_classes import GREEN_LOWER_UM2_PER_S, ResponseClass  # noqa: E402
from tumorboard.imaging.volume import Volume  # noqa: E402
from tumorboard.lesions.adc_histogram import AdcHistogram  # noqa: E402

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


def mip_figure(
    image: Volume, classes: Volume | None, path: str | os.PathLike[str], title: str = ""
) -> None:
    """Save the coronal inverted-grey MIP with the class overlay as PNG."""
    mip, ray_class, extent = coronal_mip(image, classes)
    window = float(np.percentile(mip, 99.5)) or 1.0
    height = 7.0
    width = max(2.5, height * (extent[1] / extent[3]) + 1.0)
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
        ax.legend(
            handles=[Patch(color=CLASS_COLOURS[v], label=v.name.lower()) for v in CLASS_COLOURS],
            loc="lower right",
            fontsize=7,
            framealpha=0.8,
        )
    ax.set_axis_off()
    ax.text(0.01, 0.99, "R", transform=ax.transAxes, va="top", fontsize=9)
    ax.text(0.99, 0.99, "L", transform=ax.transAxes, va="top", ha="right", fontsize=9)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def histogram_figure(
    histograms: Mapping[str, AdcHistogram],
    path: str | os.PathLike[str],
    yellow_lower_um2_per_s: float | None = None,
    max_um2_per_s: float = 3000.0,
) -> None:
    """Save relative-frequency ADC histograms (one line per exam) as PNG."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6), dpi=110)
    for label, histogram in histograms.items():
        centres = (histogram.lower_um2_per_s + histogram.upper_um2_per_s) / 2
        ax.step(centres, 100 * histogram.relative_frequency, where="mid", label=label, lw=1.2)
    ax.axvline(GREEN_LOWER_UM2_PER_S, color=CLASS_COLOURS[ResponseClass.GREEN], ls="--", lw=1)
    if yellow_lower_um2_per_s is not None:
        ax.axvline(yellow_lower_um2_per_s, color=CLASS_COLOURS[ResponseClass.YELLOW], ls="--", lw=1)
    ax.set_xlim(0, max_um2_per_s)
    ax.set_xlabel("ADC (µm²/s), 50 µm²/s bins")
    ax.set_ylabel("relative frequency (%)")
    if len(histograms) > 1 or next(iter(histograms), ""):
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
