"""The reader never raises anything but a TumorboardError on pydicom's own test files.

pydicom ships well-formed, odd and deliberately malformed files (truncated,
bad VRs, no preamble, compressed with codecs that may be missing, colour,
multi-frame, non-images). Each is copied alone into a folder and scanned, read
as a series and read as a diffusion exam; the outcome must be a valid result or
a TumorboardError with a one-line message.
Only the files installed with pydicom are used (nothing is downloaded).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom.data
import pytest

from tumorboard.errors import DicomError, TumorboardError
from tumorboard.imaging.dicom_scan import scan_dicom_folder
from tumorboard.imaging.dicom_volume import read_series_volume
from tumorboard.imaging.diffusion_dicom import read_diffusion_series
from tumorboard.imaging.volume import Volume

TEST_FILES = Path(pydicom.data.__file__).parent / "test_files"
ALL_FILES = sorted(p for p in TEST_FILES.rglob("*") if p.is_file())


def test_pydicom_ships_test_files():
    assert len(ALL_FILES) > 100


@pytest.mark.parametrize("source", ALL_FILES, ids=lambda p: str(p.relative_to(TEST_FILES)))
def test_reader_gives_a_volume_or_a_tumorboard_error(source, tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(source, folder / source.name)
    for read in (scan_dicom_folder, read_series_volume, read_diffusion_series):
        try:
            result = read(folder)
        except TumorboardError as error:
            message = str(error)
            assert message and "\n" not in message
            assert "Traceback" not in message
            continue
        if isinstance(result, Volume):
            assert np.all(np.isfinite(result.array))
            assert result.array.ndim == 3


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("MR_truncated.dcm", "truncated"),
        ("rtplan_truncated.dcm", "truncated|no DICOM image"),
        ("README.txt", "not a DICOM file"),
        ("rtplan.dcm", "no DICOM image"),
    ],
)
def test_known_bad_files_name_the_reason(name, reason, tmp_path):
    shutil.copy(TEST_FILES / name, tmp_path / name)
    with pytest.raises(DicomError, match=reason):
        read_series_volume(tmp_path)


@pytest.mark.parametrize(
    "name",
    [
        "MR_small.dcm",
        "MR_small_implicit.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_expb.dcm",
        "MR_small_RLE.dcm",
    ],
)
def test_every_encoding_of_mr_small_reads_the_same(name, tmp_path):
    reference_folder = tmp_path / "reference"
    reference_folder.mkdir()
    shutil.copy(TEST_FILES / "MR_small.dcm", reference_folder)
    folder = tmp_path / "variant"
    folder.mkdir()
    shutil.copy(TEST_FILES / name, folder)
    expected = read_series_volume(reference_folder)
    actual = read_series_volume(folder)
    np.testing.assert_array_equal(actual.array, expected.array)
    assert actual.same_geometry(expected)
    dataset = pydicom.dcmread(TEST_FILES / "MR_small.dcm")
    stored = dataset.pixel_array.astype(np.float32)
    np.testing.assert_array_equal(
        actual.array[0],
        stored * float(dataset.get("RescaleSlope", 1)) + float(dataset.get("RescaleIntercept", 0)),
    )


def test_file_without_preamble_or_meta_reads_the_same(tmp_path):
    dataset = pydicom.dcmread(TEST_FILES / "MR_small_implicit.dcm")
    dataset.preamble = None
    del dataset.file_meta
    folder = tmp_path / "raw"
    folder.mkdir()
    dataset.save_as(folder / "raw.dcm", implicit_vr=True, little_endian=True)
    assert (folder / "raw.dcm").read_bytes()[128:132] != b"DICM"
    reference = tmp_path / "reference"
    reference.mkdir()
    shutil.copy(TEST_FILES / "MR_small.dcm", reference)
    np.testing.assert_array_equal(
        read_series_volume(folder).array, read_series_volume(reference).array
    )
