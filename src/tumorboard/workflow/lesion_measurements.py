"""Lesion values from SEG, RTSTRUCT and SR objects, as analyses of ``tumorboard run``.

Three kinds of analysis measure or import lesions (planned by
:mod:`tumorboard.workflow.analysis_runs`, one per source series):

* ``lesion_seg``: a DICOM SEG of lesions (not an exclusion SEG) drawn on a CT
  or MR series. Each segment is placed on the grid of the image series it
  references (:func:`tumorboard.imaging.label_maps.read_label_map`) and
  measured by :func:`tumorboard.lesions.diameters.measure_lesion_sizes`
  (longest in-plane diameter, short axis, 3-D diameter, volume); on CT also
  the mean and SD of HU (:func:`~tumorboard.lesions.diameters.measure_lesion_intensity`).
* ``lesion_rtstruct``: the same for the ROIs of an RTSTRUCT
  (:func:`tumorboard.imaging.rtstruct.read_rtstruct`). ROIs whose
  RTROIInterpretedType is a lesion (``GTV``) or not given are measured;
  organs, body outlines, planning volumes and markers are listed as skipped.
* ``lesion_sr``: the measurement groups of a TID 1500 Measurement Report
  (e.g. saved by OHIF, or written by ``tumorboard export``), read with
  highdicom: tracking identifier and UID, finding site, and the values whose
  concept and unit tumorboard knows (long axis, short axis, diameter, volume,
  SUV, SUL, mean HU, ADC; :data:`tumorboard.dicom_export.measurement_report.MEASUREMENTS`).
  Others are listed as skipped, never guessed.

The values are stored as :class:`~tumorboard.store.models.Measurement` rows
of the lesion whose tracking UID (when the object carries one) or label
equals the segment label, ROI name or tracking identifier, at the exam of the
image series, with source ``automatic`` (SEG, RTSTRUCT) or ``imported`` (SR),
the analysis id and author ``tumorboard run``.

What ``run`` never decides for the reader:

* a lesion ``run`` sees first is created as a **non-target** lesion: choosing
  targets is the reader's decision, never a segmentation's;
* ``run`` creates no read (role and status at an exam): its values enter the
  response only where a reader reads the lesion (``tumorboard lesion``,
  ``lesion import``), and there a reader's value always wins over ``run``'s
  (:func:`tumorboard.workflow.lesion_reads.current_measurements`); both are
  kept, and the timeline says which one the criteria used;
* a changed SEG, RTSTRUCT or SR series is measured again by a new analysis;
  the old analysis is marked ``superseded`` and its values are kept (for
  provenance) but no longer used.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tumorboard.errors import DicomError, InputError
from tumorboard.store.models import ChangeLogEntry, Lesion, Measurement
from tumorboard.workflow.lesion_reads import NUMBER_COLUMNS

__all__ = [
    "AUTHOR",
    "MEASUREMENT_KINDS",
    "NEW_LESION_ROLE",
    "SOURCE_OF_KIND",
    "SR_SOP_CLASSES",
    "ImageReferences",
    "measure_label_objects",
    "read_measurement_reports",
    "referenced_uids",
    "store_lesion_values",
    "value_text",
]

#: Author of every value ``run`` stores.
AUTHOR = "tumorboard run"

#: Role of a lesion first seen by ``run`` (targets are the reader's choice).
NEW_LESION_ROLE = "non-target"

#: Analysis kind -> Measurement source.
SOURCE_OF_KIND = {
    "lesion_seg": "automatic",
    "lesion_rtstruct": "automatic",
    "lesion_sr": "imported",
}

#: The analysis kinds of this module.
MEASUREMENT_KINDS = tuple(SOURCE_OF_KIND)

#: SR storage classes that can hold a TID 1500 Measurement Report (Enhanced,
#: Comprehensive and Comprehensive 3D SR); a dose SR or a key-object note is not one.
SR_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.88.22",
        "1.2.840.10008.5.1.4.1.1.88.33",
        "1.2.840.10008.5.1.4.1.1.88.34",
    }
)

#: RTROIInterpretedType values that are lesions (an empty type is taken as one).
LESION_ROI_TYPES = frozenset({"GTV", ""})

#: Units of quantities stored besides the measurement table's columns.
_EXTRA_UNITS = {"suv_peak": "g/mL", "mtv_ml": "mL"}

#: Significant digits kept of a measured value (the criteria compute exactly on the text).
SIGNIFICANT_DIGITS = 6

#: SR length and volume units -> (record unit, factor to it).
_SR_UNIT_FACTORS = {"mm": 1.0, "cm": 10.0, "ml": 1.0, "cm3": 1.0, "mm3": 1e-3, "l": 1e3}


@dataclass(frozen=True)
class ImageReferences:
    """What a SEG or RTSTRUCT says it was drawn on.

    Attributes
    ----------
    series_uids : frozenset of str
        Referenced image series.
    instance_uids : frozenset of str
        Referenced image instances (SOPInstanceUIDs), for objects that name no series.
    """

    series_uids: frozenset[str]
    instance_uids: frozenset[str]


def value_text(value: float) -> str:
    """The text a measured value is stored as (six significant digits).

    Examples
    --------
    >>> value_text(28.284271247461902), value_text(-12.0), value_text(0.02)
    ('28.2843', '-12', '0.02')
    """
    text = f"{value:.{SIGNIFICANT_DIGITS}g}"
    if "e" in text:  # the table's number syntax takes exponents, a reader prefers digits
        text = format(float(text), "f").rstrip("0").rstrip(".")
    return text


@functools.lru_cache(maxsize=1024)
def _stored_references(path_text: str, sha256: str) -> ImageReferences:
    del sha256  # part of the cache key only: the object store never changes a file
    return _read_references(Path(path_text))


def _read_references(path: Path) -> ImageReferences:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            dataset = _dcmread_header(path)
        except Exception as exc:  # pydicom raises many types for corrupt files
            raise DicomError(f"{path.name}: not a readable DICOM file ({exc})") from None
    series: set[str] = set()
    instances: set[str] = set()
    for item in dataset.get("ReferencedSeriesSequence", None) or []:
        series.add(str(item.get("SeriesInstanceUID", "")))
        for image in item.get("ReferencedInstanceSequence", None) or []:
            instances.add(str(image.get("ReferencedSOPInstanceUID", "")))
    for frame in dataset.get("ReferencedFrameOfReferenceSequence", None) or []:
        for study in frame.get("RTReferencedStudySequence", None) or []:
            for item in study.get("RTReferencedSeriesSequence", None) or []:
                series.add(str(item.get("SeriesInstanceUID", "")))
                for image in item.get("ContourImageSequence", None) or []:
                    instances.add(str(image.get("ReferencedSOPInstanceUID", "")))
    groups = list(dataset.get("SharedFunctionalGroupsSequence", None) or [])
    groups += list(dataset.get("PerFrameFunctionalGroupsSequence", None) or [])
    for group in groups:
        for derivation in group.get("DerivationImageSequence", None) or []:
            for image in derivation.get("SourceImageSequence", None) or []:
                instances.add(str(image.get("ReferencedSOPInstanceUID", "")))
    return ImageReferences(frozenset(series - {""}), frozenset(instances - {""}))


def referenced_uids(path: str | os.PathLike[str], sha256: str = "") -> ImageReferences:
    """The image series and instances a SEG or RTSTRUCT was drawn on (header only).

    Parameters
    ----------
    path : path-like
        The SEG or RTSTRUCT file.
    sha256 : str
        Its content digest, when known: a file of the object store is read once
        per process.

    Returns
    -------
    ImageReferences

    Raises
    ------
    DicomError
        If the file is not readable DICOM.

    Examples
    --------
    >>> import tempfile
    >>> from pydicom.dataset import Dataset, FileMetaDataset
    >>> ds = Dataset(); ds.file_meta = FileMetaDataset()
    >>> ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    >>> ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.66.4", "1.2.9"
    >>> item = Dataset(); item.SeriesInstanceUID = "1.2.3"
    >>> ds.ReferencedSeriesSequence = [item]
    >>> path = Path(tempfile.mkdtemp()) / "seg.dcm"
    >>> ds.save_as(path, enforce_file_format=True)
    >>> sorted(referenced_uids(path).series_uids)
    ['1.2.3']
    """
    if not sha256:
        return _read_references(Path(path))
    return _stored_references(str(path), sha256)


# ------------------------------------------------------------------ measuring
def measure_label_objects(
    kind: str,
    files: Sequence[Path],
    images: Mapping[str, Path],
    modalities: Mapping[str, str],
) -> dict[str, Any]:
    """Measure every lesion of the SEG or RTSTRUCT files on the images they reference.

    Parameters
    ----------
    kind : {"seg", "rtstruct"}
    files : sequence of Path
        The instances of one SEG or RTSTRUCT series.
    images : mapping of str to Path
        Series UID -> folder of that image series (CT or MR).
    modalities : mapping of str to str
        Series UID -> DICOM modality (``CT`` gets HU statistics).

    Returns
    -------
    dict
        ``lesions`` (each with ``name``, ``tracking_uid``, ``organ``,
        ``number``, ``image_series_uid``, ``voxel_count``, ``slice_index``
        and ``values``: record quantity -> value) and ``skipped`` (``name``,
        ``reason``). Where two instances name the same lesion, the later
        instance (ContentDate/Time, then InstanceNumber) wins.

    Raises
    ------
    InputError
        A file that is not of its kind, references none of ``images``, or
        does not fit the image grid (one line naming the file and the rule).
    """
    from tumorboard.imaging.dicom_volume import read_series_volume

    grids: dict[str, Any] = {}
    found: dict[str, tuple[tuple[str, int], dict[str, Any]]] = {}
    skipped: list[dict[str, str]] = []
    for path in files:
        header = _header(path, kind)
        uid = _image_of(path, kind, images)
        if uid not in grids:
            grids[uid] = read_series_volume(images[uid], what=f"{modalities[uid]} image series")
        grid = grids[uid]
        order = (
            f"{header.get('ContentDate', '')}{header.get('ContentTime', '')}",
            int(header.get("InstanceNumber", 0) or 0),
        )
        if kind == "seg":
            lesions, skip = _measure_seg(path, header, grid, modalities[uid])
        else:
            lesions, skip = _measure_rtstruct(path, header, grid, modalities[uid])
        skipped.extend(skip)
        for lesion in lesions:
            lesion["image_series_uid"] = uid
            earlier = found.get(lesion["name"])
            if earlier is None or earlier[0] <= order:
                found[lesion["name"]] = (order, lesion)
    return {
        "lesions": [found[name][1] for name in sorted(found)],
        "skipped": skipped,
    }


def _header(path: Path, kind: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            dataset = _dcmread_header(path)
        except Exception as exc:  # pydicom raises many types for corrupt files
            raise DicomError(
                f"{kind.upper()} {path.name}: not a readable DICOM file ({exc})"
            ) from None
    expected = "SEG" if kind == "seg" else "RTSTRUCT"
    modality = str(dataset.get("Modality", ""))
    if modality != expected:
        raise DicomError(
            f"{kind.upper()} {path.name}: Modality is {modality!r}, expected {expected!r}"
        )
    return dataset


def _image_of(path: Path, kind: str, images: Mapping[str, Path]) -> str:
    references = referenced_uids(path)
    named = [uid for uid in images if uid in references.series_uids]
    if len(named) == 1:
        return named[0]
    if not references.series_uids and len(images) == 1:
        return next(iter(images))
    raise InputError(
        f"{kind.upper()} {path.name}: references {len(references.series_uids)} image series, "
        f"none of them one CT or MR series of the record"
    )


def _size_values(size: Any) -> dict[str, float]:
    return {
        "longest_diameter_mm": size.longest_diameter_mm,
        "short_axis_mm": size.short_axis_mm,
        "longest_diameter_3d_mm": size.longest_diameter_3d_mm,
        "volume_ml": size.volume_ml,
    }


def _hu_values(grid: Any, labels: Any, label: int) -> dict[str, float]:
    from tumorboard.lesions.diameters import measure_lesion_intensity

    intensity = measure_lesion_intensity(grid, labels, label)
    return {"mean_hu": intensity.mean, "hu_sd": intensity.sd}


def _measure_seg(
    path: Path, header: Any, grid: Any, modality: str
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    from tumorboard.imaging.label_maps import read_label_map
    from tumorboard.lesions.diameters import measure_lesion_sizes

    labels = read_label_map(
        path,
        reference=grid,
        what=f"lesion SEG {path.name}",
        reference_name=f"the {modality} series",
    )
    segments = {}
    for item in header.get("SegmentSequence", None) or []:
        number = int(item.SegmentNumber)
        name = " ".join(str(item.get("SegmentLabel", "") or "").split())[:64] or f"segment {number}"
        organ = None
        for region in item.get("AnatomicRegionSequence", None) or []:
            organ = str(region.get("CodeMeaning", "") or "").lower()[:64] or None
        segments[number] = (name, str(item.get("TrackingUID", "") or "") or None, organ)
    sizes = (
        {size.label: size for size in measure_lesion_sizes(labels)} if labels.array.any() else {}
    )
    lesions: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for number, (name, tracking_uid, organ) in sorted(segments.items()):
        size = sizes.get(number)
        if size is None:
            skipped.append(
                {
                    "name": name,
                    "reason": "no voxel on the image grid (empty, or covered by a later segment)",
                }
            )
            continue
        values = _size_values(size)
        if modality == "CT":
            values.update(_hu_values(grid, labels, number))
        lesions.append(
            {
                "name": name,
                "tracking_uid": tracking_uid,
                "organ": organ,
                "number": number,
                "voxel_count": size.voxel_count,
                "slice_index": size.slice_index,
                "values": values,
            }
        )
    return lesions, skipped


def _measure_rtstruct(
    path: Path, header: Any, grid: Any, modality: str
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    from tumorboard.imaging.rtstruct import read_rtstruct
    from tumorboard.lesions.diameters import measure_lesion_sizes

    kinds = {
        int(item.get("ReferencedROINumber", -1)): str(
            item.get("RTROIInterpretedType", "") or ""
        ).upper()
        for item in header.get("RTROIObservationsSequence", None) or []
    }
    with_contours = {
        int(item.get("ReferencedROINumber", -1))
        for item in header.get("ROIContourSequence", None) or []
        if item.get("ContourSequence", None)
    }
    wanted: list[str] = []
    skipped: list[dict[str, str]] = []
    for item in header.get("StructureSetROISequence", None) or []:
        number = int(item.ROINumber)
        name = " ".join(str(item.get("ROIName", "") or "").split())[:64] or f"ROI {number}"
        interpreted = kinds.get(number, "")
        if number not in with_contours:
            skipped.append({"name": name, "reason": "no contours"})
        elif interpreted not in LESION_ROI_TYPES:
            skipped.append(
                {"name": name, "reason": f"RTROIInterpretedType {interpreted} is not a lesion"}
            )
        else:
            wanted.append(str(item.get("ROIName", "")))
    if not wanted:
        return [], skipped
    lesions: list[dict[str, Any]] = []
    import numpy as np

    for roi in read_rtstruct(path, grid, roi_names=wanted):
        labels = roi.mask.with_array(np.asarray(roi.mask.array, dtype=np.uint8), unit="label")
        (size,) = measure_lesion_sizes(labels)
        values = _size_values(size)
        if modality == "CT":
            values.update(_hu_values(grid, labels, 1))
        lesions.append(
            {
                "name": " ".join(roi.name.split())[:64] or f"ROI {roi.number}",
                "tracking_uid": None,
                "organ": None,
                "number": roi.number,
                "voxel_count": size.voxel_count,
                "slice_index": size.slice_index,
                "values": values,
            }
        )
    return lesions, skipped


# ------------------------------------------------------------------ SR import
#: The Imaging Measurement Report document title (TID 1500).
_REPORT_TITLE = ("126000", "DCM")


@functools.cache
def _sr_quantities() -> dict[tuple[tuple[str, str], str, tuple[str, str] | None], str]:
    """(concept, unit, derivation) -> record quantity, from the export's own table."""
    from tumorboard.dicom_export.measurement_report import MEASUREMENTS

    table: dict[tuple[tuple[str, str], str, tuple[str, str] | None], str] = {}
    for quantity, (name, unit, derivation) in MEASUREMENTS.items():
        if quantity == "total_diffusion_volume_ml":
            continue  # same codes as a lesion's volume; the tumour load is not a lesion
        key = (
            (name.value, name.scheme_designator),
            _unit_family(unit.value),
            None if derivation is None else (derivation.value, derivation.scheme_designator),
        )
        table[key] = quantity
    return table


def _unit_family(unit: str) -> str:
    """A length or volume unit -> the record's (mm, ml); other units as they are."""
    text = unit.strip()
    if text.lower() in ("mm", "cm"):
        return "mm"
    if text.lower() in ("ml", "cm3", "mm3", "l"):
        return "ml"
    return text


def _code(concept: Any) -> tuple[str, str]:
    return (str(concept.value), str(concept.scheme_designator))


def read_measurement_reports(files: Sequence[Path]) -> dict[str, Any]:
    """Read the measurement groups of TID 1500 SR files into lesion values.

    Parameters
    ----------
    files : sequence of Path
        The instances of one SR series.

    Returns
    -------
    dict
        ``lesions`` (each with ``name`` = tracking identifier, ``tracking_uid``,
        ``organ`` = finding site, ``values``), ``skipped`` (groups and values
        not imported, with the reason) and ``reports`` (how many of the files
        are Measurement Reports; another SR, e.g. a dose report, holds none).
        Groups of one tracking UID (or identifier) are merged; a later file
        (ContentDate/Time, then InstanceNumber) wins for the same quantity.

    Raises
    ------
    InputError
        A file that highdicom cannot parse as an SR (one line naming it).
    """
    import highdicom as hd

    table = _sr_quantities()
    documents = []
    for path in files:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                document = hd.sr.srread(path)
            except Exception as exc:  # highdicom and pydicom raise many types
                reason = " ".join(str(exc).split())[:160] or type(exc).__name__
                raise DicomError(
                    f"SR {path.name}: not a readable structured report ({reason})"
                ) from None
        order = (
            f"{document.get('ContentDate', '')}{document.get('ContentTime', '')}",
            int(document.get("InstanceNumber", 0) or 0),
        )
        documents.append((order, path, document))
    documents.sort(key=lambda item: item[0])
    lesions: dict[str, dict[str, Any]] = {}
    skipped: list[dict[str, str]] = []
    reports = 0
    for _, path, document in documents:
        title = document.get("ConceptNameCodeSequence", None)
        if (
            not title
            or (str(title[0].CodeValue), str(title[0].CodingSchemeDesignator)) != _REPORT_TITLE
        ):
            continue
        reports += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                content: Any = document.content
                groups = [
                    *content.get_image_measurement_groups(),
                    *content.get_planar_roi_measurement_groups(),
                    *content.get_volumetric_roi_measurement_groups(),
                ]
        except Exception as exc:  # malformed content tree
            reason = " ".join(str(exc).split())[:160] or type(exc).__name__
            raise DicomError(f"SR {path.name}: malformed measurement report ({reason})") from None
        for group in groups:
            _read_group(group, table, lesions, skipped)
    return {
        "lesions": [lesions[key] for key in sorted(lesions)],
        "skipped": skipped,
        "reports": reports,
    }


def _read_group(
    group: Any,
    table: Mapping[tuple[tuple[str, str], str, tuple[str, str] | None], str],
    lesions: dict[str, dict[str, Any]],
    skipped: list[dict[str, str]],
) -> None:
    tracking_uid = str(group.tracking_uid or "") or None
    identifier = " ".join(str(group.tracking_identifier or "").split())[:64]
    sites = [site for site in (group.finding_sites or [])]
    organ = str(sites[0].value.meaning).lower()[:64] if sites else None
    name = identifier or tracking_uid or ""
    if not name:
        skipped.append({"name": "", "reason": "measurement group without a tracking identifier"})
        return
    if organ == "entire body":
        skipped.append({"name": name, "reason": "a whole-body finding (tumour load), not a lesion"})
        return
    values: dict[str, float] = {}
    for measurement in group.get_measurements():
        unit = str(measurement.unit.value)
        derivation = measurement.derivation
        key = (
            _code(measurement.name),
            _unit_family(unit),
            None if derivation is None else _code(derivation),
        )
        quantity = table.get(key)
        value = float(measurement.value)
        if quantity is None or not math.isfinite(value):
            why = (
                "not finite"
                if quantity is not None
                else "a concept and unit tumorboard does not import"
            )
            skipped.append({"name": name, "reason": f"{measurement.name.meaning} [{unit}]: {why}"})
            continue
        values[quantity] = value * _SR_UNIT_FACTORS.get(unit.strip().lower(), 1.0)
    if not values:
        return
    entry = lesions.setdefault(
        tracking_uid or name,
        {"name": name, "tracking_uid": tracking_uid, "organ": organ, "values": {}},
    )
    entry["values"].update(values)


# ------------------------------------------------------------------ the record
def _unit(quantity: str) -> str:
    return NUMBER_COLUMNS.get(quantity) or _EXTRA_UNITS.get(quantity, "1")


def store_lesion_values(
    session: Session,
    *,
    analysis_id: int,
    patient_id: int,
    exam_id: int,
    source: str,
    lesions: Sequence[Mapping[str, Any]],
) -> dict[str, int]:
    """Store each lesion's values as Measurement rows of the analysis.

    A lesion is the patient's lesion with the entry's tracking UID, else the
    one whose label is the entry's ``name``; a lesion seen for the first time
    is created as a non-target lesion (:data:`NEW_LESION_ROLE`; the creation
    is change-logged with author ``tumorboard run``). No read is created or
    changed, and no stored value is touched: the values are new rows.

    Parameters
    ----------
    session : Session
    analysis_id, patient_id, exam_id : int
    source : {"automatic", "imported"}
    lesions : sequence of mapping
        ``name``, ``tracking_uid`` (or None), ``organ`` (or None), ``values``.

    Returns
    -------
    dict
        ``lesions_created`` and ``values``.
    """
    existing = list(session.scalars(select(Lesion).where(Lesion.patient_id == patient_id)))
    by_uid = {lesion.tracking_uid: lesion for lesion in existing}
    by_label = {lesion.label: lesion for lesion in existing}
    created = stored = 0
    for entry in lesions:
        uid = entry.get("tracking_uid")
        lesion = (by_uid.get(uid) if uid else None) or by_label.get(str(entry["name"]))
        if lesion is None:
            taken = uid and session.scalar(select(Lesion.id).where(Lesion.tracking_uid == uid))
            lesion = Lesion(
                patient_id=patient_id,
                tracking_uid=uid if uid and not taken else _new_uid(),
                label=str(entry["name"]),
                organ=entry.get("organ"),
                is_node=False,
                role=NEW_LESION_ROLE,
                status="active",
            )
            session.add(lesion)
            session.flush()
            for name in ("label", "organ", "role"):
                value = getattr(lesion, name)
                if value is not None:
                    session.add(
                        ChangeLogEntry(
                            table_name="lesions",
                            row_id=lesion.id,
                            field=name,
                            old_value=None,
                            new_value=str(value),
                            author=AUTHOR,
                        )
                    )
            by_uid[lesion.tracking_uid] = lesion
            by_label[lesion.label] = lesion
            created += 1
        for quantity, value in sorted(entry["values"].items()):
            text = value_text(float(value))
            session.add(
                Measurement(
                    lesion_id=lesion.id,
                    exam_id=exam_id,
                    quantity=quantity,
                    value=float(text),
                    value_text=text,
                    unit=_unit(quantity),
                    source=source,
                    analysis_id=analysis_id,
                    author=AUTHOR,
                )
            )
            stored += 1
    return {"lesions_created": created, "values": stored}


def _dcmread_header(path: Path) -> Any:
    """The header of a DICOM object (pydicom is imported on first use, not by planning)."""
    import pydicom

    return pydicom.dcmread(path, stop_before_pixels=True)


def _new_uid() -> str:
    from pydicom.uid import generate_uid

    return str(generate_uid())
