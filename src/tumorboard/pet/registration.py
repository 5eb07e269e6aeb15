"""Rigid PET (or CT) to MRI co-registration with SimpleITK.

A multi-resolution rigid (Euler 3-D) registration maximising Mattes mutual
information, the standard for multi-modal brain/sellar PET-MR alignment:
geometric-centre initialisation, shrink factors 4/2/1 with Gaussian smoothing
2/1/0 mm-voxels, regular-step gradient descent with physical-shift scaling,
a fixed-seed random metric sample (reproducible). The MRI is the fixed image;
the result maps MRI (fixed) points to PET (moving) points, so that
``pet(T(p)) ~ mri(p)``; the PET is resampled onto the MRI grid for fusion while
SUVs stay measured in native PET space.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as _sitk
from numpy.typing import NDArray

from tumorboard.errors import InputError
from tumorboard.imaging.volume import Volume

#: SimpleITK ships without type information; treat it as dynamically typed.
sitk: Any = _sitk

#: Mutual-information histogram bins.
HISTOGRAM_BINS = 50
#: Fraction of fixed-image voxels sampled by the metric at every level.
SAMPLING_FRACTION = 0.05
SHRINK_FACTORS = (4, 2, 1)
SMOOTHING_SIGMAS = (2.0, 1.0, 0.0)


def to_sitk(volume: Volume) -> Any:
    """Convert a 3-D :class:`Volume` to a float32 SimpleITK image (same geometry)."""
    if volume.array.ndim != 3:
        raise InputError(f"registration needs 3-D images, got shape {volume.shape}")
    image = sitk.GetImageFromArray(np.ascontiguousarray(volume.array, dtype=np.float32))
    dz, dy, dx = volume.spacing_mm
    image.SetSpacing((dx, dy, dz))
    image.SetOrigin(tuple(float(v) for v in volume.origin_mm))
    image.SetDirection(tuple(float(v) for v in np.asarray(volume.direction).ravel()))
    return image


def from_sitk(image: Any, unit: str = "") -> Volume:
    """Convert a 3-D SimpleITK image to a :class:`Volume`."""
    dx, dy, dz = image.GetSpacing()
    return Volume(
        array=sitk.GetArrayFromImage(image),
        spacing_mm=(dz, dy, dx),
        origin_mm=image.GetOrigin(),
        direction=np.asarray(image.GetDirection(), dtype=np.float64).reshape(3, 3),
        unit=unit,
    )


@dataclass(frozen=True)
class RigidTransform:
    """A rigid transform mapping fixed (MRI) LPS points to moving (PET) LPS points.

    Attributes
    ----------
    matrix : ndarray, shape (4, 4)
        Homogeneous matrix: ``q = R p + t``.
    """

    matrix: NDArray[np.float64]

    def __post_init__(self) -> None:
        matrix = np.asarray(self.matrix, dtype=float)
        if matrix.shape != (4, 4) or not np.allclose(matrix[3], [0, 0, 0, 1]):
            raise InputError(f"rigid transform must be a 4x4 homogeneous matrix, got {matrix}")
        rotation = matrix[:3, :3]
        if not np.allclose(rotation.T @ rotation, np.eye(3), atol=1e-6):
            raise InputError("rigid transform rotation part is not orthonormal")
        object.__setattr__(self, "matrix", matrix)

    @classmethod
    def from_euler(
        cls,
        angles_deg: Sequence[float],
        translation_mm: Sequence[float],
        center_lps: Sequence[float] = (0.0, 0.0, 0.0),
    ) -> RigidTransform:
        """Build from Euler angles (x, y, z, degrees, ITK ZXY order) about a centre."""
        euler = sitk.Euler3DTransform()
        euler.SetCenter(tuple(float(v) for v in center_lps))
        euler.SetRotation(*(float(np.deg2rad(a)) for a in angles_deg))
        euler.SetTranslation(tuple(float(v) for v in translation_mm))
        return cls.from_sitk(euler)

    @classmethod
    def from_sitk(cls, transform: Any) -> RigidTransform:
        """Build from a SimpleITK rigid transform (composites are flattened)."""
        if transform.GetName() == "CompositeTransform":
            composite = sitk.CompositeTransform(transform)
            matrix = np.eye(4)
            # ITK applies the last-added transform first: T = T0 o T1 o ... o Tn.
            for k in range(composite.GetNumberOfTransforms()):
                matrix = matrix @ cls.from_sitk(composite.GetNthTransform(k)).matrix
            return cls(matrix)
        concrete = transform.Downcast()
        matrix = np.eye(4)
        if hasattr(concrete, "GetMatrix"):
            rotation = np.asarray(concrete.GetMatrix(), dtype=float).reshape(3, 3)
            centre = np.asarray(concrete.GetCenter(), dtype=float)
            translation = np.asarray(concrete.GetTranslation(), dtype=float)
            matrix[:3, :3] = rotation
            matrix[:3, 3] = translation + centre - rotation @ centre
        elif hasattr(concrete, "GetOffset"):
            matrix[:3, 3] = np.asarray(concrete.GetOffset(), dtype=float)
        else:
            raise InputError(f"unsupported transform type {transform.GetName()}")
        return cls(np.asarray(matrix, dtype=np.float64))

    def to_sitk(self) -> Any:
        """The transform as a SimpleITK Euler3DTransform."""
        euler = sitk.Euler3DTransform()
        euler.SetMatrix(tuple(self.matrix[:3, :3].ravel()))
        euler.SetTranslation(tuple(self.matrix[:3, 3]))
        return euler

    def apply(self, points_lps: NDArray[Any]) -> NDArray[np.float64]:
        """Map fixed points ``(..., 3)`` to moving points."""
        points = np.asarray(points_lps, dtype=float)
        return np.asarray(points @ self.matrix[:3, :3].T + self.matrix[:3, 3], dtype=np.float64)

    def inverse(self) -> RigidTransform:
        """The inverse transform (moving to fixed)."""
        return RigidTransform(np.asarray(np.linalg.inv(self.matrix), dtype=np.float64))

    def write(self, path: str | os.PathLike[str]) -> Path:
        """Write as an ITK transform file (``.tfm``), readable by SimpleITK/3D Slicer."""
        path = Path(path)
        sitk.WriteTransform(self.to_sitk(), str(path))
        return path


def target_registration_error_mm(
    estimated: RigidTransform, truth: RigidTransform, points_lps: NDArray[Any]
) -> NDArray[np.float64]:
    """Distance between where two transforms send each point (mm)."""
    return np.asarray(
        np.linalg.norm(estimated.apply(points_lps) - truth.apply(points_lps), axis=-1),
        dtype=np.float64,
    )


@dataclass(frozen=True)
class RegistrationResult:
    """Outcome of :func:`register_rigid`.

    Attributes
    ----------
    transform : RigidTransform
        Fixed (MRI) to moving (PET) mapping.
    resampled : Volume
        Moving image resampled onto the fixed grid (linear interpolation).
    metric_value : float
        Final Mattes MI metric (negative; lower is better).
    iterations : int
        Optimiser iterations of the last level.
    stop_condition : str
        Optimiser's stop description.
    """

    transform: RigidTransform
    resampled: Volume
    metric_value: float
    iterations: int
    stop_condition: str


def resample(
    moving: Volume,
    reference: Volume,
    transform: RigidTransform,
    *,
    nearest: bool = False,
    default: float = 0.0,
) -> Volume:
    """Resample ``moving`` onto the grid of ``reference`` through ``transform``.

    ``transform`` maps reference points to moving points (as returned by
    :func:`register_rigid`). Use ``nearest=True`` for label images.
    """
    interpolator = sitk.sitkNearestNeighbor if nearest else sitk.sitkLinear
    out = sitk.Resample(
        to_sitk(moving),
        to_sitk(reference),
        transform.to_sitk(),
        interpolator,
        float(default),
        sitk.sitkFloat32,
    )
    result = from_sitk(out, unit=moving.unit)
    if nearest:
        result = result.with_array(np.rint(result.array).astype(moving.array.dtype))
    return result


def register_rigid(
    fixed: Volume,
    moving: Volume,
    *,
    iterations: int = 200,
    shrink_factors: Sequence[int] = SHRINK_FACTORS,
    smoothing_sigmas: Sequence[float] = SMOOTHING_SIGMAS,
    sampling_fraction: float = SAMPLING_FRACTION,
    seed: int = 20261121,
    initial: RigidTransform | None = None,
) -> RegistrationResult:
    """Rigidly register ``moving`` (PET or CT) to ``fixed`` (MRI) by Mattes MI.

    Parameters
    ----------
    fixed : Volume
        Volumetric MRI (the target grid).
    moving : Volume
        PET (or the CT of a PET/CT).
    iterations : int
        Maximum optimiser iterations per level.
    shrink_factors, smoothing_sigmas : sequence
        Multi-resolution pyramid (voxels).
    sampling_fraction : float
        Fraction of fixed voxels sampled by the metric (random, seeded).
    seed : int
        Seed of the metric sampling.
    initial : RigidTransform, optional
        Start transform; default aligns the geometric centres.

    Returns
    -------
    RegistrationResult

    Raises
    ------
    InputError
        If a pyramid setting is invalid, an image holds NaN or infinite
        voxels (checked before SimpleITK sees them), or the optimiser fails.
    """
    if len(shrink_factors) != len(smoothing_sigmas) or not shrink_factors:
        raise InputError("shrink_factors and smoothing_sigmas need the same, non-zero length")
    if not 0 < sampling_fraction <= 1:
        raise InputError(f"sampling_fraction must be in (0, 1], got {sampling_fraction}")
    for name, volume in (("fixed image", fixed), ("moving image", moving)):
        bad = int(np.count_nonzero(~np.isfinite(volume.array)))
        if bad:  # checked here: ITK would fail with a multi-line dump
            raise InputError(
                f"{name}: {bad} voxel(s) are NaN or infinite; rigid registration needs "
                "finite intensities"
            )
    fixed_image = to_sitk(fixed)
    moving_image = to_sitk(moving)
    if initial is None:
        start = sitk.CenteredTransformInitializer(
            fixed_image,
            moving_image,
            sitk.Euler3DTransform(),
            sitk.CenteredTransformInitializerFilter.GEOMETRY,
        )
    else:
        start = initial.to_sitk()
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=HISTOGRAM_BINS)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(float(sampling_fraction), int(seed))
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=2.0,
        minStep=1e-3,
        numberOfIterations=int(iterations),
        relaxationFactor=0.5,
        gradientMagnitudeTolerance=1e-6,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([int(s) for s in shrink_factors])
    method.SetSmoothingSigmasPerLevel([float(s) for s in smoothing_sigmas])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    method.SetInitialTransform(start, inPlace=False)
    try:
        final = method.Execute(fixed_image, moving_image)
    except RuntimeError as exc:
        message = " ".join(str(exc).split())[-200:]
        raise InputError(f"rigid registration failed: {message}") from None
    transform = RigidTransform.from_sitk(final)
    resampled = resample(moving, fixed, transform)
    return RegistrationResult(
        transform=transform,
        resampled=resampled,
        metric_value=float(method.GetMetricValue()),
        iterations=int(method.GetOptimizerIteration()),
        stop_condition=str(method.GetOptimizerStopConditionDescription()),
    )


__all__ = [
    "RegistrationResult",
    "RigidTransform",
    "from_sitk",
    "register_rigid",
    "resample",
    "target_registration_error_mm",
    "to_sitk",
]
