"""The feature table: one CSV row per lesion and feature, with IBSI codes.

Columns: ``label``, ``label_name`` (RTSTRUCT ROI name, else empty),
``voxel_count``, ``ibsi_tag``, ``ibsi_feature_id``, ``feature_name``,
``aggregation``, ``aggregation_id``, ``discretisation``, ``value``,
``mirp_feature``, ``preset``, ``grid``, then the acquisition parameters as
``acq_*`` columns (the same on every row) so that the values never travel
without the conditions that produced them.

``grid`` says on which grid a value was computed: ``original`` or, when the
preset resamples, ``resampled 4 mm`` (``... in-plane`` for 2-D presets): an
SUVmax of mirp on a resampled grid is not the SUVmax of the acquired voxels.
For a PET image the table also carries, per lesion, the rows ``SUVbw max``,
``SUVbw mean`` and ``SULpeak`` (no IBSI code, grid ``original``) from
:func:`tumorboard.pet.uptake_image.lesion_uptake_values`, the function
``pet suv`` and ``measure`` use, so those three agree everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from tumorboard.pet.uptake_image import LesionUptakeValues
from tumorboard.privacy import SafeWriter
from tumorboard.radiomics.acquisition import AcquisitionParameters
from tumorboard.radiomics.extract import LesionFeatures
from tumorboard.radiomics.presets import Preset, PresetSpec, as_preset, load_preset

FEATURE_COLUMNS = (
    "label",
    "label_name",
    "voxel_count",
    "ibsi_tag",
    "ibsi_feature_id",
    "feature_name",
    "aggregation",
    "aggregation_id",
    "discretisation",
    "value",
    "mirp_feature",
    "preset",
    "grid",
)
#: ``grid`` of values computed on the acquired voxels.
ORIGINAL_GRID = "original"


def grid_label(spec: PresetSpec) -> str:
    """``original``, or ``resampled N mm`` when the preset resamples.

    Examples
    --------
    >>> grid_label(load_preset("pet")), grid_label(load_preset("ibsi-phantom"))
    ('resampled 4 mm', 'original')
    """
    if not spec.interpolates or spec.new_spacing_mm is None:
        return ORIGINAL_GRID
    text = f"resampled {spec.new_spacing_mm:g} mm"
    return f"{text} in-plane" if spec.by_slice else text


def write_feature_table(
    path: str | os.PathLike[str],
    lesions: Sequence[LesionFeatures],
    preset: Preset | str,
    acquisition: AcquisitionParameters,
    label_names: Mapping[int, str] | None = None,
    uptake: Sequence[LesionUptakeValues] = (),
) -> None:
    """Write ``lesions`` as the long-format feature CSV described above.

    Parameters
    ----------
    path : path-like
        Destination (written directly; wrap in :func:`tumorboard.outputs.output_file`).
    lesions : sequence of LesionFeatures
        Results of :func:`~tumorboard.radiomics.extract.extract_lesion_features`.
    preset : Preset or str
        The preset the features were computed with.
    acquisition : AcquisitionParameters
        How the image was acquired.
    label_names : mapping of int to str, optional
        Names of the labels (e.g. RTSTRUCT ROI names).
    uptake : sequence of LesionUptakeValues
        PET uptake of the lesions on the original grid (empty for other images).
    """
    names = dict(label_names or {})
    preset_name = as_preset(preset).value
    grid = grid_label(load_preset(preset))
    acquisition_columns = acquisition.as_columns()
    voxels = {lesion.label: lesion.voxel_count for lesion in lesions}
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = SafeWriter(handle)
        writer.writerow([*FEATURE_COLUMNS, *acquisition_columns])
        for lesion in lesions:
            for item in lesion.values:
                code = item.code
                writer.writerow(
                    [
                        lesion.label,
                        names.get(lesion.label, ""),
                        lesion.voxel_count,
                        code.tag,
                        code.feature_id,
                        code.name,
                        code.aggregation,
                        code.aggregation_id,
                        code.discretisation,
                        repr(item.value),
                        code.mirp_name,
                        preset_name,
                        grid,
                        *acquisition_columns.values(),
                    ]
                )
        for values in uptake:
            for name, value in (
                ("SUVbw max", values.suvbw_max),
                ("SUVbw mean", values.suvbw_mean),
                ("SULpeak", values.sul_peak),
            ):
                if value is None:
                    continue
                writer.writerow(
                    [
                        values.label,
                        names.get(values.label, ""),
                        voxels.get(values.label, ""),
                        *("", "", name, "", "", ""),
                        repr(value),
                        "",
                        preset_name,
                        ORIGINAL_GRID,
                        *acquisition_columns.values(),
                    ]
                )
