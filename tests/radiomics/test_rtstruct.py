"""RTSTRUCT rasterisation onto a reference grid (tumorboard.imaging.rtstruct)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, RTStructureSetStorage, generate_uid

from tumorboard.errors import DicomError, EmptyResultError, GeometryError, InputError
from tumorboard.imaging.rtstruct import read_rtstruct, rtstruct_label_map
from tumorboard.imaging.volume import Volume

REFERENCE = Volume(np.zeros((6, 20, 30)), spacing_mm=(3.0, 1.0, 1.0), origin_mm=(-10.0, 4.0, 50.0))


def square(x0: float, x1: float, y0: float, y1: float, z: float) -> list[float]:
    points = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    return [c for x, y in points for c in (x, y, z)]


def write_rtstruct(
    path: Path, rois: dict[str, list[list[float]]], modality: str = "RTSTRUCT"
) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RTStructureSetStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = RTStructureSetStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.StructureSetROISequence = Sequence()
    ds.ROIContourSequence = Sequence()
    for number, (name, contours) in enumerate(rois.items(), start=1):
        roi = Dataset()
        roi.ROINumber = number
        roi.ROIName = name
        ds.StructureSetROISequence.append(roi)
        item = Dataset()
        item.ReferencedROINumber = number
        item.ContourSequence = Sequence()
        for data in contours:
            contour = Dataset()
            contour.ContourGeometricType = "CLOSED_PLANAR"
            contour.NumberOfContourPoints = len(data) // 3
            contour.ContourData = [f"{v:g}" for v in data]
            item.ContourSequence.append(contour)
        ds.ROIContourSequence.append(item)
    ds.save_as(path, enforce_file_format=True)
    return path


def z_of(slice_index: int) -> float:
    return REFERENCE.origin_mm[2] + 3.0 * slice_index


def test_square_with_hole_and_two_rois(tmp_path: Path) -> None:
    # LPS x = -10 + column, y = 4 + row
    outer = square(-10 + 5, -10 + 14, 4 + 2, 4 + 9, z_of(2))  # columns 5..14, rows 2..9
    hole = square(-10 + 8, -10 + 10, 4 + 4, 4 + 6, z_of(2))  # columns 8..10, rows 4..6
    second = square(-10 + 20, -10 + 25, 4 + 10, 4 + 12, z_of(4))
    path = write_rtstruct(tmp_path / "rs.dcm", {"GTV": [outer, hole], "node": [second]})
    rois = read_rtstruct(path, REFERENCE)
    assert [r.name for r in rois] == ["GTV", "node"]
    gtv = rois[0].mask.array
    expected = np.zeros(REFERENCE.spatial_shape, dtype=bool)
    expected[2, 2:10, 5:15] = True
    expected[2, 5, 9] = False  # strictly inside the hole
    # hole outline voxels are on both contours: even-odd removes them too
    expected[2, 4:7, 8:11] = False
    assert np.array_equal(gtv, expected)
    labels = rtstruct_label_map(rois)
    assert labels.same_geometry(REFERENCE)
    assert set(np.unique(labels.array)) == {0, 1, 2}
    assert np.count_nonzero(labels.array == 2) == 6 * 3
    only = read_rtstruct(path, REFERENCE, roi_names=["node"])
    assert [r.name for r in only] == ["node"]


def test_bad_rtstruct(tmp_path: Path) -> None:
    off_slice = square(-5, 0, 6, 10, z_of(2) + 1.5)
    path = write_rtstruct(tmp_path / "off.dcm", {"GTV": [off_slice]})
    with pytest.raises(GeometryError, match="does not lie on a slice"):
        read_rtstruct(path, REFERENCE)
    outside = write_rtstruct(tmp_path / "out.dcm", {"GTV": [square(-5, 0, 6, 10, z_of(9))]})
    with pytest.raises(GeometryError, match="outside the image"):
        read_rtstruct(outside, REFERENCE)
    good = write_rtstruct(tmp_path / "good.dcm", {"GTV": [square(-5, 0, 6, 10, z_of(1))]})
    with pytest.raises(InputError, match="no ROI named 'liver'"):
        read_rtstruct(good, REFERENCE, roi_names=["liver"])
    ct = write_rtstruct(tmp_path / "ct.dcm", {"GTV": [square(-5, 0, 6, 10, z_of(1))]}, "CT")
    with pytest.raises(DicomError, match="Modality is 'CT'"):
        read_rtstruct(ct, REFERENCE)
    garbage = tmp_path / "garbage.dcm"
    garbage.write_bytes(b"not dicom at all")
    with pytest.raises(DicomError, match="not a readable DICOM"):
        read_rtstruct(garbage, REFERENCE)
    overlap = write_rtstruct(
        tmp_path / "overlap.dcm",
        {"A": [square(-5, 0, 6, 10, z_of(1))], "B": [square(-3, 2, 6, 10, z_of(1))]},
    )
    with pytest.raises(InputError, match="overlap"):
        rtstruct_label_map(read_rtstruct(overlap, REFERENCE))


def test_rois_that_miss_the_image(tmp_path: Path) -> None:
    # in-plane far outside the 30 x 20 mm grid: drawn on another image
    away = write_rtstruct(tmp_path / "away.dcm", {"GTV": [square(200, 210, 300, 310, z_of(1))]})
    with pytest.raises(GeometryError, match=r"away.dcm ROI 'GTV': the contours enclose no voxel"):
        read_rtstruct(away, REFERENCE)
    empty = write_rtstruct(tmp_path / "empty.dcm", {"GTV": []})
    with pytest.raises(EmptyResultError, match="empty.dcm: no ROI has contours"):
        read_rtstruct(empty, REFERENCE)
