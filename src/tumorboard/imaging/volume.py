"""The :class:`Volume` type: an image array with its place in patient space.

Conventions
-----------
* ``array`` is indexed ``[z, y, x]`` (slice, row, column), as SimpleITK gives it.
  A dynamic series adds a leading time axis: ``[t, z, y, x]``.
* ``spacing_mm`` follows the array axes: ``(z, y, x)``.
* ``origin_mm`` is the DICOM patient (LPS) position, in millimetres, of the
  centre of voxel ``[0, 0, 0]``, given as ``(x_L, y_P, z_S)``.
* ``direction`` is a 3x3 matrix whose **columns** are the LPS unit vectors of
  the x (column), y (row) and z (slice) index axes, as in SimpleITK/ITK.

NIfTI's RAS convention is converted in :mod:`tumorboard.imaging.nifti` and
nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tumorboard.errors import GeometryError, InputError

#: Two geometries are the same when spacings, origins and directions agree to this.
GEOMETRY_TOLERANCE_MM = 1e-3
DIRECTION_TOLERANCE = 1e-4


def _as_vector3(value: Any, name: str) -> tuple[float, float, float]:
    vector = np.asarray(value, dtype=float).reshape(-1)
    if vector.shape != (3,) or not np.all(np.isfinite(vector)):
        raise InputError(f"{name} must be three finite numbers, got {value!r}")
    return (float(vector[0]), float(vector[1]), float(vector[2]))


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3-D (or time-resolved 4-D) image placed in DICOM patient space.

    Parameters
    ----------
    array : ndarray, shape (nz, ny, nx) or (nt, nz, ny, nx)
        Voxel values.
    spacing_mm : tuple of float
        Voxel spacing along the array axes ``(z, y, x)``, all > 0.
    origin_mm : tuple of float
        LPS position ``(x, y, z)`` of the centre of the first voxel.
    direction : ndarray, shape (3, 3)
        Columns are the unit vectors of the x, y and z index axes in LPS.
    unit : str
        Unit of the voxel values, e.g. ``"um2/s"``, ``"a.u."``, ``"label"``.
    times_s : ndarray, shape (nt,), optional
        Frame times of a dynamic (4-D) volume.

    Raises
    ------
    InputError
        If the spacing is not positive, the direction is not orthonormal, or
        ``times_s`` does not match a 4-D array.
    """

    array: NDArray[Any]
    spacing_mm: tuple[float, float, float]
    origin_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: NDArray[np.float64] = field(default_factory=lambda: np.eye(3))
    unit: str = ""
    times_s: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        array = np.asarray(self.array)
        if array.ndim not in (3, 4):
            raise InputError(f"Volume array must be 3-D or 4-D, got shape {array.shape}")
        spacing = _as_vector3(self.spacing_mm, "spacing_mm")
        if min(spacing) <= 0:
            raise InputError(f"spacing_mm must be positive, got {spacing}")
        direction = np.asarray(self.direction, dtype=float)
        if direction.shape != (3, 3) or not np.allclose(
            direction.T @ direction, np.eye(3), atol=DIRECTION_TOLERANCE
        ):
            raise InputError(f"direction must be an orthonormal 3x3 matrix, got {direction!r}")
        times = None
        if array.ndim == 4:
            if self.times_s is None:
                raise InputError("a 4-D Volume needs times_s, one time per frame")
            times = np.asarray(self.times_s, dtype=float).reshape(-1)
            if times.shape[0] != array.shape[0]:
                raise InputError(
                    f"times_s has {times.shape[0]} values, the array has {array.shape[0]} frames"
                )
        elif self.times_s is not None:
            raise InputError("times_s is only valid for a 4-D Volume")
        object.__setattr__(self, "array", array)
        object.__setattr__(self, "spacing_mm", spacing)
        object.__setattr__(self, "origin_mm", _as_vector3(self.origin_mm, "origin_mm"))
        object.__setattr__(self, "direction", direction)
        object.__setattr__(self, "times_s", times)

    # ------------------------------------------------------------------ geometry
    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the voxel array."""
        return tuple(int(n) for n in self.array.shape)

    @property
    def spatial_shape(self) -> tuple[int, int, int]:
        """Shape ``(nz, ny, nx)`` of one frame."""
        nz, ny, nx = self.array.shape[-3:]
        return (int(nz), int(ny), int(nx))

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in millilitres (1 ml = 1000 mm^3)."""
        return float(np.prod(self.spacing_mm)) / 1000.0

    @property
    def affine_lps(self) -> NDArray[np.float64]:
        """4x4 matrix mapping homogeneous index ``(x, y, z, 1)`` to LPS millimetres."""
        dz, dy, dx = self.spacing_mm
        affine = np.eye(4)
        affine[:3, :3] = self.direction * np.array([dx, dy, dz])
        affine[:3, 3] = self.origin_mm
        return affine

    def index_to_lps(self, index_zyx: NDArray[Any]) -> NDArray[np.float64]:
        """Map voxel indices to LPS coordinates.

        Parameters
        ----------
        index_zyx : array_like, shape (..., 3)
            Indices in array order ``(z, y, x)``; fractional values allowed.

        Returns
        -------
        ndarray, shape (..., 3)
            LPS positions ``(x, y, z)`` in millimetres.
        """
        index = np.asarray(index_zyx, dtype=float)[..., ::-1]
        affine = self.affine_lps
        return np.asarray(index @ affine[:3, :3].T + affine[:3, 3], dtype=np.float64)

    def lps_to_index(self, point_lps: NDArray[Any]) -> NDArray[np.float64]:
        """Map LPS millimetre positions ``(x, y, z)`` to fractional ``(z, y, x)`` indices."""
        point = np.asarray(point_lps, dtype=float)
        affine = self.affine_lps
        index_xyz = (point - affine[:3, 3]) @ np.linalg.inv(affine[:3, :3]).T
        return np.asarray(index_xyz[..., ::-1], dtype=np.float64)

    def same_geometry(self, other: Volume) -> bool:
        """Whether ``other`` has the same spatial grid (shape, spacing, origin, direction)."""
        return (
            self.spatial_shape == other.spatial_shape
            and np.allclose(self.spacing_mm, other.spacing_mm, atol=GEOMETRY_TOLERANCE_MM)
            and np.allclose(self.origin_mm, other.origin_mm, atol=GEOMETRY_TOLERANCE_MM)
            and np.allclose(self.direction, other.direction, atol=DIRECTION_TOLERANCE)
        )

    def require_same_geometry(self, other: Volume, what: str, reference: str) -> None:
        """Raise :class:`GeometryError` unless ``other`` shares this volume's grid.

        Parameters
        ----------
        other : Volume
            The volume to check.
        what, reference : str
            Names used in the message, e.g. ``"exclusion mask"`` and ``"b50 image"``.
        """
        if self.same_geometry(other):
            return
        if self.spatial_shape != other.spatial_shape:
            detail = f"shape {other.spatial_shape}, expected {self.spatial_shape}"
        elif not np.allclose(self.spacing_mm, other.spacing_mm, atol=GEOMETRY_TOLERANCE_MM):
            detail = f"spacing {_fmt(other.spacing_mm)} mm, expected {_fmt(self.spacing_mm)} mm"
        elif not np.allclose(self.origin_mm, other.origin_mm, atol=GEOMETRY_TOLERANCE_MM):
            detail = f"origin {_fmt(other.origin_mm)} mm, expected {_fmt(self.origin_mm)} mm"
        else:
            detail = "a different orientation"
        raise GeometryError(f"{what} has {detail} like {reference}")

    # ----------------------------------------------------------------- builders
    def slab(self, start: int, stop: int) -> Volume:
        """The slices ``start:stop`` along z as a new Volume placed where they were.

        Parameters
        ----------
        start, stop : int
            Slice range, ``0 <= start < stop <= nz``.
        """
        nz = self.spatial_shape[0]
        if not 0 <= start < stop <= nz:
            raise InputError(f"slice range {start}:{stop} is outside 0:{nz}")
        origin = self.index_to_lps(np.array([start, 0, 0], dtype=float))
        return replace(
            self,
            array=self.array[..., start:stop, :, :].copy(),
            origin_mm=(float(origin[0]), float(origin[1]), float(origin[2])),
        )

    def with_array(self, array: NDArray[Any], unit: str | None = None) -> Volume:
        """Return a new Volume on the same grid holding ``array``.

        ``array`` may drop the time axis of a 4-D volume (e.g. a parameter map
        computed from a dynamic series).
        """
        array = np.asarray(array)
        if array.shape[-3:] != self.spatial_shape:
            raise GeometryError(
                f"array of shape {array.shape} does not fit a grid of shape {self.spatial_shape}"
            )
        times = self.times_s if array.ndim == 4 else None
        return replace(self, array=array, unit=self.unit if unit is None else unit, times_s=times)


def _fmt(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"
