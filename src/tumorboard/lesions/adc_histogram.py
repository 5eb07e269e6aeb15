"""ADC statistics and relative-frequency histograms of a tumour mask.

Definitions (stated because they change the numbers):

* percentiles by linear interpolation between order statistics (numpy's
  default, the same as R type 7);
* ``sd`` is the sample standard deviation (ddof = 1);
* ``skewness`` and ``kurtosis`` are the population moment ratios
  (``scipy.stats`` with ``bias=True``); kurtosis is *excess* (normal = 0);
* the histogram has fixed 50 um^2/s bins starting at 0, so histograms of
  different exams share bins and can be overlaid and compared.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from tumorboard.errors import EmptyResultError

HISTOGRAM_BIN_UM2_PER_S = 50.0
PERCENTILES = (5, 10, 25, 75, 90, 95)


@dataclass(frozen=True)
class AdcStatistics:
    """Summary of the ADC values inside a tumour mask (all in um^2/s except moments)."""

    voxels: int
    mean: float
    median: float
    sd: float
    p05: float
    p10: float
    p25: float
    p75: float
    p90: float
    p95: float
    skewness: float
    kurtosis: float

    def as_dict(self) -> dict[str, float]:
        """The summary as a plain dict (``voxels`` omitted), rounded for reports."""
        values = asdict(self)
        values.pop("voxels")
        return {key: round(float(value), 4) for key, value in values.items()}


@dataclass(frozen=True, eq=False)
class AdcHistogram:
    """Relative-frequency histogram on fixed bins.

    Attributes
    ----------
    lower_um2_per_s, upper_um2_per_s : ndarray
        Bin edges (lower inclusive, upper exclusive).
    counts : ndarray of int
        Voxels per bin.
    relative_frequency : ndarray of float
        ``counts / counts.sum()``.
    """

    lower_um2_per_s: NDArray[np.float64]
    upper_um2_per_s: NDArray[np.float64]
    counts: NDArray[np.int64]
    relative_frequency: NDArray[np.float64]


def adc_statistics(adc_um2_per_s: NDArray[np.floating]) -> AdcStatistics:
    """Summarise a 1-D sample of tumour ADC values.

    Raises
    ------
    EmptyResultError
        If the sample is empty.
    """
    values = np.asarray(adc_um2_per_s, dtype=np.float64).ravel()
    if values.size == 0:
        raise EmptyResultError("no tumour voxels: ADC statistics are undefined")
    centiles = np.percentile(values, PERCENTILES)
    with np.errstate(all="ignore"):
        skewness = float(stats.skew(values, bias=True)) if values.size > 2 else 0.0
        kurtosis = float(stats.kurtosis(values, fisher=True, bias=True)) if values.size > 3 else 0.0
    return AdcStatistics(
        voxels=int(values.size),
        mean=float(values.mean()),
        median=float(np.median(values)),
        sd=float(values.std(ddof=1)) if values.size > 1 else 0.0,
        p05=float(centiles[0]),
        p10=float(centiles[1]),
        p25=float(centiles[2]),
        p75=float(centiles[3]),
        p90=float(centiles[4]),
        p95=float(centiles[5]),
        skewness=skewness if np.isfinite(skewness) else 0.0,
        kurtosis=kurtosis if np.isfinite(kurtosis) else 0.0,
    )


def adc_histogram(
    adc_um2_per_s: NDArray[np.floating], bin_um2_per_s: float = HISTOGRAM_BIN_UM2_PER_S
) -> AdcHistogram:
    """Relative-frequency histogram with bins ``[k*w, (k+1)*w)`` from 0 to the maximum.

    Parameters
    ----------
    adc_um2_per_s : ndarray
        Tumour ADC values (um^2/s), any shape.
    bin_um2_per_s : float
        Bin width ``w`` (default 50 um^2/s, shared by all exams).

    Returns
    -------
    AdcHistogram
        Bins from 0 up to the bin holding the maximum. Negative ADC values
        (noise at the edge of the fit) are counted in the first bin, so the
        frequencies always sum to 1 over all tumour voxels.

    Raises
    ------
    EmptyResultError
        If the sample is empty.
    """
    values = np.asarray(adc_um2_per_s, dtype=np.float64).ravel()
    if values.size == 0:
        raise EmptyResultError("no tumour voxels: the ADC histogram is undefined")
    n_bins = max(1, int(np.floor(max(float(values.max()), 0.0) / bin_um2_per_s)) + 1)
    index = np.clip(np.floor(values / bin_um2_per_s).astype(np.int64), 0, n_bins - 1)
    counts = np.bincount(index, minlength=n_bins)
    lower = np.arange(n_bins, dtype=np.float64) * bin_um2_per_s
    return AdcHistogram(
        lower_um2_per_s=lower,
        upper_um2_per_s=lower + bin_um2_per_s,
        counts=counts,
        relative_frequency=counts / counts.sum(),
    )
