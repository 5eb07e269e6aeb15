"""Is a WB-DWI tumour load plausible? Flags written beside the number, never instead of it.

Two failures give a tumour load that no reader would sign:

* the mask covers more than half of the body (:data:`MAX_BODY_FRACTION`),
  the body being the fitted voxels whose S0 lies above Otsu's threshold of
  log S0 when the two classes lie a decade apart (air voxels that pass the
  noise floor have an S0 orders of magnitude lower; tissues do not);
* without an exclusion mask, normal structures that are bright at high b
  are counted as tumour. Two of them have a shape no metastasis has, and are
  looked for among the kept components:

  - the brain: a component of at least :data:`BRAIN_MIN_ML` whose top lies
    within :data:`BRAIN_TOP_MM` of the top of the body and whose height is at
    most :data:`BRAIN_MAX_HEIGHT_MM`;
  - the kidneys: a pair of components of :data:`KIDNEY_ML` each, with a mean
    ADC of at least :data:`KIDNEY_MIN_ADC_UM2_PER_S`, at one height (centroids
    within :data:`KIDNEY_PAIR_DZ_MM`) on either side of the body's midline,
    mirrored within :data:`KIDNEY_MIRROR_MM`.

The flags are plain sentences for ``summary.json``, the figures and the form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from tumorboard.dwi.noise import otsu_threshold

if TYPE_CHECKING:
    from tumorboard.pipeline.dwi_assess import ExamAssessment
    from tumorboard.segment.components import Component

#: Largest plausible tumour fraction of the body.
MAX_BODY_FRACTION = 0.5
#: Air passing the noise floor has an S0 at least 10 times below the body's
#: (mean log S0 of the two Otsu classes apart by ln 10); tissues differ less.
AIR_LOG_S0_GAP = float(np.log(10.0))
#: Smallest brain-like component at the top of the body (adult brain ~1200 ml).
BRAIN_MIN_ML = 300.0
#: A brain-like component reaches this close to the top of the body ...
BRAIN_TOP_MM = 30.0
#: ... and is no taller than this (adult brain with brainstem about 150 mm).
BRAIN_MAX_HEIGHT_MM = 200.0
#: Volume range of one kidney-like component (adult kidney ~120-200 ml).
KIDNEY_ML = (50.0, 400.0)
#: Renal cortex/medulla ADC is high (about 1900-2200 um^2/s at b 50-900).
KIDNEY_MIN_ADC_UM2_PER_S = 1600.0
#: The two kidneys lie at one height ...
KIDNEY_PAIR_DZ_MM = 50.0
#: ... on either side of the midline, at mirrored distances ...
KIDNEY_MIRROR_MM = 40.0
#: ... and apart by at least this much.
KIDNEY_MIN_SEPARATION_MM = 60.0


def plausibility_flags(assessment: ExamAssessment) -> list[str]:
    """Sentences naming why the tumour load of ``assessment`` is implausible (empty if none).

    Parameters
    ----------
    assessment : ExamAssessment
        The assessed exam.

    Returns
    -------
    list of str
    """
    flags = []
    body = body_mask(assessment)
    body_voxels = int(np.count_nonzero(body))
    tumour_voxels = int(np.count_nonzero(assessment.segmentation.mask))
    if body_voxels and tumour_voxels / body_voxels > MAX_BODY_FRACTION:
        flags.append(
            f"tumour load is {100 * tumour_voxels / body_voxels:.0f} % of the body "
            f"(more than {100 * MAX_BODY_FRACTION:.0f} %): check the threshold and exclusions"
        )
    if assessment.exclusion_given:
        return flags
    kept = [c for c in assessment.segmentation.components if c.kept]
    brain = _brain_like(assessment, kept, body)
    if brain is not None:
        flags.append(
            f"no exclusion mask: component {brain} ({_volume(kept, brain):.0f} ml at the top of "
            "the body) looks like the brain; give --exclude"
        )
    kidneys = _kidney_pair(assessment, kept, body)
    if kidneys is not None:
        flags.append(
            f"no exclusion mask: components {kidneys[0]} and {kidneys[1]} look like the "
            "kidneys (a mirrored pair of high-ADC components); give --exclude"
        )
    return flags


def body_mask(assessment: ExamAssessment) -> NDArray[np.bool_]:
    """Fitted voxels with an S0 above Otsu's threshold of log S0 (the body, not air)."""
    fitted = assessment.fit.fitted
    log_s0 = np.asarray(assessment.fit.log_s0, dtype=np.float64)
    values = log_s0[fitted]
    values = values[np.isfinite(values)]
    if values.size < 2 or float(values.min()) == float(values.max()):
        return np.asarray(fitted)
    cut = otsu_threshold(values)
    low, high = values[values < cut], values[values >= cut]
    if low.size == 0 or float(high.mean() - low.mean()) < AIR_LOG_S0_GAP:
        return np.asarray(fitted)  # no air among the fitted voxels: do not split tissues
    return np.asarray(fitted & (log_s0 >= cut))


def _volume(components: list[Component], component_id: int) -> float:
    return next(c.volume_ml for c in components if c.component_id == component_id)


def _z_range_mm(assessment: ExamAssessment, mask: NDArray[np.bool_]) -> tuple[float, float]:
    """Lowest and highest LPS z (inferior, superior) of the voxels of ``mask``."""
    z = assessment.grid.index_to_lps(np.argwhere(mask).astype(float))[:, 2]
    return float(z.min()), float(z.max())


def _brain_like(
    assessment: ExamAssessment, kept: list[Component], body: NDArray[np.bool_]
) -> int | None:
    large = [c for c in kept if c.volume_ml >= BRAIN_MIN_ML]
    if not large or not body.any():
        return None
    top = _z_range_mm(assessment, body)[1]
    labels = assessment.segmentation.component_labels
    for component in sorted(large, key=lambda c: -c.volume_ml):
        low, high = _z_range_mm(assessment, labels == component.component_id)
        if top - high <= BRAIN_TOP_MM and high - low <= BRAIN_MAX_HEIGHT_MM:
            return component.component_id
    return None


def _kidney_pair(
    assessment: ExamAssessment, kept: list[Component], body: NDArray[np.bool_]
) -> tuple[int, int] | None:
    low, high = KIDNEY_ML
    candidates = [
        c
        for c in kept
        if low <= c.volume_ml <= high and c.mean_adc_um2_per_s >= KIDNEY_MIN_ADC_UM2_PER_S
    ]
    if len(candidates) < 2 or not body.any():
        return None
    index = np.argwhere(body).astype(float)
    midline_x = float(assessment.grid.index_to_lps(index)[:, 0].mean())
    for i, first in enumerate(candidates):
        for second in candidates[i + 1 :]:
            x1, x2 = first.centroid_lps_mm[0] - midline_x, second.centroid_lps_mm[0] - midline_x
            if (
                abs(first.centroid_lps_mm[2] - second.centroid_lps_mm[2]) <= KIDNEY_PAIR_DZ_MM
                and x1 * x2 < 0
                and abs(x1 + x2) <= KIDNEY_MIRROR_MM
                and abs(x1 - x2) >= KIDNEY_MIN_SEPARATION_MM
            ):
                return first.component_id, second.component_id
    return None


__all__ = [
    "BRAIN_MAX_HEIGHT_MM",
    "BRAIN_MIN_ML",
    "BRAIN_TOP_MM",
    "KIDNEY_MIN_ADC_UM2_PER_S",
    "KIDNEY_ML",
    "MAX_BODY_FRACTION",
    "body_mask",
    "plausibility_flags",
]
