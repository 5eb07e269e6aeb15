"""The DICOM objects of :mod:`tumorboard.dicom_export` on a small synthetic series.

Truth comes from the generating parameters (grid origin, spacing, box, map
values), never from the code under test. Every written file must pass
``dciodvfy`` (dicom3tools; ``scripts/install_test_dependencies.sh``
installs it) without an error line.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

from tumorboard.dicom_export import (
    QUANTITIES,
    Finding,
    PetLesion,
    SegmentReference,
    SourceImages,
    build_measurement_report,
    encapsulated_pdf,
    finding_site,
    parametric_map,
    pet_lesion_segmentation,
    procedure_codes,
    secondary_capture,
    wbdwi_class_segmentation,
    write_object,
)
from tumorboard.errors import InputError
from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.volume import Volume

SHAPE = (5, 8, 7)
SPACING = (4.0, 1.5, 2.0)  # z, y, x mm
ORIGIN = (10.0, -20.0, 30.0)  # LPS of the first voxel
BOX = ((1, 4), (2, 6), (3, 5))  # lesion slices, rows, columns
WHEN = dt.datetime(2024, 1, 8, 9, 30, tzinfo=dt.UTC)


def dciodvfy_errors(path: Path) -> list[str]:
    """The error lines of dciodvfy on ``path`` (fails clearly when it is missing)."""
    binary = shutil.which("dciodvfy")
    if binary is None:
        pytest.fail("dciodvfy is missing: run scripts/install_test_dependencies.sh (dicom3tools)")
    done = subprocess.run([binary, str(path)], capture_output=True, text=True, check=False)
    lines = (done.stdout + done.stderr).splitlines()
    return [line for line in lines if line.startswith("Error")]


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> SourceImages:
    folder = tmp_path_factory.mktemp("mr")
    grid = Volume(np.ones(SHAPE, np.float32) * 100, spacing_mm=SPACING, origin_mm=ORIGIN)
    study = {
        "patient_name": "Doe^Jane",
        "patient_id": "MRN-77",
        "patient_birth_date": "19600101",
        "patient_sex": "F",
        "study_date": "20240108",
        "study_time": "090000",
        "study_instance_uid": "1.2.826.0.1.99.8.1",
    }
    files = write_dicom_series(
        grid, folder, modality="MR", series_description="b50", series_number=1, study=study
    )
    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    return SourceImages(tuple(sorted(headers, key=lambda d: str(d.SOPInstanceUID))))


def _grid(array: np.ndarray) -> Volume:
    return Volume(array, spacing_mm=SPACING, origin_mm=ORIGIN)


def _box() -> np.ndarray:
    mask = np.zeros(SHAPE, bool)
    (z0, z1), (y0, y1), (x0, x1) = BOX
    mask[z0:z1, y0:y1, x0:x1] = True
    return mask


def _expected_position(k: int) -> list[float]:
    return [ORIGIN[0], ORIGIN[1], ORIGIN[2] + k * SPACING[0]]


def test_wbdwi_seg_overlays_the_source_and_passes_dciodvfy(sources, tmp_path: Path) -> None:
    classes = np.zeros(SHAPE, np.uint8)
    classes[_box()] = 1  # red
    classes[1, 2, 3] = 3  # one green voxel inside the box
    seg = wbdwi_class_segmentation(
        _grid(classes), sources, key="k", tracking_key="patient", when=WHEN
    )
    path = write_object(seg, tmp_path, "seg")
    assert dciodvfy_errors(path) == []
    back = hd.seg.segread(path)
    assert [int(s.SegmentNumber) for s in back.SegmentSequence] == [1, 2, 3, 4]
    assert str(back.SegmentSequence[1].SegmentLabel).startswith("WB-DWI green")
    referenced = {str(s.SeriesInstanceUID) for s in back.ReferencedSeriesSequence}
    assert referenced == {str(sources.primary[0].SeriesInstanceUID)}
    # every frame lies on a source slice; segment 1 is exactly the generating box
    shared = back.SharedFunctionalGroupsSequence[0]
    assert [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing] == [1.5, 2.0]
    assert [float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient] == [
        1.0,
        0.0,
        0.0,
        0.0,
        1.0,
        0.0,
    ]
    rebuilt = np.zeros((*SHAPE, 4), bool)
    for frame, group in zip(back.pixel_array, back.PerFrameFunctionalGroupsSequence, strict=True):
        position = [float(v) for v in group.PlanePositionSequence[0].ImagePositionPatient]
        k = round((position[2] - ORIGIN[2]) / SPACING[0])
        assert position == pytest.approx(_expected_position(k), abs=1e-6)
        number = int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        rebuilt[k, :, :, number - 1] = frame.astype(bool)
    assert np.array_equal(rebuilt[..., 0], _box())
    assert np.argwhere(rebuilt[..., 1]).tolist() == [[1, 2, 3]]  # green
    assert int(rebuilt[..., 3].sum()) == int(_box().sum()) - 1  # red


def test_parametric_map_keeps_the_values_and_units(sources, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    adc = (800.0 + 400.0 * rng.random(SHAPE)).astype(np.float32)
    pm = parametric_map(_grid(adc), QUANTITIES["adc"], sources, key="k", when=WHEN)
    path = write_object(pm, tmp_path, "adc")
    assert dciodvfy_errors(path) == []
    back = pydicom.dcmread(path)
    assert back.SOPClassUID == hd.pm.ParametricMap.__init__.__globals__.get(
        "ParametricMapStorage", "1.2.840.10008.5.1.4.1.1.30"
    )
    mapping = back.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence[0]
    unit = mapping.MeasurementUnitsCodeSequence[0]
    assert (unit.CodeValue, unit.CodingSchemeDesignator) == ("um2/s", "UCUM")
    assert (float(mapping.RealWorldValueSlope), float(mapping.RealWorldValueIntercept)) == (1, 0)
    frames = back.pixel_array.astype(np.float32)
    z = [
        round((float(f.PlanePositionSequence[0].ImagePositionPatient[2]) - ORIGIN[2]) / SPACING[0])
        for f in back.PerFrameFunctionalGroupsSequence
    ]
    assert np.array_equal(frames, adc[z])  # float32 exactly
    suv = parametric_map(
        _grid(np.full(SHAPE, 2.5, np.float32)), QUANTITIES["suvbw"], sources, key="k", when=WHEN
    )
    unit = suv.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence[0]
    assert unit.MeasurementUnitsCodeSequence[0].CodeValue == "{SUVbw}g/ml"


def test_pet_lesion_seg_and_sr_reference_each_other(sources, tmp_path: Path) -> None:
    labels = np.zeros(SHAPE, np.uint16)
    labels[_box()] = 4
    seg = pet_lesion_segmentation(
        _grid(labels), [PetLesion(4, "L1", "1.2.826.0.1.99.8.55")], sources, key="k", when=WHEN
    )
    finding = Finding(
        "1.2.826.0.1.99.8.55",
        "L1",
        (("suv_max", 7.25), ("sul_peak", 4.5)),
        finding_site("liver"),
        segment=SegmentReference(seg, 1),
    )
    read = Finding("1.2.826.0.1.99.8.56", "L2", (("longest_diameter_mm", 50.0),))
    sr = build_measurement_report(
        [finding, read],
        [*sources.all, seg],
        procedure_codes(["PT"], whole_body_dwi=False, fdg=True),
        time_point="baseline",
        key="k",
        when=WHEN,
    )
    paths = [write_object(seg, tmp_path, "seg"), write_object(sr, tmp_path, "sr")]
    for path in paths:
        assert dciodvfy_errors(path) == [], path.name
    report = hd.sr.srread(paths[1])
    procedures = [
        str(item.ConceptCodeSequence[0].CodeValue)
        for item in report.ContentSequence
        if item.ConceptNameCodeSequence[0].CodeValue == "121058"  # Procedure reported
    ]
    assert procedures == ["443271005"]  # PET/CT FDG imaging of whole body
    (volumetric,) = report.content.get_volumetric_roi_measurement_groups()
    assert volumetric.tracking_uid == "1.2.826.0.1.99.8.55"
    segment = volumetric.referenced_segment
    assert (segment.referenced_sop_instance_uid, segment.referenced_segment_numbers) == (
        str(seg.SOPInstanceUID),
        [1],
    )
    values = {(m.name.value, m.unit.value): float(m.value) for m in volumetric.get_measurements()}
    assert values == {("126400", "{SUVbw}g/ml"): 7.25, ("126400", "{SUVlbm}g/ml"): 4.5}
    assert volumetric.finding_sites[0].value.value == codes.SCT.Liver.value
    evidence = {
        str(i.ReferencedSOPInstanceUID)
        for s in report.CurrentRequestedProcedureEvidenceSequence
        for series in s.ReferencedSeriesSequence
        for i in series.ReferencedSOPSequence
    }
    assert {str(d.SOPInstanceUID) for d in sources.all} <= evidence


def test_same_content_same_bytes_other_content_other_uid(sources, tmp_path: Path) -> None:
    classes = np.zeros(SHAPE, np.uint8)
    classes[_box()] = 2
    first = wbdwi_class_segmentation(_grid(classes), sources, key="k", tracking_key="p", when=WHEN)
    again = wbdwi_class_segmentation(_grid(classes), sources, key="k", tracking_key="p", when=WHEN)
    a, b = write_object(first, tmp_path / "a", "s"), write_object(again, tmp_path / "b", "s")
    assert a.read_bytes() == b.read_bytes()
    classes[0, 0, 0] = 1
    other = wbdwi_class_segmentation(_grid(classes), sources, key="k", tracking_key="p", when=WHEN)
    assert other.SOPInstanceUID != first.SOPInstanceUID
    assert other.SegmentSequence[0].TrackingUID == first.SegmentSequence[0].TrackingUID


#: A tiny PDF of odd length (the object pads it to an even length).
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def test_encapsulated_pdf_carries_the_document_in_the_study(
    sources: SourceImages, tmp_path: Path
) -> None:
    assert len(PDF) % 2 == 1
    image = sources.primary[0]
    first = encapsulated_pdf(PDF, image, title="tumorboard case report form", when=WHEN)
    path = write_object(first, tmp_path, "pdf")
    assert dciodvfy_errors(path) == []
    back = pydicom.dcmread(path)
    assert back.SOPClassUID == "1.2.840.10008.5.1.4.1.1.104.1"
    assert bytes(back.EncapsulatedDocument)[: int(back.EncapsulatedDocumentLength)] == PDF
    assert int(back.EncapsulatedDocumentLength) == len(PDF)
    for keyword in ("PatientID", "PatientName", "PatientBirthDate", "StudyInstanceUID"):
        assert back[keyword].value == image[keyword].value, keyword
    assert (back.ContentDate, back.ContentTime) == ("20240108", "093000")
    again = encapsulated_pdf(PDF, image, title="tumorboard case report form", when=WHEN)
    assert again.SOPInstanceUID == first.SOPInstanceUID  # the same document, the same object
    second = encapsulated_pdf(PDF, image, title="tumorboard case report form", when=WHEN, version=2)
    assert second.SeriesInstanceUID != first.SeriesInstanceUID
    assert second.SOPInstanceUID != first.SOPInstanceUID
    assert second.SeriesDescription == "tumorboard case report form v2, replaces v1"
    with pytest.raises(InputError, match="not a PDF"):
        encapsulated_pdf(b"<html>", image, title="x", when=WHEN)


def test_secondary_capture_keeps_the_picture_and_references_its_sources(
    sources: SourceImages, tmp_path: Path
) -> None:
    picture = np.zeros((30, 20, 3), np.uint8)
    picture[5:10, 2:8] = (220, 30, 40)  # a red patch at known pixels
    picture[20, 15] = (1, 2, 3)
    sc = secondary_capture(
        picture,
        sources.primary,
        key="k",
        when=WHEN,
        description="tumorboard WB-DWI coronal MIP",
        burned_in_annotation=False,
    )
    path = write_object(sc, tmp_path, "sc")
    assert dciodvfy_errors(path) == []
    back = pydicom.dcmread(path)
    assert np.array_equal(back.pixel_array, picture)
    assert back.StudyInstanceUID == sources.primary[0].StudyInstanceUID
    assert back.BurnedInAnnotation == "NO" and back.ConversionType == "WSD"
    referenced = {str(item.ReferencedSOPInstanceUID) for item in back.SourceImageSequence}
    assert referenced == {str(d.SOPInstanceUID) for d in sources.primary}
    assert (back.DateOfSecondaryCapture, back.TimeOfSecondaryCapture) == ("20240108", "093000")
    changed = picture.copy()
    changed[0, 0] = (9, 9, 9)
    other = secondary_capture(
        changed, sources.primary, key="k", when=WHEN, description="d", burned_in_annotation=True
    )
    assert other.SOPInstanceUID != sc.SOPInstanceUID  # other pixels, another object
    v2 = secondary_capture(
        picture, sources.primary, key="k", when=WHEN, description="d", burned_in_annotation=True,
        version=2,
    )  # fmt: skip
    assert v2.SeriesInstanceUID != sc.SeriesInstanceUID
    assert str(v2.SeriesDescription) == "d v2, replaces v1"
    with pytest.raises(InputError, match="RGB picture"):
        secondary_capture(
            picture[..., 0], sources.primary, key="k", when=WHEN, description="d",
            burned_in_annotation=True,
        )  # fmt: skip
