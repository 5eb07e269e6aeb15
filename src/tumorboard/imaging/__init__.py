"""Imaging core: the :class:`Volume` type and the readers and writers of formats.

This is the only package that knows file formats. Numerical packages receive
and return :class:`Volume` objects.
"""

from tumorboard.imaging.dicom_scan import DicomSeries, DicomSlice, scan_dicom_folder
from tumorboard.imaging.dicom_volume import read_series_volume, series_to_volume
from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.diffusion_dicom import (
    DiffusionSeries,
    b_value_of,
    diffusion_b_value_elements,
    read_diffusion_series,
)
from tumorboard.imaging.label_maps import read_label_map, write_dicom_seg
from tumorboard.imaging.nifti import read_nifti, write_nifti
from tumorboard.imaging.stitching import stitch_stations
from tumorboard.imaging.volume import Volume

__all__ = [
    "DicomSeries",
    "DicomSlice",
    "DiffusionSeries",
    "Volume",
    "b_value_of",
    "diffusion_b_value_elements",
    "read_diffusion_series",
    "read_label_map",
    "read_nifti",
    "read_series_volume",
    "scan_dicom_folder",
    "series_to_volume",
    "stitch_stations",
    "write_dicom_seg",
    "write_dicom_series",
    "write_nifti",
]
