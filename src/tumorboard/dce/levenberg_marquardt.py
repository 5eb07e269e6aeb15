"""Bounded Levenberg-Marquardt refinement of separable models, one curve per loop.

The second stage of the fit (the first is
:func:`~tumorboard.dce.separable.grid_start`): per voxel, a Levenberg-Marquardt
iteration with the analytic Jacobian of
:func:`~tumorboard.dce.convolution.exp_conv_into`, steps projected onto the
box bounds and bound-active parameters frozen. It is compiled with numba
(``nogil``) and run over voxel blocks in threads
(:func:`~tumorboard.dce.threads.run_in_threads`): a per-voxel nonlinear fit is
a loop that numpy cannot vectorise without Python-level iteration, and scipy's
per-curve ``curve_fit`` costs milliseconds per voxel (see
``benchmarks/bench_dce.py``).
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

from tumorboard.dce.convolution import exp_conv_into
from tumorboard.dce.separable import Basis
from tumorboard.dce.threads import run_in_threads

#: Status codes of :func:`refine`.
STATUS_CONVERGED = 0
STATUS_MAX_ITER = 1
STATUS_NOT_FINITE = 2

#: Floating-point licences of the hot kernels: reassociation (vectorised sums) and
#: fused multiply-add only; NaN/inf semantics stay exact (fits check finiteness).
_FAST = {"reassoc", "contract"}


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
                        t,
                        trial,
                        fixed,
                        inputs,
                        exp_input,
                        exp_rate,
                        conv,
                        dconv,
                        model_t,
                        jac_t,
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
