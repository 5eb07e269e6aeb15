"""Plausibility checks of measured tissue concentration curves.

Noise makes measured concentrations scatter around zero before the bolus, so
a few slightly negative samples are normal (the OSIPI noisy test curves reach
-3.7 noise SDs and -35 % of a weak curve's peak). A sample far below what the
curve's own noise explains is not: it signals a wrong column, a sign or unit
error, or a corrupt value, and it is refused rather than fitted.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tumorboard.errors import InputError

#: A sample below ``-NEGATIVE_NOISE_SDS`` robust noise SDs is not noise.
NEGATIVE_NOISE_SDS = 5.0
#: ... unless it is within this fraction of the curve's peak (rounding, tiny curves).
NEGATIVE_PEAK_FRACTION = 0.05


def robust_noise_sd(curve: ArrayLike) -> float:
    """Noise SD of a sampled curve from the median absolute deviation of its steps.

    Parameters
    ----------
    curve : array_like, shape (nt,)

    Returns
    -------
    float
        ``1.4826 * MAD(diff(curve)) / sqrt(2)``; a smooth enhancement only
        inflates it (the check that uses it is conservative).
    """
    steps = np.diff(np.asarray(curve, dtype=np.float64))
    if steps.size == 0:
        return 0.0
    mad = float(np.median(np.abs(steps - np.median(steps))))
    return 1.4826 * mad / math.sqrt(2.0)


def check_tissue_curve(
    values: ArrayLike, source: str, column: str, *, first_row: int = 2
) -> NDArray[np.float64]:
    """Return a tissue concentration curve (mM) after checking it is usable.

    Parameters
    ----------
    values : array_like, shape (nt,)
    source : str
        The file in messages (e.g. ``"curves CURVES.csv"``).
    column : str
        The column in messages.
    first_row : int
        File row of the first value (2 for a CSV with one header row).

    Returns
    -------
    ndarray, shape (nt,)

    Raises
    ------
    InputError
        For a NaN, empty or infinite sample, or a negative sample beyond both
        :data:`NEGATIVE_NOISE_SDS` noise SDs and :data:`NEGATIVE_PEAK_FRACTION`
        of the peak, naming the file, column, row and value.
    """
    curve = np.asarray(values, dtype=np.float64).reshape(-1)
    bad = ~np.isfinite(curve)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(
            f"{source}: column {column} row {first_row + i}: NaN, empty or infinite "
            "concentration; concentrations must be finite numbers in mM"
        )
    peak = max(float(curve.max()), 0.0)
    allowed = max(NEGATIVE_NOISE_SDS * robust_noise_sd(curve), NEGATIVE_PEAK_FRACTION * peak)
    i = int(np.argmin(curve))
    if curve[i] < -allowed:
        raise InputError(
            f"{source}: column {column} row {first_row + i}: negative concentration "
            f"{curve[i]:g} mM (more than noise explains, limit {-allowed:.3g} mM); "
            "concentrations must be >= 0"
        )
    return curve
