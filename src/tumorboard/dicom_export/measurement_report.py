"""DICOM SR (TID 1500 Measurement Report) of one study's findings from the record.

One SR per study of an exam. Each finding is a TID 1410/1411 measurement group:

* a finding with an exported SEG segment (the WB-DWI tumour load and its
  classes, a PET lesion) is a volumetric group referencing that segment;
* a finding measured by a reader (diameters, HU, SUL from the lesion reads)
  is a group whose source images are the images of the study it was read on.

The procedure reported follows the modalities of the study
(:func:`procedure_codes`: whole-body multiparametric MRI for WB-DWI, PET/CT
FDG whole body or PET whole body, CT or MRI unspecified body region), and a
finding's site is its organ (:func:`finding_site`, SNOMED CT), the entire
body for the WB-DWI tumour load. Tracking UIDs are given by the caller:
the record's tracking UID of a lesion, or one derived from the patient's
tumour load, the same in every export. Measurement names and units are
:data:`MEASUREMENTS` (UCUM units). The SR's UIDs derive from its content.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydicom.dataset import Dataset
from pydicom.sr.coding import Code

from tumorboard import __version__
from tumorboard.dicom_export.uids import (
    MANUFACTURER,
    quiet,
    stabilise,
    stable_uid,
    versioned_description,
    versioned_key,
)
from tumorboard.errors import InputError

__all__ = [
    "MEASUREMENTS",
    "Finding",
    "SegmentReference",
    "build_measurement_report",
    "finding_site",
    "procedure_codes",
]

_UM2 = Code("um2/s", "UCUM", "um2/s")
_ML = Code("ml", "UCUM", "milliliter")
_MM = Code("mm", "UCUM", "millimeter")
_SUVBW = Code("{SUVbw}g/ml", "UCUM", "Standardized Uptake Value body weight")
_SUL = Code("{SUVlbm}g/ml", "UCUM", "Standardized Uptake Value lean body mass")
_ADC = Code("113041", "DCM", "Apparent Diffusion Coefficient")
_SUV = Code("126400", "DCM", "Standardized Uptake Value")
_VOLUME = Code("118565006", "SCT", "Volume")
_MEAN = Code("373098007", "SCT", "Mean")
_MEDIAN = Code("373099004", "SCT", "Median")
_MAXIMUM = Code("56851009", "SCT", "Maximum")
_P95 = Code("371889001", "SCT", "Ninety-fifth percentile")
_PEAK = Code("126031", "DCM", "Peak Value Within ROI")

#: Record quantity -> (concept name, UCUM unit, derivation or None).
MEASUREMENTS: dict[str, tuple[Code, Code, Code | None]] = {
    "total_diffusion_volume_ml": (_VOLUME, _ML, None),
    "volume_ml": (_VOLUME, _ML, None),
    "adc_mean_um2_per_s": (_ADC, _UM2, _MEAN),
    "adc_median_um2_per_s": (_ADC, _UM2, _MEDIAN),
    "adc_p95_um2_per_s": (_ADC, _UM2, _P95),
    "suv_max": (_SUV, _SUVBW, _MAXIMUM),
    "suv_mean": (_SUV, _SUVBW, _MEAN),
    "suv_peak": (_SUV, _SUVBW, _PEAK),
    "sul_peak": (_SUV, _SUL, _PEAK),
    "mtv_ml": (Code("126032", "DCM", "Metabolic Volume"), _ML, None),
    "tlg_g": (Code("126033", "DCM", "Total Lesion Glycolysis"), Code("g", "UCUM", "gram"), None),
    "longest_diameter_mm": (Code("103339001", "SCT", "Long axis"), _MM, None),
    "short_axis_mm": (Code("103340004", "SCT", "Short axis"), _MM, None),
    "viable_diameter_mm": (Code("81827009", "SCT", "Diameter"), _MM, None),
    "mean_hu": (_MEAN, Code("[hnsf'U]", "UCUM", "Hounsfield unit"), None),
}

#: Organ names of the record -> SNOMED CT finding site.
_SITES = {
    "liver": Code("10200004", "SCT", "Liver"),
    "lung": Code("39607008", "SCT", "Lung"),
    "lymph node": Code("59441001", "SCT", "Lymph node"),
    "node": Code("59441001", "SCT", "Lymph node"),
    "bone": Code("272673000", "SCT", "Bone"),
    "brain": Code("12738006", "SCT", "Brain"),
    "adrenal": Code("23451007", "SCT", "Adrenal gland"),
    "kidney": Code("64033007", "SCT", "Kidney"),
    "pancreas": Code("15776009", "SCT", "Pancreas"),
    "spleen": Code("78961009", "SCT", "Spleen"),
    "peritoneum": Code("15425007", "SCT", "Peritoneum"),
    "pleura": Code("3120008", "SCT", "Pleura"),
    "prostate": Code("41216001", "SCT", "Prostate"),
    "breast": Code("76752008", "SCT", "Breast"),
    "soft tissue": Code("87784001", "SCT", "Soft tissue"),
    "pituitary": Code("56329008", "SCT", "Pituitary gland"),
    "entire body": Code("38266002", "SCT", "Entire body"),
}


def finding_site(organ: str | None) -> Code | None:
    """The SNOMED CT code of an organ named in the record, or None.

    Examples
    --------
    >>> finding_site("Liver").meaning, finding_site("lymph_node").value
    ('Liver', '59441001')
    >>> finding_site("elsewhere") is None
    True
    """
    if not organ:
        return None
    return _SITES.get(" ".join(organ.lower().replace("_", " ").split()))


def procedure_codes(modalities: Sequence[str], *, whole_body_dwi: bool, fdg: bool) -> list[Code]:
    """The procedure(s) reported for a study with these modalities.

    Examples
    --------
    >>> [c.meaning for c in procedure_codes(["MR"], whole_body_dwi=True, fdg=False)]
    ['Multiparametric MRI of whole body']
    >>> [c.value for c in procedure_codes(["PT", "CT"], whole_body_dwi=False, fdg=True)]
    ['443271005']
    """
    from pydicom.sr.codedict import codes

    found: list[Code] = []
    kinds = {m.upper() for m in modalities}
    if "PT" in kinds:
        found.append(codes.cid100.PETCTFDGImagingOfWholeBody if fdg else codes.cid100.PETWholeBody)
    if "MR" in kinds:
        found.append(
            codes.cid100.MultiparametricMRIOfWholeBody
            if whole_body_dwi
            else codes.cid100.MRIUnspecifiedBodyRegion
        )
    if "CT" in kinds and "PT" not in kinds:
        found.append(codes.cid100.CTUnspecifiedBodyRegion)
    if not found:
        raise InputError(f"no procedure code for modalities {sorted(kinds)}")
    return found


@dataclass(frozen=True)
class SegmentReference:
    """A segment of an exported SEG that a finding was measured in.

    Attributes
    ----------
    seg : pydicom Dataset
        The SEG (in the SR's evidence).
    segment_number : int
    """

    seg: Dataset
    segment_number: int


@dataclass(frozen=True)
class Finding:
    """One measurement group of the report.

    Attributes
    ----------
    tracking_uid : str
        The same for the finding at every exam and in every export.
    tracking_id : str
        Human-readable identifier (the lesion's label).
    values : tuple of (str, float)
        Record quantity (a key of :data:`MEASUREMENTS`) and value.
    site : pydicom Code, optional
        Finding site.
    segment : SegmentReference, optional
        The segment the values were measured in.
    source_images : tuple of pydicom Dataset
        The images it was read on (used when there is no segment).
    """

    tracking_uid: str
    tracking_id: str
    values: tuple[tuple[str, float], ...]
    site: Code | None = None
    segment: SegmentReference | None = None
    source_images: tuple[Dataset, ...] = field(default=())


def build_measurement_report(
    findings: Sequence[Finding],
    evidence: Sequence[Dataset],
    procedures: Sequence[Code],
    *,
    time_point: str,
    key: str,
    when: dt.datetime,
    series_number: int = 920,
    version: int = 1,
) -> Dataset:
    """Build the TID 1500 Comprehensive 3D SR of ``findings``.

    Parameters
    ----------
    findings : sequence of Finding
        Groups with at least one value each (others are left out).
    evidence : sequence of pydicom Dataset
        Every image and SEG the report refers to (one study).
    procedures : sequence of pydicom Code
        Procedures reported (:func:`procedure_codes`).
    time_point : str
        The exam's label (TID 1502 time point).
    key : str
        Identity of the report (with the content it fixes the UIDs).
    when : datetime
        Content date and time.
    series_number : int
    version : int
        1, or the number of this report among the reports of the same study
        (series description "... v2, replaces v1", new UIDs).

    Returns
    -------
    pydicom Dataset

    Raises
    ------
    InputError
        No finding with a value, a quantity without a code, or no evidence.

    Examples
    --------
    >>> import numpy as np
    >>> from tumorboard.dicom_export.testing import mr_headers
    >>> from tumorboard.imaging.volume import Volume
    >>> images = mr_headers(Volume(np.zeros((2, 3, 3)), spacing_mm=(5.0, 2.0, 2.0)))
    >>> finding = Finding("1.2.3", "L1", (("longest_diameter_mm", 50.0),),
    ...                   finding_site("liver"), source_images=images[:1])
    >>> sr = build_measurement_report([finding], images, procedure_codes(
    ...     ["MR"], whole_body_dwi=False, fdg=False), time_point="baseline", key="a",
    ...     when=dt.datetime(2024, 1, 8))
    >>> import io, highdicom as hd
    >>> buffer = io.BytesIO(); sr.save_as(buffer, enforce_file_format=True); _ = buffer.seek(0)
    >>> group = hd.sr.srread(buffer).content.get_image_measurement_groups()[0]
    >>> float(group.get_measurements()[0].value), group.tracking_uid
    (50.0, '1.2.3')
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    if not evidence:
        raise InputError("DICOM SR needs the images it reports on (none given)")
    groups: list[object] = []
    for finding in findings:
        items = []
        for quantity, value in finding.values:
            if quantity not in MEASUREMENTS:
                raise InputError(f"DICOM SR: no code for the quantity {quantity!r}")
            name, unit, derivation = MEASUREMENTS[quantity]
            items.append(
                hd.sr.Measurement(
                    name=name,
                    value=float(value),
                    unit=unit,
                    derivation=derivation,
                    finding_sites=[hd.sr.FindingSite(finding.site)] if finding.site else None,
                )
            )
        if not items:
            continue
        tracking = hd.sr.TrackingIdentifier(
            uid=finding.tracking_uid, identifier=finding.tracking_id[:64]
        )
        common = {
            "tracking_identifier": tracking,
            "time_point_context": hd.sr.TimePointContext(time_point=time_point[:64]),
            "finding_type": codes.SCT.Neoplasm,
            "finding_sites": [hd.sr.FindingSite(finding.site)] if finding.site else None,
            "measurements": items,
        }
        if finding.segment is not None:
            seg = finding.segment.seg
            groups.append(
                hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                    referenced_segment=hd.sr.ReferencedSegment(
                        sop_class_uid=str(seg.SOPClassUID),
                        sop_instance_uid=str(seg.SOPInstanceUID),
                        segment_number=finding.segment.segment_number,
                        source_series=hd.sr.SourceSeriesForSegmentation(
                            str(seg.ReferencedSeriesSequence[0].SeriesInstanceUID)
                        ),
                    ),
                    **common,
                )
            )
        else:
            groups.append(
                hd.sr.MeasurementsAndQualitativeEvaluations(
                    source_images=[
                        hd.sr.SourceImageForMeasurementGroup.from_source_image(image)
                        for image in finding.source_images
                    ]
                    or None,
                    **common,
                )
            )
    if not groups:
        raise InputError(f"time point {time_point!r} has no measurement to report")
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=stable_uid("device"), name=MANUFACTURER
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=list(procedures),
        imaging_measurements=groups,  # type: ignore[arg-type]
    )
    digest = _digest(findings, evidence, procedures, time_point)
    key = versioned_key(key, version)
    with quiet():
        document = hd.sr.Comprehensive3DSR(
            evidence=list(evidence),
            content=report,
            series_instance_uid=stable_uid("sr-series", key, digest),
            series_number=series_number,
            sop_instance_uid=stable_uid("sr", key, digest),
            instance_number=1,
            manufacturer=MANUFACTURER,
            software_versions=__version__,
            series_description=versioned_description(
                f"tumorboard measurements {time_point}", version
            ),
            content_date=when.date(),
            content_time=when.time().replace(microsecond=0),
        )
    return stabilise(document, when)


def _digest(
    findings: Sequence[Finding],
    evidence: Sequence[Dataset],
    procedures: Sequence[Code],
    time_point: str,
) -> str:
    content = {
        "findings": [
            [
                f.tracking_uid,
                f.tracking_id,
                [[q, repr(float(v))] for q, v in f.values],
                f.site.value if f.site else None,
                [str(f.segment.seg.SOPInstanceUID), f.segment.segment_number]
                if f.segment
                else None,
                [str(i.SOPInstanceUID) for i in f.source_images],
            ]
            for f in findings
        ],
        "evidence": sorted(str(d.SOPInstanceUID) for d in evidence),
        "procedures": [c.value for c in procedures],
        "time_point": time_point,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
