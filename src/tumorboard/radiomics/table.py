"""The feature table: one CSV row per lesion and feature, with IBSI codes.

Columns: ``label``, ``label_name`` (RTSTRUCT ROI name, else empty),
``voxel_count``, ``ibsi_tag``, ``ibsi_feature_id``, ``feature_name``,
``aggregation``, ``aggregation_id``, ``discretisation``, ``value``,
``mirp_feature``, ``preset``, then the acquisition parameters as
``acq_*`` columns (the same on every row) so that the values never travel
without the conditions that produced them.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence

from tumorboard.radiomics.acquisition import AcquisitionParameters
from tumorboard.radiomics.extract import LesionFeatures
from tumorboard.radiomics.presets import Preset, as_preset

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
)


def write_feature_table(
    path: str | os.PathLike[str],
    lesions: Sequence[LesionFeatures],
    preset: Preset | str,
    acquisition: AcquisitionParameters,
    label_names: Mapping[int, str] | None = None,
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
    """
    names = dict(label_names or {})
    preset_name = as_preset(preset).value
    acquisition_columns = acquisition.as_columns()
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
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
                        *acquisition_columns.values(),
                    ]
                )
