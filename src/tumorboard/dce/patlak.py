"""Patlak model: irreversible uptake plus intravascular signal.

``C(t) = vp cp(t) + Ktrans integral_0^t cp``. It is linear in both parameters,
so the "nonlinear" refinement converges in one Gauss-Newton step.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tumorboard.dce.convolution import cumulative_integral
from tumorboard.dce.kinetic_model import DceModel, KineticModel, column
from tumorboard.dce.separable import Basis


def _build(
    times_min: NDArray[np.float64], cp_mM: NDArray[np.float64], cv_mM: NDArray[np.float64] | None
) -> Basis:
    nt = times_min.shape[0]
    return Basis(
        times_min=times_min,
        fixed=np.stack([cp_mM, cumulative_integral(times_min, cp_mM)]),
        inputs=np.zeros((0, nt)),
        exp_input=(),
        exp_rate=(),
        n_rates=0,
        lower=np.array([0.0, 0.0]),
        upper=np.array([1.0, 5.0]),
    )


def _to_physical(theta: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    return {"ktrans_per_min": theta[:, 1], "vp": theta[:, 0]}


def _from_physical(values: Mapping[str, ArrayLike]) -> NDArray[np.float64]:
    vp, ktrans = np.broadcast_arrays(column(values, "vp"), column(values, "ktrans_per_min"))
    return np.stack([vp, ktrans], axis=1)


PATLAK = KineticModel(
    model=DceModel.PATLAK,
    parameters=("ktrans_per_min", "vp"),
    needs_portal_input=False,
    build=_build,
    to_physical=_to_physical,
    from_physical=_from_physical,
)
