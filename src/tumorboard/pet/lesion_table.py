"""Per-lesion PET measurement records: SUVbw max/mean, SULpeak, MTV, TLG, Krenning.

Combines :mod:`~tumorboard.pet.uptake`, :mod:`~tumorboard.pet.mtv` and
:mod:`~tumorboard.pet.krenning` into one record per lesion label, the row the
command line, the demo and the case-report form print.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from tumorboard.errors import InputError
from tumorboard.imaging.volume import Volume
from tumorboard.pet.krenning import equivalent_diameter_mm, krenning_score
from tumorboard.pet.liver_reference import ReferenceRegion
from tumorboard.pet.mtv import MtvMethod, metabolic_volume_from_values
from tumorboard.pet.uptake import lesion_uptake


@dataclass(frozen=True)
class LesionPetRecord:
    """PET measurements of one lesion.

    Attributes
    ----------
    label : int
        Lesion label.
    volume_ml : float
        Volume of the labelled region.
    suvbw_max, suvbw_mean : float
        SUVbw maximum and mean over the label.
    suvbw_peak : float
        SUVbw peak (1.2 cm sphere).
    sul_peak : float or None
        SULpeak (None when lean body mass is unknown).
    mtv_ml, tlg : float
        Metabolic volume (41 % SUVmax) and total lesion glycolysis (SUVbw x ml).
    krenning : int or None
        Krenning score when liver and spleen references are given.
    tumour_to_liver : float or None
        SUVmax / liver SUVmean.
    small_lesion_caution : bool or None
        Diameter <= 2 cm (Krenning may be underestimated).
    """

    label: int
    volume_ml: float
    suvbw_max: float
    suvbw_mean: float
    suvbw_peak: float
    sul_peak: float | None
    mtv_ml: float
    tlg: float
    krenning: int | None = None
    tumour_to_liver: float | None = None
    small_lesion_caution: bool | None = None

    def __post_init__(self) -> None:
        if self.label <= 0 or self.volume_ml <= 0:
            raise InputError(f"lesion record needs a positive label and volume, got {self}")

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary (floats rounded to 10 significant digits).

        Ten digits keep every value within 1e-9 of the measurement, so the
        summary agrees with ``measure`` and ``radiomics`` to 1e-6.
        """
        return {
            key: (float(f"{value:.10g}") if isinstance(value, float) else value)
            for key, value in asdict(self).items()
        }


def lesion_records(
    suvbw: Volume,
    labels: Volume,
    *,
    sul_per_suvbw: float | None,
    liver_suvbw: ReferenceRegion | None = None,
    spleen_suvbw: ReferenceRegion | None = None,
) -> list[LesionPetRecord]:
    """Measure every labelled lesion.

    Parameters
    ----------
    suvbw : Volume
        PET in SUVbw.
    labels : Volume
        Lesion labels on the PET grid.
    sul_per_suvbw : float or None
        Lean body mass / weight; None leaves ``sul_peak`` empty.
    liver_suvbw, spleen_suvbw : ReferenceRegion, optional
        References in SUVbw; with both, Krenning and TLR are filled.

    Returns
    -------
    list of LesionPetRecord
    """
    uptakes = lesion_uptake(suvbw, labels)
    label_array = np.asarray(labels.array).astype(np.int64, copy=False)
    boxes = ndimage.find_objects(label_array)
    values = np.asarray(suvbw.array)
    records = []
    for uptake in uptakes:
        box = boxes[uptake.label - 1]
        assert box is not None
        inside = label_array[box] == uptake.label
        mtv = metabolic_volume_from_values(
            values[box][inside], suvbw.voxel_volume_ml, MtvMethod.PERCENT_OF_MAX
        )
        krenning = tlr = caution = None
        if liver_suvbw is not None and spleen_suvbw is not None:
            result = krenning_score(
                uptake.label,
                uptake.max,
                liver_suvbw.mean,
                spleen_suvbw.mean,
                equivalent_diameter_mm(uptake.volume_ml),
            )
            krenning, tlr, caution = (
                result.score,
                result.tumour_to_liver,
                (result.small_lesion_caution),
            )
        elif liver_suvbw is not None:
            tlr = uptake.max / liver_suvbw.mean
        records.append(
            LesionPetRecord(
                label=uptake.label,
                volume_ml=uptake.volume_ml,
                suvbw_max=uptake.max,
                suvbw_mean=uptake.mean,
                suvbw_peak=uptake.peak,
                sul_peak=None if sul_per_suvbw is None else uptake.peak * sul_per_suvbw,
                mtv_ml=mtv.mtv_ml,
                tlg=mtv.tlg,
                krenning=krenning,
                tumour_to_liver=tlr,
                small_lesion_caution=caution,
            )
        )
    return records


__all__ = ["LesionPetRecord", "lesion_records"]
