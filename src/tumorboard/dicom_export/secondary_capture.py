"""A rendered figure (the WB-DWI coronal MIP) as a Secondary Capture Image (highdicom).

The picture is an RGB array (the figure as drawn for ``tumorboard report``);
the object is a :class:`highdicom.sc.SCImage` in the study of the images it
was drawn from, with patient orientation ``L``, ``F`` (a coronal view: columns
run to the patient's left, rows to the feet), conversion type ``WSD``
(workstation) and burned-in annotation ``YES`` when the figure's text may
identify the patient or the exam date. Its UIDs derive from the pixels, the
source series and the analysis, so the same figure is always the same
object; a later version is a new series that says which version it replaces.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

import numpy as np
from pydicom.dataset import Dataset
from pydicom.valuerep import DA, TM

from tumorboard import __version__
from tumorboard.dicom_export.uids import (
    MANUFACTURER,
    copy_deidentification,
    quiet,
    stabilise,
    stable_uid,
    versioned_description,
    versioned_key,
)
from tumorboard.errors import InputError

__all__ = ["secondary_capture"]


def secondary_capture(
    rgb: np.ndarray,
    sources: Sequence[Dataset],
    *,
    key: str,
    when: dt.datetime,
    description: str,
    burned_in_annotation: bool,
    version: int = 1,
    series_number: int = 940,
) -> Dataset:
    """A Secondary Capture Image of ``rgb`` in the study of ``sources``.

    Parameters
    ----------
    rgb : ndarray, shape (rows, columns, 3), uint8
        The picture.
    sources : sequence of pydicom Dataset
        Headers of the images it was drawn from (one study); patient and
        study come from the first, and all are referenced as its source.
    key : str
        Identity of the analysis (with the content it fixes the UIDs).
    when : datetime
        Content and creation date and time.
    description : str
        Series description.
    burned_in_annotation : bool
        Whether the picture's text may identify the patient or the date.
    version : int
        1, or the number of this picture among the pictures of the same
        exam (series description "... v2, replaces v1", new UIDs).
    series_number : int

    Returns
    -------
    pydicom Dataset

    Raises
    ------
    InputError
        Not an RGB picture, or no source image, or sources of several studies.

    Examples
    --------
    >>> from tumorboard.dicom_export.testing import mr_headers
    >>> from tumorboard.imaging.volume import Volume
    >>> images = mr_headers(Volume(np.zeros((2, 3, 3)), spacing_mm=(5.0, 2.0, 2.0)))
    >>> picture = np.zeros((4, 6, 3), np.uint8); picture[1, 2] = (255, 0, 0)
    >>> sc = secondary_capture(picture, images, key="a", when=dt.datetime(2024, 1, 8),
    ...                        description="tumorboard WB-DWI MIP", burned_in_annotation=True)
    >>> str(sc.Modality), str(sc.PhotometricInterpretation), sc.pixel_array.shape
    ('OT', 'RGB', (4, 6, 3))
    >>> sc.StudyInstanceUID == images[0].StudyInstanceUID, str(sc.BurnedInAnnotation)
    (True, 'YES')
    """
    import highdicom as hd

    array = np.asarray(rgb)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise InputError(
            f"secondary capture: expected an RGB picture (rows, columns, 3) of uint8, got "
            f"shape {array.shape} of {array.dtype}"
        )
    if not sources:
        raise InputError("secondary capture: no source image to take the study from")
    studies = {str(d.StudyInstanceUID) for d in sources}
    if len(studies) != 1:
        raise InputError(f"secondary capture: the source images span {len(studies)} studies")
    reference = sources[0]
    digest = hashlib.sha256(np.ascontiguousarray(array).tobytes())
    digest.update(str(array.shape).encode())
    digest.update("\n".join(sorted(str(d.SOPInstanceUID) for d in sources)).encode())
    identity = (versioned_key(f"sc/{key}", version), digest.hexdigest())
    with quiet():
        sc = hd.sc.SCImage.from_ref_dataset(
            ref_dataset=reference,
            pixel_array=np.ascontiguousarray(array),
            photometric_interpretation=hd.PhotometricInterpretationValues.RGB,
            bits_allocated=8,
            coordinate_system=hd.CoordinateSystemNames.PATIENT,
            series_instance_uid=stable_uid("sc-series", *identity),
            series_number=series_number,
            sop_instance_uid=stable_uid("sc", *identity),
            instance_number=1,
            manufacturer=MANUFACTURER,
            patient_orientation=("L", "F"),
            transfer_syntax_uid="1.2.840.10008.1.2.1",  # explicit VR little endian
            series_description=versioned_description(description, version),
            software_versions=__version__,
        )
    sc.ConversionType = "WSD"  # drawn by software, not digitised
    # highdicom dates the capture by the clock: the record's time instead (same object again)
    sc.DateOfSecondaryCapture = DA(when.strftime("%Y%m%d"))
    sc.TimeOfSecondaryCapture = TM(when.strftime("%H%M%S"))
    sc.BurnedInAnnotation = "YES" if burned_in_annotation else "NO"
    copy_deidentification(reference, sc)
    if "Laterality" not in sc:  # General Series, type 2C: a whole-body picture has none
        sc.add_new(0x00200060, "CS", None)
    referenced = []
    for image in sorted(sources, key=lambda d: str(d.SOPInstanceUID)):
        item = Dataset()
        item.ReferencedSOPClassUID = image.SOPClassUID
        item.ReferencedSOPInstanceUID = image.SOPInstanceUID
        referenced.append(item)
    sc.SourceImageSequence = referenced
    return stabilise(sc, when)
