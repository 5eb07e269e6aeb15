from __future__ import annotations

import numpy as np
import pydicom
import pytest
from dicom_helpers import oblique_direction, ramp

from tumorboard.errors import GeometryError, InputError
from tumorboard.imaging.dicom_volume import read_series_volume
from tumorboard.imaging.label_maps import read_label_map, write_dicom_seg
from tumorboard.imaging.nifti import write_nifti
from tumorboard.imaging.volume import Volume


@pytest.fixture
def reference(write_series, tmp_path):
    volume = Volume(
        2.0 * ramp((8, 12, 10)), (4.0, 2.0, 2.5), (-10.0, -20.0, 30.0), oblique_direction(15.0)
    )
    files = write_series(volume, name="image", series_number=3)
    return read_series_volume(tmp_path / "image"), files


def _labels(shape) -> np.ndarray:
    labels = np.zeros(shape, dtype=np.uint16)
    labels[1:4, 2:6, 3:7] = 1  # "kidney"
    labels[3:6, 4:9, 5:9] = 2  # "bowel", overlaps the kidney on slice 3
    labels[7, 0, 0] = 3
    return labels


def test_seg_round_trip(reference, tmp_path):
    image, files = reference
    labels = _labels(image.shape)
    seg = write_dicom_seg(
        image.with_array(labels),
        files[::-1],
        tmp_path / "seg.dcm",
        {1: "kidney", 2: "bowel", 3: "spot"},
    )
    header = pydicom.dcmread(seg)
    assert header.Modality == "SEG" and len(header.SegmentSequence) == 3
    back = read_label_map(seg, reference=image)
    assert back.same_geometry(image) and back.unit == "label"
    np.testing.assert_array_equal(back.array, labels)


def test_overlapping_segments_highest_number_wins(reference, tmp_path):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    image, files = reference
    first = np.zeros(image.shape, bool)
    first[2:5, 2:8, 2:8] = True
    second = np.roll(first, 2, axis=2)
    sources = [pydicom.dcmread(p) for p in files]  # files are in slice order
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=n,
            segment_label=name,
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for n, name in ((1, "a"), (2, "b"))
    ]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=np.stack([first, second], axis=-1).astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=50,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="0",
        device_serial_number="0",
    )
    seg.save_as(tmp_path / "overlap.dcm")
    labels = read_label_map(tmp_path / "overlap.dcm", reference=image).array
    expected = np.zeros(image.shape, np.uint16)
    expected[first] = 1
    expected[second] = 2
    np.testing.assert_array_equal(labels, expected)
    assert np.count_nonzero(first & second) > 0


def test_nifti_labels(reference, tmp_path):
    image, _ = reference
    labels = _labels(image.shape)
    write_nifti(image.with_array(labels), tmp_path / "labels.nii.gz")
    back = read_label_map(tmp_path / "labels.nii.gz", reference=image)
    np.testing.assert_array_equal(back.array, labels)
    assert back.array.dtype == np.uint16


def test_nifti_of_another_geometry(reference, tmp_path):
    image, _ = reference
    other = Volume(np.zeros((8, 12, 9)), image.spacing_mm, image.origin_mm, image.direction)
    write_nifti(other, tmp_path / "mask.nii.gz")
    with pytest.raises(
        GeometryError,
        match=r"exclusion mask has shape \(8, 12, 9\), expected "
        r"\(8, 12, 10\) like the b50 image",
    ):
        read_label_map(tmp_path / "mask.nii.gz", reference=image, reference_name="the b50 image")


def test_seg_on_another_grid(reference, write_series, tmp_path):
    image, files = reference
    write_dicom_seg(
        image.with_array(_labels(image.shape)),
        files,
        tmp_path / "seg.dcm",
        {1: "a", 2: "b", 3: "c"},
    )
    shifted = Volume(
        image.array,
        image.spacing_mm,
        tuple(np.add(image.origin_mm, 1.3 * image.direction[:, 2])),
        image.direction,
    )
    with pytest.raises(GeometryError, match="not on a slice of the b50 image"):
        read_label_map(tmp_path / "seg.dcm", reference=shifted, reference_name="the b50 image")
    narrow = Volume(image.array[:, :, :8], image.spacing_mm, image.origin_mm, image.direction)
    with pytest.raises(GeometryError, match=r"in-plane shape \(12, 10\), expected \(12, 8\)"):
        read_label_map(tmp_path / "seg.dcm", reference=narrow)
    moved = Volume(
        image.array,
        image.spacing_mm,
        tuple(np.add(image.origin_mm, 5.0 * image.direction[:, 0])),
        image.direction,
    )
    with pytest.raises(GeometryError, match="off the in-plane grid"):
        read_label_map(tmp_path / "seg.dcm", reference=moved)
    turned = Volume(image.array, image.spacing_mm, image.origin_mm, np.eye(3))
    with pytest.raises(GeometryError, match="different orientation"):
        read_label_map(tmp_path / "seg.dcm", reference=turned)


def test_bad_label_files(reference, tmp_path):
    image, files = reference
    with pytest.raises(InputError, match="file not found"):
        read_label_map(tmp_path / "missing.nii.gz", reference=image)
    (tmp_path / "notes.txt").write_text("not a mask")
    with pytest.raises(InputError, match="neither a NIfTI file"):
        read_label_map(tmp_path / "notes.txt", reference=image)
    with pytest.raises(InputError, match="not a segmentation"):
        read_label_map(files[0], reference=image)
    write_nifti(image.with_array(np.full(image.shape, 0.5)), tmp_path / "soft.nii.gz")
    with pytest.raises(InputError, match="whole numbers"):
        read_label_map(tmp_path / "soft.nii.gz", reference=image)
    write_nifti(image.with_array(np.full(image.shape, -1.0)), tmp_path / "neg.nii.gz")
    with pytest.raises(InputError, match="0..65535"):
        read_label_map(tmp_path / "neg.nii.gz", reference=image)


def test_write_seg_bad_input(reference, tmp_path):
    image, files = reference
    labels = image.with_array(_labels(image.shape))
    with pytest.raises(InputError, match="lacks a name for labels \\[3\\]"):
        write_dicom_seg(labels, files, tmp_path / "seg.dcm", {1: "a", 2: "b"})
    with pytest.raises(InputError, match="source series"):
        write_dicom_seg(labels, [], tmp_path / "seg.dcm", {1: "a", 2: "b", 3: "c"})
    elsewhere = Volume(
        labels.array,
        labels.spacing_mm,
        tuple(np.add(labels.origin_mm, 2.0 * labels.direction[:, 2])),
        labels.direction,
    )
    with pytest.raises(GeometryError, match="not on a slice"):
        write_dicom_seg(elsewhere, files, tmp_path / "seg.dcm", {1: "a", 2: "b", 3: "c"})
    assert not (tmp_path / "seg.dcm").exists()
