"""Mono-exponential ADC by log-linear least squares, and computed high-b images.

The signal model is ``S(b) = S0 * exp(-b * D)``; taking logarithms gives a
straight line in ``b`` whose slope is ``-D``. The closed-form least-squares
line is evaluated for every voxel at once with running sums over the b-values,
so memory stays at a few arrays of one image regardless of the number of
b-values. This is hand-written (rather than calling a fitting library)
because it is the hot path of whole-body analysis and must beat MRtrix3
``dwi2adc`` on a 4-million-voxel case; see ``benchmarks/bench_dwi.py``.

Units: b in s/mm^2, D in mm^2/s internally; :attr:`AdcFit.adc_um2_per_s`
gives the clinical unit (1 um^2/s = 1e-6 mm^2/s).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tumorboard.errors import InputError

#: QIBA QibaPhan masks voxels below 0.4 % of the peak lowest-b signal.
DEFAULT_NOISE_FLOOR_FRACTION = 0.004
#: The peak is taken as this percentile of the lowest-b image (robust to spikes).
PEAK_PERCENTILE = 99.9
#: An image whose signal is zero (or below) in more than this fraction of the
#: body is refused: zeros belong in the air around the body, where scanners
#: write them (some also blank the air at high b), not in tissue.
MAX_NONPOSITIVE_BODY_FRACTION = 0.5
#: For that check the body is where the lowest-b signal exceeds this fraction
#: of its robust peak: tissue, never Rician air noise, whatever the SNR.
BODY_FRACTION_OF_PEAK = 0.05
UM2_PER_S_PER_MM2_PER_S = 1e6
_LOG_FLOAT32_MAX = float(np.log(np.finfo(np.float32).max)) - 1e-3

FloatArray = NDArray[np.float32]


@dataclass(frozen=True, eq=False)
class AdcFit:
    """Result of a voxel-wise mono-exponential fit.

    Attributes
    ----------
    adc_mm2_per_s : ndarray, shape (nz, ny, nx), float32
        Apparent diffusion coefficient; 0 where the voxel was not fitted.
    log_s0 : ndarray, shape (nz, ny, nx), float32
        Natural logarithm of the fitted signal at b = 0; ``-inf`` where not fitted.
    fitted : ndarray of bool, shape (nz, ny, nx)
        Voxels above the noise floor with positive signal at every fitted b.
    b_values_s_per_mm2 : tuple of float
        The b-values used in the fit (after ``min_b``), ascending.
    noise_floor : float
        Signal at the lowest fitted b below which voxels were left out.
    """

    adc_mm2_per_s: FloatArray
    log_s0: FloatArray
    fitted: NDArray[np.bool_]
    b_values_s_per_mm2: tuple[float, ...]
    noise_floor: float

    @property
    def adc_um2_per_s(self) -> FloatArray:
        """ADC in um^2/s (0 where not fitted)."""
        return np.asarray(self.adc_mm2_per_s * UM2_PER_S_PER_MM2_PER_S, dtype=np.float32)


def validate_signal(signal: NDArray[np.floating], what: str) -> None:
    """Reject NaN, infinite or negative magnitude signals, or an image with no signal.

    Parameters
    ----------
    signal : ndarray
        A diffusion-weighted magnitude image.
    what : str
        Its name in messages, e.g. ``"b600 image"``.

    Raises
    ------
    InputError
        If any voxel is NaN/infinite or negative, or no voxel is positive.
    """
    finite = np.isfinite(signal)
    if not finite.all():
        raise InputError(
            f"{what} has {int((~finite).sum())} NaN or infinite voxels; signals must be finite"
        )
    negative = signal < 0
    if negative.any():
        raise InputError(
            f"{what} has {int(negative.sum())} negative voxels (min {float(signal.min()):g}); "
            "magnitude signals must be >= 0"
        )
    if not (signal > 0).any():
        raise InputError(f"{what} has no positive voxel; signals must be > 0 somewhere")


def fit_adc(
    images: Mapping[float, NDArray[np.floating]],
    *,
    min_b_s_per_mm2: float = 0.0,
    weighted: bool = False,
    noise_floor: float | None = None,
    noise_floor_fraction: float = DEFAULT_NOISE_FLOOR_FRACTION,
    image_names: Mapping[float, str] | None = None,
) -> AdcFit:
    """Fit ``S = S0 exp(-b D)`` voxel-wise by log-linear least squares.

    Parameters
    ----------
    images : mapping of float to ndarray, each shape (nz, ny, nx)
        Magnitude images keyed by b-value in s/mm^2.
    min_b_s_per_mm2 : float
        Leave out b-values below this (e.g. 200 to suppress perfusion).
    weighted : bool
        Weight each log-signal by ``S^2`` (the inverse variance of ``ln S``
        under Gaussian noise), which reduces the bias of noisy high-b points.
    noise_floor : float, optional
        Absolute signal at the lowest fitted b below which a voxel is left
        out. Default: ``noise_floor_fraction`` of the robust peak of that image.
    noise_floor_fraction : float
        Fraction of the robust peak (99.9th percentile) used when
        ``noise_floor`` is not given (QIBA: 0.004).
    image_names : mapping of float to str, optional
        Name of each b-value's image in messages (e.g. its file); default
        ``"b600 image"``.

    Returns
    -------
    AdcFit
        ADC, log S0 and the fitted mask.

    Raises
    ------
    InputError
        Fewer than two distinct b-values after ``min_b``, images of different
        shapes, invalid signals (see :func:`validate_signal`), or an image
        whose signal is zero or below in more than
        :data:`MAX_NONPOSITIVE_BODY_FRACTION` of the body.
    """
    if not np.isfinite(min_b_s_per_mm2) or min_b_s_per_mm2 < 0:
        raise InputError(f"minimum b-value must be a number >= 0 s/mm^2, got {min_b_s_per_mm2!r}")
    b_values = sorted(float(b) for b in images if float(b) >= min_b_s_per_mm2)
    if len(set(b_values)) < 2:
        raise InputError(
            f"ADC needs at least two distinct b-values >= {min_b_s_per_mm2:g} s/mm^2, "
            f"got {sorted(float(b) for b in images)}"
        )
    names = {b: image_name(image_names, b) for b in b_values}
    signals = {b: _as_float32(images[_key(images, b)]) for b in b_values}
    shape = signals[b_values[0]].shape
    for b, signal in signals.items():
        if signal.shape != shape:
            raise InputError(
                f"{names[b]} has shape {signal.shape}, expected {shape} like {names[b_values[0]]}"
            )
        validate_signal(signal, names[b])

    lowest = signals[b_values[0]]
    peak = float(np.percentile(lowest, PEAK_PERCENTILE))
    if noise_floor is None:
        noise_floor = float(noise_floor_fraction * peak)
    fitted = lowest > noise_floor
    body = lowest > BODY_FRACTION_OF_PEAK * peak
    body_voxels = int(np.count_nonzero(body))
    for b in b_values[1:]:
        positive = signals[b] > 0
        if body_voxels:
            zero_in_body = body_voxels - int(np.count_nonzero(positive & body))
            if zero_in_body > MAX_NONPOSITIVE_BODY_FRACTION * body_voxels:
                raise InputError(
                    f"{names[b]} is zero in {100 * zero_in_body / body_voxels:.0f} % of the "
                    f"body ({zero_in_body} of {body_voxels} voxels where {names[b_values[0]]} "
                    "shows tissue); diffusion signals must be > 0 inside the body"
                )
        fitted &= positive

    if weighted:
        adc, log_s0 = _weighted_fit(signals, b_values)
    else:
        adc, log_s0 = _unweighted_fit(signals, b_values)
    adc[~fitted] = 0.0
    log_s0[~fitted] = -np.inf
    return AdcFit(
        adc_mm2_per_s=adc,
        log_s0=log_s0,
        fitted=fitted,
        b_values_s_per_mm2=tuple(b_values),
        noise_floor=noise_floor,
    )


def computed_b_image(fit: AdcFit, b_s_per_mm2: float = 1000.0) -> FloatArray:
    """Extrapolate the fitted signal to any b-value: ``S0 exp(-b D)``.

    Parameters
    ----------
    fit : AdcFit
        A voxel-wise fit.
    b_s_per_mm2 : float
        Target b-value (>= 0), typically 1000-1500 for tumour-load reading.

    Returns
    -------
    ndarray, float32
        Computed signal; 0 where the voxel was not fitted.
    """
    if not np.isfinite(b_s_per_mm2) or b_s_per_mm2 < 0:
        raise InputError(f"computed b-value must be a finite number >= 0, got {b_s_per_mm2!r}")
    log_signal = fit.log_s0 - np.float32(b_s_per_mm2) * fit.adc_mm2_per_s
    # A negative ADC (noise) extrapolated far enough overflows float32: clip to
    # the largest finite value so the map stays finite and writable.
    np.minimum(log_signal, np.float32(_LOG_FLOAT32_MAX), out=log_signal)
    with np.errstate(under="ignore"):
        return np.exp(log_signal, dtype=np.float32)


def image_name(image_names: Mapping[float, str] | None, b_value: float) -> str:
    """The name of a b-value's image in messages (default ``"b600 image"``).

    Parameters
    ----------
    image_names : mapping of float to str, optional
        Names by b-value (s/mm^2), e.g. file names.
    b_value : float
        The b-value.
    """
    if image_names:
        for key, name in image_names.items():
            if float(key) == float(b_value):
                return name
    return f"b{b_value:g} image"


def check_signal_decays(fit: AdcFit, image_names: Mapping[float, str] | None = None) -> None:
    """Refuse images whose signal rises with b in most of the body.

    A negative median ADC over the fitted voxels means the b-values were
    given to the wrong images (e.g. ``--image 50=b900.nii.gz``).

    Raises
    ------
    InputError
        If the median ADC of the fitted voxels is negative.
    """
    if not fit.fitted.any():
        return
    median_um2_per_s = float(np.median(fit.adc_mm2_per_s[fit.fitted])) * UM2_PER_S_PER_MM2_PER_S
    if median_um2_per_s < 0:
        shown = ", ".join(image_name(image_names, b) for b in fit.b_values_s_per_mm2)
        raise InputError(
            "the signal rises with b in most of the body "
            f"(median ADC {median_um2_per_s:.0f} um^2/s); "
            f"check the b-value given for each image ({shown})"
        )


def _key(images: Mapping[float, NDArray[np.floating]], b: float) -> float:
    for key in images:
        if float(key) == b:
            return key
    raise KeyError(b)  # pragma: no cover - b comes from images' own keys


def _as_float32(array: NDArray[np.floating]) -> FloatArray:
    return np.asarray(array, dtype=np.float32)


def _safe_log(signal: FloatArray) -> FloatArray:
    # Non-positive voxels are masked out afterwards; clip so log stays finite.
    return np.log(np.maximum(signal, np.float32(np.finfo(np.float32).tiny)))


def _unweighted_fit(
    signals: dict[float, FloatArray], b_values: list[float]
) -> tuple[FloatArray, FloatArray]:
    b = np.asarray(b_values, dtype=np.float64)
    centred = b - b.mean()
    ss_b = float(np.sum(centred**2))
    sum_log = np.zeros(signals[b_values[0]].shape, dtype=np.float32)
    slope_num = np.zeros_like(sum_log)
    for b_value, c in zip(b_values, centred, strict=True):
        log_signal = _safe_log(signals[b_value])
        sum_log += log_signal
        log_signal *= np.float32(c)
        slope_num += log_signal
    adc = slope_num
    adc *= np.float32(-1.0 / ss_b)
    log_s0 = sum_log
    log_s0 *= np.float32(1.0 / len(b_values))
    log_s0 += np.float32(b.mean()) * adc
    return adc, log_s0


def _weighted_fit(
    signals: dict[float, FloatArray], b_values: list[float]
) -> tuple[FloatArray, FloatArray]:
    shape = signals[b_values[0]].shape
    sw, swb, swbb, swy, swby = (np.zeros(shape, dtype=np.float64) for _ in range(5))
    for b_value in b_values:
        signal = signals[b_value].astype(np.float64)
        weight = signal * signal
        log_signal = np.log(np.maximum(signal, np.finfo(np.float64).tiny))
        sw += weight
        swb += weight * b_value
        swbb += weight * b_value * b_value
        swy += weight * log_signal
        swby += weight * b_value * log_signal
    denominator = sw * swbb - swb * swb
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (sw * swby - swb * swy) / denominator
        intercept = (swy - slope * swb) / sw
    adc = np.where(denominator > 0, -slope, 0.0).astype(np.float32)
    log_s0 = np.where(denominator > 0, intercept, -np.inf).astype(np.float32)
    return adc, log_s0
