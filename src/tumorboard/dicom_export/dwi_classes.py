"""SEG of a WB-DWI exam: the tumour mask and its green, yellow and red response classes.

Segments (numbered in this order): 1 the whole tumour mask (total diffusion
volume), 2 green, 3 yellow, 4 red (:class:`tumorboard.dwi.response_classes.ResponseClass`
of the stored class map), each a neoplasm of the entire body with its
display colour. Segments 2-4 lie inside segment 1. The tracking UID of each
segment is derived from the caller's ``tracking_key`` (the same for every
exam of a patient), so a viewer follows the tumour load across exams.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from pydicom.dataset import Dataset

from tumorboard.dicom_export.segmentation import Segment, build_segmentation
from tumorboard.dicom_export.sources import SourceImages
from tumorboard.dicom_export.uids import stable_uid
from tumorboard.dwi.response_classes import ResponseClass
from tumorboard.imaging.volume import Volume

__all__ = ["CLASS_SEGMENTS", "TUMOUR_SEGMENT", "wbdwi_class_segmentation"]

#: Segment number of the whole tumour mask.
TUMOUR_SEGMENT = 1
#: Segment number, label and CIELab display colour of each response class.
CLASS_SEGMENTS: dict[ResponseClass, tuple[int, str, tuple[float, float, float]]] = {
    ResponseClass.GREEN: (2, "WB-DWI green (responding)", (62.0, -60.0, 50.0)),
    ResponseClass.YELLOW: (3, "WB-DWI yellow (indeterminate)", (88.0, -5.0, 85.0)),
    ResponseClass.RED: (4, "WB-DWI red (not responding)", (48.0, 70.0, 55.0)),
}


def wbdwi_class_segmentation(
    classes: Volume,
    sources: SourceImages,
    *,
    key: str,
    tracking_key: str,
    when: dt.datetime,
    series_number: int = 901,
    version: int = 1,
) -> Dataset:
    """The SEG of a WB-DWI exam's tumour mask and response classes.

    Parameters
    ----------
    classes : Volume
        The stored class map (0 none, 1 red, 2 yellow, 3 green) on the analysis grid.
    sources : SourceImages
        The exam's WB-DWI series.
    key : str
        Identity of the analysis (with the content it fixes the UIDs).
    tracking_key : str
        Identity of the patient's tumour load (the same at every exam); the
        tracking UIDs derive from it.
    when : datetime
        Content date and time.
    series_number : int
    version : int
        1, or the number of this result among the results of the same
        exam (series description "... v2, replaces v1", new UIDs).

    Returns
    -------
    pydicom Dataset

    Examples
    --------
    >>> from tumorboard.dicom_export.testing import mr_headers
    >>> grid = np.zeros((2, 4, 4), np.uint8); grid[1, 1, 1:3] = [ResponseClass.RED, 3]
    >>> classes = Volume(grid, spacing_mm=(5.0, 2.0, 2.0))
    >>> seg = wbdwi_class_segmentation(
    ...     classes, SourceImages(mr_headers(classes)), key="a", tracking_key="p",
    ...     when=dt.datetime(2024, 1, 8))
    >>> [str(s.SegmentLabel) for s in seg.SegmentSequence][:2]
    ['WB-DWI tumour (total diffusion volume)', 'WB-DWI green (responding)']
    """
    from pydicom.sr.codedict import codes

    values = np.asarray(classes.array)
    category = codes.SCT.MorphologicallyAbnormalStructure
    segments = [
        Segment(
            label="WB-DWI tumour (total diffusion volume)",
            mask=values > 0,
            property_type=codes.SCT.Neoplasm,
            category=category,
            tracking_id="WB-DWI tumour load",
            tracking_uid=stable_uid("wbdwi-tracking", tracking_key, "tumour"),
            colour_lab=(60.0, 0.0, -60.0),
            anatomic_region=codes.SCT.EntireBody,
        )
    ]
    for response_class, (_, label, colour) in sorted(
        CLASS_SEGMENTS.items(), key=lambda item: item[1][0]
    ):
        segments.append(
            Segment(
                label=label,
                mask=values == int(response_class),
                property_type=codes.SCT.Neoplasm,
                category=category,
                tracking_id=f"WB-DWI {response_class.name.lower()} class",
                tracking_uid=stable_uid("wbdwi-tracking", tracking_key, response_class.name),
                colour_lab=colour,
                anatomic_region=codes.SCT.EntireBody,
            )
        )
    return build_segmentation(
        classes,
        segments,
        sources,
        key=f"wbdwi-classes/{key}",
        when=when,
        series_description="tumorboard WB-DWI tumour and ADC classes",
        series_number=series_number,
        algorithm="tumorboard WB-DWI",
        version=version,
    )
