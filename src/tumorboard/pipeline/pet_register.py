"""``tumorboard pet register`` as a library call: rigid PET (or CT) onto MRI.

:func:`register_images` reads the moving and fixed images (NIfTI file or DICOM
folder; a PET series is converted to SUVbw first) and registers them with
:func:`tumorboard.pet.registration.register_rigid`; :func:`write_registration`
writes ``transform.tfm`` (ITK), ``transform.json`` (4x4 MRI-to-PET matrix),
``resampled.nii.gz`` and ``fused.png``. The command line only parses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tumorboard.errors import InputError
from tumorboard.imaging.dicom_scan import scan_dicom_folder
from tumorboard.imaging.dicom_volume import read_series_volume
from tumorboard.imaging.nifti import read_nifti, write_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.json_output import write_json
from tumorboard.outputs import output_directory
from tumorboard.pet.registration import RegistrationResult, register_rigid
from tumorboard.pet.series_io import pet_series
from tumorboard.report.fusion_figure import fused_figure


@dataclass(frozen=True, eq=False)
class PetRegistration:
    """A registration and the images it came from.

    Attributes
    ----------
    fixed : Volume
        The MRI (fixed image).
    moving : Volume
        The PET or CT (moving image), SUVbw for a PET series.
    moving_unit : str
        ``"SUVbw"`` for a converted PET series, else ``""``.
    result : RegistrationResult
    """

    fixed: Volume
    moving: Volume
    moving_unit: str
    result: RegistrationResult


def _read_image(path: Path, what: str, weight_kg: float | None) -> tuple[Volume, str]:
    """Read a NIfTI file or DICOM folder; PET series are converted to SUVbw when possible."""
    if path.is_file():
        return read_nifti(path, what=what), ""
    if not path.is_dir():
        raise InputError(f"{what} {path}: neither a NIfTI file nor a DICOM folder")
    series = [s for s in scan_dicom_folder(path, what=what) if s.is_image]
    if len(series) == 1 and series[0].modality.upper() == "PT":
        where = f"{what} {path}: {series[0].label}"
        return pet_series(series[0], weight_kg=weight_kg, where=where).suvbw, "SUVbw"
    return read_series_volume(path, what=what), ""


def register_images(
    moving: Path, fixed: Path, *, weight_kg: float | None = None
) -> PetRegistration:
    """Read both images and register the moving one onto the fixed MRI.

    Parameters
    ----------
    moving : Path
        PET or CT: DICOM series folder or NIfTI file.
    fixed : Path
        MRI: DICOM series folder or NIfTI file.
    weight_kg : float, optional
        Patient weight for the SUV when the PET header has none.

    Returns
    -------
    PetRegistration

    Raises
    ------
    InputError
        If an image cannot be read or is not 3-D.
    """
    moving_image, moving_unit = _read_image(moving, "moving image", weight_kg)
    fixed_image, _ = _read_image(fixed, "fixed MRI", None)
    if moving_image.array.ndim != 3 or fixed_image.array.ndim != 3:
        raise InputError("pet register needs 3-D moving and fixed images")
    result = register_rigid(fixed_image, moving_image)
    return PetRegistration(fixed_image, moving_image, moving_unit, result)


def write_registration(
    registration: PetRegistration, out: Path, force: bool, *, inputs: Sequence[Path | None] = ()
) -> None:
    """Write the transform (ITK and JSON), the resampled image and the fused picture."""
    result = registration.result
    moving_unit = registration.moving_unit
    with output_directory(out, force, inputs=inputs) as staging:
        result.transform.write(staging / "transform.tfm")
        write_json(
            staging / "transform.json",
            {
                "convention": "maps fixed (MRI) LPS mm points to moving (PET/CT) LPS mm points",
                "matrix": [[float(f"{v:.10g}") for v in row] for row in result.transform.matrix],
                "metric_mattes_mi": float(f"{result.metric_value:.6g}"),
                "iterations_last_level": result.iterations,
                "stop_condition": result.stop_condition,
                "moving_unit": moving_unit or registration.moving.unit or "stored values",
            },
        )
        write_nifti(result.resampled, staging / "resampled.nii.gz", dtype="float32")
        fused_figure(
            registration.fixed,
            result.resampled,
            staging / "fused.png",
            title="PET on MRI",
            pet_unit=moving_unit or None,
        )


__all__ = ["PetRegistration", "register_images", "write_registration"]
