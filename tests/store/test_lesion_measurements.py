"""``tumorboard run`` measures lesion SEGs and RTSTRUCTs and imports TID 1500 SRs.

Truth comes from the generating parameters of the phantom below, never from
tumorboard's own science: a CT series (10 x 32 x 32 voxels of 4 x 1.5 x 1 mm)
holds two boxes of known HU in a uniform background. The measurement rules
are the owner's (:mod:`tumorboard.lesions.diameters`, corner-based): a box of
in-plane extent a x b mm has the longest in-plane diameter sqrt(a^2 + b^2)
(its diagonal), the short axis -- the longest chord perpendicular to that
diagonal -- min(a, b) * sqrt(a^2 + b^2) / max(a, b) (through its centre), the
3-D longest diameter sqrt(a^2 + b^2 + c^2), and the volume voxels x 6 mm^3.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from sqlalchemy import func, select

from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.label_maps import write_dicom_seg
from tumorboard.imaging.volume import Volume
from tumorboard.store import init_workspace
from tumorboard.store.models import Analysis, Exam, Lesion, Measurement, Patient
from tumorboard.workflow import import_paths
from tumorboard.workflow.analysis_runs import run_analyses
from tumorboard.workflow.lesion_reads import import_reads_csv, measurement_rows
from tumorboard.workflow.timeline import patient_timeline

PATIENT = "CT-001"
SHAPE = (10, 32, 32)
SPACING_MM = (4.0, 1.5, 1.0)  # z, y, x
VOXEL_MM3 = 4.0 * 1.5 * 1.0
BACKGROUND_HU = -100
#: name -> (slices z0:z1, rows y0:y1, columns x0:x1, HU)
BOXES: dict[str, tuple[tuple[int, int], tuple[int, int], tuple[int, int], int]] = {
    "L1": ((2, 7), (8, 20), (6, 30), 45),  # 5 x 12 x 24 voxels: 20 x 18 x 24 mm
    "L2": ((3, 5), (24, 28), (4, 10), 80),  # 2 x 4 x 6 voxels: 8 x 6 x 6 mm
}
#: A changed L1 (the reader's SEG redrawn smaller): 5 x 8 x 16 voxels.
SMALLER_L1 = ((2, 7), (10, 18), (10, 26), 45)


def box_truth(box: tuple[tuple[int, int], tuple[int, int], tuple[int, int], int]) -> dict:
    """Expected values of a box, from its generating extent only."""
    (z0, z1), (y0, y1), (x0, x1), hu = box
    c, b, a = (z1 - z0) * SPACING_MM[0], (y1 - y0) * SPACING_MM[1], (x1 - x0) * SPACING_MM[2]
    diagonal = math.hypot(a, b)
    return {
        "longest_diameter_mm": diagonal,
        "short_axis_mm": min(a, b) * diagonal / max(a, b),
        "longest_diameter_3d_mm": math.sqrt(a * a + b * b + c * c),
        "volume_ml": (z1 - z0) * (y1 - y0) * (x1 - x0) * VOXEL_MM3 / 1000.0,
        "mean_hu": float(hu),
        "hu_sd": 0.0,
    }


def study(date: str = "20240108", patient: str = PATIENT) -> dict[str, str]:
    return {
        "patient_name": "Test^Lesion",
        "patient_id": patient,
        "patient_birth_date": "19580101",
        "patient_sex": "M",
        "study_date": date,
        "study_time": "100000",
        "series_date": date,
        "study_instance_uid": f"1.2.826.0.1.99.8.{date}.{len(patient)}",
        "study_description": "CT abdomen",
    }


def write_ct(root: Path, date: str = "20240108", boxes: dict | None = None) -> list[Path]:
    """The CT series with the boxes burnt in (HU as stored integers)."""
    array = np.full(SHAPE, BACKGROUND_HU, dtype=np.float32)
    for (z0, z1), (y0, y1), (x0, x1), hu in (boxes or BOXES).values():
        array[z0:z1, y0:y1, x0:x1] = hu
    volume = Volume(array=array, spacing_mm=SPACING_MM, origin_mm=(-20.0, -30.0, 100.0))
    return write_dicom_series(
        volume,
        root / "ct",
        modality="CT",
        series_description="CT portal venous",
        series_number=2,
        study=study(date),
        dtype="int16",
        seed=f"ct-{date}",
    )


def ct_grid() -> Volume:
    return Volume(
        array=np.zeros(SHAPE, dtype=np.uint8),
        spacing_mm=SPACING_MM,
        origin_mm=(-20.0, -30.0, 100.0),
    )


def write_seg(
    ct_files: list[Path], target: Path, boxes: dict, *, description: str = "lesions"
) -> Path:
    labels = np.zeros(SHAPE, dtype=np.uint8)
    names = {}
    for number, (name, ((z0, z1), (y0, y1), (x0, x1), _)) in enumerate(boxes.items(), start=1):
        labels[z0:z1, y0:y1, x0:x1] = number
        names[number] = name
    target.mkdir(parents=True, exist_ok=True)
    return write_dicom_seg(
        ct_grid().with_array(labels),
        ct_files,
        target / "seg.dcm",
        names,
        series_description=description,
    )


def _square(x0: float, x1: float, y0: float, y1: float, z: float) -> list[float]:
    return [x0, y0, z, x1, y0, z, x1, y1, z, x0, y1, z]


def write_rtstruct(ct_files: list[Path], target: Path) -> Path:
    """An RTSTRUCT on the CT: L1 (GTV) outlined through its edge voxels' centres, a liver ORGAN."""
    ct = pydicom.dcmread(ct_files[0], stop_before_pixels=True)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.481.3"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.481.3"
    ds.SOPInstanceUID = generate_uid(entropy_srcs=["rtstruct", str(target)])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.Modality = "RTSTRUCT"
    for keyword in (
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "StudyDate",
        "StudyTime",
        "StudyID",
        "FrameOfReferenceUID",
    ):
        if keyword in ct:
            setattr(ds, keyword, ct.data_element(keyword).value)
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["rtstruct-series", str(target)])
    ds.SeriesNumber = 50
    ds.InstanceNumber = 1
    ds.StructureSetLabel = "lesions"
    ds.StructureSetDate = "20240108"
    series = Dataset()
    series.SeriesInstanceUID = ct.SeriesInstanceUID
    referenced_study = Dataset()
    referenced_study.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    referenced_study.ReferencedSOPInstanceUID = ct.StudyInstanceUID
    referenced_study.RTReferencedSeriesSequence = DicomSequence([series])
    frame = Dataset()
    frame.FrameOfReferenceUID = ct.FrameOfReferenceUID
    frame.RTReferencedStudySequence = DicomSequence([referenced_study])
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([frame])
    ox, oy, oz = -20.0, -30.0, 100.0  # origin (x, y, z) of the grid in LPS
    (z0, z1), (y0, y1), (x0, x1), _ = BOXES["L1"]
    rois = {
        1: ("L1", "GTV", [(z, x0, x1 - 1, y0, y1 - 1) for z in range(z0, z1)]),
        2: ("Liver", "ORGAN", [(z, 2, 31, 2, 31) for z in range(1, 9)]),
    }
    ds.StructureSetROISequence = DicomSequence()
    ds.ROIContourSequence = DicomSequence()
    ds.RTROIObservationsSequence = DicomSequence()
    for number, (name, interpreted, squares) in rois.items():
        roi = Dataset()
        roi.ROINumber = number
        roi.ReferencedFrameOfReferenceUID = ct.FrameOfReferenceUID
        roi.ROIName = name
        ds.StructureSetROISequence.append(roi)
        contours = DicomSequence()
        for z, i0, i1, j0, j1 in squares:
            contour = Dataset()
            contour.ContourGeometricType = "CLOSED_PLANAR"
            points = _square(
                ox + i0 * SPACING_MM[2],
                ox + i1 * SPACING_MM[2],
                oy + j0 * SPACING_MM[1],
                oy + j1 * SPACING_MM[1],
                oz + z * SPACING_MM[0],
            )
            contour.NumberOfContourPoints = len(points) // 3
            contour.ContourData = points
            contours.append(contour)
        item = Dataset()
        item.ReferencedROINumber = number
        item.ROIDisplayColor = [255, 0, 0]
        item.ContourSequence = contours
        ds.ROIContourSequence.append(item)
        observation = Dataset()
        observation.ObservationNumber = number
        observation.ReferencedROINumber = number
        observation.RTROIInterpretedType = interpreted
        observation.ROIInterpreter = ""
        ds.RTROIObservationsSequence.append(observation)
    target.mkdir(parents=True, exist_ok=True)
    path = target / "rtstruct.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def write_sr(ct_files: list[Path], target: Path, tracking_uid: str) -> Path:
    """A TID 1500 SR (tumorboard's own writer) with one lesion group and a tumour-load group."""
    import datetime as dt

    from tumorboard.dicom_export.measurement_report import (
        Finding,
        build_measurement_report,
        finding_site,
        procedure_codes,
    )

    images = [pydicom.dcmread(path) for path in ct_files]
    findings = [
        Finding(
            tracking_uid=tracking_uid,
            tracking_id="liver-9",
            values=(("longest_diameter_mm", 31.5), ("short_axis_mm", 20.25), ("suv_max", 7.5)),
            site=finding_site("liver"),
            source_images=tuple(images[:1]),
        ),
        Finding(
            tracking_uid=generate_uid(entropy_srcs=["tumour load"]),
            tracking_id="WB-DWI tumour load",
            values=(("volume_ml", 12.0),),
            site=finding_site("entire body"),
            source_images=tuple(images[:1]),
        ),
    ]
    document = build_measurement_report(
        findings,
        images,
        procedure_codes(["CT"], whole_body_dwi=False, fdg=False),
        time_point="baseline",
        key="test-sr",
        when=dt.datetime(2024, 1, 9, 8, 0),
    )
    target.mkdir(parents=True, exist_ok=True)
    path = target / "sr.dcm"
    document.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def ct_exam(tmp_path: Path) -> tuple[Path, list[Path]]:
    root = tmp_path / "exam"
    return root, write_ct(root)


@pytest.fixture
def workspace(workspace_dir: Path, database_url: str | None):  # type: ignore[no-untyped-def]
    ws = init_workspace(workspace_dir, database_url)
    yield ws
    ws.close()


def current_values(workspace, label: str) -> dict[str, tuple[float, str]]:  # type: ignore[no-untyped-def]
    """The lesion's values of the newest done analysis: quantity -> (value, source)."""
    with workspace.session() as session:
        rows = session.execute(
            select(Measurement, Analysis.status)
            .join(Lesion, Lesion.id == Measurement.lesion_id)
            .outerjoin(Analysis, Analysis.id == Measurement.analysis_id)
            .where(Lesion.label == label)
            .order_by(Measurement.id)
        )
        found = {}
        for measurement, status in rows:
            if status in (None, "done"):
                found[measurement.quantity] = (measurement.value, measurement.source)
    return found


def _assert_box(values: dict[str, tuple[float, str]], box: Any, source: str = "automatic") -> None:
    truth = box_truth(box)
    voxel = min(SPACING_MM[1:])
    for quantity in ("longest_diameter_mm", "short_axis_mm", "longest_diameter_3d_mm"):
        assert values[quantity][0] == pytest.approx(truth[quantity], abs=voxel), quantity
    assert values["volume_ml"][0] == pytest.approx(truth["volume_ml"], rel=1e-5)
    assert values["mean_hu"][0] == pytest.approx(truth["mean_hu"], abs=1e-6)
    assert values["hu_sd"][0] == pytest.approx(0.0, abs=1e-6)
    assert {source} == {s for _, s in values.values()}


def test_seg_on_ct_is_measured_as_the_generated_boxes(workspace, ct_exam, tmp_path: Path) -> None:
    root, ct_files = ct_exam
    write_seg(ct_files, root / "seg", BOXES)
    import_paths(workspace, [root])
    summary = run_analyses(workspace)
    assert (summary.analyses_run, summary.failed) == (1, [])
    for name, box in BOXES.items():
        _assert_box(current_values(workspace, name), box)
    with workspace.session() as session:
        lesions = {lesion.label: lesion for lesion in session.scalars(select(Lesion))}
        analysis = session.scalars(select(Analysis)).one()
        authors = set(session.scalars(select(Measurement.author)))
        sources = {m.analysis_id for m in session.scalars(select(Measurement))}
    # first seen by run: non-target (targets are the reader's choice), no read created
    assert {lesion.role for lesion in lesions.values()} == {"non-target"}
    assert (analysis.kind, analysis.status, sources) == ("lesion_seg", "done", {analysis.id})
    assert authors == {"tumorboard run"}
    with workspace.session() as session:
        patient = session.scalars(select(Patient)).one()
        assert measurement_rows(session, patient)[0] == []  # no read: the criteria see nothing
    # a second run reuses the analysis and stores nothing again
    again = run_analyses(workspace)
    assert (again.analyses_run, again.analyses_reused) == (0, 1)
    with workspace.session() as session:
        assert session.scalar(select(func.count()).select_from(Measurement)) == 2 * 6


def test_manual_values_win_and_both_are_kept(workspace, ct_exam, tmp_path: Path) -> None:
    root, ct_files = ct_exam
    write_seg(ct_files, root / "seg", BOXES)
    import_paths(workspace, [root])
    table = tmp_path / "reads.csv"
    table.write_text(
        "patient_id,timepoint,date,modality,lesion_id,organ,role,is_node,longest_diameter_mm,"
        "short_axis_mm,mean_hu,viable_diameter_mm,sul_peak,status\n"
        f"{PATIENT},baseline,2024-01-08,ct,L1,liver,target,false,33,,,,,present\n"
    )
    import_reads_csv(workspace, table, author="reader-a", source="manual")
    assert run_analyses(workspace).failed == []
    with workspace.session() as session:
        patient = session.scalars(select(Patient)).one()
        (row,), _ = measurement_rows(session, patient)
        lesion = session.scalars(select(Lesion).where(Lesion.label == "L1")).one()
        kept = session.execute(
            select(Measurement.source, Measurement.value).where(
                Measurement.lesion_id == lesion.id,
                Measurement.quantity == "longest_diameter_mm",
            )
        ).all()
    truth = box_truth(BOXES["L1"])
    # the reader's diameter is used; the HU the reader left empty comes from the SEG
    assert row["longest_diameter_mm"] == "33"
    assert float(row["mean_hu"]) == pytest.approx(truth["mean_hu"])
    assert lesion.role == "target"  # the reader's role stays
    assert sorted(kept) == sorted(
        [("automatic", pytest.approx(truth["longest_diameter_mm"], abs=1.0)), ("manual", 33.0)]
    )
    exam = patient_timeline(workspace, PATIENT)["exams"][0]
    shown = [
        (v["source"], v["used"])
        for v in exam["lesion_values"]
        if v["lesion"] == "L1" and v["quantity"] == "longest_diameter_mm"
    ]
    assert shown == [("manual", True), ("automatic", False)]
    from tumorboard.workflow.record_report import write_record_report

    (tmp_path / "report").mkdir()
    write_record_report(workspace, PATIENT, tmp_path / "report")
    page = (tmp_path / "report" / "report.html").read_text()
    section = page.split("<h2>Lesion measurements</h2>")[1].split("</table>")[0]
    assert "<td>longest_diameter_mm</td><td>33.00 mm</td><td>manual</td><td>yes</td>" in section
    assert "<td>automatic</td><td>no (kept)</td>" in section
    # a reader's value entered after run also wins
    table.write_text(table.read_text().replace(",33,,,,,present", ",33,,50,,,present"))
    import_reads_csv(workspace, table, author="reader-a", source="manual")
    with workspace.session() as session:
        patient = session.scalars(select(Patient)).one()
        (row,), _ = measurement_rows(session, patient)
    assert row["mean_hu"] == "50"


def test_seg_tracking_uid_names_the_lesion(workspace, ct_exam, tmp_path: Path) -> None:
    root, ct_files = ct_exam
    table = tmp_path / "reads.csv"
    table.write_text(
        "patient_id,timepoint,date,modality,lesion_id,organ,role,is_node,longest_diameter_mm,"
        "short_axis_mm,mean_hu,viable_diameter_mm,sul_peak,status\n"
        f"{PATIENT},baseline,2024-01-08,ct,liver-1,liver,target,false,30,,,,,present\n"
    )
    import_paths(workspace, [root])
    import_reads_csv(workspace, table, author="reader-a")
    with workspace.session() as session:
        uid = session.scalars(select(Lesion.tracking_uid)).one()
    seg = write_seg(ct_files, tmp_path / "seg", {"segment A": BOXES["L1"]})
    dataset = pydicom.dcmread(seg)
    dataset.SegmentSequence[0].TrackingUID = uid
    dataset.SegmentSequence[0].TrackingID = "liver-1"
    dataset.save_as(seg)
    import_paths(workspace, [tmp_path / "seg"])
    assert run_analyses(workspace).failed == []
    with workspace.session() as session:
        assert sorted(session.scalars(select(Lesion.label))) == ["liver-1"]
    _assert_box(
        {q: v for q, v in current_values(workspace, "liver-1").items() if v[1] == "automatic"},
        BOXES["L1"],
    )


def test_rtstruct_gtv_is_measured_and_organs_are_skipped(
    workspace, ct_exam, tmp_path: Path
) -> None:
    root, ct_files = ct_exam
    write_rtstruct(ct_files, root / "rtstruct")
    import_paths(workspace, [root])
    summary = run_analyses(workspace)
    assert (summary.analyses_run, summary.failed) == (1, [])
    _assert_box(current_values(workspace, "L1"), BOXES["L1"])
    with workspace.session() as session:
        assert sorted(session.scalars(select(Lesion.label))) == ["L1"]
        result = session.scalars(select(Analysis.result)).one()
    assert result["skipped"] == [
        {"name": "Liver", "reason": "RTROIInterpretedType ORGAN is not a lesion"}
    ]


def test_sr_measurement_groups_are_imported(workspace, ct_exam, tmp_path: Path) -> None:
    root, ct_files = ct_exam
    tracking = generate_uid(entropy_srcs=["liver-9 tracking"])
    write_sr(ct_files, root / "sr", tracking)
    import_paths(workspace, [root])
    summary = run_analyses(workspace)
    assert (summary.analyses_run, summary.failed) == (1, [])
    with workspace.session() as session:
        (lesion,) = session.scalars(select(Lesion))
        analysis = session.scalars(select(Analysis)).one()
    assert (lesion.label, lesion.tracking_uid, lesion.organ, lesion.role) == (
        "liver-9",
        tracking,
        "liver",
        "non-target",
    )
    values = current_values(workspace, "liver-9")
    assert values == {
        "longest_diameter_mm": (31.5, "imported"),
        "short_axis_mm": (20.25, "imported"),
        "suv_max": (7.5, "imported"),
    }
    assert analysis.kind == "lesion_sr"
    assert [s["name"] for s in analysis.result["skipped"]] == ["WB-DWI tumour load"]


def test_a_changed_seg_is_measured_again_and_the_old_values_are_kept(
    workspace, ct_exam, tmp_path: Path
) -> None:
    root, ct_files = ct_exam
    first = write_seg(ct_files, root / "seg", BOXES)
    import_paths(workspace, [root])
    assert run_analyses(workspace).failed == []
    # the reader redraws L1 smaller: a new instance of the same SEG series
    changed = write_seg(ct_files, tmp_path / "v2", {"L1": SMALLER_L1, "L2": BOXES["L2"]})
    dataset = pydicom.dcmread(changed)
    original = pydicom.dcmread(first, stop_before_pixels=True)
    dataset.SeriesInstanceUID = original.SeriesInstanceUID
    dataset.SOPInstanceUID = generate_uid(entropy_srcs=["v2"])
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.InstanceNumber = 2
    dataset.save_as(changed)
    import_paths(workspace, [tmp_path / "v2"])
    summary = run_analyses(workspace)
    assert (summary.analyses_run, summary.analyses_reused, summary.failed) == (1, 0, [])
    _assert_box(current_values(workspace, "L1"), SMALLER_L1)
    with workspace.session() as session:
        statuses = sorted(session.scalars(select(Analysis.status)))
        kept = session.scalar(select(func.count()).select_from(Measurement))
    assert statuses == ["done", "superseded"]
    assert kept == 2 * 2 * 6  # the first analysis's values stay, not used
    exam = patient_timeline(workspace, PATIENT)["exams"][0]
    l1 = {v["quantity"]: v["value"] for v in exam["lesion_values"] if v["lesion"] == "L1"}
    assert l1["volume_ml"] == pytest.approx(box_truth(SMALLER_L1)["volume_ml"], rel=1e-5)
    assert run_analyses(workspace).analyses_reused == 1


def test_a_corrupt_seg_fails_only_its_analysis(workspace, ct_exam, tmp_path: Path) -> None:
    root, ct_files = ct_exam
    write_seg(ct_files, root / "seg", BOXES)
    bad = write_seg(ct_files, tmp_path / "bad", {"L3": BOXES["L1"]}, description="bad lesions")
    dataset = pydicom.dcmread(bad)
    group = dataset.PerFrameFunctionalGroupsSequence[3]
    group.PlanePositionSequence[0].ImagePositionPatient[2] = 1000.0  # off every CT slice
    dataset.save_as(bad)
    import_paths(workspace, [root, tmp_path / "bad"])
    summary = run_analyses(workspace)
    assert summary.analyses_run == 2
    (failure,) = summary.failed
    assert failure["kind"] == "lesion_seg" and "\n" not in failure["error"]
    assert "not on a slice" in failure["error"]
    _assert_box(current_values(workspace, "L1"), BOXES["L1"])
    with workspace.session() as session:
        assert sorted(session.scalars(select(Lesion.label))) == ["L1", "L2"]
        statuses = sorted(session.scalars(select(Analysis.status)))
    assert statuses == ["done", "failed"]


def test_a_seg_on_a_series_not_in_the_record_is_one_line(workspace, ct_exam, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root, ct_files = ct_exam
    write_seg(ct_files, tmp_path / "seg", BOXES)
    import_paths(workspace, [tmp_path / "seg"])  # the SEG without its CT
    summary = run_analyses(workspace)
    (failure,) = summary.failed
    assert failure["kind"] == "lesion_seg"
    assert "is not in the record" in failure["error"] and PATIENT not in failure["error"]
    with workspace.session() as session:
        assert session.scalar(select(func.count()).select_from(Exam)) == 1


def test_a_reader_confirming_runs_value_records_it_and_export_uses_the_readers(
    workspace, ct_exam, tmp_path: Path
) -> None:
    from tumorboard.workflow.lesion_edits import Value, measure_lesion

    root, ct_files = ct_exam
    write_seg(ct_files, root / "seg", BOXES)
    import_paths(workspace, [root])
    assert run_analyses(workspace).failed == []
    with workspace.session() as session:
        automatic = session.scalars(
            select(Measurement.value_text)
            .join(Lesion, Lesion.id == Measurement.lesion_id)
            .where(Lesion.label == "L1", Measurement.quantity == "longest_diameter_mm")
        ).one()
    assert automatic is not None
    # the reader measures exactly the number run did: it becomes the reader's value
    measure_lesion(
        workspace,
        PATIENT,
        "L1",
        "2024-01-08",
        [Value("longest_diameter_mm", automatic)],
        author="reader-a",
    )
    with workspace.session() as session:
        sources = sorted(
            session.scalars(
                select(Measurement.source)
                .join(Lesion, Lesion.id == Measurement.lesion_id)
                .where(Lesion.label == "L1", Measurement.quantity == "longest_diameter_mm")
            )
        )
    assert sources == ["automatic", "manual"]
    # then a different reader value: the SR export reports it, not run's
    measure_lesion(
        workspace,
        PATIENT,
        "L1",
        "2024-01-08",
        [Value("longest_diameter_mm", "41.5")],
        author="reader-a",
    )
    # run measures a redrawn L1 after the reader: newer, but still not the value used
    changed = write_seg(ct_files, tmp_path / "v2", {"L1": SMALLER_L1, "L2": BOXES["L2"]})
    dataset = pydicom.dcmread(changed)
    original = pydicom.dcmread(next((root / "seg").iterdir()), stop_before_pixels=True)
    dataset.SeriesInstanceUID = original.SeriesInstanceUID
    dataset.SOPInstanceUID = generate_uid(entropy_srcs=["v2-export"])
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.InstanceNumber = 2
    dataset.save_as(changed)
    import_paths(workspace, [tmp_path / "v2"])
    assert run_analyses(workspace).failed == []
    from tumorboard.workflow.export import _read_record

    record = _read_record(workspace, PATIENT)
    with workspace.session() as session:
        lesion_id = session.scalars(select(Lesion.id).where(Lesion.label == "L1")).one()
        exam_id = session.scalars(select(Exam.id)).one()
    assert record.reads[exam_id][lesion_id]["longest_diameter_mm"][0] == 41.5
    # the HU the reader never gave is run's
    truth = box_truth(SMALLER_L1)
    assert record.reads[exam_id][lesion_id]["mean_hu"][0] == pytest.approx(truth["mean_hu"])
    assert record.reads[exam_id][lesion_id]["volume_ml"][0] == pytest.approx(
        truth["volume_ml"], rel=1e-5
    )
