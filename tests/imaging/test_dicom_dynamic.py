"""Dynamic DICOM series: frames grouped by temporal position or acquisition time."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from tumorboard.errors import DicomError
from tumorboard.imaging.dicom_dynamic import (
    parse_dicom_time,
    read_dicom_dynamic,
    write_dicom_dynamic,
)
from tumorboard.imaging.volume import Volume

TIMES_S = np.array([0.0, 4.5, 9.0, 13.5, 18.0])


@pytest.fixture
def dynamic(rng):
    array = rng.integers(0, 1000, (5, 3, 6, 7)).astype(np.float32)
    return Volume(array, (4.0, 2.0, 1.5), origin_mm=(10.0, -20.0, 30.0), times_s=TIMES_S)


def _edit_all(folder, edit):
    for path in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        edit(ds)
        ds.save_as(path)


def test_round_trip(dynamic, tmp_path):
    write_dicom_dynamic(dynamic, tmp_path, flip_deg=12.0, tr_ms=3.5)
    volume, acquisition = read_dicom_dynamic(tmp_path)
    np.testing.assert_array_equal(volume.array, dynamic.array)
    np.testing.assert_allclose(volume.times_s, TIMES_S, atol=1e-6)
    assert volume.same_geometry(dynamic)
    assert acquisition.flip_deg == 12.0
    assert acquisition.tr_s == pytest.approx(0.0035)


def test_grouping_by_acquisition_time_without_temporal_position(dynamic, tmp_path):
    write_dicom_dynamic(dynamic, tmp_path, flip_deg=12.0, tr_ms=3.5)

    def strip(ds):
        del ds.TemporalPositionIdentifier
        # slices of one frame acquired 0.1 s apart, as in 2-D multi-slice imaging
        seconds = parse_dicom_time(ds.AcquisitionTime) + 0.1 * ((ds.InstanceNumber - 1) % 3)
        hh, rem = divmod(seconds, 3600)
        mm, ss = divmod(rem, 60)
        ds.AcquisitionTime = f"{int(hh):02d}{int(mm):02d}{ss:09.6f}"

    _edit_all(tmp_path, strip)
    volume, _ = read_dicom_dynamic(tmp_path)
    np.testing.assert_array_equal(volume.array, dynamic.array)
    np.testing.assert_allclose(volume.times_s, TIMES_S, atol=1e-6)


def test_explicit_times_override(dynamic, tmp_path):
    write_dicom_dynamic(dynamic, tmp_path, flip_deg=None, tr_ms=None)
    volume, acquisition = read_dicom_dynamic(tmp_path, times_s=[0, 1, 2, 3, 4])
    np.testing.assert_array_equal(volume.times_s, [0, 1, 2, 3, 4])
    assert acquisition.flip_deg is None and acquisition.tr_s is None
    with pytest.raises(DicomError, match="3 frame times given for 5 frames"):
        read_dicom_dynamic(tmp_path, times_s=[0, 1, 2])
    with pytest.raises(DicomError, match="frame 4 at 2 s follows frame 3 at 2 s"):
        read_dicom_dynamic(tmp_path, times_s=[0, 1, 2, 2, 4])


def test_missing_timing_is_an_error(dynamic, tmp_path):
    write_dicom_dynamic(dynamic, tmp_path, flip_deg=12.0, tr_ms=3.5)

    def strip(ds):
        del ds.TemporalPositionIdentifier
        del ds.AcquisitionTime

    _edit_all(tmp_path, strip)
    with pytest.raises(DicomError, match="cannot group slices into time frames"):
        read_dicom_dynamic(tmp_path)


def test_incomplete_frame_is_an_error(dynamic, tmp_path):
    paths = write_dicom_dynamic(dynamic, tmp_path, flip_deg=12.0, tr_ms=3.5)
    paths[4].unlink()
    with pytest.raises(DicomError, match="different numbers of slices"):
        read_dicom_dynamic(tmp_path)


def test_inconsistent_flip_angle_is_an_error(dynamic, tmp_path):
    write_dicom_dynamic(dynamic, tmp_path, flip_deg=12.0, tr_ms=3.5)
    first = sorted(tmp_path.glob("*.dcm"))[0]
    ds = pydicom.dcmread(first)
    ds.FlipAngle = 30
    ds.save_as(first)
    with pytest.raises(DicomError, match="FlipAngle differs"):
        read_dicom_dynamic(tmp_path)


def test_parse_dicom_time():
    assert parse_dicom_time("101530.25") == pytest.approx(10 * 3600 + 15 * 60 + 30.25)
    assert parse_dicom_time("10:15:30") == pytest.approx(36930.0)
    with pytest.raises(ValueError):
        parse_dicom_time("soon")
