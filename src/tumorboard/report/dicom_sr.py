"""DICOM Structured Report (TID 1500 Measurement Report) of one timepoint's lesions.

Built with highdicom's :class:`~highdicom.sr.Comprehensive3DSR`: one TID 1501
measurement group per lesion, holding its long axis and short axis (mm) and,
when recorded, its mean attenuation (HU), with a TID 4108 tracking
identifier. The tracking UID is derived from the patient id and the lesion id
(:func:`tracking_uid`), so the same lesion carries the same UID in the SRs of
every timepoint -- which is what lets a viewer follow it. Patient and study
come from the source images (the evidence), so an SR is only written when the
measured images are DICOM.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from tumorboard import __version__
from tumorboard.criteria.records import Criteria, LesionMeasurement, LesionStatus, Timepoint
from tumorboard.errors import InputError

_CRITERIA_CODES = {Criteria.RECIST11: "RECIST1Point1"}


def tracking_uid(patient_id: str, lesion_id: str) -> str:
    """A UID that is the same for a lesion of a patient at every timepoint.

    Derived (SHA-512 entropy, pydicom's ``generate_uid``) from both ids, so it
    reveals neither.
    """
    return str(generate_uid(entropy_srcs=["tumorboard-lesion", patient_id, lesion_id]))


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

    Returns
    -------
    pydicom.dataset.Dataset
        A :class:`highdicom.sr.Comprehensive3DSR`.

    Raises
    ------
    InputError
        If no source image is given or the images span several studies.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    if not source_images:
        raise InputError("DICOM SR needs the source images of the timepoint (none given)")
    studies = {str(image.StudyInstanceUID) for image in source_images}
    if len(studies) != 1:
        raise InputError(f"DICOM SR source images span {len(studies)} studies, expected one")
    method = getattr(codes.cid6147, _CRITERIA_CODES.get(criteria, "RECIST1Point1"))
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
        if not items:
            continue
        tracking = hd.sr.TrackingIdentifier(
            uid=tracking_uid(patient_id, measurement.lesion_id),
            identifier=f"{measurement.lesion_id} ({measurement.role.value}, {measurement.organ})"[
                :64
            ],
        )
        groups.append(
            hd.sr.MeasurementsAndQualitativeEvaluations(
                tracking_identifier=tracking,
                time_point_context=hd.sr.TimePointContext(time_point=timepoint.label[:64]),
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
        procedure_reported=codes.cid100.CTUnspecifiedBodyRegion,
        imaging_measurements=groups,
    )
    now = dt.datetime.now(dt.UTC)
    document: Dataset = hd.sr.Comprehensive3DSR(
        evidence=list(source_images),
        content=report,
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=instance_number,
        manufacturer="tumorboard",
        software_versions=__version__,
        series_description=f"Lesion measurements {timepoint.label}"[:64],
        content_date=now.date(),
        content_time=now.time().replace(microsecond=0),
    )
    return document


def write_measurement_report(document: Dataset, path: str | os.PathLike[str]) -> Path:
    """Write the SR to ``path`` (DICOM Part 10) and return the path."""
    path = Path(path)
    document.save_as(path, enforce_file_format=True)
    return path
