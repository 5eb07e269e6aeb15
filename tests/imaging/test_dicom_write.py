from __future__ import annotations

import numpy as np
import pydicom
import pytest
from dicom_helpers import STUDY, oblique_direction, ramp
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.dataelem import DataElement

from tumorboard.errors import InputError, OutputExistsError
from tumorboard.imaging.dicom_volume import read_series_volume
from tumorboard.imaging.dicom_write import SOP_CLASS_BY_MODALITY, write_dicom_series
from tumorboard.imaging.volume import Volume

#: DS strings hold 16 characters: positions/cosines survive to ~1e-9 mm.
GEOMETRY_ATOL_MM = 1e-6


def _volume(array: np.ndarray, direction: np.ndarray | None = None) -> Volume:
    return Volume(
        array,
        spacing_mm=(4.5, 1.75, 2.25),
        origin_mm=(-120.25, 33.5, -310.0),
        direction=np.eye(3) if direction is None else direction,
    )


def test_round_trip_geometry_exact_and_values_within_quantisation(write_series, tmp_path):
    volume = _volume(ramp((7, 12, 10), scale=0.37, offset=5.0), oblique_direction())
    paths = write_series(volume)
    assert len(paths) == 7
    back = read_series_volume(tmp_path / "series")
    assert back.shape == volume.shape
    np.testing.assert_allclose(back.spacing_mm, volume.spacing_mm, atol=GEOMETRY_ATOL_MM)
    np.testing.assert_allclose(back.origin_mm, volume.origin_mm, atol=GEOMETRY_ATOL_MM)
    np.testing.assert_allclose(back.direction, volume.direction, atol=1e-9)
    slope = float(pydicom.dcmread(paths[0]).RescaleSlope)
    assert slope < 0.01  # auto rescale uses the uint16 range
    assert np.max(np.abs(back.array - volume.array)) <= slope / 2 + 1e-3
    assert back.array.dtype == np.float32


def test_auto_keeps_integral_values_exactly(write_series, tmp_path):
    volume = _volume(np.arange(3 * 4 * 5, dtype=float).reshape(3, 4, 5) * 7)
    paths = write_series(volume)
    header = pydicom.dcmread(paths[0])
    assert float(header.RescaleSlope) == 1.0 and float(header.RescaleIntercept) == 0.0
    np.testing.assert_array_equal(read_series_volume(tmp_path / "series").array, volume.array)


def test_int16_negative_values(write_series, tmp_path):
    values = ramp((4, 6, 5), scale=2.0, offset=-1000.0)
    paths = write_series(_volume(values), modality="CT", dtype="int16")
    header = pydicom.dcmread(paths[0])
    assert header.PixelRepresentation == 1
    assert header.SOPClassUID == SOP_CLASS_BY_MODALITY["CT"]
    np.testing.assert_array_equal(read_series_volume(tmp_path / "series").array, values)


def test_given_and_per_slice_rescale(write_series, tmp_path):
    values = ramp((5, 4, 4), scale=1.0)
    write_series(_volume(values), name="given", rescale=(0.5, 0.0))
    np.testing.assert_allclose(read_series_volume(tmp_path / "given").array, values)
    scaled = values * np.array([1, 10, 100, 1000, 10000.0])[:, None, None] + 0.123
    paths = write_series(_volume(scaled), name="perslice", rescale="auto_per_slice")
    slopes = {float(pydicom.dcmread(p).RescaleSlope) for p in paths}
    assert len(slopes) == 5
    back = read_series_volume(tmp_path / "perslice").array
    relative = np.abs(back - scaled) / np.abs(scaled).max(axis=(1, 2), keepdims=True)
    assert relative.max() < 1e-4


def test_headers_hold_study_series_and_geometry(write_series):
    volume = _volume(ramp((3, 4, 5)))
    paths = write_series(volume, series_number=7, series_description="WB-DWI st1")
    headers = [pydicom.dcmread(p) for p in paths]
    first = headers[0]
    assert first.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert first.SOPClassUID == pydicom.uid.MRImageStorage
    assert first.file_meta.MediaStorageSOPInstanceUID == first.SOPInstanceUID
    assert str(first.PatientName) == STUDY["patient_name"]
    assert float(first.PatientWeight) == STUDY["patient_weight_kg"]
    assert first.StudyInstanceUID == STUDY["study_instance_uid"]
    assert first.SeriesNumber == 7 and first.SeriesDescription == "WB-DWI st1"
    assert float(first.SliceThickness) == 4.5 and float(first.SpacingBetweenSlices) == 4.5
    assert [h.InstanceNumber for h in headers] == [1, 2, 3]
    assert len({h.SOPInstanceUID for h in headers}) == 3
    assert len({h.FrameOfReferenceUID for h in headers}) == 1
    locations = [float(h.SliceLocation) for h in headers]
    np.testing.assert_allclose(np.diff(locations), 4.5)


def test_stations_share_study_and_frame_of_reference(write_series):
    volume = _volume(ramp((2, 3, 3)))
    a = pydicom.dcmread(write_series(volume, name="a", series_number=1)[0])
    b = pydicom.dcmread(write_series(volume, name="b", series_number=2)[0])
    assert a.StudyInstanceUID == b.StudyInstanceUID
    assert a.FrameOfReferenceUID == b.FrameOfReferenceUID
    assert a.SeriesInstanceUID != b.SeriesInstanceUID


def test_deterministic_bytes(write_series):
    volume = _volume(ramp((3, 5, 4), scale=0.3))
    first = write_series(volume, name="one", seed="exam1", series_description="s")
    second = write_series(volume, name="two", seed="exam1", series_description="s")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    other = write_series(volume, name="three", seed="exam2", series_description="s")
    assert pydicom.dcmread(other[0]).SOPInstanceUID != pydicom.dcmread(first[0]).SOPInstanceUID


def test_extra_and_per_slice_accept_keywords_and_elements(write_series):
    volume = _volume(ramp((3, 3, 3)))
    private = DataElement(0x00190010, "LO", "ACME 1.0")
    paths = write_series(
        volume,
        extra={"EchoTime": 71.5, "RepetitionTime": 5000.0},
        per_slice=lambda k: (
            [private, DataElement(0x00191001, "DS", str(k * 1.5))]
            if k % 2 == 0
            else {"AcquisitionTime": f"1000{k:02d}"}
        ),
        file_prefix="b50_",
    )
    assert all(p.name.startswith("b50_001_") for p in paths)
    first, second = (pydicom.dcmread(p) for p in paths[:2])
    assert float(first.EchoTime) == 71.5
    assert first[0x00190010].value == "ACME 1.0"
    assert "AcquisitionTime" not in first and second.AcquisitionTime == "100001"
    assert 0x00190010 not in second  # one slice's attributes never leak into the next


def test_pet_sop_class(write_series):
    paths = write_series(_volume(ramp((2, 3, 3))), modality="PT", extra={"Units": "BQML"})
    header = pydicom.dcmread(paths[0])
    assert header.SOPClassUID == pydicom.uid.PositronEmissionTomographyImageStorage
    assert header.Units == "BQML"


def test_refuses_to_overwrite(write_series):
    volume = _volume(ramp((2, 3, 3)))
    write_series(volume)
    with pytest.raises(OutputExistsError, match="exists"):
        write_series(volume)
    assert len(write_series(volume, overwrite=True)) == 2


@pytest.mark.parametrize(
    ("array", "options", "message"),
    [
        (np.full((2, 3, 3), np.nan), {}, "NaN"),
        (np.zeros((2, 2, 3, 3)), {}, "3-D"),
        (np.zeros((2, 3, 3)), {"modality": "US"}, "modality"),
        (np.zeros((2, 3, 3)), {"dtype": "float32"}, "dtype"),
        (np.zeros((2, 3, 3)), {"study": {"favourite_colour": "blue"}}, "unknown key"),
        (np.full((2, 3, 3), 1e6), {"rescale": (1.0, 0.0)}, "do not fit"),
        (np.zeros((2, 3, 3)), {"rescale": "loose"}, "rescale"),
        (np.zeros((2, 3, 3)), {"extra": {"NotAKeyword": 1}}, "unknown DICOM keyword"),
    ],
)
def test_bad_input(write_series, tmp_path, array, options, message):
    times = {"times_s": np.arange(2.0)} if array.ndim == 4 else {}
    volume = Volume(array, (1.0, 1.0, 1.0), **times)
    with pytest.raises(InputError, match=message):
        write_dicom_series(
            volume,
            tmp_path / "bad",
            **{"modality": "MR", "series_description": "x", "series_number": 1, **options},
        )
    assert not list((tmp_path / "bad").glob("*.dcm")) if (tmp_path / "bad").exists() else True


def test_files_are_what_pydicom_itself_writes(write_series, tmp_path):
    # The writer assembles files from pre-encoded elements; re-writing what pydicom reads
    # back must give the same bytes (standard Part-10 layout, tag order, padding, meta group).
    volume = _volume(ramp((2, 5, 3), scale=0.7), oblique_direction())
    tracer = pydicom.Dataset()
    tracer.RadionuclideHalfLife = "6586.2"
    paths = write_series(
        volume,
        modality="PT",
        extra={"Units": "BQML", "RadiopharmaceuticalInformationSequence": [tracer]},
        per_slice=lambda k: {"AcquisitionTime": f"10{k:02d}00.5"},
        rescale="auto_per_slice",
    )
    for path in paths:
        dataset = pydicom.dcmread(path)
        again = tmp_path / "again.dcm"
        pydicom.dcmwrite(again, dataset, enforce_file_format=True)
        assert again.read_bytes() == path.read_bytes()


@settings(max_examples=25, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 5), st.integers(2, 7), st.integers(2, 7)),
    spacing=st.tuples(*[st.floats(0.3, 10.0)] * 3),
    origin=st.tuples(*[st.floats(-500.0, 500.0)] * 3),
    quaternion=st.tuples(*[st.floats(-1.0, 1.0)] * 4).filter(
        lambda q: sum(v * v for v in q) > 0.01
    ),
    span=st.floats(1e-3, 1e5),
    offset=st.floats(-1e4, 1e4),
    seed=st.integers(0, 2**32 - 1),
)
def test_write_read_round_trip_property(
    tmp_path_factory, shape, spacing, origin, quaternion, span, offset, seed
):
    w, x, y, z = np.array(quaternion) / np.linalg.norm(quaternion)
    rotation = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    values = offset + span * np.random.default_rng(seed).random(shape)
    volume = Volume(values, spacing, origin, rotation)
    folder = tmp_path_factory.mktemp("prop")
    write_dicom_series(volume, folder, modality="MR", series_description="p", series_number=1)
    back = read_series_volume(folder)
    np.testing.assert_allclose(back.spacing_mm, volume.spacing_mm, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(back.origin_mm, volume.origin_mm, atol=1e-8)
    np.testing.assert_allclose(back.direction, volume.direction, atol=1e-9)
    slope = float(pydicom.dcmread(sorted(folder.iterdir())[0]).RescaleSlope)
    # rescale quantisation (half a step) plus float32 rounding of the result
    tolerance = slope / 2 + 1e-6 * np.abs(values).max() + 1e-9
    assert np.max(np.abs(back.array - values)) <= tolerance


def test_decimal_strings_never_exceed_sixteen_characters(write_series, tmp_path):
    # pydicom's formatter gives "10.00000000000000" (17 characters) for 9.999999999999998
    volume = Volume(np.ones((2, 2, 2)), (9.999999999999998, 99.99999999999997, 1.0))
    paths = write_series(volume)
    header = pydicom.dcmread(paths[1])
    assert header["PixelSpacing"].value == [100.0, 1.0]
    assert all(len(str(v)) <= 16 for v in header.ImagePositionPatient)
    assert read_series_volume(tmp_path / "series").spacing_mm == pytest.approx((10.0, 100.0, 1.0))
