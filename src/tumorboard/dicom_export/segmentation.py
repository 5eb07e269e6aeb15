"""A binary DICOM SEG of named segments on an analysis grid (highdicom).

:func:`build_segmentation` is the one SEG writer of the export: segments may
overlap (a voxel may be in the tumour mask and in its response class), so
the SEG is BINARY with one frame per slice and segment (empty frames kept,
so a viewer finds every slice). Its UIDs are derived from the caller's key
and the content (:func:`~tumorboard.dicom_export.uids.stable_uid`), so the
same content gives the same object.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
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

__all__ = ["Segment", "build_segmentation"]


@dataclass(frozen=True)
class Segment:
    """One segment of a SEG: its mask and how it is described.

    Attributes
    ----------
    label : str
        SegmentLabel (at most 64 characters).
    mask : ndarray of bool, shape (nz, ny, nx)
        The voxels of the segment on the grid.
    property_type : pydicom Code
        SegmentedPropertyTypeCodeSequence (e.g. SCT Neoplasm).
    category : pydicom Code
        SegmentedPropertyCategoryCodeSequence.
    tracking_id, tracking_uid : str, optional
        Tracking identifier and UID of the finding (TID 4108).
    colour_lab : tuple of 3 float, optional
        Recommended display colour, CIELab (L 0..100, a and b -128..127).
    anatomic_region : pydicom Code, optional
        AnatomicRegionSequence.
    """

    label: str
    mask: NDArray[np.bool_]
    property_type: Code
    category: Code
    tracking_id: str | None = None
    tracking_uid: str | None = None
    colour_lab: tuple[float, float, float] | None = None
    anatomic_region: Code | None = None


def build_segmentation(
    grid: Volume,
    segments: Sequence[Segment],
    sources: SourceImages,
    *,
    key: str,
    when: dt.datetime,
    series_description: str,
    series_number: int,
    algorithm: str,
    automatic: bool = True,
    version: int = 1,
) -> Dataset:
    """Build a BINARY SEG of ``segments`` on ``grid``, referencing ``sources``.

    Parameters
    ----------
    grid : Volume
        The grid of the masks (e.g. the stitched WB-DWI grid).
    segments : sequence of Segment
        Numbered 1..n in this order.
    sources : SourceImages
        The images the masks were computed from.
    key : str
        What the object is (e.g. ``"wbdwi-classes/<analysis digest>"``); with
        the content it fixes the UIDs.
    when : datetime
        Content and instance-creation date and time.
    series_description : str
    series_number : int
    algorithm : str
        Name of the algorithm (or source) that made the masks.
    automatic : bool
        The masks were computed (histogram analysis: thresholds on the
        images); ``False`` for masks drawn by a reader.
    version : int
        Version of the object (:func:`~tumorboard.dicom_export.uids.versioned_key`).

    Returns
    -------
    pydicom Dataset
        A :class:`highdicom.seg.Segmentation`.

    Raises
    ------
    InputError
        No segment, or a mask not on the grid.

    Examples
    --------
    >>> from pydicom.sr.codedict import codes
    >>> from tumorboard.dicom_export.testing import mr_headers
    >>> grid = Volume(np.zeros((2, 4, 4)), spacing_mm=(5.0, 2.0, 2.0))
    >>> mask = np.zeros((2, 4, 4), bool); mask[1, 1:3, 1:3] = True
    >>> seg = build_segmentation(
    ...     grid, [Segment("lesion", mask, codes.SCT.Neoplasm,
    ...                    codes.SCT.MorphologicallyAbnormalStructure)],
    ...     SourceImages(mr_headers(grid)), key="doc", when=dt.datetime(2024, 1, 8),
    ...     series_description="lesion", series_number=901, algorithm="threshold")
    >>> seg.Modality, int(seg.NumberOfFrames), int(seg.pixel_array.sum())
    ('SEG', 2, 4)
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    if not segments:
        raise InputError(f"segmentation {series_description!r}: no segment to write")
    masks = np.stack([np.asarray(s.mask, dtype=bool) for s in segments], axis=-1)
    if masks.shape[:3] != grid.spatial_shape:
        raise InputError(
            f"segmentation {series_description!r}: masks of shape {masks.shape[:3]} are not "
            f"on the grid {grid.spatial_shape}"
        )
    digest = _content_digest(masks, segments, grid, sources)
    key = versioned_key(key, version)
    description = versioned_description(series_description, version)
    algorithm_id = hd.AlgorithmIdentificationSequence(
        name=algorithm[:64],
        version=__version__,
        family=codes.cid7162.HistogramAnalysis if automatic else codes.cid7162.ManualProcessing,
    )
    algorithm_type = (
        hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC
        if automatic
        else hd.seg.SegmentAlgorithmTypeValues.MANUAL
    )
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=segment.label[:64],
            segmented_property_category=segment.category,
            segmented_property_type=segment.property_type,
            algorithm_type=algorithm_type,
            algorithm_identification=algorithm_id if automatic else None,
            tracking_uid=segment.tracking_uid,
            tracking_id=segment.tracking_id[:64] if segment.tracking_id else None,
            anatomic_regions=[segment.anatomic_region] if segment.anatomic_region else None,
            display_color=hd.color.CIELabColor(*segment.colour_lab) if segment.colour_lab else None,
        )
        for number, segment in enumerate(segments, start=1)
    ]
    volume = highdicom_volume(
        grid,
        masks.astype(np.uint8),
        sources.frame_of_reference_uid,
        channels={"SegmentNumber": list(range(1, len(segments) + 1))},
    )
    with quiet():
        seg = hd.seg.Segmentation(
            source_images=list(sources.primary),
            further_source_images=list(sources.further) or None,
            pixel_array=volume,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=descriptions,
            series_instance_uid=stable_uid("seg-series", key, digest),
            series_number=series_number,
            sop_instance_uid=stable_uid("seg", key, digest),
            instance_number=1,
            manufacturer=MANUFACTURER,
            manufacturer_model_name=MANUFACTURER,
            software_versions=__version__,
            device_serial_number="0",
            series_description=description,
            content_label="TUMORBOARD",
            content_description=series_description[:64],
            omit_empty_frames=False,
        )
    return stabilise(seg, when)


def _content_digest(
    masks: NDArray[np.bool_], segments: Sequence[Segment], grid: Volume, sources: SourceImages
) -> str:
    digest = hashlib.sha256(np.packbits(masks).tobytes())
    digest.update(str(masks.shape).encode())
    digest.update(np.asarray(grid.affine_lps, dtype=np.float64).tobytes())
    for segment in segments:
        digest.update(
            repr(
                (segment.label, segment.tracking_id, segment.tracking_uid, segment.colour_lab)
            ).encode()
        )
    digest.update("\n".join(sources.uids()).encode())
    return digest.hexdigest()
