"""Writing exported objects: DICOM Part 10 files, one folder per object type."""

from __future__ import annotations

import os
from pathlib import Path

from pydicom.dataset import Dataset

__all__ = ["FOLDERS", "write_object"]

#: Folder of each object type inside the export folder.
FOLDERS = {"seg": "seg", "pm": "pm", "sr": "sr", "pdf": "pdf", "sc": "sc"}


def write_object(dataset: Dataset, folder: str | os.PathLike[str], name: str) -> Path:
    """Write ``dataset`` as ``folder/name.dcm`` (Part 10, file meta as highdicom set it).

    Parameters
    ----------
    dataset : pydicom Dataset
        A highdicom object.
    folder : path-like
        Created when missing.
    name : str
        File name without ``.dcm`` (no path separators).

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, datetime as dt, numpy as np
    >>> from tumorboard.dicom_export.parametric_map import QUANTITIES, parametric_map
    >>> from tumorboard.dicom_export.sources import SourceImages
    >>> from tumorboard.dicom_export.testing import mr_headers
    >>> from tumorboard.imaging.volume import Volume
    >>> adc = Volume(np.ones((2, 3, 3), np.float32), spacing_mm=(5.0, 2.0, 2.0))
    >>> pm = parametric_map(adc, QUANTITIES["adc"], SourceImages(mr_headers(adc)), key="a",
    ...                     when=dt.datetime(2024, 1, 8))
    >>> write_object(pm, tempfile.mkdtemp(), "adc").name
    'adc.dcm'
    """
    if not name or "/" in name or os.sep in name or name.startswith("."):
        raise ValueError(f"object file name {name!r} must be a plain name")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.dcm"
    dataset.save_as(path, enforce_file_format=True)
    return path
