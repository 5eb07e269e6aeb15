"""NIfTI-1/2 reading and writing, the one place where RAS meets LPS.

NIfTI stores world coordinates as RAS (+x = right-to-left reversed): an LPS
point ``(x, y, z)`` is the RAS point ``(-x, -y, z)``. The arrays nibabel
returns are indexed ``[x, y, z(, t)]``; :class:`~tumorboard.imaging.volume.Volume`
holds ``[(t,) z, y, x]``. Both conversions happen here only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from numpy.typing import NDArray

from tumorboard.errors import InputError
from tumorboard.imaging.input_limits import check_regular_file, check_voxel_count, voxel_count
from tumorboard.imaging.volume import DIRECTION_TOLERANCE, Volume

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
_UNIT_PREFIX = "unit="


def read_nifti(path: str | os.PathLike[str], *, what: str = "image") -> Volume:
    """Read a 3-D or 4-D NIfTI file into a :class:`Volume`.

    Parameters
    ----------
    path : path-like
        ``.nii`` or ``.nii.gz`` file.
    what : str
        How the file is named in error messages (e.g. ``"b600 image"``).

    Returns
    -------
    Volume
        Array ``[z, y, x]`` (or ``[t, z, y, x]``); a 4-D volume gets
        ``times_s = arange(nt) * pixdim[4]`` (in seconds).

    Raises
    ------
    InputError
        If the file is missing or not a regular file, not NIfTI, claims more
        voxels in its header than the limit of
        :mod:`tumorboard.imaging.input_limits` (checked before the voxels are
        read), has a sheared affine or fewer than 3 / more than 4 dimensions.
    """
    path = Path(path)
    check_regular_file(path, what=what)
    try:
        image: Any = nib.load(str(path))  # the header only; the voxels stay on disk
        shape = tuple(int(size) for size in image.shape)
    except Exception as exc:  # nibabel raises many types for corrupt files
        raise InputError(f"{what} {path}: not a readable NIfTI file ({_one_line(exc)})") from None
    check_voxel_count(voxel_count(shape), what=f"{what} {path} (shape {shape})")
    try:
        data = np.asanyarray(image.dataobj)
    except Exception as exc:  # truncated or corrupt compressed data
        raise InputError(f"{what} {path}: not a readable NIfTI file ({_one_line(exc)})") from None
    if data.ndim == 5 and data.shape[3] == 1:
        data = data[:, :, :, 0, :]
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim not in (3, 4):
        raise InputError(f"{what} {path}: expected a 3-D or 4-D image, got shape {data.shape}")
    affine_lps = _LPS_TO_RAS @ np.asarray(image.affine, dtype=float)
    columns = affine_lps[:3, :3]
    spacing_xyz = np.linalg.norm(columns, axis=0)
    if np.any(spacing_xyz <= 0):
        raise InputError(f"{what} {path}: affine has a zero-length axis")
    direction = columns / spacing_xyz
    if not np.allclose(direction.T @ direction, np.eye(3), atol=10 * DIRECTION_TOLERANCE):
        raise InputError(f"{what} {path}: sheared affine is not supported")
    times = None
    if data.ndim == 4:
        data = np.transpose(data, (3, 2, 1, 0))
        dt_s = float(image.header.get_zooms()[3]) * _time_unit_to_s(image.header)
        times = np.arange(data.shape[0], dtype=float) * dt_s
    else:
        data = np.transpose(data, (2, 1, 0))
    return Volume(
        array=np.ascontiguousarray(data),
        spacing_mm=(float(spacing_xyz[2]), float(spacing_xyz[1]), float(spacing_xyz[0])),
        origin_mm=tuple(affine_lps[:3, 3]),
        direction=direction,
        unit=_unit_from_description(image.header),
        times_s=times,
    )


def write_nifti(volume: Volume, path: str | os.PathLike[str], dtype: Any = None) -> Path:
    """Write a :class:`Volume` as NIfTI-1 (gzip-compressed when the name ends ``.gz``).

    Parameters
    ----------
    volume : Volume
        The image; its ``unit`` is kept in the header description.
    path : path-like
        Destination file.
    dtype : numpy dtype, optional
        Storage type; defaults to the array's own (bool is stored as uint8).

    Returns
    -------
    Path
        The written path.
    """
    path = Path(path)
    array: NDArray[Any] = volume.array
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    elif array.dtype == bool:
        array = array.astype(np.uint8)
    if array.ndim == 4:
        data = np.transpose(array, (3, 2, 1, 0))
    else:
        data = np.transpose(array, (2, 1, 0))
    affine_ras = _LPS_TO_RAS @ volume.affine_lps
    image = nib.Nifti1Image(np.asarray(data), affine_ras)
    header = image.header
    header.set_xyzt_units("mm", "sec")
    if volume.times_s is not None and len(volume.times_s) > 1:
        zooms = list(header.get_zooms())
        zooms[3] = float(np.median(np.diff(volume.times_s)))
        header.set_zooms(zooms)
    header["descrip"] = (_UNIT_PREFIX + volume.unit)[:79].encode("ascii", "replace")
    image.set_qform(affine_ras, code=1)
    image.set_sform(affine_ras, code=1)
    nib.save(image, str(path))
    return path


def _time_unit_to_s(header: Any) -> float:
    unit = header.get_xyzt_units()[1]
    return {"msec": 1e-3, "usec": 1e-6}.get(unit, 1.0)


def _unit_from_description(header: Any) -> str:
    try:
        text = bytes(header["descrip"]).decode("ascii", "replace").strip("\x00 ")
    except (KeyError, TypeError, ValueError):
        return ""
    return text[len(_UNIT_PREFIX) :] if text.startswith(_UNIT_PREFIX) else ""


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__
