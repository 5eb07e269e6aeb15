"""Results as standard DICOM objects: SEG, Parametric Map, TID 1500 SR, PDF and SC.

This package knows DICOM, not the record: it is given plain arrays
(:class:`~tumorboard.imaging.volume.Volume`), image headers and numbers, and
returns pydicom datasets; :mod:`tumorboard.workflow.export` reads the record
and writes the files. Every object references its source series and
instances, and its UIDs derive from its content (:mod:`.uids`), so exporting
the same record twice gives byte-identical files.

* :mod:`.sources` -- the source images and the analysis grid in highdicom terms;
* :mod:`.segmentation` -- a BINARY SEG of named segments;
* :mod:`.dwi_classes` -- the WB-DWI tumour mask and green/yellow/red classes;
* :mod:`.pet_lesions` -- PET lesions with their tracking identifiers;
* :mod:`.parametric_map` -- ADC, computed b and SUVbw with UCUM real-world value mapping;
* :mod:`.measurement_report` -- the TID 1500 SR of the record's measurements;
* :mod:`.encapsulated_pdf` -- the signed case-report form as Encapsulated PDF;
* :mod:`.secondary_capture` -- a rendered figure (the WB-DWI MIP) as Secondary Capture;
* :mod:`.files` -- writing the objects.
"""

from tumorboard.dicom_export.dwi_classes import (
    CLASS_SEGMENTS,
    TUMOUR_SEGMENT,
    wbdwi_class_segmentation,
)
from tumorboard.dicom_export.encapsulated_pdf import encapsulated_pdf
from tumorboard.dicom_export.files import FOLDERS, write_object
from tumorboard.dicom_export.measurement_report import (
    MEASUREMENTS,
    Finding,
    SegmentReference,
    build_measurement_report,
    finding_site,
    procedure_codes,
)
from tumorboard.dicom_export.parametric_map import QUANTITIES, MapQuantity, parametric_map
from tumorboard.dicom_export.pet_lesions import PetLesion, pet_lesion_segmentation
from tumorboard.dicom_export.secondary_capture import secondary_capture
from tumorboard.dicom_export.segmentation import Segment, build_segmentation
from tumorboard.dicom_export.sources import SourceImages, highdicom_volume
from tumorboard.dicom_export.uids import stable_uid, versioned_description, versioned_key

__all__ = [
    "CLASS_SEGMENTS",
    "FOLDERS",
    "MEASUREMENTS",
    "QUANTITIES",
    "TUMOUR_SEGMENT",
    "Finding",
    "MapQuantity",
    "PetLesion",
    "Segment",
    "SegmentReference",
    "SourceImages",
    "build_measurement_report",
    "build_segmentation",
    "encapsulated_pdf",
    "finding_site",
    "highdicom_volume",
    "parametric_map",
    "pet_lesion_segmentation",
    "procedure_codes",
    "secondary_capture",
    "stable_uid",
    "versioned_description",
    "versioned_key",
    "wbdwi_class_segmentation",
    "write_object",
]
