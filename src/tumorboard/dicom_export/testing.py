"""Synthetic image headers for the examples of this package (no patient, no pixels)."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import MRImageStorage

from tumorboard.dicom_export.uids import stable_uid
from tumorboard.imaging.volume import Volume

__all__ = ["mr_headers"]


def mr_headers(grid: Volume, series: str = "example") -> tuple[Dataset, ...]:
    """Headers of a single-frame MR series on ``grid``, one per slice.

    Examples
    --------
    >>> import numpy as np
    >>> headers = mr_headers(Volume(np.zeros((3, 4, 4)), spacing_mm=(5.0, 2.0, 2.0)))
    >>> len(headers), [float(v) for v in headers[2].ImagePositionPatient]
    (3, [0.0, 0.0, 10.0])
    """
    study = stable_uid("example-study")
    headers = []
    for k in range(grid.spatial_shape[0]):
        ds = Dataset()
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = stable_uid("example-image", series, str(k))
        ds.StudyInstanceUID = study
        ds.SeriesInstanceUID = stable_uid("example-series", series)
        ds.FrameOfReferenceUID = stable_uid("example-frame", series)
        ds.Modality = "MR"
        ds.PatientName = "Example^Patient"
        ds.PatientID = "EXAMPLE"
        ds.PatientBirthDate = ""
        ds.PatientSex = "O"
        ds.StudyDate, ds.StudyTime = "20240108", "090000"
        ds.AccessionNumber, ds.ReferringPhysicianName, ds.StudyID = "", "", "1"
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.Rows, ds.Columns = grid.spatial_shape[1:]
        ds.PixelSpacing = [grid.spacing_mm[1], grid.spacing_mm[2]]
        ds.SliceThickness = grid.spacing_mm[0]
        ds.ImageOrientationPatient = [*grid.direction[:, 0], *grid.direction[:, 1]]
        ds.ImagePositionPatient = list(grid.index_to_lps(np.array([k, 0, 0])))
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        headers.append(ds)
    return tuple(headers)
