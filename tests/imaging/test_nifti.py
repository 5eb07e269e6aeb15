import nibabel as nib
import numpy as np
import pytest

from tumorboard.errors import InputError
from tumorboard.imaging.nifti import read_nifti, write_nifti
from tumorboard.imaging.volume import Volume


def test_lps_volume_is_written_as_ras(tmp_path):
    volume = Volume(
        np.zeros((3, 4, 5), np.float32), (4.0, 2.0, 1.0), (10.0, 20.0, 30.0), unit="um2/s"
    )
    path = write_nifti(volume, tmp_path / "v.nii.gz")
    image = nib.load(path)
    # LPS (10, 20, 30) is RAS (-10, -20, 30); x runs along index i, flipped to RAS
    np.testing.assert_allclose(image.affine[:3, 3], [-10.0, -20.0, 30.0])
    np.testing.assert_allclose(np.diag(image.affine)[:3], [-1.0, -2.0, 4.0])
    assert image.shape == (5, 4, 3)


def test_round_trip_keeps_array_geometry_and_unit(tmp_path, rng):
    angle = np.deg2rad(15)
    direction = np.array(
        [[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]]
    )
    array = rng.normal(size=(6, 7, 8)).astype(np.float32)
    volume = Volume(array, (3.0, 1.2, 0.9), (-5.0, 12.5, 100.0), direction, unit="a.u.")
    back = read_nifti(write_nifti(volume, tmp_path / "v.nii"))
    np.testing.assert_array_equal(back.array, array)
    assert back.same_geometry(volume)
    assert back.unit == "a.u."
    point = [2.0, 3.0, 4.0]
    np.testing.assert_allclose(back.index_to_lps(point), volume.index_to_lps(point), atol=1e-4)


def test_four_dimensional_round_trip_keeps_frame_interval(tmp_path):
    array = np.arange(4 * 2 * 3 * 5, dtype=np.float32).reshape(4, 2, 3, 5)
    volume = Volume(array, (2.0, 1.0, 1.0), times_s=np.arange(4) * 3.5)
    back = read_nifti(write_nifti(volume, tmp_path / "d.nii.gz"))
    np.testing.assert_array_equal(back.array, array)
    np.testing.assert_allclose(back.times_s, [0.0, 3.5, 7.0, 10.5])


def test_bad_files_give_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_nifti(tmp_path / "missing.nii.gz", what="b50 image")
    junk = tmp_path / "junk.nii.gz"
    junk.write_bytes(b"not a nifti at all")
    with pytest.raises(InputError, match="not a readable NIfTI") as info:
        read_nifti(junk)
    assert "\n" not in str(info.value)
