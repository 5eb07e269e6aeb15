"""The signed case-report form as an Encapsulated PDF Storage object (PS3.3 A.45.1).

highdicom has no encapsulated-document class, so the object is built with
pydicom from the IOD's modules: Patient and General Study copied from an
image of the study it belongs to, Encapsulated Document Series (modality
``DOC``), General and SC Equipment, Encapsulated Document (the PDF bytes,
their length, the document title and the LOINC concept of a diagnostic
imaging report) and SOP Common. The UIDs derive from the PDF's SHA-256 and
the study, so the same signed version always gives the same object, and a
later signed version (``version`` 2, 3, ...) is a new series whose
description says which version it replaces.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sr.coding import Code
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian

from tumorboard import __version__
from tumorboard.dicom_export.uids import (
    MANUFACTURER,
    copy_deidentification,
    stabilise,
    stable_uid,
    versioned_description,
    versioned_key,
)
from tumorboard.errors import InputError

__all__ = ["ENCAPSULATED_PDF_STORAGE", "REPORT_CONCEPT", "encapsulated_pdf"]

#: SOP Class UID of Encapsulated PDF Storage.
ENCAPSULATED_PDF_STORAGE = UID("1.2.840.10008.5.1.4.1.1.104.1")
#: Concept name of the document: LOINC "Diagnostic imaging study" (report).
REPORT_CONCEPT = Code("18748-4", "LN", "Diagnostic Imaging Report")

#: Patient and General Study attributes copied from the study's image (type 2 if absent).
_STUDY_ATTRIBUTES = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)


def encapsulated_pdf(
    pdf: bytes,
    study_image: Dataset,
    *,
    title: str,
    when: dt.datetime,
    version: int = 1,
    series_number: int = 930,
) -> Dataset:
    """An Encapsulated PDF object of ``pdf`` in the study of ``study_image``.

    Parameters
    ----------
    pdf : bytes
        The document (must start with ``%PDF-``).
    study_image : pydicom Dataset
        A header of an image of the study the document belongs to; patient
        and study attributes are copied from it.
    title : str
        DocumentTitle (and, with the version, the series description).
    when : datetime
        When the document was made (signed): content and creation date and time.
    version : int
        1, or the number of this document among the documents of its kind
        (series description "... v2, replaces v1", new UIDs).
    series_number : int

    Returns
    -------
    pydicom Dataset
        With file meta, ready for ``save_as(..., enforce_file_format=True)``.

    Raises
    ------
    InputError
        ``pdf`` is not a PDF.

    Examples
    --------
    >>> import numpy as np
    >>> from tumorboard.dicom_export.testing import mr_headers
    >>> from tumorboard.imaging.volume import Volume
    >>> image = mr_headers(Volume(np.zeros((1, 2, 2)), spacing_mm=(5.0, 2.0, 2.0)))[0]
    >>> doc = encapsulated_pdf(b"%PDF-1.4 example", image, title="Case report form",
    ...                        when=dt.datetime(2024, 1, 8, 9, 30), version=2)
    >>> str(doc.Modality), str(doc.MIMETypeOfEncapsulatedDocument)
    ('DOC', 'application/pdf')
    >>> int(doc.EncapsulatedDocumentLength), len(doc.EncapsulatedDocument)
    (16, 16)
    >>> str(doc.SeriesDescription), doc.StudyInstanceUID == image.StudyInstanceUID
    ('Case report form v2, replaces v1', True)
    """
    if not pdf.startswith(b"%PDF-"):
        raise InputError("encapsulated PDF: the document is not a PDF (no %PDF- header)")
    study_uid = str(study_image.StudyInstanceUID)
    sha256 = hashlib.sha256(pdf).hexdigest()
    key = versioned_key(f"pdf/{sha256}", version)
    sop_instance_uid = UID(stable_uid("pdf", key, study_uid))

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ENCAPSULATED_PDF_STORAGE
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID

    doc = Dataset()
    doc.file_meta = meta
    doc.SpecificCharacterSet = "ISO_IR 192"
    for keyword in _STUDY_ATTRIBUTES:
        value = study_image.get(keyword)
        setattr(doc, keyword, value if value not in (None, "") else None)
    copy_deidentification(study_image, doc)
    # Encapsulated Document Series
    doc.Modality = "DOC"
    doc.SeriesInstanceUID = stable_uid("pdf-series", key, study_uid)
    doc.SeriesNumber = series_number
    doc.SeriesDescription = versioned_description(title, version)
    # General and SC Equipment
    doc.Manufacturer = MANUFACTURER
    doc.SoftwareVersions = __version__
    doc.ConversionType = "WSD"  # workstation: a document made by software
    # Encapsulated Document
    doc.InstanceNumber = 1
    doc.ContentDate = doc.ContentTime = None  # set by stabilise
    doc.AcquisitionDateTime = when.strftime("%Y%m%d%H%M%S")
    doc.BurnedInAnnotation = "YES"  # the form names the patient
    doc.DocumentTitle = title[:64]
    concept = Dataset()
    concept.CodeValue = REPORT_CONCEPT.value
    concept.CodingSchemeDesignator = REPORT_CONCEPT.scheme_designator
    concept.CodeMeaning = REPORT_CONCEPT.meaning
    doc.ConceptNameCodeSequence = [concept]
    doc.MIMETypeOfEncapsulatedDocument = "application/pdf"
    doc.EncapsulatedDocumentLength = len(pdf)
    doc.EncapsulatedDocument = pdf + (b"\x00" if len(pdf) % 2 else b"")
    # SOP Common
    doc.SOPClassUID = ENCAPSULATED_PDF_STORAGE
    doc.SOPInstanceUID = sop_instance_uid
    doc.InstanceCreationDate = doc.InstanceCreationTime = None
    return stabilise(doc, when)
