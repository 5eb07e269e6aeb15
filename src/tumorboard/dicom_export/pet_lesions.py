"""SEG of a PET series' lesions, one segment per lesion with its tracking identifier.

The stored lesion label map (``lesions.nii.gz``, on the PET grid) becomes
one segment per label, in label order, named as the record names the
lesion. A lesion tracked in the record keeps its TrackingUID (the same in
every export and at every exam).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from tumorboard.dicom_export.segmentation import Segment, build_segmentation
from tumorboard.dicom_export.sources import SourceImages
from tumorboard.errors import InputError
from tumorboard.imaging.volume import Volume

__all__ = ["PetLesion", "pet_lesion_segmentation"]


@dataclass(frozen=True)
class PetLesion:
    """A lesion of the label map.

    Attributes
    ----------
    label : int
        Its value in the label map.
    name : str
        Its name (the record's lesion label).
    tracking_uid : str
        Its tracking UID.
    """

    label: int
    name: str
    tracking_uid: str


def pet_lesion_segmentation(
    labels: Volume,
    lesions: Sequence[PetLesion],
    sources: SourceImages,
    *,
    key: str,
    when: dt.datetime,
    series_number: int = 902,
    version: int = 1,
) -> Dataset:
    """The SEG of the PET lesions, segment ``n`` for ``lesions[n - 1]``.

    Parameters
    ----------
    labels : Volume
        Lesion label map on the PET grid.
    lesions : sequence of PetLesion
        The lesions to write (each label must be in the map).
    sources : SourceImages
        The PET series.
    key : str
        Identity of the analysis.
    when : datetime
    series_number : int
    version : int
        1, or the number of this result among the results of the same
        exam (series description "... v2, replaces v1", new UIDs).

    Returns
    -------
    pydicom Dataset

    Raises
    ------
    InputError
        A lesion whose label is not in the map.

    Examples
    --------
    >>> from tumorboard.dicom_export.testing import mr_headers
    >>> grid = np.zeros((2, 4, 4), np.uint16); grid[0, 1, 1] = 7
    >>> labels = Volume(grid, spacing_mm=(5.0, 2.0, 2.0))
    >>> seg = pet_lesion_segmentation(
    ...     labels, [PetLesion(7, "L1", "1.2.3")], SourceImages(mr_headers(labels)),
    ...     key="a", when=dt.datetime(2024, 1, 8))
    >>> str(seg.SegmentSequence[0].TrackingID), str(seg.SegmentSequence[0].TrackingUID)
    ('L1', '1.2.3')
    """
    from pydicom.sr.codedict import codes

    values = np.asarray(labels.array)
    segments = []
    for lesion in lesions:
        mask = values == lesion.label
        if not mask.any():
            raise InputError(f"PET lesion {lesion.name!r}: label {lesion.label} is not in the map")
        segments.append(
            Segment(
                label=lesion.name,
                mask=mask,
                property_type=codes.SCT.Neoplasm,
                category=codes.SCT.MorphologicallyAbnormalStructure,
                tracking_id=lesion.name,
                tracking_uid=lesion.tracking_uid,
            )
        )
    return build_segmentation(
        labels,
        segments,
        sources,
        key=f"pet-lesions/{key}",
        when=when,
        series_description="tumorboard PET lesions",
        series_number=series_number,
        algorithm="tumorboard PET lesions",
        version=version,
        automatic=False,
    )
