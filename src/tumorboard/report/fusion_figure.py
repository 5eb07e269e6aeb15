"""Fused PET/MR picture: three orthogonal planes of an MRI with the PET overlaid.

The PET must already be resampled onto the MRI grid (see
:func:`tumorboard.pet.registration.register_rigid`). Planes are shown in
radiological convention (patient right on the viewer's left, anterior and
superior up) with the physical aspect ratio; the PET is drawn with a hot
colour map above a display threshold, with its colour bar in the PET unit.
Uses matplotlib's object API (no pyplot global state).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import NDArray

from tumorboard.errors import InputError
from tumorboard.imaging.volume import Volume

#: Fraction of the PET maximum below which the overlay is transparent.
OVERLAY_THRESHOLD_FRACTION = 0.55


def _planes(
    volume: Volume, index: Sequence[int]
) -> list[tuple[NDArray[np.float64], tuple[float, float, float, float]]]:
    array = np.asarray(volume.array, dtype=np.float64)
    dz, dy, dx = volume.spacing_mm
    nz, ny, nx = volume.spatial_shape
    k, j, i = index
    axial = array[k]  # rows y (anterior up), columns x
    coronal = array[:, j, :][::-1]  # rows z flipped (superior up), columns x
    sagittal = array[:, :, i][::-1]  # rows z flipped, columns y (anterior left)
    return [
        (axial, (0.0, nx * dx, ny * dy, 0.0)),
        (coronal, (0.0, nx * dx, 0.0, nz * dz)),
        (sagittal, (0.0, ny * dy, 0.0, nz * dz)),
    ]


def fused_figure(
    mri: Volume,
    pet_on_mri: Volume,
    path: str | os.PathLike[str],
    *,
    center_lps: Sequence[float] | None = None,
    title: str = "PET/MR fusion",
    pet_unit: str | None = None,
    dpi: int = 110,
) -> Path:
    """Write a PNG with axial, coronal and sagittal fused planes.

    Parameters
    ----------
    mri : Volume
        Anatomical image.
    pet_on_mri : Volume
        PET on the MRI grid.
    path : path-like
        PNG destination.
    center_lps : sequence of float, optional
        Plane intersection (LPS mm); default the PET maximum.
    title : str
        Figure title.
    pet_unit : str, optional
        Colour-bar label; default ``pet_on_mri.unit``.
    dpi : int
        Resolution.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    GeometryError
        If the PET is not on the MRI grid.
    """
    mri.require_same_geometry(pet_on_mri, "resampled PET", "MRI")
    pet = np.asarray(pet_on_mri.array, dtype=np.float64)
    if center_lps is None:
        index = tuple(int(v) for v in np.unravel_index(int(np.argmax(pet)), pet.shape))
    else:
        fractional = mri.lps_to_index(np.asarray(center_lps, dtype=float))
        index = tuple(int(round(v)) for v in fractional)
        if any(not 0 <= v < n for v, n in zip(index, mri.spatial_shape, strict=True)):
            raise InputError(f"fusion centre {tuple(center_lps)} mm is outside the MRI")
    pet_max = float(pet.max()) if pet.size else 0.0
    mri_values = np.asarray(mri.array, dtype=np.float64)
    mri_high = float(np.percentile(mri_values, 99.5)) or 1.0

    figure = Figure(figsize=(11, 4.2))
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, 3)
    image = None
    names = ("axial", "coronal", "sagittal")
    for ax, name, (mri_plane, extent), (pet_plane, _) in zip(
        axes, names, _planes(mri, index), _planes(pet_on_mri, index), strict=True
    ):
        ax.imshow(
            mri_plane, cmap="gray", vmin=0.0, vmax=mri_high, extent=extent, interpolation="nearest"
        )
        overlay = np.ma.masked_less(pet_plane, OVERLAY_THRESHOLD_FRACTION * pet_max)
        image = ax.imshow(
            overlay,
            cmap="hot",
            vmin=0.0,
            vmax=max(pet_max, 1e-6),
            alpha=0.6,
            extent=extent,
            interpolation="bilinear",
        )
        ax.set_title(name)
        ax.set_axis_off()
    centre = mri.index_to_lps(np.asarray(index, dtype=float))
    figure.suptitle(
        f"{title} - planes through ({centre[0]:.0f}, {centre[1]:.0f}, {centre[2]:.0f}) mm LPS"
    )
    if image is not None:
        bar = figure.colorbar(image, ax=list(axes), shrink=0.8)
        bar.set_label(pet_unit if pet_unit is not None else (pet_on_mri.unit or "PET"))
    path = Path(path)
    figure.savefig(path, dpi=dpi, format="png")
    return path


__all__ = ["fused_figure"]
