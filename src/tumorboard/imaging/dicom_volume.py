"""Assemble the slices of one DICOM series into a :class:`Volume`.

A slice is a classic single-frame file or one frame of an enhanced
(multi-frame) image, split by :func:`~tumorboard.imaging.dicom_scan.expand_frames`.
Slices are sorted by their position along the slice normal
``cross(row cosine, column cosine)``; they must share orientation, pixel
spacing and matrix size, lie on one line along the normal, and be evenly
spaced. The slice spacing is measured from the positions (never taken from
SliceThickness). Pixel values become float32 after each slice's own
RescaleSlope/RescaleIntercept.

Speed: uncompressed pixel data is read with one ``os.pread`` per file at the
offset found by :mod:`tumorboard.imaging.dicom_scan` and wrapped with
:func:`numpy.frombuffer` (no second DICOM parse); anything else (compressed
transfer syntaxes, packed bits) falls back to pydicom's ``pixel_array``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pydicom
from numpy.typing import NDArray

from tumorboard.errors import DicomError, TumorboardError
from tumorboard.imaging.dicom_scan import DicomSlice, scan_dicom_folder
from tumorboard.imaging.input_limits import check_voxel_count, voxel_count
from tumorboard.imaging.volume import Volume

#: Largest difference between two slices' direction cosines still taken as "the same".
ORIENTATION_TOLERANCE = 1e-3
#: Relative tolerance on pixel spacing and on the evenness of slice spacing.
SPACING_RELATIVE_TOLERANCE = 0.01
#: Absolute tolerance (mm) on slice spacing; positions closer than this are duplicates.
SPACING_ABSOLUTE_TOLERANCE_MM = 0.01


def series_to_volume(
    slices: Sequence[DicomSlice],
    *,
    what: str,
    duplicates: Literal["error", "geometric_mean"] = "error",
) -> Volume:
    """Stack DICOM slices (single-frame files or frames of enhanced images) into a volume.

    Parameters
    ----------
    slices : sequence of DicomSlice
        The slices, in any order.
    what : str
        How the series is named in messages (series number/description).
    duplicates : {"error", "geometric_mean"}
        What to do with several slices at one position: refuse, or combine
        them by their geometric mean (used for the diffusion directions of one
        b-value: the geometric mean of the direction images is the trace image).

    Returns
    -------
    Volume
        float32 array ``[z, y, x]``; origin at the first slice along the normal;
        direction columns row cosine, column cosine, normal.

    Raises
    ------
    DicomError
        If a slice lacks geometry, the slices disagree in orientation, pixel
        spacing or matrix size, are not stacked along the normal, are unevenly
        spaced or duplicated, or the pixel data cannot be decoded.
    """
    if not slices:
        raise DicomError(f"{what}: no slices")
    first = slices[0]
    for item in slices:
        _require_geometry(item, what)
    assert first.image_orientation is not None and first.pixel_spacing_mm is not None
    orientation = first.image_orientation
    row_cosine, column_cosine = orientation[:3], orientation[3:]
    normal = np.cross(row_cosine, column_cosine)
    if not np.isclose(np.linalg.norm(normal), 1.0, atol=10 * ORIENTATION_TOLERANCE):
        raise DicomError(
            f"{what}: ImageOrientationPatient {_fmt(orientation)} is not two orthogonal "
            "unit vectors"
        )
    orientations = np.array([item.image_orientation for item in slices], dtype=np.float64)
    deviation = np.max(np.abs(orientations - orientation), axis=1)
    if float(deviation.max()) > ORIENTATION_TOLERANCE:
        odd = slices[int(np.argmax(deviation))]
        raise DicomError(
            f"{what}: slices have different orientations ({_fmt(orientation)} and "
            f"{_fmt(orientations[int(np.argmax(deviation))])} in {odd.path.name})"
        )
    spacings = np.array([item.pixel_spacing_mm for item in slices], dtype=np.float64)
    spacing_error = np.max(np.abs(spacings / spacings[0] - 1.0), axis=1)
    if float(spacing_error.max()) > SPACING_RELATIVE_TOLERANCE / 10:
        index = int(np.argmax(spacing_error))
        raise DicomError(
            f"{what}: slices have different pixel spacing ({_fmt(spacings[0])} and "
            f"{_fmt(spacings[index])} mm in {slices[index].path.name})"
        )
    for item in slices:
        if (item.rows, item.columns) != (first.rows, first.columns):
            raise DicomError(
                f"{what}: slices have different matrix sizes ({first.rows}x{first.columns} "
                f"and {item.rows}x{item.columns} in {item.path.name})"
            )
    positions = np.array([item.image_position_mm for item in slices], dtype=np.float64)
    along = positions @ normal
    order = np.argsort(along, kind="stable")
    along = along[order]
    positions = positions[order]
    ordered = [slices[i] for i in order]

    groups = _group_positions(along)
    if len(groups) != len(ordered) and duplicates == "error":
        counts = [len(g) for g in groups]
        index = int(np.argmax(counts))
        raise DicomError(
            f"{what}: {counts[index]} slices share the position {along[groups[index][0]]:.3f} mm "
            "along the slice normal (duplicate slices)"
        )
    unique = np.array([g[0] for g in groups])
    _check_collinear(positions[unique], normal, first.pixel_spacing_mm, what)
    spacing_z = _slice_spacing(along[unique], first, what)

    pixels = read_pixels(ordered, what=what)
    if len(groups) != len(ordered):
        pixels = _geometric_mean_groups(pixels, groups)
    direction = np.column_stack([row_cosine, column_cosine, normal])
    direction = _orthonormalise(direction)
    return Volume(
        array=pixels,
        spacing_mm=(spacing_z, first.pixel_spacing_mm[0], first.pixel_spacing_mm[1]),
        origin_mm=tuple(positions[0]),
        direction=direction,
        unit="",
    )


def read_pixels(slices: Sequence[DicomSlice], *, what: str) -> NDArray[np.float32]:
    """Decode the slices' pixel data into a float32 stack after rescaling.

    Parameters
    ----------
    slices : sequence of DicomSlice
        Single-frame slices of one matrix size, in the order wanted.
    what : str
        How the series is named in messages.

    Returns
    -------
    ndarray, shape (n, rows, columns), float32
        ``stored * RescaleSlope + RescaleIntercept`` per slice.

    Raises
    ------
    DicomError
        If the stack would exceed the voxel limit (checked before anything is
        allocated or decoded), pixel data is truncated or cannot be decoded,
        or a rescaled value is not a finite float32 (e.g. RescaleSlope 1e38).
    """
    rows, columns = slices[0].rows, slices[0].columns
    check_voxel_count(
        voxel_count([len(slices), rows, columns]),
        what=f"{what} ({len(slices)} slices)",
        error=DicomError,
    )
    out = np.empty((len(slices), rows, columns), dtype=np.float32)
    count = rows * columns
    decoded: dict[Path, NDArray[Any]] = {}  # whole multi-frame files decoded by pydicom
    for k, item in enumerate(slices):
        frames = item.number_of_frames
        if frames != 1 and item.frame_index is None:
            raise DicomError(
                f"{what}: file {item.path.name} is a multi-frame image ({frames} frames) "
                "without per-frame plane positions; only image stacks are supported"
            )
        frame = item.frame_index or 0
        if item.pixel_offset is not None and item.pixel_dtype is not None:
            dtype = np.dtype(item.pixel_dtype)
            size = count * dtype.itemsize
            data = _pread(item.path, item.pixel_offset + frame * size, size)
            if len(data) < size:
                raise DicomError(
                    f"{what}: file {item.path} is truncated: pixel data has {len(data)} bytes, "
                    f"expected {size}"
                )
            stored: NDArray[Any] = np.frombuffer(data, dtype=dtype, count=count)
        else:
            if item.path not in decoded:
                decoded[item.path] = _decode_with_pydicom(item, what)
            stored = decoded[item.path][frame]
        plane = out[k].reshape(-1)
        plane[:] = stored.reshape(-1)
        rescaled = item.rescale_slope != 1.0 or item.rescale_intercept != 0.0
        if rescaled:
            with np.errstate(over="ignore", invalid="ignore"):
                plane *= np.float32(item.rescale_slope)
                plane += np.float32(item.rescale_intercept)
        if (rescaled or stored.dtype.kind == "f") and not np.isfinite(plane).all():
            raise DicomError(
                f"{what}: file {item.path.name}: pixel values are not finite after "
                f"RescaleSlope {item.rescale_slope:g} and RescaleIntercept "
                f"{item.rescale_intercept:g} (float32 range is +-3.4e38)"
            )
    return out


def check_stack_size(slices: Iterable[DicomSlice], *, what: str) -> None:
    """Refuse slices whose float32 volume(s) together would exceed the voxel limit.

    Called before a reader allocates anything for several series or frames
    read together (all b-values of a diffusion exam, all frames of a
    dynamic series), since each one alone may be under the limit.

    Parameters
    ----------
    slices : iterable of DicomSlice
        Every slice that will be read.
    what : str
        How the input is named in messages.

    Raises
    ------
    DicomError
        If the sum of Rows x Columns over the slices exceeds
        :func:`~tumorboard.imaging.input_limits.max_voxels`.

    Examples
    --------
    >>> check_stack_size([], what="empty folder")
    """
    total = sum(voxel_count([item.rows, item.columns]) for item in slices)
    check_voxel_count(total, what=what, error=DicomError)


def read_series_volume(folder: str | os.PathLike[str], *, what: str = "DICOM folder") -> Volume:
    """Read a folder that holds exactly one DICOM image series into a :class:`Volume`.

    Parameters
    ----------
    folder : path-like
        The folder (searched recursively).
    what : str
        How the folder is named in messages.

    Raises
    ------
    DicomError
        If the folder holds no image series or several (they are listed by
        series number and description), or the series is inconsistent.
    """
    series = [s for s in scan_dicom_folder(folder, what=what) if s.is_image]
    if len(series) != 1:
        listing = ", ".join(s.label for s in series)
        raise DicomError(
            f"{what} {folder}: expected one image series, found {len(series)}: {listing}"
        )
    only = series[0]
    return series_to_volume(only.slices, what=f"{what} {folder}: {only.label}")


# --------------------------------------------------------------------------- helpers
def _require_geometry(item: DicomSlice, what: str) -> None:
    if not item.has_pixels:
        raise DicomError(f"{what}: file {item.path.name} holds no pixel data")
    if item.number_of_frames != 1 and item.frame_index is None:
        raise DicomError(
            f"{what}: file {item.path.name} is a multi-frame image ({item.number_of_frames} "
            "frames) without per-frame plane positions; only image stacks are supported"
        )
    for name, value in (
        ("ImagePositionPatient", item.image_position_mm),
        ("ImageOrientationPatient", item.image_orientation),
        ("PixelSpacing", item.pixel_spacing_mm),
    ):
        if value is None:
            raise DicomError(f"{what}: file {item.path.name} lacks {name}")


def _group_positions(along: NDArray[np.float64]) -> list[list[int]]:
    """Group indices of sorted positions closer than the duplicate tolerance."""
    groups: list[list[int]] = [[0]]
    for index in range(1, len(along)):
        if along[index] - along[groups[-1][0]] < SPACING_ABSOLUTE_TOLERANCE_MM:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def _check_collinear(
    positions: NDArray[np.float64],
    normal: NDArray[np.float64],
    pixel_spacing: tuple[float, float],
    what: str,
) -> None:
    offsets = positions - positions[0]
    in_plane = offsets - np.outer(offsets @ normal, normal)
    distance = np.linalg.norm(in_plane, axis=1)
    tolerance = max(SPACING_ABSOLUTE_TOLERANCE_MM, SPACING_RELATIVE_TOLERANCE * min(pixel_spacing))
    if distance.size and float(distance.max()) > tolerance:
        raise DicomError(
            f"{what}: slice positions are not stacked along the slice normal "
            f"(in-plane shift up to {float(distance.max()):.3f} mm; gantry tilt or shear "
            "is not supported)"
        )


def _slice_spacing(along: NDArray[np.float64], first: DicomSlice, what: str) -> float:
    if len(along) == 1:
        for keyword in ("SpacingBetweenSlices", "SliceThickness"):
            try:
                value = float(first.dataset.get(keyword) or 0.0)
            except (TypeError, ValueError):
                value = 0.0
            if value > 0 and np.isfinite(value):
                return value
        return 1.0
    steps = np.diff(along)
    spacing = float(np.mean(steps))
    tolerance = max(SPACING_ABSOLUTE_TOLERANCE_MM, SPACING_RELATIVE_TOLERANCE * spacing)
    worst = int(np.argmax(np.abs(steps - spacing)))
    if abs(float(steps[worst]) - spacing) > tolerance:
        raise DicomError(
            f"{what}: uneven slice spacing ({float(steps[worst]):.3f} mm between slices "
            f"{worst + 1} and {worst + 2} along the normal, mean {spacing:.3f} mm; "
            "missing or extra slices?)"
        )
    return spacing


def _geometric_mean_groups(
    pixels: NDArray[np.float32], groups: list[list[int]]
) -> NDArray[np.float32]:
    """Combine each group of slices by the geometric mean (negative values count as 0)."""
    out = np.empty((len(groups),) + pixels.shape[1:], dtype=np.float32)
    with np.errstate(divide="ignore"):
        for k, group in enumerate(groups):
            if len(group) == 1:
                out[k] = pixels[group[0]]
                continue
            logs = np.log(np.maximum(pixels[group].astype(np.float64), 0.0))
            out[k] = np.exp(logs.mean(axis=0))
    return out


def _orthonormalise(direction: NDArray[np.float64]) -> NDArray[np.float64]:
    """Remove the rounding of DS-encoded cosines (SVD polar decomposition)."""
    u, _, vt = np.linalg.svd(direction)
    return np.asarray(u @ vt, dtype=np.float64)


def _pread(path: Path, offset: int, length: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, length, offset)
    finally:
        os.close(fd)


def _decode_with_pydicom(item: DicomSlice, what: str) -> NDArray[Any]:
    syntax = item.transfer_syntax_uid
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        name = (pydicom.uid.UID(syntax).name or syntax) if syntax else "unknown"
        try:
            dataset = pydicom.dcmread(item.path, force=True)
            array = np.asarray(dataset.pixel_array)
        except TumorboardError:
            raise
        except Exception as exc:  # decoders raise many types (missing plugin, corrupt stream)
            reason = " ".join(str(exc).split())[:160] or type(exc).__name__
            raise DicomError(
                f"{what}: file {item.path.name}: cannot decode pixel data "
                f"(transfer syntax {name}): {reason}"
            ) from None
    expected = (item.number_of_frames, item.rows, item.columns)
    if array.shape == expected[1:]:
        array = array[None]
    if array.shape != expected:
        raise DicomError(
            f"{what}: file {item.path.name}: pixel data of shape {array.shape} "
            f"is not {item.number_of_frames} grey-level {item.rows}x{item.columns} frame(s)"
        )
    return array


def _fmt(values: Any) -> str:
    return "(" + ", ".join(f"{float(v):.4g}" for v in values) + ")"
