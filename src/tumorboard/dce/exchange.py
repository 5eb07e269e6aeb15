"""Two-compartment exchange model (2CXM).

Plasma (``vp``, flow ``Fp`` in and out) exchanges with the interstitium
(``ve``) at permeability-surface product ``PS``. Its impulse response is
bi-exponential, so ``C(t) = a1 (ca * exp(-alpha t)) + a2 (ca * exp(-beta t))``
with ``alpha > beta``. From the transfer function
``H(s) = Fp (s + PS/vp + PS/ve) / ((s + alpha)(s + beta))``::

    alpha + beta = PS/ve + (Fp + PS)/vp,   alpha beta = Fp PS / (vp ve),
    a1 + a2 = Fp,   (a1 beta + a2 alpha) / Fp = PS (1/vp + 1/ve) =: Q.

Inverting: ``vp = Fp / (alpha + beta - Q)``, ``PS/ve = alpha beta vp / Fp``,
``PS = vp (Q - PS/ve)`` and ``ve = PS / (PS/ve)``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tumorboard.dce.kinetic_model import DceModel, KineticModel, column
from tumorboard.dce.separable import Basis

#: Plasma flow is reported in ml/100 ml/min; internally it is ml/ml/min.
FLOW_SCALE = 100.0
RATE_RANGE_PER_MIN = (1e-3, 1000.0)


def _build(
    times_min: NDArray[np.float64], cp_mM: NDArray[np.float64], cv_mM: NDArray[np.float64] | None
) -> Basis:
    return Basis(
        times_min=times_min,
        fixed=np.zeros((0, times_min.shape[0])),
        inputs=cp_mM[None, :],
        exp_input=(0, 0),
        exp_rate=(0, 1),
        n_rates=2,
        lower=np.array([0.0, 0.0, RATE_RANGE_PER_MIN[0], RATE_RANGE_PER_MIN[0]]),
        upper=np.array([5.0, 5.0, RATE_RANGE_PER_MIN[1], RATE_RANGE_PER_MIN[1]]),
        rate_grid=np.geomspace(1e-2, 500.0, 28),
    )


def _to_physical(theta: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    a1, a2, k1, k2 = theta.T
    # order the exponentials so that alpha > beta
    swap = k2 > k1
    alpha = np.where(swap, k2, k1)
    beta = np.where(swap, k1, k2)
    w_alpha = np.where(swap, a2, a1)
    w_beta = np.where(swap, a1, a2)
    with np.errstate(divide="ignore", invalid="ignore"):
        fp = w_alpha + w_beta
        q = (w_alpha * beta + w_beta * alpha) / fp
        vp = fp / (alpha + beta - q)
        ps_over_ve = alpha * beta * vp / fp
        ps = vp * (q - ps_over_ve)
        ve = ps / ps_over_ve
    return {
        "fp_ml_per_100ml_per_min": FLOW_SCALE * fp,
        "ps_per_min": ps,
        "ve": ve,
        "vp": vp,
    }


def _from_physical(values: Mapping[str, ArrayLike]) -> NDArray[np.float64]:
    fp_100, ps, ve, vp = np.broadcast_arrays(
        column(values, "fp_ml_per_100ml_per_min"),
        column(values, "ps_per_min"),
        column(values, "ve"),
        column(values, "vp"),
    )
    fp = fp_100 / FLOW_SCALE
    total = ps / ve + (fp + ps) / vp
    product = fp * ps / (vp * ve)
    root = np.sqrt(np.maximum(total * total - 4.0 * product, 0.0))
    alpha = 0.5 * (total + root)
    beta = 0.5 * (total - root)
    q = ps * (1.0 / vp + 1.0 / ve)
    with np.errstate(divide="ignore", invalid="ignore"):
        a_alpha = np.where(alpha > beta, fp * (q - alpha) / (beta - alpha), fp)
    a_beta = fp - a_alpha
    return np.stack([a_alpha, a_beta, alpha, beta], axis=1)


TWO_CXM = KineticModel(
    model=DceModel.TWO_CXM,
    parameters=("fp_ml_per_100ml_per_min", "ps_per_min", "ve", "vp"),
    needs_portal_input=False,
    build=_build,
    to_physical=_to_physical,
    from_physical=_from_physical,
)
