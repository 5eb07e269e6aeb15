"""Builders of crafted hostile input files (written into the test's tmp_path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, RLELossless, generate_uid

SERIES_UID = "1.2.826.0.1.3680043.8.498.1515"


def _dataset(rows: int, columns: int, syntax: str, index: int) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[f"sop{index}"])
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.SeriesInstanceUID = SERIES_UID
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1516"
    ds.SeriesNumber = 7
    ds.InstanceNumber = index + 1
    ds.Rows = rows
    ds.Columns = columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [1.0, 1.0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [0.0, 0.0, float(index)]
    return ds


def write_rle_claiming(path: Path, rows: int, columns: int, index: int = 0) -> Path:
    """A small RLE Lossless file whose header claims ``rows`` x ``columns`` pixels."""
    ds = _dataset(rows, columns, RLELossless, index)
    # an RLE header (2 segments) followed by a few kilobytes of run data
    header = np.zeros(16, dtype="<u4")
    header[0], header[1], header[2] = 2, 64, 64 + 3900
    fragment = header.tobytes() + b"\x81\x00" * 1950 + b"\x81\x00" * 1950
    ds.PixelData = encapsulate([fragment])
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)
    return path


def write_native(
    path: Path, pixels: np.ndarray, index: int = 0, slope: float = 1.0, intercept: float = 0.0
) -> Path:
    """An uncompressed 16-bit slice at z = ``index`` with the given rescale."""
    rows, columns = pixels.shape
    ds = _dataset(rows, columns, ExplicitVRLittleEndian, index)
    ds.RescaleSlope = f"{slope:.6g}"
    ds.RescaleIntercept = f"{intercept:.6g}"
    ds.PixelData = pixels.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path
