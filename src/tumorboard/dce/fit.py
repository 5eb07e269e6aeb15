"""Voxel-wise tracer-kinetic fitting: linear start, bounded nonlinear refinement, quality maps.

:func:`fit_curves` fits one model to many concentration curves at once, in
chunks (bounded memory), with the engine of :mod:`tumorboard.dce.separable`:
a variable-projection grid start (exact linear least squares for rates on a
grid) refined by a bounded Levenberg-Marquardt fit with analytic Jacobians.
Curves with a NaN or infinite sample are flagged (``converged = False``,
parameters NaN) and never stop the fit. :func:`~tumorboard.dce.volume_fit.fit_volume`
does the same for a 4-D concentration :class:`~tumorboard.imaging.volume.Volume`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tumorboard.dce.aif import InputFunction
from tumorboard.dce.kinetic_model import DceModel, KineticModel
from tumorboard.dce.levenberg_marquardt import STATUS_CONVERGED, STATUS_NOT_FINITE, refine
from tumorboard.dce.separable import Basis, grid_start, plan_grid
from tumorboard.errors import InputError

_SECONDS_PER_MINUTE = 60.0

#: Voxels per chunk; bounds the working memory to a few tens of MB.
DEFAULT_CHUNK = 65536

#: Delay search of :func:`fit_curves` with ``fit_delay=True`` (s), as the OSIPI fits.
DELAY_RANGE_S = (-10.0, 10.0)
DELAY_STEP_S = 0.5
DELAY_FINE_STEP_S = 0.05


def kinetic_model(model: DceModel | str) -> KineticModel:
    """The :class:`KineticModel` for a model name or enum."""
    from tumorboard.dce.dual_input import DUAL_INPUT
    from tumorboard.dce.exchange import TWO_CXM
    from tumorboard.dce.patlak import PATLAK
    from tumorboard.dce.tofts import EXTENDED_TOFTS, TOFTS
    from tumorboard.dce.uptake import TWO_CUM

    registry = {m.model: m for m in (PATLAK, TOFTS, EXTENDED_TOFTS, TWO_CXM, TWO_CUM, DUAL_INPUT)}
    return registry[DceModel.parse(model)]


@dataclass(frozen=True, eq=False)
class FitResult:
    """Fitted parameters and fit quality of ``n`` curves.

    Attributes
    ----------
    model : DceModel
    parameters : dict of str to ndarray, shape (n,)
        Physical parameters named with units (``ktrans_per_min``, ``ve`` ...).
    r2 : ndarray, shape (n,)
        Coefficient of determination (NaN for flat or non-finite curves).
    converged : ndarray of bool, shape (n,)
        The nonlinear fit met its tolerance and every parameter is finite.
    sse : ndarray, shape (n,)
        Residual sum of squares (mM^2).
    delay_s : ndarray, shape (n,)
        Arterial delay used for each curve (0 unless fitted or given).
    """

    model: DceModel
    parameters: dict[str, NDArray[np.float64]]
    r2: NDArray[np.float64]
    converged: NDArray[np.bool_]
    sse: NDArray[np.float64]
    delay_s: NDArray[np.float64]

    def __post_init__(self) -> None:
        n = self.r2.shape[0]
        for name, values in self.parameters.items():
            if values.shape != (n,):
                raise InputError(f"parameter {name} has shape {values.shape}, expected ({n},)")

    @property
    def failed(self) -> NDArray[np.bool_]:
        """Curves whose fit did not converge (including non-finite input)."""
        return ~self.converged


def _basis(model: KineticModel, inputs: InputFunction) -> Basis:
    if model.needs_portal_input and inputs.cv_mM is None:
        raise InputError(
            f"{inputs.source}: model {model.model.value} needs a portal-venous input column cv_mM"
        )
    times_min = inputs.times_s / _SECONDS_PER_MINUTE
    cv = inputs.cv_mM if model.needs_portal_input else None
    return model.build(times_min, inputs.cp_mM, cv)


def _check_curves(curves: ArrayLike, inputs: InputFunction, source: str) -> NDArray[Any]:
    array = np.asarray(curves)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise InputError(f"{source}: curves must be a 2-D (n, nt) array, got shape {array.shape}")
    if array.shape[1] != inputs.times_s.size:
        raise InputError(
            f"{source}: curves have {array.shape[1]} time points, "
            f"{inputs.source} has {inputs.times_s.size}"
        )
    return array


def _fit_fixed_delay(
    model: KineticModel,
    inputs: InputFunction,
    curves: NDArray[Any],
    chunk_size: int,
    max_iter: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int8], NDArray[np.bool_]]:
    """Internal parameters, SSE, status and finite-mask of all curves."""
    basis = _basis(model, inputs)
    plan = plan_grid(basis)
    n = curves.shape[0]
    theta = np.full((n, basis.n_params), np.nan)
    sse = np.full(n, np.nan)
    status = np.full(n, -1, dtype=np.int8)
    finite = np.empty(n, dtype=bool)
    for start in range(0, n, chunk_size):
        stop = min(n, start + chunk_size)
        chunk = np.asarray(curves[start:stop], dtype=np.float64)
        ok = np.all(np.isfinite(chunk), axis=1)
        finite[start:stop] = ok
        good = chunk[ok] if not ok.all() else chunk
        if good.shape[0] == 0:
            continue
        th0 = grid_start(basis, plan, good)
        th, s, st = refine(basis, good, th0, max_iter=max_iter)
        idx = np.arange(start, stop)[ok]
        theta[idx], sse[idx], status[idx] = th, s, st
    return theta, sse, status, finite


def fit_curves(
    times_s: ArrayLike,
    curves: ArrayLike,
    inputs: InputFunction,
    model: DceModel | str,
    *,
    delay_s: float = 0.0,
    fit_delay: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    max_iter: int = 200,
    method: str = "nonlinear",
    source: str = "curves",
) -> FitResult:
    """Fit a tracer-kinetic model to many tissue concentration curves.

    Parameters
    ----------
    times_s : array_like, shape (nt,)
        Frame times in seconds; must equal ``inputs.times_s``.
    curves : array_like, shape (n, nt) or (nt,)
        Tissue concentration (mM). Non-finite curves are flagged, not fitted.
    inputs : InputFunction
        Plasma input(s) on the same times.
    model : DceModel or str
        ``patlak``, ``tofts``, ``extended-tofts``, ``2cxm``, ``2cum`` or ``dual-input``.
    delay_s : float
        Arterial delay applied to the inputs before fitting.
    fit_delay : bool
        Also fit a per-curve delay in :data:`DELAY_RANGE_S` (grid of
        :data:`DELAY_STEP_S`, refined on a grid of :data:`DELAY_FINE_STEP_S`
        around each curve's best point).
    chunk_size : int
        Curves per chunk.
    max_iter : int
        Maximum Levenberg-Marquardt iterations per curve.
    method : {"nonlinear", "linear"}
        ``"linear"`` stops after the linear least-squares step: Murase's
        linearisation for (extended) Tofts (:mod:`tumorboard.dce.murase`), the
        exact linear fit for Patlak; other models need ``"nonlinear"``.
    source : str
        Name of the curves in messages (e.g. the CSV file).

    Returns
    -------
    FitResult

    Raises
    ------
    InputError
        If the times differ from the input function's, shapes disagree, or the
        model is unknown or lacks its portal-venous input.
    """
    kinetic = kinetic_model(model)
    t = np.asarray(times_s, dtype=np.float64).reshape(-1)
    if t.shape != inputs.times_s.shape or not np.allclose(t, inputs.times_s, atol=1e-6):
        raise InputError(
            f"{source}: time_s ({t.size} values) differs from the time_s of {inputs.source} "
            f"({inputs.times_s.size} values)"
        )
    for column, values in (("cp_mM", inputs.cp_mM), ("cv_mM", inputs.cv_mM)):
        if values is not None and not np.any(values):
            raise InputError(
                f"{inputs.source} column {column}: the input function is zero at every time "
                "(no bolus); no kinetic model can be fitted to it"
            )
    array = _check_curves(curves, inputs, source)
    if chunk_size < 1:
        raise InputError(f"chunk_size must be >= 1, got {chunk_size}")
    n = array.shape[0]
    delays = np.full(n, float(delay_s))
    if method == "linear":
        if fit_delay:
            raise InputError("method='linear' cannot fit a delay")
        shifted = inputs.shifted(delay_s) if delay_s else inputs
        return _fit_linear(kinetic, shifted, array, delays, chunk_size)
    if method != "nonlinear":
        raise InputError(f"method must be 'nonlinear' or 'linear', got {method!r}")
    if fit_delay:
        delays = _search_delay(kinetic, inputs, array, delay_s, chunk_size, max_iter)
        theta, sse, status, finite = _fit_per_delay(
            kinetic, inputs, array, delays, chunk_size, max_iter
        )
    else:
        shifted = inputs.shifted(delay_s) if delay_s else inputs
        theta, sse, status, finite = _fit_fixed_delay(kinetic, shifted, array, chunk_size, max_iter)
    return _result(kinetic, array, theta, sse, status, finite, delays)


def _fit_linear(
    kinetic: KineticModel,
    inputs: InputFunction,
    curves: NDArray[Any],
    delays: NDArray[np.float64],
    chunk_size: int,
) -> FitResult:
    """Linear-only fits: Murase for (extended) Tofts, the bounded linear fit for Patlak."""
    from tumorboard.dce.murase import murase_fit

    basis = _basis(kinetic, inputs)
    n = curves.shape[0]
    theta = np.full((n, basis.n_params), np.nan)
    finite = np.zeros(n, dtype=bool)
    if kinetic.model is DceModel.PATLAK:
        plan = plan_grid(basis)
    elif kinetic.model not in (DceModel.TOFTS, DceModel.EXTENDED_TOFTS):
        raise InputError(
            f"method='linear' supports patlak, tofts and extended-tofts, not {kinetic.model.value}"
        )
    for start in range(0, n, chunk_size):
        chunk = np.asarray(curves[start : start + chunk_size], dtype=np.float64)
        ok = np.all(np.isfinite(chunk), axis=1)
        idx = np.arange(start, start + chunk.shape[0])[ok]
        finite[start : start + chunk.shape[0]] = ok
        if not ok.any():
            continue
        if kinetic.model is DceModel.PATLAK:
            theta[idx] = grid_start(basis, plan, chunk[ok])
        else:
            params = murase_fit(
                inputs.times_s,
                chunk[ok],
                inputs.cp_mM,
                extended=kinetic.model is DceModel.EXTENDED_TOFTS,
            )
            values = {k: v for k, v in params.items()}
            theta[idx] = kinetic.from_physical(values)
    model_curves = np.full(curves.shape, np.nan)
    good = finite & np.all(np.isfinite(theta), axis=1)
    if good.any():
        model_curves[good] = basis.evaluate(theta[good])
    with np.errstate(invalid="ignore"):
        sse = np.sum((np.asarray(curves, dtype=np.float64) - model_curves) ** 2, axis=1)
    status = np.where(good, STATUS_CONVERGED, STATUS_NOT_FINITE).astype(np.int8)
    return _result(kinetic, curves, theta, sse, status, finite, delays)


def _search_delay(
    kinetic: KineticModel,
    inputs: InputFunction,
    curves: NDArray[Any],
    centre_s: float,
    chunk_size: int,
    max_iter: int,
) -> NDArray[np.float64]:
    """Per-curve delay: a coarse grid, then a fine grid around each curve's best point."""
    coarse = centre_s + np.arange(DELAY_RANGE_S[0], DELAY_RANGE_S[1] + 1e-9, DELAY_STEP_S)
    costs = np.empty((coarse.size, curves.shape[0]))
    for i, d in enumerate(coarse):
        _, sse, _, _ = _fit_fixed_delay(kinetic, inputs.shifted(d), curves, chunk_size, max_iter)
        costs[i] = np.where(np.isfinite(sse), sse, np.inf)
    best = np.argmin(costs, axis=0)
    delays = coarse[best].astype(np.float64)
    best_cost = costs[best, np.arange(curves.shape[0])]
    offsets = np.arange(-DELAY_STEP_S, DELAY_STEP_S + 1e-9, DELAY_FINE_STEP_S)
    for b in np.unique(best):
        idx = np.flatnonzero(best == b)
        for off in offsets:
            d = float(coarse[b] + off)
            if not DELAY_RANGE_S[0] <= d - centre_s <= DELAY_RANGE_S[1]:
                continue
            _, sse, _, _ = _fit_fixed_delay(
                kinetic, inputs.shifted(d), curves[idx], chunk_size, max_iter
            )
            better = np.isfinite(sse) & (sse < best_cost[idx])
            best_cost[idx[better]] = sse[better]
            delays[idx[better]] = d
    return np.asarray(delays, dtype=np.float64)


def _fit_per_delay(
    kinetic: KineticModel,
    inputs: InputFunction,
    curves: NDArray[Any],
    delays: NDArray[np.float64],
    chunk_size: int,
    max_iter: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int8], NDArray[np.bool_]]:
    n = curves.shape[0]
    rounded = np.round(delays, 3)
    theta = np.empty((n, 0))
    sse = np.empty(n)
    status = np.empty(n, dtype=np.int8)
    finite = np.empty(n, dtype=bool)
    for d in np.unique(rounded):
        idx = np.flatnonzero(rounded == d)
        th, s, st, ok = _fit_fixed_delay(
            kinetic, inputs.shifted(float(d)), curves[idx], chunk_size, max_iter
        )
        if theta.shape[1] == 0:
            theta = np.full((n, th.shape[1]), np.nan)
        theta[idx], sse[idx], status[idx], finite[idx] = th, s, st, ok
    return theta, sse, status, finite


def _result(
    kinetic: KineticModel,
    curves: NDArray[Any],
    theta: NDArray[np.float64],
    sse: NDArray[np.float64],
    status: NDArray[np.int8],
    finite: NDArray[np.bool_],
    delays: NDArray[np.float64],
) -> FitResult:
    params = kinetic.to_physical(theta)
    params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    all_finite = np.all([np.isfinite(v) for v in params.values()], axis=0)
    converged = finite & (status == STATUS_CONVERGED) & all_finite
    sst = np.full(curves.shape[0], np.nan)
    for start in range(0, curves.shape[0], DEFAULT_CHUNK):
        chunk = np.asarray(curves[start : start + DEFAULT_CHUNK], dtype=np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            sst[start : start + chunk.shape[0]] = np.sum(
                (chunk - chunk.mean(axis=1, keepdims=True)) ** 2, axis=1
            )
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(sst > 0, 1.0 - sse / sst, np.nan)
    # a curve that does not vary carries no kinetic information: never "converged"
    varies = np.zeros(curves.shape[0], dtype=bool)
    for start in range(0, curves.shape[0], DEFAULT_CHUNK):
        chunk = np.asarray(curves[start : start + DEFAULT_CHUNK], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            varies[start : start + chunk.shape[0]] = np.ptp(chunk, axis=1) > 0
    converged = converged & varies
    return FitResult(
        model=kinetic.model,
        parameters=params,
        r2=np.asarray(r2, dtype=np.float64),
        converged=np.asarray(converged, dtype=bool),
        sse=sse,
        delay_s=np.where(finite, delays, np.nan),
    )


def simulate(
    times_s: ArrayLike,
    inputs: InputFunction,
    model: DceModel | str,
    parameters: Mapping[str, ArrayLike],
    *,
    delay_s: float = 0.0,
) -> NDArray[np.float64]:
    """Tissue concentration curves for given physical parameters.

    Parameters
    ----------
    times_s : array_like, shape (nt,)
        Must equal ``inputs.times_s``.
    inputs : InputFunction
    model : DceModel or str
    parameters : mapping of str to float or array_like, shape (n,)
        The model's physical parameters (see ``KineticModel.parameters``;
        the dual-input model takes ``fp_ml_per_100ml_per_min``,
        ``arterial_fraction`` and ``distribution_volume``).
    delay_s : float
        Arterial delay.

    Returns
    -------
    ndarray, shape (n, nt)
        Concentration in mM.
    """
    kinetic = kinetic_model(model)
    t = np.asarray(times_s, dtype=np.float64).reshape(-1)
    if t.shape != inputs.times_s.shape or not np.allclose(t, inputs.times_s, atol=1e-6):
        raise InputError("simulate: times_s must equal the input function's times")
    shifted = inputs.shifted(delay_s) if delay_s else inputs
    basis = _basis(kinetic, shifted)
    return basis.evaluate(kinetic.from_physical(parameters))
