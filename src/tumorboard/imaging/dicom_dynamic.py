"""Dynamic (DCE) DICOM series: grouping slices into time frames, and writing them.

A dynamic acquisition is stored as one series whose files repeat the same
slice positions once per time frame. :func:`read_dicom_dynamic` finds the
series (headers via :func:`~tumorboard.imaging.dicom_scan.scan_dicom_folder`),
groups its slices into frames by TemporalPositionIdentifier (0020,0100) or,
when that is absent, by AcquisitionTime (0008,0032) / TriggerTime (0018,1060),
stacks each frame with :func:`~tumorboard.imaging.dicom_volume.series_to_volume`
and returns a 4-D :class:`~tumorboard.imaging.volume.Volume` with frame times,
plus the flip angle and TR the signal model needs.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.uid import PYDICOM_ROOT_UID, generate_uid

from tumorboard.errors import DicomError
from tumorboard.imaging.dicom_scan import DicomSlice, scan_dicom_folder
from tumorboard.imaging.dicom_volume import check_stack_size, series_to_volume
from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.volume import Volume

_SECONDS_PER_DAY = 86400.0


@dataclass(frozen=True)
class DynamicAcquisition:
    """Sequence parameters of a dynamic SPGR series.

    Attributes
    ----------
    flip_deg : float or None
        FlipAngle (0018,1314) in degrees, if all frames agree.
    tr_s : float or None
        RepetitionTime (0018,0080) converted to seconds.
    """

    flip_deg: float | None
    tr_s: float | None


def _value(item: DicomSlice, keyword: str) -> Any:
    return item.dataset.get(keyword)


def parse_dicom_time(text: str) -> float:
    """Seconds since midnight of a DICOM TM value (``HHMMSS.FFFFFF`` or ``HH:MM:SS``).

    Raises
    ------
    ValueError
        If the text is not a time.
    """
    clean = str(text).strip().replace(":", "")
    if not clean or not clean.split(".")[0].isdigit():
        raise ValueError(f"not a DICOM time: {text!r}")
    main, _, fraction = clean.partition(".")
    main = main.ljust(6, "0")
    hours, minutes, seconds = int(main[:2]), int(main[2:4]), int(main[4:6])
    frac = float("0." + fraction) if fraction else 0.0
    return hours * 3600.0 + minutes * 60.0 + seconds + frac


def _frame_keys(slices: Sequence[DicomSlice], what: str) -> tuple[list[float], str]:
    """One grouping key per slice and the attribute used."""
    temporal = [_value(s, "TemporalPositionIdentifier") for s in slices]
    if all(v is not None for v in temporal):
        return [float(v) for v in temporal], "TemporalPositionIdentifier"
    times = [_value(s, "AcquisitionTime") for s in slices]
    if all(v not in (None, "") for v in times):
        try:
            return [parse_dicom_time(str(v)) for v in times], "AcquisitionTime"
        except ValueError as exc:
            raise DicomError(f"{what}: unreadable AcquisitionTime ({exc})") from None
    trigger = [_value(s, "TriggerTime") for s in slices]
    if all(v is not None for v in trigger):
        return [float(v) / 1000.0 for v in trigger], "TriggerTime"
    raise DicomError(
        f"{what}: cannot group slices into time frames: no TemporalPositionIdentifier, "
        "AcquisitionTime or TriggerTime on every slice"
    )


def _frame_time_s(frame: Sequence[DicomSlice]) -> float | None:
    acquisition = [_value(s, "AcquisitionTime") for s in frame]
    if all(v not in (None, "") for v in acquisition):
        try:
            return min(parse_dicom_time(str(v)) for v in acquisition)
        except ValueError:
            return None
    trigger = [_value(s, "TriggerTime") for s in frame]
    if all(v is not None for v in trigger):
        return min(float(v) for v in trigger) / 1000.0
    return None


def _common(slices: Sequence[DicomSlice], keyword: str, what: str) -> float | None:
    values = {float(v) for s in slices if (v := _value(s, keyword)) is not None}
    if not values:
        return None
    if len(values) > 1:
        raise DicomError(f"{what}: {keyword} differs between slices ({sorted(values)})")
    return values.pop()


def group_frames(slices: Sequence[DicomSlice], *, what: str) -> list[list[DicomSlice]]:
    """Group the slices of one dynamic series into time frames, in time order.

    Parameters
    ----------
    slices : sequence of DicomSlice
    what : str
        Name of the series in messages.

    Returns
    -------
    list of list of DicomSlice
        One list per frame.

    Raises
    ------
    DicomError
        If no timing attribute is present or the frames hold different numbers of slices.
    """
    keys, attribute = _frame_keys(slices, what)
    groups: dict[float, list[DicomSlice]] = defaultdict(list)
    if attribute == "TemporalPositionIdentifier":
        for key, item in zip(keys, slices, strict=True):
            groups[key].append(item)
    else:
        # slices of one frame may be acquired a little apart: a new frame starts
        # at a jump larger than half the median gap between distinct times
        order = np.argsort(keys)
        ordered = np.asarray(keys)[order]
        distinct = np.unique(ordered)
        n_positions = (
            len(
                {
                    tuple(np.round(s.image_position_mm, 3))
                    for s in slices
                    if s.image_position_mm is not None
                }
            )
            or 1
        )
        if distinct.size > 1 and distinct.size > len(slices) // n_positions:
            gaps = np.diff(distinct)
            threshold = 0.5 * float(np.max(gaps))
            frame_of = np.concatenate([[0], np.cumsum(np.diff(ordered) > threshold)])
        else:
            frame_of = np.searchsorted(distinct, ordered)
        for rank, index in zip(frame_of, order, strict=True):
            groups[float(rank)].append(slices[int(index)])
    frames = [groups[k] for k in sorted(groups)]
    sizes = {len(f) for f in frames}
    if len(sizes) != 1:
        raise DicomError(
            f"{what}: time frames hold different numbers of slices ({sorted(sizes)}); "
            "the dynamic series is incomplete"
        )
    return frames


@dataclass(frozen=True, eq=False)
class DynamicFrames:
    """A dynamic DICOM series whose frames are decoded one at a time.

    Made by :func:`open_dicom_dynamic` from the headers alone; iterating
    decodes each frame when it is reached, so a caller that keeps part of
    every frame (e.g. the voxels of a lesion mask) never holds the series.

    Attributes
    ----------
    first : Volume
        Frame 1, ``[z, y, x]`` float32: the grid of every frame.
    times_s : ndarray, shape (nt,)
        Frame times, strictly increasing, 0 at frame 1 unless given.
    acquisition : DynamicAcquisition
    """

    first: Volume
    times_s: NDArray[np.float64]
    acquisition: DynamicAcquisition
    _frames: tuple[tuple[DicomSlice, ...], ...]
    _name: str

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self) -> Iterator[Volume]:
        """Each frame as a 3-D volume, in time order, checked against frame 1's grid."""
        yield self.first
        for i, frame in enumerate(self._frames[1:], start=2):
            volume = series_to_volume(frame, what=f"{self._name} frame {i}")
            self.first.require_same_geometry(volume, f"{self._name} frame {i}", "frame 1")
            yield volume


def open_dicom_dynamic(
    folder: str | os.PathLike[str],
    *,
    times_s: Sequence[float] | None = None,
    what: str = "dynamic DICOM folder",
) -> DynamicFrames:
    """Group a folder's dynamic DICOM series into frames without decoding them all.

    Parameters and errors as :func:`read_dicom_dynamic`, except that the
    voxel limit applies to one frame, not to the series (it is never held
    whole), and geometry and pixel errors of frames after the first are
    raised while iterating.

    Returns
    -------
    DynamicFrames
    """
    return _open_dynamic(folder, times_s=times_s, what=what, whole_series=False)


def _open_dynamic(
    folder: str | os.PathLike[str],
    *,
    times_s: Sequence[float] | None,
    what: str,
    whole_series: bool,
) -> DynamicFrames:
    label = f"{what} {folder}"
    series = [s for s in scan_dicom_folder(folder, what=what) if s.is_image]
    if len(series) != 1:
        listing = ", ".join(s.label for s in series)
        raise DicomError(f"{label}: expected one image series, found {len(series)}: {listing}")
    only = series[0]
    name = f"{label}: {only.label}"
    if whole_series:
        check_stack_size(only.slices, what=f"{name} ({len(only.slices)} slices)")
    frames = group_frames(only.slices, what=name)
    if not whole_series:
        check_stack_size(frames[0], what=f"{name} frame 1 ({len(frames[0])} slices)")
    if times_s is not None:
        times = np.asarray(times_s, dtype=np.float64).reshape(-1)
        if times.size != len(frames):
            raise DicomError(f"{name}: {times.size} frame times given for {len(frames)} frames")
    else:
        found = [_frame_time_s(f) for f in frames]
        if any(t is None for t in found):
            raise DicomError(
                f"{name}: frames have no AcquisitionTime or TriggerTime; give the frame times"
            )
        raw = np.asarray(found, dtype=np.float64)
        raw = np.where(raw < raw[0], raw + _SECONDS_PER_DAY, raw)  # acquisition over midnight
        times = raw - raw[0]
    steps = np.diff(times)
    if times.size > 1 and not np.all(steps > 0):
        i = int(np.argmax(~(steps > 0))) + 1
        raise DicomError(
            f"{name}: frame times are not strictly increasing: frame {i + 1} at "
            f"{times[i]:g} s follows frame {i} at {times[i - 1]:g} s"
        )
    flip = _common(only.slices, "FlipAngle", name)
    tr_ms = _common(only.slices, "RepetitionTime", name)
    first = series_to_volume(frames[0], what=f"{name} frame 1")
    return DynamicFrames(
        first=first,
        times_s=times,
        acquisition=DynamicAcquisition(
            flip_deg=flip, tr_s=None if tr_ms is None else tr_ms / 1000.0
        ),
        _frames=tuple(tuple(f) for f in frames),
        _name=name,
    )


def read_dicom_dynamic(
    folder: str | os.PathLike[str],
    *,
    times_s: Sequence[float] | None = None,
    what: str = "dynamic DICOM folder",
) -> tuple[Volume, DynamicAcquisition]:
    """Read a folder holding one dynamic DICOM series as a 4-D volume.

    Parameters
    ----------
    folder : path-like
        Searched recursively; must hold exactly one image series.
    times_s : sequence of float, optional
        Explicit frame times; otherwise taken from AcquisitionTime or
        TriggerTime relative to the first frame.
    what : str
        Name of the folder in messages.

    Returns
    -------
    volume : Volume
        ``[t, z, y, x]`` float32 with ``times_s``.
    acquisition : DynamicAcquisition

    Raises
    ------
    DicomError
        If the folder holds no or several series, frames are inconsistent, or
        frame times are missing or not increasing.
    """
    frames = _open_dynamic(folder, times_s=times_s, what=what, whole_series=True)
    first = frames.first
    array = np.empty((len(frames), *first.spatial_shape), dtype=np.float32)
    for index, frame in enumerate(frames):  # one frame at a time: no second copy
        array[index] = frame.array
    volume = Volume(
        array=array,
        spacing_mm=first.spacing_mm,
        origin_mm=first.origin_mm,
        direction=first.direction,
        unit=first.unit,
        times_s=frames.times_s,
    )
    return volume, frames.acquisition


def write_dicom_dynamic(
    volume: Volume,
    folder: str | os.PathLike[str],
    *,
    flip_deg: float | None,
    tr_ms: float | None,
    series_description: str = "DCE dynamic",
    series_number: int = 1,
    study: dict[str, Any] | None = None,
    start_time_s: float = 36000.0,
    seed: int | str = 0,
) -> list[Path]:
    """Write a 4-D volume as one dynamic MR series (one file per slice and frame).

    Each frame gets TemporalPositionIdentifier, AcquisitionTime (start time plus
    the frame time) and, when given, FlipAngle and RepetitionTime.

    Parameters
    ----------
    volume : Volume
        4-D ``[t, z, y, x]`` with ``times_s``; values must fit uint16.
    folder : path-like
    flip_deg, tr_ms : float or None
        Sequence parameters (omitted from the files when None).
    series_description, series_number, study, seed
        As :func:`~tumorboard.imaging.dicom_write.write_dicom_series`.
    start_time_s : float
        AcquisitionTime of the first frame, seconds after midnight.

    Returns
    -------
    list of Path
    """
    if volume.array.ndim != 4 or volume.times_s is None:
        raise DicomError("write_dicom_dynamic needs a 4-D volume with frame times")
    nz = volume.spatial_shape[0]
    paths: list[Path] = []
    for f, t in enumerate(volume.times_s):
        frame = volume.with_array(volume.array[f])

        def per_slice(k: int, f: int = f, t: float = float(t)) -> dict[str, Any]:
            seconds = start_time_s + t
            hh, rem = divmod(seconds, 3600.0)
            mm, ss = divmod(rem, 60.0)
            attrs: dict[str, Any] = {
                "TemporalPositionIdentifier": f + 1,
                "NumberOfTemporalPositions": int(volume.array.shape[0]),
                "AcquisitionTime": f"{int(hh):02d}{int(mm):02d}{ss:09.6f}",
                "InstanceNumber": f * nz + k + 1,
                "SOPInstanceUID": generate_uid(
                    PYDICOM_ROOT_UID, [str(seed), series_description, "frame", str(f), str(k)]
                ),
            }
            if flip_deg is not None:
                attrs["FlipAngle"] = float(flip_deg)
            if tr_ms is not None:
                attrs["RepetitionTime"] = float(tr_ms)
            return attrs

        paths += write_dicom_series(
            frame,
            folder,
            modality="MR",
            series_description=series_description,
            series_number=series_number,
            study=study,
            rescale=(1.0, 0.0),
            per_slice=per_slice,
            file_prefix=f"t{f + 1:03d}_",
            seed=seed,
        )
    return paths
