"""Parametric Maps of the stored quantitative maps: ADC, computed b image, SUVbw.

Each map is written as stored (32-bit float pixel data, no rescaling) on the
analysis grid, with a real-world value mapping of slope 1 and intercept 0
whose unit is a UCUM code and whose quantity is coded
(:data:`QUANTITIES`), so a viewer reads the value of every voxel in its
unit: ADC in um2/s, the computed b image in arbitrary units, SUVbw in
{SUVbw}g/ml.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.coding import Code

from tumorboard import __version__
from tumorboard.dicom_export.sources import SourceImages, highdicom_volume
from tumorboard.dicom_export.uids import (
    MANUFACTURER,
    quiet,
    stabilise,
    stable_uid,
    versioned_description,
    versioned_key,
)
from tumorboard.errors import InputError
from tumorboard.imaging.volume import Volume

__all__ = ["QUANTITIES", "MapQuantity", "parametric_map"]


@dataclass(frozen=True)
class MapQuantity:
    """What a parametric map holds.

    Attributes
    ----------
    name : str
        Short name (``adc``, ``computed_b``, ``suvbw``), used in keys and file names.
    label : str
        LUTLabel of the real-world value mapping (at most 16 characters).
    explanation : str
        LUTExplanation and series description.
    unit : pydicom Code
        UCUM unit of the values.
    quantity : pydicom Code
        What the values measure (QuantityDefinitionSequence).
    series_number : int
    """

    name: str
    label: str
    explanation: str
    unit: Code
    quantity: Code
    series_number: int


#: The maps tumorboard exports, by name.
QUANTITIES = {
    "adc": MapQuantity(
        "adc",
        "ADC",
        "Apparent diffusion coefficient (um2/s)",
        Code("um2/s", "UCUM", "um2/s"),
        Code("113041", "DCM", "Apparent Diffusion Coefficient"),
        911,
    ),
    "computed_b": MapQuantity(
        "computed_b",
        "computed b",
        "Computed diffusion-weighted image",
        Code("[arb'U]", "UCUM", "arbitrary unit"),
        Code("113043", "DCM", "Diffusion weighted"),
        912,
    ),
    "suvbw": MapQuantity(
        "suvbw",
        "SUVbw",
        "Standardized uptake value, body weight",
        Code("{SUVbw}g/ml", "UCUM", "Standardized Uptake Value body weight"),
        Code("126400", "DCM", "Standardized Uptake Value"),
        913,
    ),
}


def parametric_map(
    values: Volume,
    quantity: MapQuantity,
    sources: SourceImages,
    *,
    key: str,
    when: dt.datetime,
    description: str | None = None,
    version: int = 1,
) -> Dataset:
    """A Parametric Map of ``values`` (float32) on its grid, referencing ``sources``.

    Parameters
    ----------
    values : Volume
        The map; non-finite voxels are written as 0.
    quantity : MapQuantity
        One of :data:`QUANTITIES`.
    sources : SourceImages
        The images it was computed from.
    key : str
        Identity of the analysis (with the content it fixes the UIDs).
    when : datetime
    description : str, optional
        Series description (default: the quantity's explanation).
    version : int
        1, or the number of this result among the results of the same exam
        (series description "... v2, replaces v1", new UIDs).

    Returns
    -------
    pydicom Dataset
        A :class:`highdicom.pm.ParametricMap`.

    Examples
    --------
    >>> from tumorboard.dicom_export.testing import mr_headers
    >>> adc = Volume(np.full((2, 3, 3), 812.5, np.float32), spacing_mm=(5.0, 2.0, 2.0))
    >>> pm = parametric_map(adc, QUANTITIES["adc"], SourceImages(mr_headers(adc)), key="a",
    ...                     when=dt.datetime(2024, 1, 8))
    >>> mapping = pm.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence[0]
    >>> str(mapping.MeasurementUnitsCodeSequence[0].CodeValue), float(pm.pixel_array.max())
    ('um2/s', 812.5)
    """
    import highdicom as hd

    array = np.asarray(values.array, dtype=np.float32)
    if array.ndim != 3:
        raise InputError(f"{quantity.name} map: expected a 3-D map, got shape {array.shape}")
    array = np.where(np.isfinite(array), array, np.float32(0.0)).astype(np.float32)
    low, high = float(array.min()), float(array.max())
    if high <= low:
        high = low + 1.0
    mapping = hd.pm.RealWorldValueMapping(
        lut_label=quantity.label[:16],
        lut_explanation=quantity.explanation[:64],
        unit=quantity.unit,
        value_range=(low, high),
        slope=1.0,
        intercept=0.0,
        quantity_definition=quantity.quantity,
    )
    digest = hashlib.sha256(array.tobytes())
    digest.update(np.asarray(values.affine_lps, dtype=np.float64).tobytes())
    digest.update("\n".join(sources.uids()).encode())
    identity = (versioned_key(f"pm/{quantity.name}/{key}", version), digest.hexdigest())
    centre, width = _window(array)
    with quiet():
        pm = hd.pm.ParametricMap(
            source_images=list(sources.primary),
            further_source_images=list(sources.further) or None,
            pixel_array=highdicom_volume(values, array, sources.frame_of_reference_uid),
            series_instance_uid=stable_uid("pm-series", *identity),
            series_number=quantity.series_number,
            sop_instance_uid=stable_uid("pm", *identity),
            instance_number=1,
            manufacturer=MANUFACTURER,
            manufacturer_model_name=MANUFACTURER,
            software_versions=__version__,
            device_serial_number="0",
            contains_recognizable_visual_features=False,
            real_world_value_mappings=[mapping],
            window_center=centre,
            window_width=width,
            content_label=quantity.name.upper()[:16],
            content_description=(description or quantity.explanation)[:64],
            series_description=versioned_description(
                description or f"tumorboard {quantity.explanation}", version
            ),
        )
    if "Laterality" not in pm:
        pm.Laterality = None  # General Series, type 2C: a whole-body map has none
    return stabilise(pm, when)


def _window(array: np.ndarray) -> tuple[float, float]:
    """A display window from the 1st to the 99th centile of the non-zero voxels."""
    values = array[array != 0]
    if values.size == 0:
        return 0.5, 1.0
    low, high = (float(v) for v in np.percentile(values, [1.0, 99.0]))
    width = max(high - low, 1e-3)
    return round((low + high) / 2.0, 4), round(width, 4)
