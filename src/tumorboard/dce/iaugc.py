"""Model-free initial area under the gadolinium curve (IAUGC).

``IAUGC60 = integral_{t0}^{t0 + 60 s} C(t) dt`` from the bolus onset ``t0``,
with the curve taken as linear between samples (exact trapezoids, the end
points interpolated). Reported in mM s. The interpolation and trapezoid
weights are shared by every curve, so a whole volume is one matrix product.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tumorboard.dce.aif import validate_times
from tumorboard.errors import InputError
from tumorboard.imaging.volume import Volume

IAUGC_WINDOW_S = 60.0


def iaugc(
    times_s: ArrayLike, curves: ArrayLike, onset_s: float, window_s: float = IAUGC_WINDOW_S
) -> NDArray[np.float64]:
    """Initial area under the concentration curves.

    Parameters
    ----------
    times_s : array_like, shape (nt,)
    curves : array_like, shape (..., nt)
        Concentration (mM).
    onset_s : float
        Bolus onset (e.g. :func:`~tumorboard.dce.aif.bolus_arrival_time` of the AIF).
    window_s : float
        Integration window, 60 s for IAUGC60.

    Returns
    -------
    ndarray, shape (...)
        mM s.

    Raises
    ------
    InputError
        If the window is not inside the sampled time range.
    """
    t = validate_times(times_s)
    c = np.asarray(curves, dtype=np.float64)
    end = onset_s + window_s
    if window_s <= 0 or onset_s < t[0] or end > t[-1]:
        raise InputError(
            f"IAUGC window [{onset_s:g}, {end:g}] s is not inside the acquisition "
            f"[{t[0]:g}, {t[-1]:g}] s"
        )
    inside = (t > onset_s) & (t < end)
    grid = np.concatenate([[onset_s], t[inside], [end]])
    # linear interpolation weights of the grid points, shared by every curve
    right = np.clip(np.searchsorted(t, grid, side="right"), 1, t.size - 1)
    left = right - 1
    w = (grid - t[left]) / (t[right] - t[left])
    steps = 0.5 * np.diff(grid)
    # trapezoid weight of each grid point, then spread onto the samples
    point_weight = np.zeros(grid.size)
    point_weight[:-1] += steps
    point_weight[1:] += steps
    sample_weight = np.zeros(t.size)
    np.add.at(sample_weight, left, point_weight * (1.0 - w))
    np.add.at(sample_weight, right, point_weight * w)
    area = c @ sample_weight
    return np.asarray(area, dtype=np.float64)


def iaugc_map(
    concentration: Volume,
    onset_s: float,
    *,
    mask: NDArray[np.bool_] | None = None,
    window_s: float = IAUGC_WINDOW_S,
) -> Volume:
    """Voxel-wise IAUGC of a 4-D concentration volume.

    Parameters
    ----------
    concentration : Volume
        ``[t, z, y, x]`` in mM, with frame times.
    onset_s : float
        Bolus onset, e.g. the AIF's bolus arrival time.
    mask : ndarray of bool, shape (nz, ny, nx), optional
        Voxels to compute (NaN elsewhere); default all.
    window_s : float

    Returns
    -------
    Volume
        float32 map in mM s; NaN outside the mask and where a sample is NaN.
    """
    if concentration.array.ndim != 4 or concentration.times_s is None:
        raise InputError("iaugc_map needs a 4-D concentration volume with frame times")
    spatial = concentration.spatial_shape
    keep = np.ones(spatial, bool) if mask is None else np.asarray(mask, dtype=bool)
    out = np.full(spatial, np.nan, dtype=np.float32)
    curves = np.asarray(concentration.array[:, keep], dtype=np.float64).T
    out[keep] = iaugc(concentration.times_s, curves, onset_s, window_s)
    return concentration.with_array(out, unit="mM s")
