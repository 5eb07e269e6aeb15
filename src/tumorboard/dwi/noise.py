"""Background noise of a magnitude image, for thresholds relative to the noise.

Scanners scale diffusion signal differently, so an absolute threshold of
100 a.u. means different things on different machines. In air, a magnitude
image holds Rayleigh-distributed noise whose median is ``sigma * sqrt(2 ln 2)``;
the background is found as the voxels below Otsu's threshold of the log
intensities, which separates air from tissue on whole-body DWI.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from tumorboard.errors import InputError

RAYLEIGH_MEDIAN_PER_SIGMA = float(np.sqrt(2.0 * np.log(2.0)))
#: At least this many background voxels are needed for a noise estimate.
MIN_BACKGROUND_VOXELS = 500
#: Tissue must be this many times brighter than air for the split to be trusted.
MIN_TISSUE_TO_AIR_RATIO = 3.0


def otsu_threshold(values: NDArray[np.floating], bins: int = 256) -> float:
    """Otsu's threshold of a 1-D sample (maximises the between-class variance).

    Parameters
    ----------
    values : ndarray
        The sample (any shape; flattened by the histogram).
    bins : int
        Number of histogram bins.

    Returns
    -------
    float
        Upper edge of the last bin of the lower class.
    """
    counts, edges = np.histogram(values, bins=bins)
    centres = 0.5 * (edges[:-1] + edges[1:])
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    mass_low = np.cumsum(counts * centres)
    mean_low = mass_low / np.maximum(weight_low, 1)
    mean_high = (mass_low[-1] - mass_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[int(np.argmax(between)) + 1])


def background_noise_sd(image: NDArray[np.floating], what: str = "image") -> float:
    """Estimate the Gaussian channel noise SD from the air background.

    Parameters
    ----------
    image : ndarray
        A magnitude image with air around the body (e.g. the highest acquired b).
    what : str
        Name used in messages.

    Returns
    -------
    float
        Noise SD in the image's signal units.

    Raises
    ------
    InputError
        If fewer than :data:`MIN_BACKGROUND_VOXELS` background voxels are found
        (the body fills the field of view, or the background is zero-filled).
    """
    positive = image[image > 0]
    if positive.size < MIN_BACKGROUND_VOXELS:
        raise InputError(f"{what}: too few positive voxels to estimate background noise")
    log_values = np.log(positive.astype(np.float64))
    cut = otsu_threshold(log_values)
    background = positive[log_values < cut]
    tissue = positive[log_values >= cut]
    separated = (
        background.size > 0
        and tissue.size > 0
        and (np.median(tissue) >= MIN_TISSUE_TO_AIR_RATIO * np.median(background))
    )
    if background.size < MIN_BACKGROUND_VOXELS or not separated:
        raise InputError(
            f"{what}: only {background.size} background (air) voxels found, need "
            f">= {MIN_BACKGROUND_VOXELS} to estimate noise; use an absolute --threshold"
        )
    return float(np.median(background)) / RAYLEIGH_MEDIAN_PER_SIGMA
