from __future__ import annotations

import numpy as np
import pydicom
import pytest
from dicom_helpers import SECRETS, oblique_direction, ramp

from tumorboard.errors import DicomError
from tumorboard.imaging.dicom_scan import scan_dicom_folder
from tumorboard.imaging.dicom_volume import read_series_volume, series_to_volume
from tumorboard.imaging.volume import Volume

GEOMETRY_ATOL_MM = 1e-6


def _volume(shape=(6, 7, 5), direction=None, spacing=(2.5, 1.5, 1.25)) -> Volume:
    return Volume(
        2.0 * ramp(shape),  # whole numbers: stored exactly
        spacing,
        (12.5, -40.0, 80.0),
        np.eye(3) if direction is None else direction,
    )


def _assert_same(actual: Volume, expected: Volume) -> None:
    np.testing.assert_array_equal(actual.array, expected.array)
    np.testing.assert_allclose(actual.spacing_mm, expected.spacing_mm, atol=GEOMETRY_ATOL_MM)
    np.testing.assert_allclose(actual.origin_mm, expected.origin_mm, atol=GEOMETRY_ATOL_MM)
    np.testing.assert_allclose(actual.direction, expected.direction, atol=1e-9)


def test_oblique_round_trip(write_series, tmp_path):
    volume = _volume(direction=oblique_direction(35.0))
    write_series(volume)
    _assert_same(read_series_volume(tmp_path / "series"), volume)


def test_shuffled_file_names(write_series, tmp_path, rng):
    volume = _volume(direction=oblique_direction(-10.0))
    paths = write_series(volume)
    names = rng.permutation(len(paths))
    for path, name in zip(paths, names, strict=True):
        path.rename(path.with_name(f"tmp{name}"))
    for path in (tmp_path / "series").iterdir():
        path.rename(path.with_name(path.name.replace("tmp", "IM")))
    _assert_same(read_series_volume(tmp_path / "series"), volume)


def test_reversed_slice_order_reads_as_the_same_image_in_space(write_series, tmp_path):
    direction = np.eye(3)
    direction[:, 2] = -1.0 * direction[:, 2]  # slices written head to feet
    volume = _volume(direction=direction)
    write_series(volume)
    back = read_series_volume(tmp_path / "series")
    np.testing.assert_array_equal(back.array, volume.array[::-1])
    np.testing.assert_allclose(back.direction[:, 2], [0, 0, 1], atol=1e-12)
    last = volume.index_to_lps(np.array([volume.shape[0] - 1, 0, 0]))
    np.testing.assert_allclose(back.origin_mm, last, atol=GEOMETRY_ATOL_MM)
    # every voxel sits at the same place in patient space
    probe = np.array([2, 3, 4])
    flipped = np.array([volume.shape[0] - 1 - 2, 3, 4])
    np.testing.assert_allclose(back.index_to_lps(flipped), volume.index_to_lps(probe))


def test_single_slice_takes_spacing_from_the_header(write_series, tmp_path):
    volume = _volume(shape=(1, 4, 4))
    write_series(volume, slice_thickness_mm=6.0)
    back = read_series_volume(tmp_path / "series")
    assert back.spacing_mm[0] == pytest.approx(2.5)  # SpacingBetweenSlices before SliceThickness


def test_missing_slice_is_uneven_spacing(write_series, tmp_path):
    paths = write_series(_volume(), series_description="WB-DWI b600", series_number=14)
    paths[3].unlink()
    with pytest.raises(DicomError, match=r"series 14 \(WB-DWI b600\).*uneven slice spacing"):
        read_series_volume(tmp_path / "series")


def test_duplicate_positions(write_series, tmp_path):
    paths = write_series(_volume())
    paths[1].with_name("dup.dcm").write_bytes(paths[1].read_bytes())
    with pytest.raises(DicomError, match="duplicate slices"):
        read_series_volume(tmp_path / "series")


def test_duplicates_combined_by_geometric_mean(write_series, tmp_path):
    volume = _volume(shape=(3, 4, 4))
    write_series(volume, name="a", series_description="x")
    write_series(volume.with_array(volume.array * 4.0), name="b", series_description="x")
    slices = [
        s
        for folder in ("a", "b")
        for series in scan_dicom_folder(tmp_path / folder)
        for s in series.slices
    ]
    combined = series_to_volume(slices, what="two directions", duplicates="geometric_mean")
    np.testing.assert_allclose(combined.array, volume.array * 2.0, rtol=1e-6)


@pytest.mark.parametrize(
    ("keyword", "value", "message"),
    [
        ("ImageOrientationPatient", [0, 1, 0, 0, 0, -1], "different orientations"),
        ("PixelSpacing", [1.5, 1.3], "different pixel spacing"),
        ("ImagePositionPatient", [14.0, -40.0, 85.0], "not stacked along the slice normal"),
    ],
)
def test_inconsistent_slices(write_series, tmp_path, keyword, value, message):
    paths = write_series(_volume())
    dataset = pydicom.dcmread(paths[2])
    setattr(dataset, keyword, value)
    dataset.save_as(paths[2])
    with pytest.raises(DicomError, match=message) as caught:
        read_series_volume(tmp_path / "series")
    assert not any(secret in str(caught.value) for secret in SECRETS)


def test_different_matrix_sizes(write_series, tmp_path):
    write_series(_volume(shape=(3, 7, 5)), name="series", series_description="s")
    write_series(
        Volume(ramp((1, 8, 5)), (2.5, 1.5, 1.25), (12.5, -40.0, 87.5)),
        name="other",
        series_description="s",
    )
    slices = [
        s
        for folder in ("series", "other")
        for series in scan_dicom_folder(tmp_path / folder)
        for s in series.slices
    ]
    with pytest.raises(DicomError, match="different matrix sizes"):
        series_to_volume(slices, what="mixed")


def test_several_series_are_listed(write_series, tmp_path):
    write_series(_volume(), name="exam/a", series_number=3, series_description="DWI b50")
    write_series(_volume(), name="exam/b", series_number=4, series_description="DWI b900")
    with pytest.raises(DicomError, match=r"found 2: series 3 \(DWI b50\), series 4 \(DWI b900\)"):
        read_series_volume(tmp_path / "exam")


def test_compressed_transfer_syntax_falls_back_to_pydicom(write_series, tmp_path):
    volume = _volume(shape=(3, 8, 6))
    paths = write_series(volume)
    for path in paths:
        dataset = pydicom.dcmread(path)
        dataset.compress(pydicom.uid.RLELossless)
        dataset.save_as(path)
    _assert_same(read_series_volume(tmp_path / "series"), volume)


def test_undecodable_pixel_data_is_a_clear_error(write_series, tmp_path):
    paths = write_series(_volume(shape=(2, 4, 4)))
    for path in paths:
        dataset = pydicom.dcmread(path)
        dataset.file_meta.TransferSyntaxUID = "1.2.3.4.5.6.7"  # a private, unknown syntax
        dataset.save_as(path, enforce_file_format=True)
    with pytest.raises(DicomError, match=r"cannot decode pixel data \(transfer syntax"):
        read_series_volume(tmp_path / "series")


def test_multi_frame_is_refused(tmp_path):
    import shutil

    source = pydicom.data.get_testdata_file("rtdose.dcm", download=False)
    assert source is not None
    shutil.copy(source, tmp_path / "rtdose.dcm")
    with pytest.raises(DicomError, match="multi-frame"):
        read_series_volume(tmp_path)


def test_reads_the_multi_station_exam(write_series, tmp_path):
    # 176 slices of 96x128 read back exactly (the speed against dcm2niix is measured
    # in benchmarks/bench_dicom_ingest.py, never asserted here).
    array = np.arange(176 * 96 * 128, dtype=np.float64).reshape(176, 96, 128) % 1000
    volume = Volume(array, (5.0, 3.0, 3.0))
    write_series(volume, name="big")
    series = scan_dicom_folder(tmp_path / "big")
    read = series_to_volume(series[0].slices, what="big")
    assert read.array.shape == (176, 96, 128)
    np.testing.assert_allclose(read.array, array, atol=1e-3)
