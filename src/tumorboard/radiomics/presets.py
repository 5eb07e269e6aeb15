"""Feature-extraction presets: IBSI CT configurations A-E, MR and PET.

The settings live in the versioned data table ``presets.json`` beside this
module (one entry per preset, with the mirp keyword arguments it stands for),
so that a change of preset is a reviewed change of data, not of code.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from importlib import resources
from typing import Any

from tumorboard.errors import InputError


class Preset(Enum):
    """Named feature-extraction configuration.

    ``ibsi-a`` ... ``ibsi-e`` are the IBSI-1 CT-phantom configurations A-E,
    ``ibsi-phantom`` the IBSI-1 digital-phantom settings, ``mr`` and ``pet``
    tumorboard's defaults for MR and SUV images.
    """

    IBSI_A = "ibsi-a"
    IBSI_B = "ibsi-b"
    IBSI_C = "ibsi-c"
    IBSI_D = "ibsi-d"
    IBSI_E = "ibsi-e"
    IBSI_PHANTOM = "ibsi-phantom"
    MR = "mr"
    PET = "pet"


@dataclass(frozen=True)
class PresetSpec:
    """One preset as loaded from ``presets.json``.

    Attributes
    ----------
    preset : Preset
        The preset's name.
    description : str
        One-line summary of the processing.
    modality : str
        DICOM modality the preset is meant for (``CT``, ``MR``, ``PT``); CT
        intensities are rounded to integers after interpolation, as IBSI asks.
    interpolates : bool
        Whether the image is resampled before feature computation.
    new_spacing_mm : float or None
        Target spacing of the resampling (in-plane only for 2-D presets).
    by_slice : bool
        Whether features are computed slice by slice (2-D configurations).
    mirp_settings : dict
        Keyword arguments for :func:`mirp.extract_features`.
    """

    preset: Preset
    description: str
    modality: str
    interpolates: bool
    new_spacing_mm: float | None
    by_slice: bool
    mirp_settings: dict[str, Any] = field(repr=False)


def as_preset(value: Preset | str) -> Preset:
    """Convert a preset name to :class:`Preset`, naming the choices on error."""
    if isinstance(value, Preset):
        return value
    try:
        return Preset(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(p.value for p in Preset)
        raise InputError(f"unknown radiomics preset {value!r}; expected one of {choices}") from None


@cache
def _table() -> dict[str, Any]:
    text = resources.files("tumorboard.radiomics").joinpath("presets.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def load_preset(value: Preset | str) -> PresetSpec:
    """Return the :class:`PresetSpec` of a preset.

    Parameters
    ----------
    value : Preset or str
        ``ibsi-a`` ... ``ibsi-e``, ``mr`` or ``pet``.

    Returns
    -------
    PresetSpec
        A fresh copy; the mirp settings dictionary may be modified by the caller.
    """
    preset = as_preset(value)
    entry = _table()["presets"][preset.value]
    settings = {key: _decode(item) for key, item in entry["mirp"].items()}
    if "resegmentation_intensity_range" in settings:
        settings["resegmentation_intensity_range"] = [
            math.nan if bound is None else float(bound)
            for bound in settings["resegmentation_intensity_range"]
        ]
    spacing = settings.get("new_spacing")
    return PresetSpec(
        preset=preset,
        description=str(entry["description"]),
        modality=str(entry["modality"]),
        interpolates=bool(entry["interpolates"]),
        new_spacing_mm=None if spacing is None else float(spacing),
        by_slice=bool(settings.get("by_slice", False)),
        mirp_settings=settings,
    )


def _decode(item: Any) -> Any:
    """JSON has no infinity: the string ``"inf"`` stands for it.

    An open end of ``resegmentation_intensity_range`` is written ``null`` and
    becomes NaN, mirp's "no bound" (an infinite bound breaks mirp's intensity-
    volume histogram with a fixed bin size).
    """
    if isinstance(item, list):
        return [_decode(value) for value in item]
    if item == "inf":
        return math.inf
    return item
