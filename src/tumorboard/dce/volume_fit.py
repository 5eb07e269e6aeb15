"""Voxel-wise maps: :func:`fit_curves` over every voxel of a 4-D concentration volume.

Voxels are fitted in chunks (bounded memory); a voxel whose curve has a NaN
sample or whose fit does not converge is NaN in every map and 1 in the
``failed`` map, and never stops the volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tumorboard.dce.aif import InputFunction
from tumorboard.dce.fit import DEFAULT_CHUNK, fit_curves, kinetic_model
from tumorboard.dce.kinetic_model import DceModel
from tumorboard.errors import InputError
from tumorboard.imaging.volume import Volume


@dataclass(frozen=True, eq=False)
class ParameterMaps:
    """Parameter maps of a fitted dynamic volume.

    Attributes
    ----------
    maps : dict of str to Volume
        One 3-D float32 map per physical parameter (NaN outside the mask and
        where the fit failed), plus ``r2``.
    failed : Volume
        uint8 map: 1 where a voxel inside the mask could not be fitted.
    mask : Volume
        The voxels that were fitted (bool).
    """

    maps: dict[str, Volume]
    failed: Volume
    mask: Volume


def fit_volume(
    concentration: Volume,
    inputs: InputFunction,
    model: DceModel | str,
    *,
    mask: NDArray[np.bool_] | None = None,
    delay_s: float = 0.0,
    chunk_size: int = DEFAULT_CHUNK,
) -> ParameterMaps:
    """Fit every voxel of a 4-D concentration volume.

    Parameters
    ----------
    concentration : Volume
        4-D, ``[t, z, y, x]``, mM, with ``times_s`` equal to the inputs'.
    inputs : InputFunction
    model : DceModel or str
    mask : ndarray of bool, shape (nz, ny, nx), optional
        Voxels to fit (default: all).
    delay_s : float
        Arterial delay applied to the inputs.
    chunk_size : int
        Voxels per chunk.

    Returns
    -------
    ParameterMaps
    """
    if concentration.array.ndim != 4 or concentration.times_s is None:
        raise InputError("fit_volume needs a 4-D concentration volume with frame times")
    spatial = concentration.spatial_shape
    if mask is None:
        mask = np.ones(spatial, dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != spatial:
        raise InputError(f"mask has shape {mask.shape}, expected {spatial}")
    nt = concentration.array.shape[0]
    flat = concentration.array.reshape(nt, -1)
    index = np.flatnonzero(mask.reshape(-1))
    if index.size == 0:
        raise InputError("the fit mask selects no voxel")
    kinetic = kinetic_model(model)
    names = (*kinetic.parameters, "r2")
    values = {name: np.full(mask.size, np.nan, dtype=np.float32) for name in names}
    failed = np.zeros(mask.size, dtype=np.uint8)
    for start in range(0, index.size, chunk_size):
        idx = index[start : start + chunk_size]
        curves = np.ascontiguousarray(flat[:, idx].T, dtype=np.float64)
        result = fit_curves(
            concentration.times_s,
            curves,
            inputs,
            kinetic.model,
            delay_s=delay_s,
            chunk_size=chunk_size,
        )
        ok = result.converged
        for name in kinetic.parameters:
            values[name][idx] = np.where(ok, result.parameters[name], np.nan)
        values["r2"][idx] = np.where(ok, result.r2, np.nan)
        failed[idx] = (~ok).astype(np.uint8)
    maps = {
        name: concentration.with_array(v.reshape(spatial), unit=_unit(name))
        for name, v in values.items()
    }
    return ParameterMaps(
        maps=maps,
        failed=concentration.with_array(failed.reshape(spatial), unit="flag"),
        mask=concentration.with_array(mask, unit="mask"),
    )


def _unit(name: str) -> str:
    for suffix, unit in (
        ("_ml_per_100ml_per_min", "ml/100ml/min"),
        ("_per_min", "/min"),
        ("_s", "s"),
    ):
        if name.endswith(suffix):
            return unit
    return "1"
