"""Label maps (e.g. exclusion masks from an organ segmenter) in NIfTI or DICOM SEG.

:func:`read_label_map` returns an integer label :class:`Volume` on the grid of
a reference image, or raises :class:`~tumorboard.errors.GeometryError` when the
file describes another grid. A DICOM SEG is placed on the reference grid frame
by frame: each frame's ImagePositionPatient (PlanePositionSequence) must fall
on a reference slice and its in-plane grid must be the reference's. Segment
numbers become labels; where segments overlap, the highest segment number wins.
Binary and label-map segmentations are read as they are; fractional ones are
thresholded at half the maximum fractional value. Reading uses pydicom directly
(the per-frame functional groups are all that is needed, for every
segmentation type); writing uses highdicom, which builds a standard-conformant
SEG from the source images.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from numpy.typing import NDArray

from tumorboard.errors import DicomError, GeometryError, InputError
from tumorboard.imaging.input_limits import check_voxel_count, voxel_count
from tumorboard.imaging.nifti import read_nifti
from tumorboard.imaging.volume import Volume

#: Tolerance (in voxels) for a SEG frame position to count as on a reference slice.
INDEX_TOLERANCE_VOXELS = 0.01
#: Tolerance on direction cosines between SEG and reference.
ORIENTATION_TOLERANCE = 1e-3
#: Relative tolerance on pixel spacing between SEG and reference.
SPACING_RELATIVE_TOLERANCE = 1e-3

_NIFTI_SUFFIXES = (".nii", ".nii.gz")


def read_label_map(
    path: str | os.PathLike[str],
    *,
    reference: Volume,
    what: str = "exclusion mask",
    reference_name: str = "the reference image",
) -> Volume:
    """Read a NIfTI label image or a DICOM SEG onto ``reference``'s grid.

    Parameters
    ----------
    path : path-like
        ``.nii``/``.nii.gz`` label image, or a DICOM Segmentation file.
    reference : Volume
        The image the labels must fit (its spatial grid).
    what : str
        How the label map is named in messages.
    reference_name : str
        How the reference is named in messages (e.g. ``"the b50 image"``).

    Returns
    -------
    Volume
        uint16 labels on the reference grid (0 = background), unit ``"label"``.

    Raises
    ------
    InputError
        If the file is missing, neither NIfTI nor DICOM SEG, or holds
        non-integer or negative labels.
    GeometryError
        If the labels are on another grid.
    """
    path = Path(path)
    if not path.is_file():
        if path.exists():
            raise InputError(
                f"{_named(what, path)}: not a regular file; only regular files are read"
            )
        raise InputError(f"{_named(what, path)}: file not found")
    if path.name.lower().endswith(_NIFTI_SUFFIXES):
        return _read_nifti_labels(path, reference, what, reference_name)
    return _read_seg_labels(path, reference, what, reference_name)


def _read_nifti_labels(path: Path, reference: Volume, what: str, reference_name: str) -> Volume:
    volume = read_nifti(path, what=what.replace(str(path), "").strip() or "label map")
    if volume.array.ndim != 3:
        raise InputError(
            f"{_named(what, path)}: expected a 3-D label image, got shape {volume.shape}"
        )
    reference.require_same_geometry(volume, what, reference_name)
    labels = _as_labels(volume.array, what, path)
    return reference.with_array(labels, unit="label")


def _as_labels(values: NDArray[Any], what: str, path: Path) -> NDArray[np.uint16]:
    array = np.asarray(values)
    if array.dtype == bool:
        return array.astype(np.uint16)
    if not np.all(np.isfinite(array)):
        raise InputError(f"{_named(what, path)}: labels must be finite")
    if array.size and (array.min() < 0 or array.max() > np.iinfo(np.uint16).max):
        raise InputError(
            f"{_named(what, path)}: labels must be in 0..65535, "
            f"got {array.min():g}..{array.max():g}"
        )
    if not np.all(array == np.rint(array)):
        raise InputError(f"{_named(what, path)}: labels must be whole numbers")
    return array.astype(np.uint16)


def _read_seg_labels(path: Path, reference: Volume, what: str, reference_name: str) -> Volume:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            dataset = pydicom.dcmread(path)
        except Exception:  # pydicom raises many types for non-DICOM files
            raise InputError(
                f"{_named(what, path)}: neither a NIfTI file (.nii, .nii.gz) nor a DICOM file"
            ) from None
        if str(dataset.get("Modality", "")) != "SEG" or "PixelData" not in dataset:
            raise InputError(
                f"{_named(what, path)}: DICOM file is not a segmentation (Modality "
                f"{str(dataset.get('Modality', ''))!r}, expected 'SEG')"
            )
        try:
            claimed = voxel_count(
                [
                    int(dataset.get("Rows", 0) or 0),
                    int(dataset.get("Columns", 0) or 0),
                    max(int(dataset.get("NumberOfFrames", 1) or 1), 1),
                ]
            )
        except (TypeError, ValueError, OverflowError) as exc:
            raise DicomError(
                f"{_named(what, path)}: malformed Rows/Columns/NumberOfFrames ({exc})"
            ) from None
        check_voxel_count(claimed, what=_named(what, path), error=DicomError)
        try:
            frames = np.asarray(dataset.pixel_array)
            layout = _frame_layout(dataset)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            reason = " ".join(str(exc).split())[:160] or type(exc).__name__
            raise DicomError(f"{_named(what, path)}: malformed segmentation ({reason})") from None
    if frames.ndim == 2:
        frames = frames[None]
    orientation, spacing, positions, segment_numbers = layout
    if len(positions) != frames.shape[0]:
        raise DicomError(
            f"{_named(what, path)}: {frames.shape[0]} frames but {len(positions)} frame positions"
        )
    nz, ny, nx = reference.spatial_shape
    if frames.shape[1:] != (ny, nx):
        raise GeometryError(
            f"{what} has in-plane shape {tuple(frames.shape[1:])}, expected {(ny, nx)} "
            f"like {reference_name}"
        )
    expected_spacing = np.array(reference.spacing_mm[1:])
    if not np.allclose(spacing, expected_spacing, rtol=SPACING_RELATIVE_TOLERANCE):
        raise GeometryError(
            f"{what} has pixel spacing {_fmt(spacing)} mm, expected {_fmt(expected_spacing)} mm "
            f"like {reference_name}"
        )
    expected_orientation = np.concatenate([reference.direction[:, 0], reference.direction[:, 1]])
    if not np.allclose(orientation, expected_orientation, atol=ORIENTATION_TOLERANCE):
        raise GeometryError(f"{what} has a different orientation like {reference_name}")
    index = reference.lps_to_index(np.asarray(positions))
    z = np.rint(index[:, 0])
    off_grid = np.abs(index[:, 0] - z) > INDEX_TOLERANCE_VOXELS
    in_plane = np.abs(index[:, 1:]) > INDEX_TOLERANCE_VOXELS
    if np.any(in_plane):
        raise GeometryError(
            f"{what} has origin {_fmt(positions[int(np.argmax(in_plane.any(axis=1)))])} mm, "
            f"off the in-plane grid of {reference_name}"
        )
    if np.any(off_grid) or np.any(z < 0) or np.any(z >= nz):
        bad = int(np.argmax(off_grid | (z < 0) | (z >= nz)))
        raise GeometryError(
            f"{what} has a frame at {_fmt(positions[bad])} mm, which is not on a slice of "
            f"{reference_name} (shape {reference.spatial_shape})"
        )
    labels = np.zeros(reference.spatial_shape, dtype=np.uint16)
    seg_type = str(dataset.get("SegmentationType", "BINARY")).upper()
    threshold = 0.0
    if seg_type == "FRACTIONAL":
        threshold = float(dataset.get("MaximumFractionalValue", 255)) / 2
    order = np.argsort(segment_numbers, kind="stable")  # highest segment number wins
    for frame in order:
        plane = frames[frame]
        target = labels[int(z[frame])]
        if seg_type == "LABELMAP":
            target[:] = np.maximum(target, plane.astype(np.uint16))
        else:
            target[plane > threshold] = segment_numbers[frame]
    return reference.with_array(labels, unit="label")


def _frame_layout(
    dataset: Any,
) -> tuple[NDArray[np.float64], NDArray[np.float64], list[NDArray[np.float64]], list[int]]:
    """Orientation, pixel spacing, per-frame positions and segment numbers of a SEG."""
    shared = dataset.SharedFunctionalGroupsSequence[0]
    per_frame = dataset.PerFrameFunctionalGroupsSequence
    orientation = _from_groups(shared, per_frame[0], "PlaneOrientationSequence")
    measures = _from_groups(shared, per_frame[0], "PixelMeasuresSequence")
    orientation_values = np.array([float(v) for v in orientation.ImageOrientationPatient])
    spacing = np.array([float(v) for v in measures.PixelSpacing])
    positions = []
    segments = []
    for group in per_frame:
        position = group.PlanePositionSequence[0].ImagePositionPatient
        positions.append(np.array([float(v) for v in position]))
        identification = group.get("SegmentIdentificationSequence")
        segments.append(int(identification[0].ReferencedSegmentNumber) if identification else 1)
    return orientation_values, spacing, positions, segments


def _from_groups(shared: Any, first_frame: Any, keyword: str) -> Any:
    for group in (shared, first_frame):
        sequence = group.get(keyword)
        if sequence:
            return sequence[0]
    raise KeyError(f"{keyword} missing from the functional groups")


def write_dicom_seg(
    labels: Volume,
    source_files: Sequence[str | os.PathLike[str]],
    path: str | os.PathLike[str],
    segment_names: Mapping[int, str],
    *,
    series_number: int = 900,
    series_description: str = "tumorboard segmentation",
) -> Path:
    """Write a label volume as a DICOM SEG referencing the series it was drawn on.

    Parameters
    ----------
    labels : Volume
        Integer labels on the grid of the source series (0 = background).
    source_files : sequence of path-like
        The single-frame images of the source series (any order).
    path : path-like
        Destination file.
    segment_names : mapping of int to str
        Label value to segment label; every non-zero label must be named.
    series_number : int
        SeriesNumber of the SEG.
    series_description : str
        SeriesDescription of the SEG.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    InputError
        If a label has no name, or no source file is given.
    GeometryError
        If a source image is not on a slice of ``labels``.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    path = Path(path)
    if not source_files:
        raise InputError("write_dicom_seg needs the source series' files")
    values = _as_labels(labels.array, "labels", path)
    present = sorted(int(v) for v in np.unique(values) if v != 0)
    missing = [v for v in present if v not in segment_names]
    if missing:
        raise InputError(f"segment_names lacks a name for labels {missing}")
    numbers = sorted(int(n) for n in segment_names)
    if not numbers or numbers[0] < 1 or numbers != list(range(1, len(numbers) + 1)):
        raise InputError(
            f"segment_names keys must be 1..n without gaps (DICOM SEG numbering), got {numbers}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sources = [pydicom.dcmread(p) for p in source_files]
    planes = np.empty((len(sources),) + values.shape[1:], dtype=np.uint16)
    for k, source in enumerate(sources):
        index = labels.lps_to_index(np.array([float(v) for v in source.ImagePositionPatient]))
        z = int(np.rint(index[0]))
        if (
            np.max(np.abs(index - np.array([z, 0.0, 0.0]))) > INDEX_TOLERANCE_VOXELS
            or not 0 <= z < values.shape[0]
        ):
            raise GeometryError(
                f"source image {Path(source_files[k]).name} is not on a slice of the label volume"
            )
        planes[k] = values[z]
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=str(segment_names[number])[:64],
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for number in numbers
    ]
    uid_entropy = [str(sources[0].SeriesInstanceUID), str(series_number), series_description]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=planes,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=pydicom.uid.generate_uid(entropy_srcs=uid_entropy + ["series"]),
        series_number=series_number,
        sop_instance_uid=pydicom.uid.generate_uid(entropy_srcs=uid_entropy + ["sop"]),
        instance_number=1,
        manufacturer="tumorboard",
        manufacturer_model_name="tumorboard",
        software_versions="tumorboard",
        device_serial_number="0",
        series_description=series_description,
        omit_empty_frames=False,
    )
    seg.save_as(path)
    return path


def _named(what: str, path: Path) -> str:
    """``what`` followed by the file, unless the caller already named it."""
    return what if str(path) in what else f"{what} {path}"


def _fmt(values: Any) -> str:
    return "(" + ", ".join(f"{float(v):g}" for v in np.asarray(values).reshape(-1)) + ")"
