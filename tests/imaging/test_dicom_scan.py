from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from dicom_helpers import SECRETS, ramp
from pydicom.dataset import Dataset

from tumorboard.errors import DicomError, TumorboardError
from tumorboard.imaging.dicom_scan import RawHeader, read_slice_header, scan_dicom_folder
from tumorboard.imaging.dicom_volume import read_series_volume
from tumorboard.imaging.volume import Volume


def _volume(nz: int = 4) -> Volume:
    return Volume(ramp((nz, 6, 5)), (3.0, 2.0, 2.0), (10.0, -20.0, 30.0))


def test_groups_files_by_series_and_orders_by_number(write_series, tmp_path):
    write_series(_volume(3), name="exam/b", series_number=5, series_description="second")
    write_series(_volume(4), name="exam/a", series_number=2, series_description="first")
    series = scan_dicom_folder(tmp_path / "exam")
    assert [s.series_number for s in series] == [2, 5]
    assert [len(s.slices) for s in series] == [4, 3]
    assert series[0].series_description == "first" and series[0].modality == "MR"
    assert series[0].label == "series 2 (first)"
    assert all(s.is_image for s in series)


def test_parsed_fields_match_pydicom(write_series, tmp_path):
    paths = write_series(_volume(), rescale=(0.5, -7.0))
    item = read_slice_header(paths[2])
    reference = pydicom.dcmread(paths[2])
    assert isinstance(item.header, RawHeader)  # the fast path read it
    np.testing.assert_allclose(
        item.image_position_mm, [float(v) for v in reference.ImagePositionPatient]
    )
    np.testing.assert_allclose(item.image_orientation, [1, 0, 0, 0, 1, 0])
    assert item.pixel_spacing_mm == (2.0, 2.0)
    assert (item.rows, item.columns) == (6, 5)
    assert item.instance_number == 3
    assert (item.rescale_slope, item.rescale_intercept) == (0.5, -7.0)
    assert item.pixel_dtype == "<u2" and item.pixel_offset is not None
    assert item.transfer_syntax_uid == pydicom.uid.ExplicitVRLittleEndian
    assert item.dataset.SeriesInstanceUID == reference.SeriesInstanceUID
    assert item.dataset.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert item.element(0x00200013) == ("IS", b"3 ")


def test_implicit_vr_files_take_the_fast_path_too(write_series, tmp_path):
    paths = write_series(_volume())
    implicit = tmp_path / "implicit"
    implicit.mkdir()
    for path in paths:
        dataset = pydicom.dcmread(path)
        dataset.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
        dataset.save_as(implicit / path.name, enforce_file_format=True, implicit_vr=True)
    fast = read_slice_header(implicit / paths[1].name)
    assert isinstance(fast.header, RawHeader) and fast.header.implicit
    assert fast.instance_number == 2 and fast.pixel_dtype == "<u2"
    assert fast.dataset.Rows == 6


def test_skips_hidden_files_and_dicomdir(write_series, tmp_path):
    write_series(_volume(), name="exam")
    (tmp_path / "exam" / ".DS_Store").write_bytes(b"\x00junk")
    (tmp_path / "exam" / "DICOMDIR").write_bytes(b"not read")
    hidden = tmp_path / "exam" / ".cache"
    hidden.mkdir()
    (hidden / "x.dcm").write_text("ignored")
    assert len(scan_dicom_folder(tmp_path / "exam")[0].slices) == 4


def test_text_file_among_the_series(write_series, tmp_path):
    write_series(_volume(), name="exam")
    (tmp_path / "exam" / "notes.txt").write_text("the patient was nervous\n")
    with pytest.raises(DicomError, match=r"notes\.txt is not a DICOM file"):
        scan_dicom_folder(tmp_path / "exam")


@pytest.mark.parametrize("keep_bytes", [60, 131, 300, -100])
def test_truncated_file_among_the_series(write_series, tmp_path, keep_bytes):
    paths = write_series(_volume(), name="exam")
    data = paths[2].read_bytes()
    paths[2].write_bytes(data[:keep_bytes] if keep_bytes > 0 else data[:keep_bytes])
    with pytest.raises(DicomError, match=paths[2].name) as caught:
        scan_dicom_folder(tmp_path / "exam")
    assert "truncated" in str(caught.value) or "not a DICOM file" in str(caught.value)


def test_truncated_pixel_data_names_the_byte_counts(write_series, tmp_path):
    paths = write_series(_volume(), name="exam")
    paths[0].write_bytes(paths[0].read_bytes()[:-10])
    with pytest.raises(DicomError, match=r"truncated: pixel data has 50 bytes, expected 60"):
        scan_dicom_folder(tmp_path / "exam")


def test_empty_and_missing_folders(tmp_path):
    with pytest.raises(DicomError, match="holds no files"):
        scan_dicom_folder(tmp_path)
    with pytest.raises(DicomError, match="not a folder"):
        scan_dicom_folder(tmp_path / "missing")


def test_folder_without_images(write_series, tmp_path):
    paths = write_series(_volume(1), name="exam")
    dataset = pydicom.dcmread(paths[0])
    del dataset.PixelData
    dataset.save_as(paths[0])
    with pytest.raises(DicomError, match="MR Image Storage without Pixel Data"):
        scan_dicom_folder(tmp_path / "exam")
    dataset.SOPClassUID = dataset.file_meta.MediaStorageSOPClassUID = pydicom.uid.BasicTextSRStorage
    dataset.save_as(paths[0])
    with pytest.raises(DicomError, match="holds no DICOM image"):
        scan_dicom_folder(tmp_path / "exam")


def test_messages_never_name_the_patient(write_series, tmp_path):
    paths = write_series(_volume(), name="exam")
    shutil.copy(paths[0], tmp_path / "exam" / "copy.dcm")
    (tmp_path / "exam" / "bad.txt").write_text("x" * 300)
    paths[1].write_bytes(paths[1].read_bytes()[:400])
    for _ in range(2):
        with pytest.raises(DicomError) as caught:
            scan_dicom_folder(tmp_path / "exam")
        assert not any(secret in str(caught.value) for secret in SECRETS)
        (tmp_path / "exam" / "bad.txt").unlink(missing_ok=True)


def test_malformed_geometry_attribute(write_series, tmp_path):
    paths = write_series(_volume(), name="exam")
    dataset = pydicom.dcmread(paths[0])
    dataset.ImagePositionPatient = ["1", "2"]
    dataset.save_as(paths[0])
    with pytest.raises(DicomError, match="ImagePositionPatient must be 3 finite numbers"):
        scan_dicom_folder(tmp_path / "exam")


def _undefined_lengths(dataset: Dataset) -> None:
    """Mark every sequence and item of ``dataset`` as undefined length (as many scanners write)."""
    for element in dataset:
        if element.VR == "SQ":
            element.is_undefined_length = True
            for item in element.value:
                item.is_undefined_length_sequence_item = True
                _undefined_lengths(item)


def test_nested_undefined_length_sequences_stay_on_the_fast_path(write_series, tmp_path):
    code = Dataset()
    code.CodeValue = "C-111A1"
    code.CodingSchemeDesignator = "SRT"
    tracer = Dataset()
    tracer.RadionuclideHalfLife = "6586.2"
    tracer.RadionuclideCodeSequence = [code]
    paths = write_series(
        _volume(2),
        modality="PT",
        extra={"Units": "BQML", "RadiopharmaceuticalInformationSequence": [tracer]},
    )
    for implicit in (False, True):
        dataset = pydicom.dcmread(paths[0])
        _undefined_lengths(dataset)
        dataset.file_meta.TransferSyntaxUID = (
            pydicom.uid.ImplicitVRLittleEndian if implicit else pydicom.uid.ExplicitVRLittleEndian
        )
        dataset.save_as(paths[0], enforce_file_format=True, implicit_vr=implicit)
        assert paths[0].read_bytes().count(b"\xfe\xff\xdd\xe0") == 2  # two sequence delimiters
        item = read_slice_header(paths[0])
        assert isinstance(item.header, RawHeader)
        sequence = item.dataset.RadiopharmaceuticalInformationSequence
        assert sequence[0].RadionuclideCodeSequence[0].CodeValue == "C-111A1"
        assert float(sequence[0].RadionuclideHalfLife) == 6586.2
        assert item.dataset.Units == "BQML" and item.pixel_offset is not None
        assert read_slice_header(paths[1]).pixel_offset is not None


def test_broken_sequence_falls_back_to_pydicom(write_series, tmp_path):
    paths = write_series(_volume(2), extra={"ReferencedImageSequence": [Dataset()]})
    dataset = pydicom.dcmread(paths[0])
    _undefined_lengths(dataset)
    dataset.save_as(paths[0], enforce_file_format=True)
    data = bytearray(paths[0].read_bytes())
    start = data.index(b"\x08\x00\x40\x11SQ")  # (0008,1140) ReferencedImageSequence
    assert data[start + 8 : start + 12] == b"\xff\xff\xff\xff"
    data[start + 12 : start + 14] = b"\x00\x00"  # corrupt the first item's tag
    paths[0].write_bytes(bytes(data))
    try:
        item = read_slice_header(paths[0])
    except DicomError as error:
        assert paths[0].name in str(error)
    else:
        assert not isinstance(item.header, RawHeader)  # pydicom read it, tolerant as it is


def test_every_truncation_is_reported(write_series, tmp_path):
    paths = write_series(_volume(2), name="exam", extra={"ReferencedImageSequence": [Dataset()]})
    data = paths[0].read_bytes()
    for cut in [*range(0, 600, 7), *range(len(data) - 64, len(data))]:
        paths[0].write_bytes(data[:cut])
        with pytest.raises(DicomError, match=paths[0].name):
            scan_dicom_folder(tmp_path / "exam")


def test_corrupted_bytes_never_escape_as_other_errors(write_series, tmp_path, rng):
    paths = write_series(_volume(3), name="exam", extra={"ReferencedImageSequence": [Dataset()]})
    original = paths[1].read_bytes()
    for _ in range(60):
        data = bytearray(original)
        for position in rng.integers(128, 700, size=3):
            data[position] = int(rng.integers(0, 256))
        paths[1].write_bytes(bytes(data))
        try:
            read_series_volume(tmp_path / "exam")
        except TumorboardError as error:
            assert "\n" not in str(error)
