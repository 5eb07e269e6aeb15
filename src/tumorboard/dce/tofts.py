"""Standard and extended Tofts models.

* standard: ``C(t) = Ktrans (cp * exp(-kep t))``, ``ve = Ktrans / kep``;
* extended: ``C(t) = vp cp(t) + Ktrans (cp * exp(-kep t))``.

``*`` is the exact piecewise-linear convolution of
:mod:`tumorboard.dce.convolution`. Internal parameters are
``(Ktrans, kep)`` and ``(vp, Ktrans, kep)`` with time in minutes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tumorboard.dce.kinetic_model import DceModel, KineticModel, column
from tumorboard.dce.separable import Basis

#: Bounds of Ktrans (/min), as in the OSIPI reference fits, and of kep (/min).
KTRANS_MAX_PER_MIN = 5.0
KEP_RANGE_PER_MIN = (1e-3, 100.0)


def _build_standard(
    times_min: NDArray[np.float64], cp_mM: NDArray[np.float64], cv_mM: NDArray[np.float64] | None
) -> Basis:
    return Basis(
        times_min=times_min,
        fixed=np.zeros((0, times_min.shape[0])),
        inputs=cp_mM[None, :],
        exp_input=(0,),
        exp_rate=(0,),
        n_rates=1,
        lower=np.array([0.0, KEP_RANGE_PER_MIN[0]]),
        upper=np.array([KTRANS_MAX_PER_MIN, KEP_RANGE_PER_MIN[1]]),
    )


def _build_extended(
    times_min: NDArray[np.float64], cp_mM: NDArray[np.float64], cv_mM: NDArray[np.float64] | None
) -> Basis:
    return Basis(
        times_min=times_min,
        fixed=cp_mM[None, :],
        inputs=cp_mM[None, :],
        exp_input=(0,),
        exp_rate=(0,),
        n_rates=1,
        lower=np.array([0.0, 0.0, KEP_RANGE_PER_MIN[0]]),
        upper=np.array([1.0, KTRANS_MAX_PER_MIN, KEP_RANGE_PER_MIN[1]]),
    )


def _physical(ktrans: NDArray[np.float64], kep: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(kep > 0, ktrans / kep, np.nan), dtype=np.float64)


def _standard_to_physical(theta: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    ktrans, kep = theta[:, 0], theta[:, 1]
    return {"ktrans_per_min": ktrans, "ve": _physical(ktrans, kep), "kep_per_min": kep}


def _extended_to_physical(theta: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    vp, ktrans, kep = theta[:, 0], theta[:, 1], theta[:, 2]
    return {
        "ktrans_per_min": ktrans,
        "ve": _physical(ktrans, kep),
        "vp": vp,
        "kep_per_min": kep,
    }


def _standard_from_physical(values: Mapping[str, ArrayLike]) -> NDArray[np.float64]:
    ktrans, ve = np.broadcast_arrays(column(values, "ktrans_per_min"), column(values, "ve"))
    return np.stack([ktrans, ktrans / ve], axis=1)


def _extended_from_physical(values: Mapping[str, ArrayLike]) -> NDArray[np.float64]:
    ktrans, ve, vp = np.broadcast_arrays(
        column(values, "ktrans_per_min"), column(values, "ve"), column(values, "vp")
    )
    return np.stack([vp, ktrans, ktrans / ve], axis=1)


TOFTS = KineticModel(
    model=DceModel.TOFTS,
    parameters=("ktrans_per_min", "ve", "kep_per_min"),
    needs_portal_input=False,
    build=_build_standard,
    to_physical=_standard_to_physical,
    from_physical=_standard_from_physical,
)

EXTENDED_TOFTS = KineticModel(
    model=DceModel.EXTENDED_TOFTS,
    parameters=("ktrans_per_min", "ve", "vp", "kep_per_min"),
    needs_portal_input=False,
    build=_build_extended,
    to_physical=_extended_to_physical,
    from_physical=_extended_from_physical,
)
