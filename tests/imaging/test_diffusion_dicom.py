from __future__ import annotations

import warnings

import numpy as np
import pydicom
import pytest
from dicom_helpers import SECRETS, STUDY
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from tumorboard.errors import DicomError, GeometryError, InputError
from tumorboard.imaging.dicom_scan import read_slice_header
from tumorboard.imaging.diffusion_dicom import (
    DiffusionSeries,
    b_value_of,
    diffusion_b_value_elements,
    read_csa_items,
    read_diffusion_series,
    write_csa2_header,
)
from tumorboard.imaging.volume import Volume

VENDORS = ["standard", "siemens", "siemens_csa", "ge", "philips"]
DZ = 5.0
#: rescale quantisation of the auto-scaled uint16 images, relative to the maximum
QUANTISATION_RELATIVE = 1.0 / 65535


def _station_volume(start_mm: float, n: int, b_value: float, shape=(6, 8)) -> Volume:
    z = start_mm + np.arange(n) * DZ
    ny, nx = shape
    signal = (
        1000.0 * np.exp(-b_value * 1e-3) * (1.0 + 0.002 * z)[:, None, None] * np.ones((n, ny, nx))
        + np.arange(nx)[None, None, :]
    )
    return Volume(signal, (DZ, 3.0, 3.0), (-50.0, -60.0, start_mm))


def _expected(volume: Volume, b_value: float) -> np.ndarray:
    z = volume.origin_mm[2] + np.arange(volume.shape[0]) * DZ
    ny, nx = volume.shape[1:]
    return (
        1000.0
        * np.exp(-b_value * 1e-3)
        * (1.0 + 0.002 * z)[:, None, None]
        * np.ones((len(z), ny, nx))
        + np.arange(nx)[None, None, :]
    )


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("b_value", [0.0, 50.0, 800.0, 1500.0])
def test_each_vendor_style_round_trips(write_series, vendor, b_value):
    paths = write_series(
        _station_volume(0.0, 2, b_value), extra=diffusion_b_value_elements(b_value, vendor)
    )
    assert b_value_of(read_slice_header(paths[0])) == b_value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert b_value_of(pydicom.dcmread(paths[0])) == b_value


def test_ge_offset_and_plain_value():
    dataset = Dataset()
    dataset[0x00430010] = DataElement(0x00430010, "LO", "GEMS_PARM_01")
    dataset[0x00431039] = DataElement(0x00431039, "IS", ["1000000600", "8", "0", "0"])
    assert b_value_of(dataset) == 600.0
    dataset[0x00431039] = DataElement(0x00431039, "IS", ["1000", "0", "0", "0"])
    assert b_value_of(dataset) == 1000.0


def test_standard_tag_wins_over_vendor_tags():
    dataset = Dataset()
    for element in diffusion_b_value_elements(900.0, "philips"):
        dataset[element.tag] = element
    dataset[0x00189087] = DataElement(0x00189087, "FD", 1000.0)
    assert b_value_of(dataset) == 1000.0


def test_no_b_value_and_foreign_private_blocks():
    dataset = Dataset()
    assert b_value_of(dataset) is None
    dataset[0x00190010] = DataElement(0x00190010, "LO", "SOME OTHER VENDOR")
    dataset[0x0019100C] = DataElement(0x0019100C, "IS", "600")
    assert b_value_of(dataset) is None  # (0019,100C) belongs to another creator here


def test_implicit_vr_private_tags_without_creators_read_as_raw_bytes(write_series, tmp_path):
    # An anonymiser dropped the private creators and the file is Implicit VR: the values
    # arrive as undecoded bytes (VR UN) and are decoded by the VR each vendor uses.
    for vendor, expected in (("siemens", 600.0), ("philips", 900.0), ("ge", 1000.0)):
        elements = diffusion_b_value_elements(expected, vendor)  # type: ignore[arg-type]
        paths = write_series(
            _station_volume(0.0, 1, expected), name=vendor, extra=elements[1:]
        )  # value only, no creator
        dataset = pydicom.dcmread(paths[0])
        dataset.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
        dataset.save_as(paths[0], enforce_file_format=True, implicit_vr=True)
        item = read_slice_header(paths[0])
        assert item.element(elements[1].tag)[0] is None  # implicit: no VR in the file
        assert b_value_of(item) == expected
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert b_value_of(pydicom.dcmread(paths[0])) == expected


def test_enhanced_mr_functional_groups():
    dataset = Dataset()
    frames = []
    for b_value in (50.0, 900.0):
        diffusion = Dataset()
        diffusion.DiffusionBValue = b_value
        group = Dataset()
        group.MRDiffusionSequence = [diffusion]
        frames.append(group)
    dataset.PerFrameFunctionalGroupsSequence = frames
    assert b_value_of(dataset) == 50.0
    assert b_value_of(dataset, frame=1) == 900.0


def test_csa_parser_agrees_with_nibabel():
    header = write_csa2_header({"B_value": 600, "SliceThickness": 5.0, "ImaComments": "x"})
    items = read_csa_items(header)
    assert items["B_value"] == ["600"] and items["ImaComments"] == ["x"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nibabel warns that its DICOM support is experimental
        from nibabel.nicom import csareader

        peer = csareader.read(header)
    assert peer["tags"]["B_value"]["items"] == [600]
    assert csareader.get_scalar(peer, "SliceThickness") == 5.0
    with pytest.raises(ValueError, match="CSA"):
        read_csa_items(b"SV10\x00\x00\x00\x00\xff\xff\xff\xff")


def test_bad_vendor_and_b_value():
    with pytest.raises(InputError, match="vendor"):
        diffusion_b_value_elements(50.0, "toshiba")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="b-value"):
        diffusion_b_value_elements(-1.0, "standard")


def _write_exam(write_series, *, stations=3, slices=10, overlap=2, b_values=(50.0, 600.0, 900.0)):
    for station in range(stations):
        start = station * (slices - overlap) * DZ
        vendor = VENDORS[station % len(VENDORS)]
        for index, b_value in enumerate(b_values):
            write_series(
                _station_volume(start, slices, b_value),
                name=f"exam/station{station}",
                series_number=10 * station + index,
                series_description=f"WB-DWI st{station} b{b_value:g}",
                extra=diffusion_b_value_elements(b_value, vendor),  # type: ignore[arg-type]
            )


def test_read_multi_station_exam(write_series, tmp_path):
    _write_exam(write_series)
    exam = read_diffusion_series(tmp_path / "exam")
    assert exam.b_values_s_per_mm2 == (50.0, 600.0, 900.0)
    assert exam.stations == 3
    for b_value, image in exam.images.items():
        assert image.shape == (26, 6, 8)
        assert image.same_geometry(exam.images[50.0])
        expected = _expected(image, b_value)
        assert np.max(np.abs(image.array - expected)) <= 2 * QUANTISATION_RELATIVE * expected.max()


def test_one_series_holding_all_b_values_and_other_series_ignored(write_series, tmp_path):
    # Siemens-style: one series per station holds every b-value; a T2 series has none.
    b_values = (50.0, 800.0)
    volumes = [_station_volume(0.0, 4, b) for b in b_values]
    for index, (b_value, volume) in enumerate(zip(b_values, volumes, strict=True)):
        write_series(
            volume,
            name="exam/dwi",
            series_number=5,
            series_description="ep2d_diff",
            extra=diffusion_b_value_elements(b_value, "siemens"),
            file_prefix=f"b{index}_",
            seed=5,
        )
    write_series(volumes[0], name="exam/t2", series_number=6, series_description="t2_haste")
    # a derived ADC map that carries a b-value is not a diffusion-weighted image
    write_series(
        volumes[0],
        name="exam/adc",
        series_number=7,
        series_description="ADC",
        extra=[DataElement(0x00080008, "CS", ["DERIVED", "PRIMARY", "DIFFUSION", "ADC"])]
        + diffusion_b_value_elements(800.0, "siemens"),
    )
    exam = read_diffusion_series(tmp_path / "exam")
    assert exam.b_values_s_per_mm2 == b_values and exam.stations == 1


def test_diffusion_directions_are_combined_into_the_trace(write_series, tmp_path):
    base = _station_volume(0.0, 3, 1000.0)
    factors = (0.5, 1.0, 2.0)  # geometric mean = 1
    for index, factor in enumerate(factors):
        write_series(
            base.with_array(base.array * factor),
            name="exam",
            series_number=3,
            series_description="dwi 3 directions",
            extra=diffusion_b_value_elements(1000.0, "standard"),
            rescale=(0.02, 0.0),
            file_prefix=f"dir{index}_",
            seed=3,
        )
    exam = read_diffusion_series(tmp_path / "exam")
    np.testing.assert_allclose(exam.images[1000.0].array, base.array, atol=0.05)


def test_no_b_value_suggests_image_option(write_series, tmp_path):
    write_series(_station_volume(0.0, 3, 0.0), name="exam")
    with pytest.raises(DicomError, match=r"no diffusion b-value found.*--image B=PATH") as caught:
        read_diffusion_series(tmp_path / "exam")
    assert not any(secret in str(caught.value) for secret in SECRETS)


def test_some_slices_without_b_value(write_series, tmp_path):
    write_series(
        _station_volume(0.0, 4, 50.0),
        name="exam",
        series_number=9,
        series_description="dwi",
        per_slice=lambda k: diffusion_b_value_elements(50.0, "ge") if k != 2 else [],
    )
    with pytest.raises(DicomError, match=r"series 9 \(dwi\) has 1 of 4 slices without"):
        read_diffusion_series(tmp_path / "exam")


def test_b_values_with_different_station_counts(write_series, tmp_path):
    _write_exam(write_series, stations=2, b_values=(50.0, 900.0))
    write_series(
        _station_volume(200.0, 10, 50.0),
        name="exam/extra",
        series_number=99,
        extra=diffusion_b_value_elements(50.0, "standard"),
    )
    with pytest.raises(DicomError, match=r"different numbers of stations \(b50: 3, b900: 2\)"):
        read_diffusion_series(tmp_path / "exam")


def test_b_values_on_different_grids(write_series, tmp_path):
    write_series(
        _station_volume(0.0, 4, 50.0),
        name="exam/a",
        series_number=1,
        extra=diffusion_b_value_elements(50.0, "standard"),
    )
    write_series(
        _station_volume(0.0, 4, 900.0, shape=(6, 9)),
        name="exam/b",
        series_number=2,
        extra=diffusion_b_value_elements(900.0, "standard"),
    )
    with pytest.raises(GeometryError, match=r"b-value 900 image has shape \(4, 6, 9\)"):
        read_diffusion_series(tmp_path / "exam")


def test_truncated_file_in_a_diffusion_exam(write_series, tmp_path):
    _write_exam(write_series, stations=2, b_values=(50.0,))
    victim = sorted((tmp_path / "exam" / "station1").iterdir())[3]
    victim.write_bytes(victim.read_bytes()[:-7])
    with pytest.raises(DicomError, match=f"{victim.name} is truncated"):
        read_diffusion_series(tmp_path / "exam")


def test_diffusion_series_validates():
    image = _station_volume(0.0, 2, 50.0)
    with pytest.raises(InputError, match="sorted keys"):
        DiffusionSeries(images={50.0: image}, b_values_s_per_mm2=(600.0,), stations=1)
    with pytest.raises(InputError, match="at least one"):
        DiffusionSeries(images={}, b_values_s_per_mm2=(), stations=1)
    assert STUDY["patient_name"] not in repr(DiffusionSeries.__doc__)


def _enhanced_mr(path, images: dict[float, Volume], order: np.ndarray, slope: float) -> None:
    """Write an Enhanced MR multi-frame file holding every slice of every b-value."""
    first = next(iter(images.values()))
    nz, ny, nx = first.shape
    frames = [(b, k) for b in images for k in range(nz)]
    frames = [frames[i] for i in order]
    dataset = Dataset()
    dataset.SOPClassUID = pydicom.uid.EnhancedMRImageStorage
    dataset.SOPInstanceUID = pydicom.uid.generate_uid(entropy_srcs=["enhanced", str(path)])
    dataset.SeriesInstanceUID = pydicom.uid.generate_uid(entropy_srcs=["series", str(path)])
    dataset.StudyInstanceUID = pydicom.uid.generate_uid(entropy_srcs=["study"])
    dataset.Modality = "MR"
    dataset.SeriesNumber = 401
    dataset.SeriesDescription = "DWI enhanced"
    dataset.PatientName = STUDY["patient_name"]
    dataset.Rows, dataset.Columns = ny, nx
    dataset.NumberOfFrames = len(frames)
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, 16, 15
    dataset.PixelRepresentation = 0
    orientation, measures, shared = Dataset(), Dataset(), Dataset()
    orientation.ImageOrientationPatient = [*first.direction[:, 0], *first.direction[:, 1]]
    measures.PixelSpacing = list(first.spacing_mm[1:])
    measures.SliceThickness = first.spacing_mm[0]
    shared.PlaneOrientationSequence = [orientation]
    shared.PixelMeasuresSequence = [measures]
    dataset.SharedFunctionalGroupsSequence = [shared]
    groups, planes = [], []
    for b_value, k in frames:
        position, diffusion, transform, group = Dataset(), Dataset(), Dataset(), Dataset()
        position.ImagePositionPatient = list(first.index_to_lps(np.array([k, 0, 0])))
        diffusion.DiffusionBValue = b_value
        transform.RescaleSlope, transform.RescaleIntercept = slope, 0.0
        transform.RescaleType = "US"
        group.PlanePositionSequence = [position]
        group.MRDiffusionSequence = [diffusion]
        group.PixelValueTransformationSequence = [transform]
        groups.append(group)
        planes.append(np.rint(images[b_value].array[k] / slope).astype("<u2"))
    dataset.PerFrameFunctionalGroupsSequence = groups
    dataset.PixelData = np.stack(planes).tobytes()
    dataset.file_meta = pydicom.dataset.FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.save_as(path, enforce_file_format=True)


@pytest.mark.parametrize("compressed", [False, True])
def test_enhanced_multi_frame_diffusion(tmp_path, rng, compressed):
    images = {
        b: Volume(
            np.rint(_station_volume(0.0, 4, b).array * 2) / 2,  # multiples of the 0.5 slope
            (DZ, 3.0, 3.0),
            (-50.0, -60.0, 0.0),
        )
        for b in (0.0, 500.0, 1000.0)
    }
    folder = tmp_path / "enhanced"
    folder.mkdir()
    _enhanced_mr(folder / "dwi.dcm", images, rng.permutation(12), slope=0.5)
    if compressed:
        dataset = pydicom.dcmread(folder / "dwi.dcm")
        dataset.compress(pydicom.uid.RLELossless)
        dataset.save_as(folder / "dwi.dcm")
    frames = read_slice_header(folder / "dwi.dcm")
    assert frames.number_of_frames == 12
    exam = read_diffusion_series(folder)
    assert exam.b_values_s_per_mm2 == (0.0, 500.0, 1000.0) and exam.stations == 1
    for b_value, image in exam.images.items():
        assert image.same_geometry(images[b_value])
        np.testing.assert_array_equal(image.array, images[b_value].array)


def test_enhanced_frames_without_positions_stay_whole(tmp_path):
    images = {50.0: _station_volume(0.0, 2, 50.0)}
    _enhanced_mr(tmp_path / "x.dcm", images, np.arange(2), slope=1.0)
    dataset = pydicom.dcmread(tmp_path / "x.dcm")
    for group in dataset.PerFrameFunctionalGroupsSequence:
        del group.PlanePositionSequence
    dataset.save_as(tmp_path / "x.dcm")
    with pytest.raises(DicomError, match="without per-frame plane positions"):
        read_diffusion_series(tmp_path)


def test_exam_date_is_read_for_titles(tmp_path):
    import numpy as np

    from tumorboard.imaging.dicom_write import write_dicom_series
    from tumorboard.imaging.diffusion_dicom import diffusion_b_value_elements, read_diffusion_series
    from tumorboard.imaging.volume import Volume

    volume = Volume(np.full((3, 4, 5), 100.0, np.float32), (5.0, 2.0, 2.0))
    for number, b in enumerate((50.0, 900.0), start=1):
        write_dicom_series(
            volume,
            tmp_path,
            modality="MR",
            series_description=f"b{b:g}",
            series_number=number,
            extra=diffusion_b_value_elements(b, "standard"),
            file_prefix=f"b{b:g}_",
            study={"study_date": "20250716", "study_instance_uid": "1.2.826.0.1.3680043.8.498.7"},
        )
    assert read_diffusion_series(tmp_path).study_date == "2025-07-16"
