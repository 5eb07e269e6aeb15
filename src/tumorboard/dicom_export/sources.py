"""The source images an exported object derives from, and its grid in highdicom terms.

highdicom builds a SEG or parametric map from the images of one series (the
``primary`` series: patient, study and frame of reference come from it) and
records images of other series of the same study as further sources. A
multi-station WB-DWI exam has one series per station and b-value, and its
analysis is computed on the stitched grid spanning them all; tumorboard
writes ONE object per exam on that grid, with each frame's own plane
position (:func:`highdicom_volume`), referencing every input series. This
keeps the stored values exactly (no resampling onto one station) and lets a
viewer place every frame in patient space.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from tumorboard.errors import InputError
from tumorboard.imaging.volume import Volume

__all__ = ["SourceImages", "highdicom_volume"]


@dataclass(frozen=True)
class SourceImages:
    """Headers of the images an object derives from.

    Attributes
    ----------
    primary : tuple of pydicom Dataset
        The images of one series (single-frame), which give patient, study
        and frame of reference.
    further : tuple of pydicom Dataset
        Images of the other input series of the same study.

    Examples
    --------
    >>> ds = Dataset()
    >>> ds.SeriesInstanceUID, ds.StudyInstanceUID, ds.FrameOfReferenceUID = "1.1", "1", "1.9"
    >>> SourceImages((ds,)).frame_of_reference_uid
    '1.9'
    """

    primary: tuple[Dataset, ...]
    further: tuple[Dataset, ...] = ()

    def __post_init__(self) -> None:
        if not self.primary:
            raise InputError("an exported object needs its source images (none given)")
        if len({str(d.SeriesInstanceUID) for d in self.primary}) != 1:
            raise InputError("the primary source images must be one series")
        studies = {str(d.StudyInstanceUID) for d in (*self.primary, *self.further)}
        if len(studies) != 1:
            raise InputError(f"the source images span {len(studies)} studies, expected one")

    @property
    def frame_of_reference_uid(self) -> str:
        """FrameOfReferenceUID of the primary series."""
        return str(self.primary[0].FrameOfReferenceUID)

    @property
    def all(self) -> tuple[Dataset, ...]:
        """Every source image, primary first."""
        return (*self.primary, *self.further)

    def uids(self) -> list[str]:
        """Sorted SOPInstanceUIDs of every source image (part of an object's identity)."""
        return sorted(str(d.SOPInstanceUID) for d in self.all)


def highdicom_affine(volume: Volume) -> NDArray[np.float64]:
    """The 4x4 affine of ``volume`` in highdicom's (slice, row, column) index order.

    Examples
    --------
    >>> grid = Volume(np.zeros((2, 3, 4)), spacing_mm=(5.0, 2.0, 1.0), origin_mm=(1.0, 2.0, 3.0))
    >>> highdicom_affine(grid)[:3].tolist()
    [[0.0, 0.0, 1.0, 1.0], [0.0, 2.0, 0.0, 2.0], [5.0, 0.0, 0.0, 3.0]]
    """
    dz, dy, dx = volume.spacing_mm
    affine = np.eye(4)
    affine[:3, 0] = volume.direction[:, 2] * dz
    affine[:3, 1] = volume.direction[:, 1] * dy
    affine[:3, 2] = volume.direction[:, 0] * dx
    affine[:3, 3] = volume.origin_mm
    return affine


def highdicom_volume(
    volume: Volume,
    array: NDArray[np.generic],
    frame_of_reference_uid: str,
    channels: dict[str, list[int]] | None = None,
) -> Any:
    """``array`` on ``volume``'s grid as a :class:`highdicom.Volume` in patient space.

    Parameters
    ----------
    volume : Volume
        The grid (3-D).
    array : ndarray, shape (nz, ny, nx) or (nz, ny, nx, channels)
        Values on that grid.
    frame_of_reference_uid : str
        Of the source images.
    channels : dict, optional
        highdicom channel descriptors of a 4-D array (e.g. ``{"SegmentNumber": [1, 2]}``).

    Returns
    -------
    highdicom.Volume

    Examples
    --------
    >>> grid = Volume(np.zeros((2, 3, 4)), spacing_mm=(5.0, 2.0, 1.0))
    >>> hd_volume = highdicom_volume(grid, np.ones((2, 3, 4), np.uint8), "1.2.3")
    >>> hd_volume.spatial_shape, hd_volume.spacing
    ((2, 3, 4), (5.0, 2.0, 1.0))
    """
    import highdicom as hd

    if array.shape[:3] != volume.spatial_shape:
        raise InputError(
            f"values of shape {array.shape[:3]} are not on the grid {volume.spatial_shape}"
        )
    return hd.Volume(
        array,
        highdicom_affine(volume),
        coordinate_system="PATIENT",
        frame_of_reference_uid=frame_of_reference_uid,
        channels=channels,  # type: ignore[arg-type]
    )


def headers(datasets: Sequence[Dataset]) -> tuple[Dataset, ...]:
    """The datasets sorted by SOPInstanceUID (a stable order for stable objects)."""
    return tuple(sorted(datasets, key=lambda d: str(d.SOPInstanceUID)))
