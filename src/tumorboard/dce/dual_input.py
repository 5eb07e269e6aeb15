"""Dual-input single-compartment liver model (Materne et al. 2000).

The liver's extracellular space (distribution volume ``v``) is fed by the
hepatic artery and the portal vein::

    C(t) = k1a (ca * exp(-k2 t)) + k1p (cv * exp(-k2 t))

with ``ca``/``cv`` the arterial and portal-venous *plasma* inputs. Reported:
total plasma inflow ``Fp = k1a + k1p``, arterial fraction ``k1a / Fp``,
distribution volume ``Fp / k2`` and mean transit time ``1 / k2``. This is
dcmri's ``2I-EC`` liver model with ``Ta = 0`` (``fa``, ``ve``, ``Fp``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tumorboard.dce.exchange import FLOW_SCALE
from tumorboard.dce.kinetic_model import DceModel, KineticModel, column
from tumorboard.dce.separable import Basis
from tumorboard.errors import InputError

SECONDS_PER_MINUTE = 60.0
K1_MAX_PER_MIN = 20.0
K2_RANGE_PER_MIN = (1e-3, 100.0)


def _build(
    times_min: NDArray[np.float64], cp_mM: NDArray[np.float64], cv_mM: NDArray[np.float64] | None
) -> Basis:
    if cv_mM is None:
        raise InputError("the dual-input model needs a portal-venous input (column cv_mM)")
    return Basis(
        times_min=times_min,
        fixed=np.zeros((0, times_min.shape[0])),
        inputs=np.stack([cp_mM, cv_mM]),
        exp_input=(0, 1),
        exp_rate=(0, 0),
        n_rates=1,
        lower=np.array([0.0, 0.0, K2_RANGE_PER_MIN[0]]),
        upper=np.array([K1_MAX_PER_MIN, K1_MAX_PER_MIN, K2_RANGE_PER_MIN[1]]),
    )


def _to_physical(theta: NDArray[np.float64]) -> dict[str, NDArray[np.float64]]:
    k1a, k1p, k2 = theta.T
    with np.errstate(divide="ignore", invalid="ignore"):
        fp = k1a + k1p
        fraction = np.where(fp > 0, k1a / fp, np.nan)
        volume = fp / k2
        mtt_s = SECONDS_PER_MINUTE / k2
    return {
        "fp_ml_per_100ml_per_min": FLOW_SCALE * fp,
        "arterial_fraction": fraction,
        "distribution_volume": volume,
        "mean_transit_time_s": mtt_s,
    }


def _from_physical(values: Mapping[str, ArrayLike]) -> NDArray[np.float64]:
    fp_100, fraction, volume = np.broadcast_arrays(
        column(values, "fp_ml_per_100ml_per_min"),
        column(values, "arterial_fraction"),
        column(values, "distribution_volume"),
    )
    fp = fp_100 / FLOW_SCALE
    return np.stack([fp * fraction, fp * (1.0 - fraction), fp / volume], axis=1)


DUAL_INPUT = KineticModel(
    model=DceModel.DUAL_INPUT,
    parameters=(
        "fp_ml_per_100ml_per_min",
        "arterial_fraction",
        "distribution_volume",
        "mean_transit_time_s",
    ),
    needs_portal_input=True,
    build=_build,
    to_physical=_to_physical,
    from_physical=_from_physical,
)
