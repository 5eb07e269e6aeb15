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
2. **Bounded Levenberg-Marquardt** (:func:`refine`), per voxel, with the
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numba
import numpy as np
from numpy.typing import NDArray

from tumorboard.dce.convolution import exp_conv, exp_conv_into
from tumorboard.errors import InputError

#: Status codes of :func:`refine`.
STATUS_CONVERGED = 0
STATUS_MAX_ITER = 1
STATUS_NOT_FINITE = 2

#: Floating-point licences of the hot kernels: reassociation (vectorised sums) and
#: fused multiply-add only; NaN/inf semantics stay exact (fits check finiteness).
_FAST = {"reassoc", "contract"}

#: Below this many curves a kernel runs in the calling thread.
_MIN_THREADED = 2048


def n_threads() -> int:
    """Worker threads for the voxel kernels (``NUMBA_NUM_THREADS``, default: all CPUs)."""
    return max(1, int(numba.get_num_threads()))


def run_in_threads(kernel: Callable[..., None], n: int, *args: object) -> None:
    """Run ``kernel(first, last, *args)`` over ``range(n)`` split across threads.

    The kernels are compiled ``nogil`` and serial: threads started here give
    the parallelism, which compiles several times faster than numba's
    ``parallel=True`` (seconds instead of ~15 s on a cold cache).
    """
    workers = n_threads()
    if n < _MIN_THREADED or workers == 1:
        kernel(0, n, *args)
        return
    bounds = np.linspace(0, n, 4 * workers + 1).astype(int)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(kernel, int(a), int(b), *args)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
            if b > a
        ]
        for future in futures:
            future.result()


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
    rate_grid: NDArray[np.float64] = field(
        default_factory=lambda: np.geomspace(1e-3, 100.0, 33)
    )

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


@numba.njit(cache=True, inline="always", fastmath=_FAST)
def _evaluate(
    t: NDArray[np.float64],
    theta: NDArray[np.float64],
    fixed: NDArray[np.float64],
    inputs: NDArray[np.float64],
    exp_input: NDArray[np.int64],
    exp_rate: NDArray[np.int64],
    conv: NDArray[np.float64],
    dconv: NDArray[np.float64],
    model: NDArray[np.float64],
    jac: NDArray[np.float64],
) -> None:
    nf = fixed.shape[0]
    ne = exp_input.shape[0]
    nt = t.shape[0]
    nl = nf + ne
    p = theta.shape[0]
    for i in range(nt):
        model[i] = 0.0
        for c in range(nl, p):
            jac[i, c] = 0.0
    for f in range(nf):
        a = theta[f]
        for i in range(nt):
            model[i] += a * fixed[f, i]
            jac[i, f] = fixed[f, i]
    for e in range(ne):
        rc = nl + exp_rate[e]
        exp_conv_into(t, inputs[exp_input[e]], theta[rc], conv[e], dconv[e])
        b = theta[nf + e]
        for i in range(nt):
            model[i] += b * conv[e, i]
            jac[i, nf + e] = conv[e, i]
            jac[i, rc] += b * dconv[e, i]


@numba.njit(cache=True, inline="always")
def _solve_small(a: NDArray[np.float64], b: NDArray[np.float64], x: NDArray[np.float64]) -> bool:
    """Gaussian elimination with partial pivoting on a copy-free small system."""
    p = b.shape[0]
    for col in range(p):
        piv = col
        best = abs(a[col, col])
        for r in range(col + 1, p):
            if abs(a[r, col]) > best:
                best = abs(a[r, col])
                piv = r
        if best == 0.0 or not np.isfinite(best):
            return False
        if piv != col:
            for c in range(p):
                tmp = a[col, c]
                a[col, c] = a[piv, c]
                a[piv, c] = tmp
            tmp = b[col]
            b[col] = b[piv]
            b[piv] = tmp
        for r in range(col + 1, p):
            factor = a[r, col] / a[col, col]
            for c in range(col, p):
                a[r, c] -= factor * a[col, c]
            b[r] -= factor * b[col]
    for r in range(p - 1, -1, -1):
        acc = b[r]
        for c in range(r + 1, p):
            acc -= a[r, c] * x[c]
        x[r] = acc / a[r, r]
    return True


@numba.njit(cache=True, nogil=True, fastmath=_FAST)
def _refine_kernel(
    first: int,
    last: int,
    t: NDArray[np.float64],
    curves: NDArray[np.float64],
    fixed: NDArray[np.float64],
    inputs: NDArray[np.float64],
    exp_input: NDArray[np.int64],
    exp_rate: NDArray[np.int64],
    theta: NDArray[np.float64],
    lower: NDArray[np.float64],
    upper: NDArray[np.float64],
    max_iter: int,
    ftol: float,
    xtol: float,
    sse_out: NDArray[np.float64],
    status_out: NDArray[np.int8],
) -> None:
    nt = curves.shape[1]
    p = theta.shape[1]
    ne = exp_input.shape[0]
    conv = np.empty((max(ne, 1), nt))
    dconv = np.empty((max(ne, 1), nt))
    model = np.empty(nt)
    jac = np.empty((nt, p))
    model_t = np.empty(nt)
    jac_t = np.empty((nt, p))
    jtj = np.empty((p, p))
    jtr = np.empty(p)
    a = np.empty((p, p))
    rhs = np.empty(p)
    step = np.empty(p)
    trial = np.empty(p)
    frozen = np.zeros(p, dtype=np.bool_)
    for v in range(first, last):
        y = curves[v]
        th = theta[v]
        _evaluate(t, th, fixed, inputs, exp_input, exp_rate, conv, dconv, model, jac)
        cost = 0.0
        for i in range(nt):
            d = y[i] - model[i]
            cost += d * d
        status = STATUS_MAX_ITER
        if not np.isfinite(cost):
            status = STATUS_NOT_FINITE
            max_it = 0
        else:
            max_it = max_iter
        lam = 1e-3
        for _it in range(max_it):
            for r in range(p):
                jtr[r] = 0.0
                for c in range(p):
                    jtj[r, c] = 0.0
            for i in range(nt):
                res = y[i] - model[i]
                for r in range(p):
                    jr = jac[i, r]
                    jtr[r] += jr * res
                    for c in range(r, p):
                        jtj[r, c] += jr * jac[i, c]
            for r in range(p):
                for c in range(r + 1, p):
                    jtj[c, r] = jtj[r, c]
            trace = 0.0
            for r in range(p):
                trace += jtj[r, r]
            # active set: a parameter on a bound whose descent direction points
            # outward is frozen for this step (otherwise the clipped step stalls)
            for r in range(p):
                frozen[r] = (th[r] <= lower[r] and jtr[r] < 0.0) or (
                    th[r] >= upper[r] and jtr[r] > 0.0
                )
            accepted = False
            while lam < 1e12:
                for r in range(p):
                    for c in range(p):
                        a[r, c] = 0.0 if (frozen[r] or frozen[c]) else jtj[r, c]
                    if frozen[r]:
                        a[r, r] = 1.0
                        rhs[r] = 0.0
                    else:
                        a[r, r] += lam * jtj[r, r] + 1e-14 * trace + 1e-300
                        rhs[r] = jtr[r]
                ok = _solve_small(a, rhs, step)
                if ok:
                    for r in range(p):
                        trial[r] = min(max(th[r] + step[r], lower[r]), upper[r])
                    _evaluate(
                        t, trial, fixed, inputs, exp_input, exp_rate, conv, dconv,
                        model_t, jac_t,
                    )
                    new_cost = 0.0
                    for i in range(nt):
                        d = y[i] - model_t[i]
                        new_cost += d * d
                    if np.isfinite(new_cost) and new_cost <= cost:
                        accepted = True
                        break
                lam *= 10.0
            if not accepted:
                status = STATUS_CONVERGED  # no descent direction left: a minimum
                break
            moved = 0.0
            for r in range(p):
                moved = max(moved, abs(trial[r] - th[r]) / (abs(th[r]) + xtol))
                th[r] = trial[r]
            model, model_t = model_t, model
            jac, jac_t = jac_t, jac
            gain = cost - new_cost
            cost = new_cost
            lam = max(lam * 0.1, 1e-9)
            if gain <= ftol * cost + 1e-300 or moved <= xtol:
                status = STATUS_CONVERGED
                break
        sse_out[v] = cost
        status_out[v] = status


def refine(
    basis: Basis,
    curves: NDArray[np.float64],
    start: NDArray[np.float64],
    *,
    max_iter: int = 200,
    ftol: float = 1e-9,
    xtol: float = 1e-7,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int8]]:
    """Bounded Levenberg-Marquardt refinement of every curve.

    Parameters
    ----------
    basis : Basis
    curves : ndarray, shape (n, nt)
        Finite tissue curves.
    start : ndarray, shape (n, p)
        Start parameters inside the bounds (e.g. from :func:`grid_start`).
    max_iter : int
        Maximum accepted steps per curve.
    ftol, xtol : float
        Relative tolerances on the cost decrease and on the parameter step.

    Returns
    -------
    theta : ndarray, shape (n, p)
    sse : ndarray, shape (n,)
        Residual sum of squares.
    status : ndarray of int8, shape (n,)
        :data:`STATUS_CONVERGED`, :data:`STATUS_MAX_ITER` or :data:`STATUS_NOT_FINITE`.
    """
    theta = np.array(start, dtype=np.float64, order="C", copy=True)
    y = np.ascontiguousarray(curves, dtype=np.float64)
    n = y.shape[0]
    sse = np.empty(n)
    status = np.empty(n, dtype=np.int8)
    fixed = basis.fixed if basis.fixed.shape[0] else np.zeros((0, y.shape[1]))
    args = (
        np.ascontiguousarray(basis.times_min),
        y,
        np.ascontiguousarray(fixed),
        np.ascontiguousarray(basis.inputs),
        np.asarray(basis.exp_input, dtype=np.int64).reshape(-1),
        np.asarray(basis.exp_rate, dtype=np.int64).reshape(-1),
        theta,
        np.ascontiguousarray(basis.lower),
        np.ascontiguousarray(basis.upper),
        int(max_iter),
        float(ftol),
        float(xtol),
        sse,
        status,
    )
    run_in_threads(_refine_kernel, n, *args)
    return theta, sse, status
