from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from tumorboard.errors import InputError
from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.volume import Volume
from tumorboard.pipeline import demo_reference
from tumorboard.report.dicom_sr import (
    build_measurement_report,
    tracking_uid,
    write_measurement_report,
)


def ct_headers(folder: Path, seed: int) -> list[pydicom.Dataset]:
    volume = Volume(np.zeros((3, 8, 8), dtype=np.float32), (5.0, 1.0, 1.0), unit="HU")
    study = {"PatientID": "SYNTH-1", "PatientName": "SYNTH^ONE"}
    paths = write_dicom_series(
        volume,
        folder,
        modality="CT",
        series_description="ct",
        series_number=1,
        study=study,
        seed=seed,
    )
    return [pydicom.dcmread(p, stop_before_pixels=True) for p in paths]


def tracking_uids(dataset: pydicom.Dataset) -> list[str]:
    """UIDs of every 'Tracking Unique Identifier' (DCM 112040) content item."""
    found = []
    for item in getattr(dataset, "ContentSequence", []):
        if item.ValueType == "UIDREF" and item.ConceptNameCodeSequence[0].CodeValue == "112040":
            found.append(str(item.UID))
        found.extend(tracking_uids(item))
    return found


def test_sr_tracking_uids_are_stable_across_timepoints(tmp_path: Path) -> None:
    series = demo_reference.reference_series()
    uids = []
    for index in (0, 1):
        headers = ct_headers(tmp_path / f"tp{index}", seed=index)
        document = build_measurement_report("SYNTH-1", series.timepoints[index], headers)
        path = write_measurement_report(document, tmp_path / f"sr{index}.dcm")
        back = pydicom.dcmread(path)
        assert back.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
        assert back.PatientID == "SYNTH-1"
        text = str(back)
        assert "Long axis" in text and "Short axis" in text
        uids.append(sorted(tracking_uids(back)))
    assert uids[0] == uids[1]
    assert tracking_uid("SYNTH-1", "L1") in uids[0]
    assert tracking_uid("SYNTH-1", "L1") != tracking_uid("SYNTH-2", "L1")


def test_sr_needs_source_images() -> None:
    series = demo_reference.reference_series()
    with pytest.raises(InputError, match="needs the source images"):
        build_measurement_report("x", series.timepoints[0], [])


def _procedures(dataset: pydicom.Dataset) -> list[str]:
    """Codes of the SR's 'Procedure reported' (DCM 121058) items."""
    return [
        str(item.ConceptCodeSequence[0].CodeValue)
        for item in dataset.ContentSequence
        if item.ConceptNameCodeSequence[0].CodeValue == "121058"
    ]


@pytest.mark.parametrize(
    ("modality", "read_as", "expected"),
    [
        ("CT", "ct", "CTUnspecifiedBodyRegion"),
        ("MR", "mr", "MRIUnspecifiedBodyRegion"),
        ("PT", "pet-fdg", "PETCTFDGImagingOfWholeBody"),
        ("PT", "pet-dotatate", "PETWholeBody"),
    ],
)
def test_sr_reports_the_procedure_of_the_measured_images(
    tmp_path: Path, modality: str, read_as: str, expected: str
) -> None:
    from dataclasses import replace

    from pydicom.sr.codedict import codes

    volume = Volume(np.zeros((3, 8, 8), dtype=np.float32), (5.0, 1.0, 1.0))
    paths = write_dicom_series(
        volume,
        tmp_path,
        modality=modality,
        series_description="measured",
        series_number=1,
        study={"PatientID": "SYNTH-1", "PatientName": "SYNTH^ONE"},
    )
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in paths]
    timepoint = demo_reference.reference_series().timepoints[0]
    timepoint = replace(
        timepoint,
        measurements=tuple(replace(m, modality=read_as) for m in timepoint.measurements),
    )
    document = build_measurement_report("SYNTH-1", timepoint, headers)
    assert _procedures(document) == [getattr(codes.cid100, expected).value]
