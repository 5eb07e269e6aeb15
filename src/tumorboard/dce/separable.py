"""Vectorised fitting of separable exponential models, the engine behind every kinetic model.

All tracer-kinetic models of :mod:`tumorboard.dce` are written as::

    C(t) = sum_f a_f F_f(t) + sum_e b_e conv(I_e, k_r(e))(t)

with voxel-independent *fixed* bases ``F`` (e.g. the plasma curve or its
running integral), input curves ``I`` (arterial, portal-venous) convolved with
exponentials of decay rate ``k``, linear amplitudes ``a, b`` and one or two
rates ``k``. The internal parameter vector of a voxel is
``theta = (a_1..a_nf, b_1..b_ne, k_1..k_nr)``.

Fitting is in two stages:

1. **Linear start** (:func:`grid_start`): for rates on a logarithmic grid the
   bases do not depend on the voxel, so the best linear amplitudes and the
   residual of *every* voxel follow from one matrix product with the
   precomputed orthonormal bases (variable projection on a grid). The best
   candidate within the bounds (the unconstrained amplitudes, else the clipped
   and the single-amplitude solutions) over all grid points is the start.
2. **Bounded Levenberg-Marquardt**
   (:func:`~tumorboard.dce.levenberg_marquardt.refine`), per voxel, with the
   analytic Jacobian from :func:`~tumorboard.dce.convolution.exp_conv_into`,
   steps projected onto the box bounds and bound-active parameters frozen.
   It is compiled with numba (``nogil``) and run over voxel blocks in threads:
   a per-voxel nonlinear fit is a loop that numpy cannot vectorise without
   Python-level iteration, and scipy's per-curve ``curve_fit`` costs
   milliseconds per voxel (see ``benchmarks/bench_dce.py``).

Time is in minutes inside the fit (rates in /min), which keeps parameters of
similar magnitude.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numba
import numpy as np
from numpy.typing import NDArray

from tumorboard.dce.convolution import exp_conv
from tumorboard.dce.threads import run_in_threads
from tumorboard.errors import InputError


@dataclass(frozen=True, eq=False)
class Basis:
    """The voxel-independent ingredients of a separable model.

    Parameters
    ----------
    times_min : ndarray, shape (nt,)
        Strictly increasing sample times in minutes.
    fixed : ndarray, shape (nf, nt)
        Fixed basis curves multiplied by the first ``nf`` amplitudes.
    inputs : ndarray, shape (ni, nt)
        Input curves that are convolved with exponentials.
    exp_input : tuple of int
        For each exponential term, the row of ``inputs`` it convolves.
    exp_rate : tuple of int
        For each exponential term, the index of its rate.
    n_rates : int
        Number of nonlinear rates (0, 1 or 2).
    lower, upper : ndarray, shape (p,)
        Box bounds of the internal parameters ``theta``.
    rate_grid : ndarray, shape (g,)
        Candidate rates (/min) for the linear start.
    """

    times_min: NDArray[np.float64]
    fixed: NDArray[np.float64]
    inputs: NDArray[np.float64]
    exp_input: tuple[int, ...]
    exp_rate: tuple[int, ...]
    n_rates: int
    lower: NDArray[np.float64]
    upper: NDArray[np.float64]
    rate_grid: NDArray[np.float64] = field(default_factory=lambda: np.geomspace(1e-3, 100.0, 33))

    def __post_init__(self) -> None:
        nt = self.times_min.shape[0]
        if self.fixed.ndim != 2 or self.fixed.shape[1] != nt:
            raise InputError(f"fixed bases must have shape (nf, {nt}), got {self.fixed.shape}")
        if self.inputs.ndim != 2 or self.inputs.shape[1] != nt:
            raise InputError(f"inputs must have shape (ni, {nt}), got {self.inputs.shape}")
        if len(self.exp_input) != len(self.exp_rate):
            raise InputError("exp_input and exp_rate must have one entry per exponential term")
        if self.lower.shape != (self.n_params,) or self.upper.shape != (self.n_params,):
            raise InputError(f"bounds must have {self.n_params} entries")

    @property
    def n_linear(self) -> int:
        """Number of linear amplitudes."""
        return int(self.fixed.shape[0]) + len(self.exp_input)

    @property
    def n_params(self) -> int:
        """Number of internal parameters."""
        return self.n_linear + self.n_rates

    def evaluate(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """Model curves for internal parameters.

        Parameters
        ----------
        theta : ndarray, shape (n, p)

        Returns
        -------
        ndarray, shape (n, nt)
        """
        theta = np.atleast_2d(np.asarray(theta, dtype=np.float64))
        nf = self.fixed.shape[0]
        out = theta[:, :nf] @ self.fixed
        for e, (inp, rate_index) in enumerate(zip(self.exp_input, self.exp_rate, strict=True)):
            rates = theta[:, self.n_linear + rate_index]
            conv = exp_conv(self.times_min, self.inputs[inp], rates)
            out = out + theta[:, nf + e, None] * conv
        return np.asarray(out, dtype=np.float64)


def _rate_tuples(basis: Basis) -> list[tuple[float, ...]]:
    grid = [float(r) for r in basis.rate_grid]
    if basis.n_rates == 0:
        return [()]
    if basis.n_rates == 1:
        return [(r,) for r in grid]
    # two rates: keep them ordered (k1 > k2) to avoid the swapped duplicate
    return [(a, b) for a, b in itertools.product(grid, grid) if a > b]


@dataclass(frozen=True, eq=False)
class GridPlan:
    """Precomputed orthonormal bases of :func:`grid_start` for one :class:`Basis`.

    Attributes
    ----------
    rates : ndarray, shape (g, n_rates)
        The grid of rate tuples (/min).
    q_all : ndarray, shape (nt, g * m)
        Orthonormal bases ``Q_g`` of the design matrices, side by side.
    r : ndarray, shape (g, m, m)
        Their triangular factors (``B_g = Q_g R_g``).
    r_inv : ndarray, shape (g, m, m)
    """

    rates: NDArray[np.float64]
    q_all: NDArray[np.float64]
    r: NDArray[np.float64]
    r_inv: NDArray[np.float64]


def plan_grid(basis: Basis) -> GridPlan:
    """Orthonormalise the design matrix of every grid point once.

    Parameters
    ----------
    basis : Basis

    Returns
    -------
    GridPlan
    """
    tuples = _rate_tuples(basis)
    m = basis.n_linear
    nf = basis.fixed.shape[0]
    # every (input, grid rate) convolution once, in one vectorised call each
    grid = np.unique(np.array([r for rates in tuples for r in rates] or [0.0]))
    convs = {
        inp: exp_conv(basis.times_min, basis.inputs[inp], grid)
        for inp in sorted(set(basis.exp_input))
    }
    rates_array = np.array(tuples, dtype=np.float64).reshape(len(tuples), basis.n_rates)
    design = np.empty((len(tuples), basis.times_min.shape[0], m))
    design[:, :, :nf] = basis.fixed.T[None]
    for e, (inp, rate_index) in enumerate(zip(basis.exp_input, basis.exp_rate, strict=True)):
        rows = np.searchsorted(grid, rates_array[:, rate_index])
        design[:, :, nf + e] = convs[inp][rows]
    q, r = np.linalg.qr(design)  # batched over grid points
    diag = np.abs(np.diagonal(r, axis1=1, axis2=2))
    # guard nearly collinear designs (e.g. two equal rates)
    tiny = diag < 1e-12 * np.maximum(diag.max(axis=1, keepdims=True), 1e-300)
    r = r + np.einsum("gi,ij->gij", np.where(tiny, 1e-12, 0.0), np.eye(m))
    r_inv = np.linalg.inv(r)
    q_all = np.ascontiguousarray(np.transpose(q, (1, 0, 2)).reshape(q.shape[1], -1))
    return GridPlan(rates=rates_array, q_all=q_all, r=r, r_inv=r_inv)


#: Curves per block of :func:`grid_start` (bounds the ``curves x grid`` projections).
_GRID_BLOCK = 16384


@numba.njit(cache=True, nogil=True)
def _grid_pick(
    first: int,
    last: int,
    z: NDArray[np.float64],
    yy: NDArray[np.float64],
    r: NDArray[np.float64],
    r_inv: NDArray[np.float64],
    gram: NDArray[np.float64],
    lo: NDArray[np.float64],
    hi: NDArray[np.float64],
    best_index: NDArray[np.int64],
    best_amp: NDArray[np.float64],
) -> None:
    """For each curve, the grid point and bounded amplitudes with the lowest residual.

    ``z[n, g, :] = Q_g^T y_n``. Candidates per grid point: the unconstrained
    solution clipped to the bounds, and each single-amplitude solution.
    """
    g, m = z.shape[1], z.shape[2]
    for v in range(first, last):
        bty = np.empty(m)
        amp = np.empty(m)
        best = np.inf
        for k in range(g):
            for i in range(m):
                acc = 0.0
                for j in range(m):
                    acc += r[k, j, i] * z[v, k, j]
                bty[i] = acc
            # unconstrained solution first: when it is feasible it is optimal
            feasible = True
            explained = 0.0
            for i in range(m):
                acc = 0.0
                for j in range(m):
                    acc += r_inv[k, i, j] * z[v, k, j]
                amp[i] = acc
                feasible = feasible and lo[i] <= acc <= hi[i]
                explained += z[v, k, i] * z[v, k, i]
            if feasible:
                sse = yy[v] - explained
                if sse < best:
                    best = sse
                    best_index[v] = k
                    for i in range(m):
                        best_amp[v, i] = amp[i]
                continue
            for cand in range(m + 1):
                if cand == 0:
                    for i in range(m):
                        acc = 0.0
                        for j in range(m):
                            acc += r_inv[k, i, j] * z[v, k, j]
                        amp[i] = min(max(acc, lo[i]), hi[i])
                else:
                    for i in range(m):
                        amp[i] = 0.0
                    c = cand - 1
                    amp[c] = min(max(bty[c] / gram[k, c, c], lo[c]), hi[c])
                sse = yy[v]
                for i in range(m):
                    sse -= 2.0 * amp[i] * bty[i]
                    for j in range(m):
                        sse += amp[i] * gram[k, i, j] * amp[j]
                if sse < best:
                    best = sse
                    best_index[v] = k
                    for i in range(m):
                        best_amp[v, i] = amp[i]


def grid_start(basis: Basis, plan: GridPlan, curves: NDArray[np.float64]) -> NDArray[np.float64]:
    """Linear least-squares start: the best grid rate(s) with bounded linear amplitudes.

    For every grid point the projections ``Q_g^T y`` of all curves come from
    one matrix product (BLAS); the unconstrained amplitudes clipped to the
    bounds and the one-amplitude-only solutions are scored from them, and the
    candidate with the lowest residual wins.

    Parameters
    ----------
    basis : Basis
    plan : GridPlan
        From :func:`plan_grid`.
    curves : ndarray, shape (n, nt)
        Finite tissue curves.

    Returns
    -------
    ndarray, shape (n, p)
        Internal start parameters, inside the bounds.
    """
    n = curves.shape[0]
    m = basis.n_linear
    g = plan.rates.shape[0]
    theta = np.empty((n, basis.n_params))
    lo = np.ascontiguousarray(basis.lower[:m])
    hi = np.ascontiguousarray(basis.upper[:m])
    gram = np.einsum("gki,gkj->gij", plan.r, plan.r)  # B^T B
    for start in range(0, n, _GRID_BLOCK):
        y = np.asarray(curves[start : start + _GRID_BLOCK], dtype=np.float64)
        k = y.shape[0]
        z = np.ascontiguousarray((y @ plan.q_all).reshape(k, g, m))
        yy = np.einsum("ni,ni->n", y, y)
        index = np.zeros(k, dtype=np.int64)
        amp = np.zeros((k, m))
        run_in_threads(_grid_pick, k, z, yy, plan.r, plan.r_inv, gram, lo, hi, index, amp)
        theta[start : start + k, :m] = amp
        theta[start : start + k, m:] = plan.rates[index]
    return np.clip(theta, basis.lower, basis.upper)
