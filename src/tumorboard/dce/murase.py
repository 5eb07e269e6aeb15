"""Murase linear least-squares fit of the (extended) Tofts and Patlak models.

Integrating the Tofts differential equation ``dC/dt = Ktrans cp - kep C``
(plus ``vp cp`` for the extended model) gives a model that is linear in its
coefficients (Murase, MRM 2004;51:858)::

    C(t) = (Ktrans + kep vp) int cp - kep int C + vp cp

so every voxel is one small linear least-squares problem. The normal
equations of all voxels are formed and solved at once (batched 3x3 solves).
It needs no start value and no iteration; noise in ``int C`` biases it
slightly, which is why :func:`~tumorboard.dce.fit.fit_curves` refines with a
nonlinear fit. Also available there as ``method="linear"``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tumorboard.dce.convolution import cumulative_integral
from tumorboard.errors import InputError

_SECONDS_PER_MINUTE = 60.0


def murase_fit(
    times_s: ArrayLike, curves: ArrayLike, cp_mM: ArrayLike, *, extended: bool = True
) -> dict[str, NDArray[np.float64]]:
    """Linear (Murase) estimates of Tofts parameters for many curves.

    Parameters
    ----------
    times_s : array_like, shape (nt,)
    curves : array_like, shape (n, nt)
        Tissue concentration (mM).
    cp_mM : array_like, shape (nt,)
        Plasma input.
    extended : bool
        Extended Tofts (with ``vp``) or standard Tofts.

    Returns
    -------
    dict of str to ndarray, shape (n,)
        ``ktrans_per_min``, ``ve``, ``kep_per_min`` and (extended) ``vp``;
        NaN where the system is singular or the curve is not finite.
    """
    t_min = np.asarray(times_s, dtype=np.float64) / _SECONDS_PER_MINUTE
    y = np.atleast_2d(np.asarray(curves, dtype=np.float64))
    cp = np.asarray(cp_mM, dtype=np.float64)
    if y.shape[1] != t_min.size or cp.size != t_min.size:
        raise InputError(
            f"curves have {y.shape[1]} samples, cp {cp.size}, times {t_min.size}: must agree"
        )
    int_cp = cumulative_integral(t_min, cp)
    int_c = cumulative_integral(t_min, y)  # (n, nt)
    # design columns: int cp (shared), -int C (per curve), cp (shared, extended only)
    shared = [int_cp, cp] if extended else [int_cp]
    m = len(shared) + 1
    ata = np.empty((y.shape[0], m, m))
    atb = np.empty((y.shape[0], m))
    columns_shared = np.stack(shared)  # (s, nt)
    ata[:, 0, 0] = int_cp @ int_cp
    ata[:, 0, 1] = ata[:, 1, 0] = -(int_c @ int_cp)
    ata[:, 1, 1] = np.einsum("ij,ij->i", int_c, int_c)
    atb[:, 0] = y @ int_cp
    atb[:, 1] = -np.einsum("ij,ij->i", int_c, y)
    if extended:
        ata[:, 0, 2] = ata[:, 2, 0] = columns_shared[0] @ cp
        ata[:, 1, 2] = ata[:, 2, 1] = -(int_c @ cp)
        ata[:, 2, 2] = cp @ cp
        atb[:, 2] = y @ cp
    finite = np.all(np.isfinite(y), axis=1) & (np.abs(np.linalg.det(ata)) > 0)
    coef = np.full((y.shape[0], m), np.nan)
    if finite.any():
        coef[finite] = np.linalg.solve(ata[finite], atb[finite][..., None])[..., 0]
    kep = coef[:, 1]
    vp = coef[:, 2] if extended else np.zeros(y.shape[0])
    ktrans = coef[:, 0] - kep * vp
    with np.errstate(divide="ignore", invalid="ignore"):
        ve = ktrans / kep
    result = {"ktrans_per_min": ktrans, "ve": ve, "kep_per_min": kep}
    if extended:
        result["vp"] = vp
    return result
