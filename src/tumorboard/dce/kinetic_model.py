"""The :class:`KineticModel` record every tracer-kinetic model module provides."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tumorboard.dce.separable import Basis
from tumorboard.errors import InputError


class DceModel(Enum):
    """Tracer-kinetic models, valued by their command-line name."""

    PATLAK = "patlak"
    TOFTS = "tofts"
    EXTENDED_TOFTS = "extended-tofts"
    TWO_CXM = "2cxm"
    TWO_CUM = "2cum"
    DUAL_INPUT = "dual-input"

    @classmethod
    def parse(cls, value: DceModel | str, what: str = "--model") -> DceModel:
        """Convert a name (``"extended-tofts"``, ``"2cxm"`` ...) to the enum.

        Raises
        ------
        InputError
            For an unknown name, listing the known ones.
        """
        if isinstance(value, DceModel):
            return value
        text = str(value).strip().lower().replace("_", "-")
        for member in cls:
            if member.value == text:
                return member
        known = ", ".join(m.value for m in cls)
        raise InputError(f"{what}: unknown model {value!r}; expected one of {known}")


#: Builds the model's :class:`Basis` from times (min), plasma AIF and portal input (mM).
BasisBuilder = Callable[
    [NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None], Basis
]


@dataclass(frozen=True, eq=False)
class KineticModel:
    """One tracer-kinetic model as a separable exponential model.

    Attributes
    ----------
    model : DceModel
    parameters : tuple of str
        Names of the physical parameters (the ``PARAMS.csv`` columns), with units.
    needs_portal_input : bool
        Whether a portal-venous input is required (dual-input liver model).
    build : callable
        ``build(times_min, cp_mM, cv_mM) -> Basis``.
    to_physical : callable
        Internal parameters ``theta`` of shape (n, p) to a dict of (n,) arrays.
    from_physical : callable
        Mapping of physical parameters to ``theta`` of shape (n, p) (for simulation).
    """

    model: DceModel
    parameters: tuple[str, ...]
    needs_portal_input: bool
    build: BasisBuilder
    to_physical: Callable[[NDArray[np.float64]], dict[str, NDArray[np.float64]]]
    from_physical: Callable[[Mapping[str, ArrayLike]], NDArray[np.float64]]


def column(values: Mapping[str, ArrayLike], name: str) -> NDArray[np.float64]:
    """A physical parameter as a float array, with a clear error if it is missing."""
    if name not in values:
        raise InputError(f"missing model parameter {name!r}")
    return np.atleast_1d(np.asarray(values[name], dtype=np.float64))
