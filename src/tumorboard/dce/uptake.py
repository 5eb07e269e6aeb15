"""Two-compartment uptake model (2CUM): 2CXM without backflux from the interstitium.

``C(t) = Fp (1 - E) (ca * exp(-t / Tp)) + Fp E integral_0^t ca`` with
``E = PS / (Fp + PS)`` and ``Tp = vp / (Fp + PS)``. Internal parameters are
``(Fp E, Fp (1 - E), 1 / Tp)``; hence ``Fp = a + b``, ``PS = a Fp / b`` and
``vp = (Fp + PS) Tp``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tumorboard.dce.convolution import cumulative_integral
from tumorboard.dce.exchange import FLOW_SCALE, RATE_RANGE_PER_MIN
from tumorboard.dce.kinetic_model import DceModel, KineticModel, column
from tumorboard.dce.separable import Basis


def _build(
    times_min: NDArray[np.float64], cp_mM: NDArray[np.float64], cv_mM: NDArray[np.float64] | None
) -> Basis:
    return Basis(
        times_min=times_min,
        fixed=cumulative_integral(times_min, cp_mM)[None, :],
        inputs=cp_mM[None, :],
        exp_input=(0,),
        exp_rate=(0,),
        n_rates=1,
        lower=np.array([0.0, 0.0, RATE_RANGE_PER_MIN[0]]),
        upper=np.array([5.0, 5.0, RATE_RANGE_PER_MIN[1]]),
        rate_grid=np.geomspace(1e-2, 1000.0, 41),
    )


def _to_physical(theta: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    uptake, washout, rate = theta.T
    with np.errstate(divide="ignore", invalid="ignore"):
        fp = uptake + washout
        ps = uptake * fp / washout
        vp = (fp + ps) / rate
    return {"fp_ml_per_100ml_per_min": FLOW_SCALE * fp, "ps_per_min": ps, "vp": vp}


def _from_physical(values: Mapping[str, ArrayLike]) -> NDArray[np.float64]:
    fp_100, ps, vp = np.broadcast_arrays(
        column(values, "fp_ml_per_100ml_per_min"),
        column(values, "ps_per_min"),
        column(values, "vp"),
    )
    fp = fp_100 / FLOW_SCALE
    extraction = ps / (fp + ps)
    return np.stack([fp * extraction, fp * (1.0 - extraction), (fp + ps) / vp], axis=1)


TWO_CUM = KineticModel(
    model=DceModel.TWO_CUM,
    parameters=("fp_ml_per_100ml_per_min", "ps_per_min", "vp"),
    needs_portal_input=False,
    build=_build,
    to_physical=_to_physical,
    from_physical=_from_physical,
)
