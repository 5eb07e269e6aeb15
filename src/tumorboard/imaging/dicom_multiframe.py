"""Split enhanced (multi-frame) DICOM images into one slice per frame.

One concept: an enhanced image (e.g. Enhanced MR, Enhanced CT, multi-frame
PET) stores every frame's ImagePositionPatient, ImageOrientationPatient,
PixelSpacing and rescale in per-frame or shared functional groups instead of
top-level attributes. :func:`expand_frames` turns such a
:class:`~tumorboard.imaging.dicom_scan.DicomSlice` into one slice per frame
carrying the frame's own geometry and ``frame_index``, so that series grouping
and volume assembly treat enhanced and classic single-frame images alike.
Multi-frame objects that are not stacks of planes (e.g. RT dose grids) are
left whole.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
from pydicom.dataset import Dataset

from tumorboard.errors import DicomError, TumorboardError
from tumorboard.imaging.dicom_raw import element_of, failure_reason

if TYPE_CHECKING:
    from tumorboard.imaging.dicom_scan import DicomSlice

_PER_FRAME = 0x52009230
_SHARED = 0x52009229


def expand_frames(item: DicomSlice, *, what: str = "file") -> list[DicomSlice]:
    """Split an enhanced (multi-frame) image into one :class:`DicomSlice` per frame.

    Each frame takes its ImagePositionPatient, ImageOrientationPatient,
    PixelSpacing and rescale from its per-frame functional group, or the
    shared one. Multi-frame objects without plane positions in functional
    groups (e.g. RT dose grids) are returned unexpanded.

    Raises
    ------
    DicomError
        If the functional groups are malformed or do not match NumberOfFrames.
    """
    if item.number_of_frames <= 1 or element_of(item.header, _PER_FRAME) is None:
        return [item]
    where = f"{what} {item.path}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return _expand_frames(item, where)
        except TumorboardError:
            raise
        except Exception as exc:  # malformed sequences raise many types
            raise DicomError(
                f"{where}: malformed functional groups ({failure_reason(exc)})"
            ) from None


def _expand_frames(item: DicomSlice, where: str) -> list[DicomSlice]:
    dataset = item.dataset
    per_frame_element = dataset.get(_PER_FRAME)
    per_frame: list[Dataset] = (
        list(per_frame_element.value) if per_frame_element is not None else []
    )
    if len(per_frame) != item.number_of_frames:
        raise DicomError(
            f"{where}: {len(per_frame)} per-frame functional groups for "
            f"{item.number_of_frames} frames"
        )
    shared_element = dataset.get(_SHARED)
    shared = (
        shared_element.value[0] if shared_element is not None and shared_element.value else None
    )

    def lookup(group: Dataset, sequence: str, keyword: str) -> Any:
        for source in (group, shared):
            if source is None:
                continue
            items = source.get(sequence)
            if items and keyword in items[0]:
                return items[0].get(keyword)
        return None

    frames = []
    for index, group in enumerate(per_frame):
        position = lookup(group, "PlanePositionSequence", "ImagePositionPatient")
        if position is None:
            return [item]  # not a stack of planes (e.g. a dose grid): leave it whole
        orientation = lookup(group, "PlaneOrientationSequence", "ImageOrientationPatient")
        spacing = lookup(group, "PixelMeasuresSequence", "PixelSpacing")
        slope = lookup(group, "PixelValueTransformationSequence", "RescaleSlope")
        intercept = lookup(group, "PixelValueTransformationSequence", "RescaleIntercept")
        position_mm = _float_list(position, 3, "ImagePositionPatient", where)
        frames.append(
            replace(
                item,
                header=dataset,  # one decoded Dataset shared by all frames
                frame_index=index,
                image_position_mm=np.array(position_mm),
                image_orientation=(
                    item.image_orientation
                    if orientation is None
                    else np.array(_float_list(orientation, 6, "ImageOrientationPatient", where))
                ),
                pixel_spacing_mm=(
                    item.pixel_spacing_mm if spacing is None else _pair(spacing, where)
                ),
                rescale_slope=item.rescale_slope if slope is None else float(slope),
                rescale_intercept=item.rescale_intercept if intercept is None else float(intercept),
            )
        )
    return frames


def _pair(value: Any, where: str) -> tuple[float, float]:
    first, second = _float_list(value, 2, "PixelSpacing", where)
    if first <= 0 or second <= 0:
        raise DicomError(f"{where}: PixelSpacing must be positive, got ({first:g}, {second:g})")
    return (first, second)


def _float_list(value: Any, count: int, keyword: str, where: str) -> list[float]:
    values = [float(v) for v in (value if not isinstance(value, (str, float, int)) else [value])]
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise DicomError(f"{where}: {keyword} must be {count} finite numbers, got {len(values)}")
    return values


__all__ = ["expand_frames"]
