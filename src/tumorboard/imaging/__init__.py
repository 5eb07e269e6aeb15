"""Imaging core: the :class:`Volume` type and the readers and writers of formats.

This is the only package that knows file formats. Numerical packages receive
and return :class:`Volume` objects.

The names below are loaded on first use (PEP 562), so that importing a light
module of this package (e.g. :mod:`tumorboard.imaging.input_limits`, which the
record's store uses) does not import pydicom, SimpleITK and nibabel: that
made ``tumorboard run`` with nothing to do spend half its second on imports.
"""

from typing import TYPE_CHECKING

from tumorboard.lazy_exports import lazy_exports

if TYPE_CHECKING:
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

#: Where each public name lives.
_HOMES = {
    "DicomSeries": "dicom_scan",
    "DicomSlice": "dicom_scan",
    "scan_dicom_folder": "dicom_scan",
    "read_series_volume": "dicom_volume",
    "series_to_volume": "dicom_volume",
    "write_dicom_series": "dicom_write",
    "DiffusionSeries": "diffusion_dicom",
    "b_value_of": "diffusion_dicom",
    "diffusion_b_value_elements": "diffusion_dicom",
    "read_diffusion_series": "diffusion_dicom",
    "read_label_map": "label_maps",
    "write_dicom_seg": "label_maps",
    "read_nifti": "nifti",
    "write_nifti": "nifti",
    "stitch_stations": "stitching",
    "Volume": "volume",
}

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


__getattr__, __dir__ = lazy_exports(__name__, globals(), _HOMES)
