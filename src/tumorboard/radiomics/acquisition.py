"""Acquisition parameters recorded beside radiomics features.

Radiomic feature values depend on how the image was acquired and
reconstructed (voxel size, kernel, field strength, tracer ...), so every
feature table carries these parameters. The record is filled from what the
input offers: a NIfTI file gives only the grid, a DICOM series its header.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tumorboard.errors import InputError


@dataclass(frozen=True)
class AcquisitionParameters:
    """What is known about how the image was made.

    Attributes
    ----------
    modality : str
        DICOM modality (``CT``, ``MR``, ``PT``) or ``""`` when unknown.
    spacing_z_mm, spacing_y_mm, spacing_x_mm : float
        Voxel spacing of the image the features were computed from.
    slice_thickness_mm : float or None
        Reconstructed slice thickness (0018,0050).
    manufacturer, model : str
        Scanner manufacturer (0008,0070) and model (0008,1090).
    kvp : float or None
        CT peak kilovoltage (0018,0060).
    convolution_kernel : str
        CT reconstruction kernel (0018,1210).
    magnetic_field_strength_t : float or None
        MR field strength in tesla (0018,0087).
    echo_time_ms, repetition_time_ms : float or None
        MR TE (0018,0081) and TR (0018,0080).
    radiopharmaceutical : str
        PET tracer (0018,0031).
    reconstruction_method : str
        PET reconstruction method (0054,1103).
    unit : str
        Unit of the voxel values.
    source : str
        Where the parameters came from: ``nifti``, ``dicom`` or ``phantom``.
    """

    modality: str
    spacing_z_mm: float
    spacing_y_mm: float
    spacing_x_mm: float
    slice_thickness_mm: float | None = None
    manufacturer: str = ""
    model: str = ""
    kvp: float | None = None
    convolution_kernel: str = ""
    magnetic_field_strength_t: float | None = None
    echo_time_ms: float | None = None
    repetition_time_ms: float | None = None
    radiopharmaceutical: str = ""
    reconstruction_method: str = ""
    unit: str = ""
    source: str = "nifti"

    def __post_init__(self) -> None:
        for name in ("spacing_z_mm", "spacing_y_mm", "spacing_x_mm"):
            if not getattr(self, name) > 0:
                raise InputError(
                    f"acquisition {name} must be positive, got {getattr(self, name)!r}"
                )

    def as_columns(self) -> dict[str, Any]:
        """The parameters as ``acq_``-prefixed table columns (``None`` becomes empty)."""
        return {f"acq_{key}": "" if value is None else value for key, value in asdict(self).items()}


def acquisition_from_header(
    header: Any, spacing_mm: tuple[float, float, float], unit: str = ""
) -> AcquisitionParameters:
    """Fill an :class:`AcquisitionParameters` from a DICOM header.

    Parameters
    ----------
    header : pydicom.Dataset
        The header of one image of the series (pixel data not needed).
    spacing_mm : tuple of float
        ``(z, y, x)`` spacing of the reconstructed volume.
    unit : str
        Unit of the voxel values.
    """
    radiopharmaceutical = ""
    sequence = header.get("RadiopharmaceuticalInformationSequence")
    if sequence:
        radiopharmaceutical = str(sequence[0].get("Radiopharmaceutical", "") or "")
    kernel = header.get("ConvolutionKernel", "")
    if isinstance(kernel, list | tuple) or type(kernel).__name__ == "MultiValue":
        kernel = "\\".join(str(part) for part in kernel)
    return AcquisitionParameters(
        modality=str(header.get("Modality", "") or ""),
        spacing_z_mm=float(spacing_mm[0]),
        spacing_y_mm=float(spacing_mm[1]),
        spacing_x_mm=float(spacing_mm[2]),
        slice_thickness_mm=_number(header.get("SliceThickness")),
        manufacturer=str(header.get("Manufacturer", "") or ""),
        model=str(header.get("ManufacturerModelName", "") or ""),
        kvp=_number(header.get("KVP")),
        convolution_kernel=str(kernel or ""),
        magnetic_field_strength_t=_number(header.get("MagneticFieldStrength")),
        echo_time_ms=_number(header.get("EchoTime")),
        repetition_time_ms=_number(header.get("RepetitionTime")),
        radiopharmaceutical=radiopharmaceutical,
        reconstruction_method=str(header.get("ReconstructionMethod", "") or ""),
        unit=unit,
        source="dicom",
    )


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
