"""Crafted image files (issue 15, items 8 and 9): refused on claims, never hang."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from hostile_files import write_native, write_rle_claiming

from tumorboard.errors import DicomError, InputError
from tumorboard.imaging import dicom_volume, read_nifti, read_series_volume, scan_dicom_folder
from tumorboard.imaging.input_limits import DEFAULT_MAX_VOXELS, MAX_VOXELS_VARIABLE, max_voxels


@pytest.fixture(autouse=True)
def _default_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_VOXELS_VARIABLE, raising=False)


def _never_decode(*args: object, **kwargs: object) -> None:
    raise AssertionError("pixel decoding started")


# --------------------------------------------------------------------------- DICOM size
def test_small_rle_file_claiming_65535_squared_is_refused_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dicom_volume, "_decode_with_pydicom", _never_decode)
    path = write_rle_claiming(tmp_path / "huge.dcm", 65535, 65535)
    assert path.stat().st_size < 10_000
    with pytest.raises(DicomError) as caught:
        read_series_volume(tmp_path)
    message = str(caught.value)
    assert "huge.dcm" in message
    assert f"claims {65535 * 65535} voxels" in message
    assert MAX_VOXELS_VARIABLE in message
    assert "\n" not in message


def test_two_claiming_files_are_refused_on_the_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dicom_volume, "_decode_with_pydicom", _never_decode)
    for index in range(2):
        write_rle_claiming(tmp_path / f"huge{index}.dcm", 65535, 65535, index=index)
    with pytest.raises(DicomError, match="more than the limit"):
        read_series_volume(tmp_path)


@pytest.mark.parametrize(("limit", "accepted"), [(64 * 64, True), (64 * 64 - 1, False)])
def test_per_file_limit_is_the_claimed_matrix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int, accepted: bool
) -> None:
    """One 64 x 64 file passes a limit of exactly 4096 voxels and not one voxel less."""
    monkeypatch.setenv(MAX_VOXELS_VARIABLE, str(limit))
    write_native(tmp_path / "a.dcm", np.full((64, 64), 7))
    if accepted:
        (series,) = scan_dicom_folder(tmp_path)
        assert series.slices[0].rows == 64
    else:
        with pytest.raises(DicomError, match=f"claims 4096 voxels, more than the limit of {limit}"):
            scan_dicom_folder(tmp_path)


@pytest.mark.parametrize(("limit", "accepted"), [(3 * 4096, True), (3 * 4096 - 1, False)])
def test_series_total_is_checked_before_the_volume_is_allocated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int, accepted: bool
) -> None:
    """Three 64 x 64 slices: each under the limit, the stack of 12288 voxels is what counts."""
    monkeypatch.setenv(MAX_VOXELS_VARIABLE, str(limit))
    for index in range(3):
        write_native(tmp_path / f"s{index}.dcm", np.full((64, 64), index + 1), index=index)
    if accepted:
        volume = read_series_volume(tmp_path)
        assert volume.shape == (3, 64, 64)
        assert volume.array[:, 0, 0].tolist() == [1.0, 2.0, 3.0]
    else:
        allocations: list[object] = []
        original = np.empty

        def watched(shape: object, *args: object, **kwargs: object) -> object:
            allocations.append(shape)
            return original(shape, *args, **kwargs)  # type: ignore[call-overload]

        monkeypatch.setattr(dicom_volume.np, "empty", watched)
        with pytest.raises(DicomError, match="claims 12288 voxels"):
            read_series_volume(tmp_path)
        assert (3, 64, 64) not in allocations


@pytest.mark.parametrize("text", ["lots", "-5", "0", "1e9", "٣"])
def test_bad_limit_variable_is_one_line(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv(MAX_VOXELS_VARIABLE, text)
    with pytest.raises(InputError, match=MAX_VOXELS_VARIABLE):
        max_voxels()


def test_limit_can_be_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_VOXELS_VARIABLE, "4_294_967_296")
    assert max_voxels() == 2**32
    monkeypatch.delenv(MAX_VOXELS_VARIABLE)
    assert max_voxels() == DEFAULT_MAX_VOXELS == 536_870_912


# --------------------------------------------------------------------------- rescale
@pytest.mark.parametrize(("slope", "finite"), [(1e36, True), (1e37, False), (1e38, False)])
def test_rescale_slope_overflowing_float32_is_refused(
    tmp_path: Path, slope: float, finite: bool
) -> None:
    """Stored value 100: 100 * 1e36 fits float32 (max 3.4e38), 100 * 1e37 does not."""
    write_native(tmp_path / "a.dcm", np.full((8, 8), 100), slope=slope)
    if finite:
        volume = read_series_volume(tmp_path)
        assert float(volume.array.max()) == pytest.approx(100 * slope, rel=1e-6)
    else:
        with pytest.raises(DicomError, match="not finite after RescaleSlope"):
            read_series_volume(tmp_path)


# --------------------------------------------------------------------------- NIfTI size
def _nifti_header_only(path: Path, shape: tuple[int, ...], payload: bytes = b"") -> Path:
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.uint8)
    header["vox_offset"] = 352
    path.write_bytes(gzip.compress(header.binaryblock + b"\0" * 4 + payload))
    return path


def test_nifti_claiming_1200_cubed_is_refused_from_its_header(tmp_path: Path) -> None:
    path = _nifti_header_only(tmp_path / "huge.nii.gz", (1200, 1200, 1200), b"\0" * 4096)
    with pytest.raises(InputError) as caught:
        read_nifti(path, what="b600 image")
    message = str(caught.value)
    assert message.startswith(f"b600 image {path}")
    assert "claims 1728000000 voxels" in message


@pytest.mark.parametrize(("limit", "accepted"), [(8000, True), (7999, False)])
def test_nifti_limit_edge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int, accepted: bool
) -> None:
    monkeypatch.setenv(MAX_VOXELS_VARIABLE, str(limit))
    data = np.arange(8000, dtype=np.uint16).reshape(20, 20, 20)
    path = tmp_path / "small.nii.gz"
    nib.save(nib.Nifti1Image(data, np.eye(4)), str(path))
    if accepted:
        assert read_nifti(path).shape == (20, 20, 20)
    else:
        with pytest.raises(InputError, match="claims 8000 voxels"):
            read_nifti(path)


# --------------------------------------------------------------------------- file types
_SCAN_IN_CHILD = textwrap.dedent(
    """
    import sys
    from tumorboard.errors import TumorboardError
    from tumorboard.imaging import read_nifti, scan_dicom_folder
    try:
        if sys.argv[1] == "dicom":
            scan_dicom_folder(sys.argv[2])
        else:
            read_nifti(sys.argv[2])
    except TumorboardError as error:
        print(error)
        sys.exit(1)
    print("accepted")
    """
)


def _run_reader(kind: str, target: Path) -> subprocess.CompletedProcess[str]:
    """Run the reader in a child process so that a regression (a hang) is killed, not waited on."""
    return subprocess.run(
        [sys.executable, "-c", _SCAN_IN_CHILD, kind, str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_in_a_dicom_folder_is_one_line_not_a_hang(tmp_path: Path) -> None:
    write_native(tmp_path / "a.dcm", np.full((8, 8), 5))
    os.mkfifo(tmp_path / "pipe")
    result = _run_reader("dicom", tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stdout.strip().endswith(
        "pipe: not a regular file (a FIFO); only regular files are read"
    )


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_symlink_to_dev_zero_is_one_line_not_a_spin(tmp_path: Path) -> None:
    write_native(tmp_path / "a.dcm", np.full((8, 8), 5))
    (tmp_path / "zero.dcm").symlink_to("/dev/zero")
    result = _run_reader("dicom", tmp_path)
    assert result.returncode == 1, result.stderr
    assert "zero.dcm: not a regular file (a character device)" in result.stdout


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_nifti_symlink_to_dev_zero_is_refused(tmp_path: Path) -> None:
    (tmp_path / "zero.nii.gz").symlink_to("/dev/zero")
    with pytest.raises(InputError, match="not a regular file"):
        read_nifti(tmp_path / "zero.nii.gz")


def test_symlink_to_a_regular_dicom_file_is_read(tmp_path: Path) -> None:
    source = write_native(tmp_path / "elsewhere.dcm", np.full((8, 8), 5))
    folder = tmp_path / "series"
    folder.mkdir()
    (folder / "link.dcm").symlink_to(source)
    volume = read_series_volume(folder)
    assert float(volume.array.max()) == 5.0


def test_dangling_symlink_in_a_dicom_folder_is_one_line(tmp_path: Path) -> None:
    write_native(tmp_path / "a.dcm", np.full((8, 8), 5))
    (tmp_path / "gone.dcm").symlink_to(tmp_path / "missing")
    with pytest.raises(DicomError, match="gone.dcm: file not found"):
        scan_dicom_folder(tmp_path)


@pytest.mark.parametrize("preamble", [b"", b"\0" * 128 + b"DICM"])
def test_regular_file_of_zeros_is_refused_at_once(tmp_path: Path, preamble: bytes) -> None:
    """A sparse 64 MiB file of zeros: pydicom would read it element by element to its end."""
    write_native(tmp_path / "a.dcm", np.full((8, 8), 5))
    path = tmp_path / "zeros.dcm"
    path.write_bytes(preamble)
    os.truncate(path, 64 * 2**20)
    result = _run_reader("dicom", tmp_path)
    assert result.returncode == 1, result.stderr
    assert "zeros.dcm is not a DICOM file (its data set starts with group 0000" in result.stdout


def test_data_set_whose_tags_repeat_is_refused(tmp_path: Path) -> None:
    """After a valid file meta, one element repeated: refused at its third sighting."""
    source = write_native(tmp_path / "a.dcm", np.full((8, 8), 5)).read_bytes()
    start = source.find(b"\x08\x00\x16\x00")  # SOPClassUID, the first data element
    element = b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100"  # SpecificCharacterSet
    folder = tmp_path / "loop"
    folder.mkdir()
    (folder / "loop.dcm").write_bytes(source[:start] + element * 20_000)
    with pytest.raises(DicomError, match="tags do not ascend at"):
        scan_dicom_folder(folder)
