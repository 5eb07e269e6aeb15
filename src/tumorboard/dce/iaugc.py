"""Model-free initial area under the gadolinium curve (IAUGC).

``IAUGC60 = integral_{t0}^{t0 + 60 s} C(t) dt`` from the bolus onset ``t0``,
with the curve taken as linear between samples (exact trapezoids, the end
points interpolated). Reported in mM s.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tumorboard.dce.aif import validate_times
from tumorboard.errors import InputError

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
    flat = c.reshape(-1, t.size)
    values = np.stack([np.interp(grid, t, row) for row in flat])
    area = np.sum(0.5 * (values[:, 1:] + values[:, :-1]) * np.diff(grid), axis=1)
    return np.asarray(area.reshape(c.shape[:-1]), dtype=np.float64)
