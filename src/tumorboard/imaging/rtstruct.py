"""DICOM RTSTRUCT contours rasterised onto a reference image grid.

Each ROI of the structure set (StructureSetROISequence) is matched with its
contours (ROIContourSequence, by ReferencedROINumber). Every CLOSED_PLANAR
contour must lie in one slice plane of the reference grid; its polygon is
filled on that slice with :class:`matplotlib.path.Path` (voxel centres inside
or on the outline), and several contours of one ROI on one slice combine by
the even-odd rule, so an inner contour cuts a hole. This is a solved problem
in matplotlib; only the DICOM bookkeeping is ours.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from matplotlib.path import Path as PolygonPath
from numpy.typing import NDArray

from tumorboard.errors import DicomError, EmptyResultError, GeometryError, InputError
from tumorboard.imaging.input_limits import check_regular_file
from tumorboard.imaging.volume import Volume

#: A contour's points must lie within this fraction of a slice of a slice centre.
SLICE_TOLERANCE = 0.1
#: Tolerance (in voxels) for voxel centres that lie on a contour's outline.
OUTLINE_TOLERANCE_VOXELS = 1e-3


@dataclass(frozen=True, eq=False)
class RoiMask:
    """One rasterised ROI.

    Attributes
    ----------
    number : int
        ROINumber in the structure set.
    name : str
        ROIName.
    mask : Volume
        Boolean mask on the reference grid.
    """

    number: int
    name: str
    mask: Volume


def read_rtstruct(
    path: str | os.PathLike[str],
    reference: Volume,
    *,
    roi_names: Sequence[str] | None = None,
) -> tuple[RoiMask, ...]:
    """Rasterise the ROIs of an RTSTRUCT file onto ``reference``'s grid.

    Parameters
    ----------
    path : path-like
        The RTSTRUCT file.
    reference : Volume
        The image the contours were drawn on (its grid receives the masks).
    roi_names : sequence of str, optional
        Only these ROIs (default: every ROI that has contours).

    Returns
    -------
    tuple of RoiMask
        In structure-set order.

    Raises
    ------
    DicomError
        If the file is not a readable RTSTRUCT or a contour is malformed.
    GeometryError
        If a contour does not lie on a slice of ``reference``, falls outside
        it, or an ROI encloses no voxel centre of it.
    InputError
        If a requested ROI name is not in the file.
    EmptyResultError
        If no ROI of the file has contours.
    """
    path = Path(path)
    dataset = _read(path)
    names = {
        int(item.ROINumber): str(item.get("ROIName", ""))
        for item in _sequence(dataset, "StructureSetROISequence", path)
    }
    contours: dict[int, list[Any]] = {}
    for item in _sequence(dataset, "ROIContourSequence", path):
        number = int(item.get("ReferencedROINumber", -1))
        contours.setdefault(number, []).extend(item.get("ContourSequence", []) or [])
    order = [number for number in names if contours.get(number)]
    if roi_names is not None:
        by_name = {names[number]: number for number in order}
        unknown = [name for name in roi_names if name not in by_name]
        if unknown:
            available = ", ".join(sorted(by_name)) or "none"
            raise InputError(
                f"RTSTRUCT {path.name}: no ROI named {unknown[0]!r} with contours "
                f"(available: {available})"
            )
        order = [by_name[name] for name in roi_names]
    if not order:
        raise EmptyResultError(f"RTSTRUCT {path.name}: no ROI has contours")
    rois = []
    for number in order:
        what = f"RTSTRUCT {path.name} ROI {names[number]!r}"
        mask = _rasterise(contours[number], reference, what)
        if not mask.any():
            raise GeometryError(
                f"{what}: the contours enclose no voxel of the image (drawn on another grid?)"
            )
        rois.append(
            RoiMask(number=number, name=names[number], mask=reference.with_array(mask, unit="mask"))
        )
    return tuple(rois)


def rtstruct_label_map(rois: Sequence[RoiMask]) -> Volume:
    """Combine ROI masks into one label map (ROI ``i`` of the list gets label ``i + 1``).

    Raises
    ------
    InputError
        If no ROI is given or two ROIs overlap (a label map holds one label per voxel).
    """
    if not rois:
        raise InputError("RTSTRUCT holds no ROI with contours")
    labels = np.zeros(rois[0].mask.spatial_shape, dtype=np.int32)
    for index, roi in enumerate(rois, start=1):
        overlap = roi.mask.array & (labels > 0)
        if np.any(overlap):
            other = rois[int(labels[overlap][0]) - 1].name
            raise InputError(
                f"RTSTRUCT ROIs {other!r} and {roi.name!r} overlap; choose non-overlapping ROIs"
            )
        labels[roi.mask.array] = index
    return rois[0].mask.with_array(labels, unit="label")


def _read(path: Path) -> Any:
    check_regular_file(path, what="RTSTRUCT", error=DicomError)
    try:
        dataset = pydicom.dcmread(path)
    except Exception as exc:  # pydicom raises many types for corrupt files
        raise DicomError(f"RTSTRUCT {path.name}: not a readable DICOM file ({exc})") from None
    modality = str(dataset.get("Modality", ""))
    if modality != "RTSTRUCT":
        raise DicomError(f"RTSTRUCT {path.name}: Modality is {modality!r}, expected 'RTSTRUCT'")
    return dataset


def _sequence(dataset: Any, keyword: str, path: Path) -> list[Any]:
    value = dataset.get(keyword)
    if not value:
        raise DicomError(f"RTSTRUCT {path.name}: {keyword} is missing or empty")
    return list(value)


def _rasterise(items: list[Any], reference: Volume, what: str) -> NDArray[np.bool_]:
    nz, ny, nx = reference.spatial_shape
    mask = np.zeros((nz, ny, nx), dtype=bool)
    for item in items:
        kind = str(item.get("ContourGeometricType", "CLOSED_PLANAR"))
        data = item.get("ContourData")
        if data is None or len(data) < 9 or len(data) % 3:
            raise DicomError(f"{what}: ContourData must hold at least three x, y, z points")
        points = np.asarray(data, dtype=float).reshape(-1, 3)
        index = reference.lps_to_index(points)  # (z, y, x)
        if kind == "POINT":
            continue
        if kind != "CLOSED_PLANAR":
            raise DicomError(f"{what}: ContourGeometricType {kind!r} is not supported")
        slice_index = float(np.mean(index[:, 0]))
        nearest = int(round(slice_index))
        if np.max(np.abs(index[:, 0] - nearest)) > SLICE_TOLERANCE:
            raise GeometryError(
                f"{what}: a contour does not lie on a slice of the image "
                f"(slice index {slice_index:.2f})"
            )
        if not 0 <= nearest < nz:
            raise GeometryError(f"{what}: a contour lies outside the image (slice {nearest})")
        mask[nearest] ^= _fill(index[:, 2], index[:, 1], ny, nx)
    return mask


def _fill(x: NDArray[np.float64], y: NDArray[np.float64], ny: int, nx: int) -> NDArray[np.bool_]:
    """Voxel centres of an ``ny`` x ``nx`` slice inside or on the polygon ``(x, y)``."""
    out = np.zeros((ny, nx), dtype=bool)
    x0 = max(int(np.floor(x.min())), 0)
    x1 = min(int(np.ceil(x.max())), nx - 1)
    y0 = max(int(np.floor(y.min())), 0)
    y1 = min(int(np.ceil(y.max())), ny - 1)
    if x0 > x1 or y0 > y1:
        return out
    polygon = PolygonPath(np.column_stack([x, y]), closed=False)
    yy, xx = np.mgrid[y0 : y1 + 1, x0 : x1 + 1]
    centres = np.column_stack([xx.ravel(), yy.ravel()]).astype(float)
    inside = polygon.contains_points(centres, radius=OUTLINE_TOLERANCE_VOXELS)
    inside |= polygon.contains_points(centres, radius=-OUTLINE_TOLERANCE_VOXELS)
    out[y0 : y1 + 1, x0 : x1 + 1] = inside.reshape(yy.shape)
    return out
