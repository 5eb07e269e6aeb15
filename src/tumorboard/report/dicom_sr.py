"""DICOM Structured Report (TID 1500 Measurement Report) of one timepoint's lesions.

Built with highdicom's :class:`~highdicom.sr.Comprehensive3DSR`: one TID 1501
measurement group per lesion, holding its long axis and short axis (mm) and,
when recorded, its mean attenuation (HU) and its SULpeak (SUV lean body
mass, derivation "Peak Value Within ROI"), with a TID 4108 tracking
identifier. The procedure reported follows the images measured: CT, MRI
or PET (FDG PET/CT whole body when the tracer is FDG) by the modality of the
source images (or, for images of another modality, of the readings), with the
codes of :func:`tumorboard.dicom_export.procedure_codes` (one owner). The
tracking UID is derived from the patient id and the lesion id
(:func:`tracking_uid`), so the same lesion carries the same UID in the SRs of
every timepoint -- which is what lets a viewer follow it. Patient and study
come from the source images (the evidence), so an SR is only written when the
measured images are DICOM.

Source headers are copied as they are, except that a date or time that is
not valid DICOM (a birth date written ``1964-03-12``) and a patient sex other
than ``M``, ``F`` or ``O`` are left empty: they cannot be written, and no
error message may repeat them. With a :class:`tumorboard.privacy.Deidentifier`
the source headers go through the DICOM PS3.15 Basic Profile first (patient
and study attributes removed or replaced, UIDs replaced consistently), the
tracking UIDs derive from the patient's pseudonym, and the timepoint label,
lesion identifiers and series description are scrubbed of ids and dates.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid
from pydicom.valuerep import DA, DT, TM

from tumorboard import __version__
from tumorboard.criteria.records import Criteria, LesionMeasurement, LesionStatus, Timepoint
from tumorboard.errors import InputError
from tumorboard.privacy import Deidentifier, Identity

__all__ = [
    "build_measurement_report",
    "procedures_reported",
    "tracking_uid",
    "write_measurement_report",
]

_CRITERIA_CODES = {Criteria.RECIST11: "RECIST1Point1"}
#: Reading modality (``LesionMeasurement.modality``, before any ``-tracer``) -> DICOM modality.
_READ_MODALITIES = {"ct": "CT", "mr": "MR", "mri": "MR", "pet": "PT", "pt": "PT"}
#: UCUM unit of SUL (SUV normalised to lean body mass), DICOM CID 85.
_SUL_UNIT = Code("{SUVlbm}g/ml", "UCUM", "Standardized Uptake Value lean body mass")


def tracking_uid(patient_id: str, lesion_id: str) -> str:
    """A UID that is the same for a lesion of a patient at every timepoint.

    Derived (SHA-512 entropy, pydicom's ``generate_uid``) from both ids, so it
    reveals neither.
    """
    return str(generate_uid(entropy_srcs=["tumorboard-lesion", patient_id, lesion_id]))


def procedures_reported(
    source_images: Sequence[Dataset], measurements: Sequence[LesionMeasurement] = ()
) -> list[Code]:
    """The procedure codes of an SR of these images and readings (DICOM CID 100).

    The modalities are those of the images (CT, MR, PT); when none of them is
    one of these, those of the readings (``ct``, ``mr``, ``pet-<tracer>``).
    PET is FDG PET/CT of the whole body when an image's radiopharmaceutical
    or a reading's tracer is FDG.

    Parameters
    ----------
    source_images : sequence of pydicom Dataset
    measurements : sequence of LesionMeasurement

    Returns
    -------
    list of pydicom Code

    Raises
    ------
    InputError
        Neither the images nor the readings have a modality with a procedure code.

    Examples
    --------
    >>> image = Dataset(); image.Modality = "MR"
    >>> [c.meaning for c in procedures_reported([image])]
    ['MRI unspecified body region']
    >>> image.Modality = "CT"
    >>> [c.value for c in procedures_reported([image])]
    ['25045-6']
    """
    from tumorboard.dicom_export.measurement_report import procedure_codes

    modalities = {str(image.get("Modality", "") or "").upper() for image in source_images}
    modalities &= {"CT", "MR", "PT"}
    read = {str(m.modality).lower() for m in measurements}
    if not modalities:
        modalities = {
            _READ_MODALITIES[kind.split("-")[0]]
            for kind in read
            if kind.split("-")[0] in _READ_MODALITIES
        }
    tracers = [
        str(item.get("Radiopharmaceutical", "") or "")
        for image in source_images
        for item in image.get("RadiopharmaceuticalInformationSequence", [])
    ]
    fdg = any("FDG" in text.upper() or "FLUORODEOXY" in text.upper() for text in [*tracers, *read])
    if not modalities:
        raise InputError(
            "DICOM SR: no procedure code for the images' modality (CT, MR or PT images are needed)"
        )
    return procedure_codes(sorted(modalities), whole_body_dwi=False, fdg=fdg)


def _size(measurement: LesionMeasurement) -> tuple[float | None, float | None]:
    if measurement.status is LesionStatus.ABSENT:
        return 0.0, 0.0
    if measurement.status is LesionStatus.TOO_SMALL:
        return 5.0, None
    long_axis = measurement.longest_diameter_mm
    short_axis = measurement.short_axis_mm
    return (
        None if long_axis is None else float(long_axis),
        None if short_axis is None else float(short_axis),
    )


def build_measurement_report(
    patient_id: str,
    timepoint: Timepoint,
    source_images: Sequence[Dataset],
    *,
    criteria: Criteria = Criteria.RECIST11,
    series_number: int = 900,
    instance_number: int = 1,
    deidentifier: Deidentifier | None = None,
) -> Dataset:
    """Build the TID 1500 SR of ``timepoint``'s lesion readings.

    Parameters
    ----------
    patient_id : str
        Used only to derive the stable tracking UIDs.
    timepoint : Timepoint
        The readings (target, non-target and new lesions).
    source_images : sequence of pydicom Dataset
        The measured images (headers suffice); they supply patient and study.
    criteria : Criteria
        Response criteria named as the measurement method.
    series_number, instance_number : int
        Of the SR.
    deidentifier : Deidentifier, optional
        De-identify the SR (see the module notes); give the same salt at
        every timepoint to keep the tracking UIDs and pseudonym linked.

    Returns
    -------
    pydicom.dataset.Dataset
        A :class:`highdicom.sr.Comprehensive3DSR`.

    Raises
    ------
    InputError
        If no source image is given, the images span several studies or
        their headers cannot be copied into an SR.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    if not source_images:
        raise InputError("DICOM SR needs the source images of the timepoint (none given)")
    studies = {str(image.StudyInstanceUID) for image in source_images}
    if len(studies) != 1:
        raise InputError(f"DICOM SR source images span {len(studies)} studies, expected one")
    method = getattr(codes.cid6147, _CRITERIA_CODES.get(criteria, "RECIST1Point1"))
    sources = [_copyable(image) for image in source_images]
    scrub = _identity_scrub(patient_id, sources[0], deidentifier)
    if deidentifier is not None:
        sources = [deidentifier.dataset(image) for image in sources]
        patient_id = deidentifier.pseudonym(patient_id)
    groups = []
    for measurement in timepoint.measurements:
        long_axis, short_axis = _size(measurement)
        items = []
        if long_axis is not None:
            items.append(
                hd.sr.Measurement(
                    name=codes.SCT.LongAxis, value=long_axis, unit=codes.UCUM.Millimeter
                )
            )
        if short_axis is not None:
            items.append(
                hd.sr.Measurement(
                    name=codes.SCT.ShortAxis, value=short_axis, unit=codes.UCUM.Millimeter
                )
            )
        if measurement.mean_hu is not None and measurement.status is not LesionStatus.ABSENT:
            items.append(
                hd.sr.Measurement(
                    name=codes.SCT.Mean,
                    value=float(measurement.mean_hu),
                    unit=codes.UCUM.HounsfieldUnit,
                )
            )
        if measurement.sul_peak is not None and measurement.status is not LesionStatus.ABSENT:
            items.append(
                hd.sr.Measurement(
                    name=codes.DCM.StandardizedUptakeValue,
                    value=float(measurement.sul_peak),
                    unit=_SUL_UNIT,
                    derivation=codes.DCM.PeakValueWithinROI,
                )
            )
        if not items:
            continue
        tracking = hd.sr.TrackingIdentifier(
            uid=tracking_uid(patient_id, measurement.lesion_id),
            identifier=scrub(
                f"{measurement.lesion_id} ({measurement.role.value}, {measurement.organ})"
            )[:64],
        )
        groups.append(
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=tracking,
                time_point_context=hd.sr.TimePointContext(time_point=scrub(timepoint.label)[:64]),
                method=method,
                measurements=items,
            )
        )
    if not groups:
        raise InputError(f"timepoint {timepoint.label!r} has no lesion measurement to report")
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=str(generate_uid(entropy_srcs=["tumorboard-device"])),
            name="tumorboard",
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=procedures_reported(source_images, timepoint.measurements),
        imaging_measurements=groups,
    )
    now = dt.datetime.now(dt.UTC)
    try:
        with _quiet("highdicom"):
            document: Dataset = hd.sr.Comprehensive3DSR(
                evidence=sources,
                content=report,
                series_instance_uid=hd.UID(),
                series_number=series_number,
                sop_instance_uid=hd.UID(),
                instance_number=instance_number,
                manufacturer="tumorboard",
                software_versions=__version__,
                series_description=scrub(f"Lesion measurements {timepoint.label}")[:64],
                content_date=now.date(),
                content_time=now.time().replace(microsecond=0),
            )
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        # the message may quote a header value (a name, a date): never shown
        raise InputError(
            f"DICOM SR: the source image headers cannot be copied into an SR "
            f"({type(exc).__name__}); try --deidentify"
        ) from None
    if deidentifier is not None:
        for keyword in _DEID_RECORD:
            document[keyword] = sources[0][keyword]
    return document


#: Attributes recording the de-identification, copied from the de-identified sources.
_DEID_RECORD = (
    "PatientIdentityRemoved",
    "DeidentificationMethod",
    "DeidentificationMethodCodeSequence",
)
_TEMPORAL = {"DA": DA, "DT": DT, "TM": TM}


def _copyable(header: Dataset) -> Dataset:
    """A copy of ``header`` whose invalid dates, times and patient sex are empty."""
    result = copy.deepcopy(header)
    for element in result:
        parse = _TEMPORAL.get(element.VR)
        if parse is None or element.VM != 1 or not element.value:
            continue
        try:
            parse(str(element.value))
        except ValueError:
            element.value = None
    if str(result.get("PatientSex", "") or "") not in ("", "M", "F", "O"):
        result.PatientSex = None
    return result


def _identity_scrub(
    patient_id: str, header: Dataset, deidentifier: Deidentifier | None
) -> Callable[[str], str]:
    """The scrub of the SR's free text: none, or the de-identifier's text rules."""
    if deidentifier is None:
        return lambda text: text
    identity = Identity(patient_id).merged(Identity.from_dataset(header))
    return lambda text: deidentifier.text(text, identity)


@contextmanager
def _quiet(logger_name: str) -> Iterator[None]:
    """Silence a library's log and warnings: highdicom quotes header values (patient names)."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def write_measurement_report(document: Dataset, path: str | os.PathLike[str]) -> Path:
    """Write the SR to ``path`` (DICOM Part 10) and return the path."""
    path = Path(path)
    document.save_as(path, enforce_file_format=True)
    return path
