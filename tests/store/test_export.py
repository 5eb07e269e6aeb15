"""``tumorboard export`` on SQLite and PostgreSQL: conformant SEG, PM, SR, SC and PDF.

Truth comes from the generating parameters of :mod:`dwi_exams` (lesion box,
ADC, voxel size) and the reads typed below, never from tumorboard's science.
Every file must pass ``dciodvfy`` (dicom3tools) without an error line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from dwi_exams import EXAMS, SPACING_MM, VOXEL_ML, lesion_voxels, write_exam
from sqlalchemy import select

from tumorboard.cli.main import main
from tumorboard.store import open_workspace
from tumorboard.store.models import Lesion

READS = (
    "patient_id,timepoint,date,modality,lesion_id,organ,role,is_node,longest_diameter_mm,"
    "short_axis_mm,mean_hu,viable_diameter_mm,sul_peak,status\n"
    "DWI-001,baseline,2024-01-08,mr,L1,liver,target,false,50,,,,,present\n"
    "DWI-001,week 12,2024-04-01,mr,L1,liver,target,false,30,,,,,present\n"
)


def dciodvfy_errors(path: Path) -> list[str]:
    """The error lines of dciodvfy on ``path`` (fails clearly when it is missing)."""
    binary = shutil.which("dciodvfy")
    if binary is None:
        pytest.fail("dciodvfy is missing: run scripts/install_test_dependencies.sh (dicom3tools)")
    done = subprocess.run([binary, str(path)], capture_output=True, text=True, check=False)
    return [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("Error")]


def _build_board(root: Path, database_url: str | None) -> None:
    """Two WB-DWI exams imported, the reads imported and the analyses run, under ``root``."""
    workspace = root / "board"
    init = ["init", str(workspace)] + (["--database", database_url] if database_url else [])
    assert main(init) == 0
    folders = [str(write_exam(root / "dicom", exam)) for exam in ("baseline", "week12")]
    assert main(["import", "--workspace", str(workspace), *folders]) == 0
    (root / "reads.csv").write_text(READS)
    assert main(["lesion", "import", "--workspace", str(workspace), str(root / "reads.csv")]) == 0
    assert main(["run", "--workspace", str(workspace), "--quiet"]) == 0


@pytest.fixture(scope="module")
def board_templates() -> dict[str, Path]:
    """Per back end, a folder built once by :func:`_build_board` (never opened again)."""
    return {}


@pytest.fixture(params=["sqlite", "postgresql"])
def board(request: pytest.FixtureRequest, tmp_path: Path, board_templates, capsys) -> Path:  # type: ignore[no-untyped-def]
    """A workspace of its own for every test: a copy of the back end's template, with
    (on PostgreSQL) its own database made from the template's (``CREATE DATABASE ...
    TEMPLATE``). Import and analysis of the two exams were most of every test's time;
    the copy holds the same record, the same DICOM folders and reads, so each test sees
    what it saw when it built them itself.
    """
    backend = request.param
    server = request.getfixturevalue("postgres") if backend == "postgresql" else None
    if backend not in board_templates:
        template = request.getfixturevalue("tmp_path_factory").mktemp(f"export-{backend}")
        _build_board(template, server.create_database() if server else None)
        board_templates[backend] = template
    shutil.copytree(board_templates[backend], tmp_path, dirs_exist_ok=True)
    workspace = tmp_path / "board"
    if server is not None:
        description_file = workspace / "workspace.json"
        description = json.loads(description_file.read_text(encoding="utf-8"))
        description["database"] = server.create_database(template=description["database"])
        description_file.write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    capsys.readouterr()
    return workspace


def _export(board: Path, out: Path, *extra: str) -> dict:
    import io
    from contextlib import redirect_stdout

    buffer = io.StringIO()
    with redirect_stdout(buffer):
        code = main(
            ["export", "--workspace", str(board), "DWI-001", "--out", str(out), "--json", *extra]
        )
    assert code == 0
    return json.loads(buffer.getvalue())


def _box(exam: str) -> np.ndarray:
    _, (z0, z1), (y0, y1), (x0, x1), _ = EXAMS[exam]
    mask = np.zeros((12, 24, 24), bool)
    mask[z0:z1, y0:y1, x0:x1] = True
    return mask


def _frames(dataset, channel: int | None = None) -> dict[int, np.ndarray]:  # type: ignore[no-untyped-def]
    """Frames by slice index (from their position: origin 0, slice spacing 5 mm)."""
    frames = {}
    for frame, group in zip(
        dataset.pixel_array, dataset.PerFrameFunctionalGroupsSequence, strict=True
    ):
        position = [float(v) for v in group.PlanePositionSequence[0].ImagePositionPatient]
        assert position[:2] == [0.0, 0.0]
        k = round(position[2] / SPACING_MM[0])
        assert position[2] == pytest.approx(k * SPACING_MM[0])
        if channel is not None:
            number = int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
            if number != channel:
                continue
        frames[k] = frame
    return frames


def test_export_writes_conformant_objects_with_the_generated_truth(
    board: Path, tmp_path: Path
) -> None:
    result = _export(board, tmp_path / "out")
    assert result["counts"] == {"pm": 4, "sc": 2, "seg": 2, "sr": 2}  # no pdf: nothing signed
    files = sorted((tmp_path / "out").rglob("*.dcm"))
    assert {p.parent.name for p in files} == {"seg", "pm", "sr", "sc"}
    for path in files:
        assert dciodvfy_errors(path) == [], path.name
    for exam, number in (("baseline", 1), ("week12", 2)):
        seg = hd.seg.segread(tmp_path / "out" / "seg" / f"exam{number}-wbdwi-classes.dcm")
        tumour = _frames(seg, channel=1)
        rebuilt = np.stack([tumour[k] for k in range(12)]).astype(bool)
        assert np.array_equal(rebuilt, _box(exam))  # the generating lesion box, exactly
        assert len(seg.ReferencedSeriesSequence) == 2  # the b50 and b900 series
        adc = pydicom.dcmread(tmp_path / "out" / "pm" / f"exam{number}-wbdwi-adc.dcm")
        unit = adc.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence[0]
        assert unit.MeasurementUnitsCodeSequence[0].CodeValue == "um2/s"
        values = np.stack([f for _, f in sorted(_frames(adc).items())])
        _, (z0, z1), (y0, y1), (x0, x1), lesion_adc = EXAMS[exam]
        steps = np.arange(x1 - x0) - (x1 - x0 - 1) / 2.0
        truth = lesion_adc * (1.0 + 0.01 * steps)
        assert values[z0:z1, y0:y1, x0:x1] == pytest.approx(
            np.broadcast_to(truth, (z1 - z0, y1 - y0, x1 - x0)), rel=1e-4
        )
        # background ADC 3000 (its faint b900 signal is stored as 16-bit integers)
        assert values[0, 0, 0] == pytest.approx(3000.0, rel=1e-3)
    sr = hd.sr.srread(tmp_path / "out" / "sr" / "exam1-mr-measurements.dcm")
    procedures = [
        str(item.ConceptCodeSequence[0].CodeValue)
        for item in sr.ContentSequence
        if item.ConceptNameCodeSequence[0].CodeValue == "121058"
    ]
    assert procedures != ["25045-6"]  # not "CT unspecified body region"
    (tumour_group,) = [
        g
        for g in sr.content.get_volumetric_roi_measurement_groups()
        if g.tracking_identifier == "WB-DWI tumour load"
    ]
    measured = {
        (m.name.value, m.derivation.value if m.derivation else None): float(m.value)
        for m in tumour_group.get_measurements()
    }
    assert measured[("118565006", None)] == pytest.approx(
        lesion_voxels("baseline") * VOXEL_ML, rel=1e-6
    )
    assert measured[("113041", "373099004")] == pytest.approx(800.0, rel=1e-3)  # median ADC
    (read,) = sr.content.get_image_measurement_groups()
    (diameter,) = read.get_measurements()
    assert (diameter.name.value, float(diameter.value), diameter.unit.value) == (
        "103339001",
        50.0,
        "mm",
    )
    ws = open_workspace(board)
    try:
        with ws.session() as session:
            tracking = session.scalars(
                select(Lesion.tracking_uid).where(Lesion.label == "L1")
            ).one()
    finally:
        ws.close()
    assert read.tracking_uid == tracking
    week12 = hd.sr.srread(tmp_path / "out" / "sr" / "exam2-mr-measurements.dcm")
    later = [
        g
        for g in week12.content.get_volumetric_roi_measurement_groups()
        if g.tracking_identifier == "WB-DWI tumour load"
    ]
    assert later[0].tracking_uid == tumour_group.tracking_uid  # followed across exams


def test_exporting_twice_gives_identical_files(board: Path, tmp_path: Path) -> None:
    _export(board, tmp_path / "a")
    _export(board, tmp_path / "b")
    first = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*.dcm")}
    second = {
        p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*.dcm")
    }
    assert first == second and first


def test_deidentified_export_has_no_name_id_or_birth_date(board: Path, tmp_path: Path) -> None:
    _export(board, tmp_path / "deid", "--deidentify", "--salt", "s")
    files = list((tmp_path / "deid").rglob("*.dcm"))
    assert files
    for path in files:
        data = path.read_bytes()
        for secret in (b"DWI-001", b"Test^Dwi", b"19600101"):
            assert secret not in data, (path.name, secret)
        assert dciodvfy_errors(path) == [], path.name
        assert str(pydicom.dcmread(path).PatientIdentityRemoved) == "YES"


def test_bad_input_is_one_line_and_writes_nothing(board: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "x"
    assert main(["export", "--workspace", str(board), "NOBODY", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "NOBODY" not in err
    assert not out.exists()
    assert (
        main(
            ["export", "--workspace", str(board), "DWI-001", "--out", str(out), "--what", "seg,pdf"]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "sign the form first: tumorboard sign" in err
    assert not out.exists()
    assert (
        main(
            ["export", "--workspace", str(board), "DWI-001", "--out", str(out), "--what", "seg,jpg"]
        )
        == 1
    )
    assert "unknown object type 'jpg'" in capsys.readouterr().err and not out.exists()
    (tmp_path / "keep").mkdir()
    assert (
        main(["export", "--workspace", str(board), "DWI-001", "--out", str(tmp_path / "keep")]) != 0
    )
    assert list((tmp_path / "keep").iterdir()) == []


def _dcm(folder: Path) -> dict[str, pydicom.Dataset]:
    return {str(p.relative_to(folder)): pydicom.dcmread(p) for p in sorted(folder.rglob("*.dcm"))}


def _study_of(folder: Path) -> str:
    """StudyInstanceUID of the DICOM files written for an exam (the generated truth)."""
    first = next(p for p in sorted(folder.rglob("*")) if p.is_file())
    return str(pydicom.dcmread(first, stop_before_pixels=True).StudyInstanceUID)


def _sign(board: Path, signer: str):  # type: ignore[no-untyped-def]
    from tumorboard.workflow.sign_off import sign_form

    ws = open_workspace(board)
    try:
        form = sign_form(ws, "DWI-001", signer)
        return form, ws.objects.path(form.pdf_object_sha256).read_bytes()
    finally:
        ws.close()


def test_signed_form_goes_out_as_encapsulated_pdf_and_a_resigned_form_as_v2(
    board: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import hashlib

    first, first_pdf = _sign(board, "dr-one")
    _export(board, tmp_path / "v1", "--what", "pdf")
    path = tmp_path / "v1" / "pdf" / "case-report-form.dcm"
    assert dciodvfy_errors(path) == []
    v1 = pydicom.dcmread(path)
    assert v1.SOPClassUID == "1.2.840.10008.5.1.4.1.1.104.1" and v1.Modality == "DOC"
    document = bytes(v1.EncapsulatedDocument)[: int(v1.EncapsulatedDocumentLength)]
    assert document == first_pdf and document.startswith(b"%PDF-")
    assert hashlib.sha256(document).hexdigest() == first.pdf_object_sha256
    assert v1.PatientID == "DWI-001"
    assert v1.StudyInstanceUID == _study_of(tmp_path / "dicom" / "week12")  # the latest exam
    assert str(v1.SeriesDescription) == "tumorboard case report form (signed)"
    _, second_pdf = _sign(board, "dr-two")
    _export(board, tmp_path / "v2", "--what", "pdf")
    v2 = pydicom.dcmread(tmp_path / "v2" / "pdf" / "case-report-form.dcm")
    assert bytes(v2.EncapsulatedDocument)[: int(v2.EncapsulatedDocumentLength)] == second_pdf
    assert str(v2.SeriesDescription).endswith("v2, replaces v1")
    assert v2.SeriesInstanceUID != v1.SeriesInstanceUID
    assert v2.SOPInstanceUID != v1.SOPInstanceUID
    assert v2.StudyInstanceUID == v1.StudyInstanceUID
    out = tmp_path / "deid"
    code = main(
        ["export", "--workspace", str(board), "DWI-001", "--out", str(out), "--what", "pdf",
         "--deidentify"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1 and "de-identified" in err
    assert not out.exists()
    # without --what a signed form is part of the export, and not with --deidentify
    assert _export(board, tmp_path / "all")["counts"]["pdf"] == 1
    assert "pdf" not in _export(board, tmp_path / "all-deid", "--deidentify")["counts"]


def _report_pngs(board: Path, out: Path) -> list[np.ndarray]:
    """The figures of report.html, in page order, as RGB arrays."""
    import base64
    import io
    import re

    from PIL import Image

    assert main(["report", "--workspace", str(board), "DWI-001", "--out", str(out)]) == 0
    page = (out / "report.html").read_text()
    return [
        np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))
        for data in re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    ]


def test_mips_go_out_as_secondary_captures_in_each_exams_study(
    board: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _export(board, tmp_path / "out", "--what", "sc")
    assert result["counts"] == {"sc": 2}
    figures = _report_pngs(board, tmp_path / "report")
    capsys.readouterr()
    assert len(figures) == 2  # one MIP per WB-DWI exam, in date order
    for number, exam in ((1, "baseline"), (2, "week12")):
        path = tmp_path / "out" / "sc" / f"exam{number}-wbdwi-mip.dcm"
        assert dciodvfy_errors(path) == [], path.name
        sc = pydicom.dcmread(path)
        assert sc.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture Image
        assert sc.StudyInstanceUID == _study_of(tmp_path / "dicom" / exam)
        assert sc.PhotometricInterpretation == "RGB" and sc.BurnedInAnnotation == "YES"
        assert list(sc.PatientOrientation) == ["L", "F"]
        picture = sc.pixel_array
        assert np.array_equal(picture, figures[number - 1])  # the report's figure, exactly
        red, green, blue = (picture[..., i].astype(int) for i in range(3))
        assert ((red > 150) & (blue < 80)).sum() > 1000  # the coloured tumour overlay
    deid = _export(board, tmp_path / "deid", "--what", "sc", "--deidentify", "--salt", "s")
    assert deid["counts"] == {"sc": 2}
    hidden = pydicom.dcmread(tmp_path / "deid" / "sc" / "exam2-wbdwi-mip.dcm")
    assert hidden.BurnedInAnnotation == "NO"
    assert not np.array_equal(hidden.pixel_array, figures[1])  # the dates are scrubbed


@pytest.fixture
def kidney_board(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Baseline and week 12; week 12 has a bright normal structure, excluded later."""
    workspace = tmp_path / "board"
    assert main(["init", str(workspace)]) == 0
    folders = [
        str(write_exam(tmp_path / "dicom", "baseline")),
        str(write_exam(tmp_path / "dicom", "week12", normal_structure=True)),
    ]
    assert main(["import", "--workspace", str(workspace), *folders]) == 0
    (tmp_path / "reads.csv").write_text(READS)
    assert (
        main(["lesion", "import", "--workspace", str(workspace), str(tmp_path / "reads.csv")]) == 0
    )
    assert main(["run", "--workspace", str(workspace), "--quiet"]) == 0
    capsys.readouterr()
    return workspace


def test_a_new_analysis_goes_out_as_a_new_version_and_the_rest_is_unchanged(
    kidney_board: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dwi_exams import NORMAL_BOX, write_exclusion_seg

    _export(kidney_board, tmp_path / "a")
    write_exclusion_seg(tmp_path / "dicom" / "week12", tmp_path / "seg")
    assert main(["import", "--workspace", str(kidney_board), str(tmp_path / "seg")]) == 0
    assert main(["run", "--workspace", str(kidney_board), "--quiet"]) == 0
    capsys.readouterr()
    _export(kidney_board, tmp_path / "b")
    before, after = _dcm(tmp_path / "a"), _dcm(tmp_path / "b")
    assert sorted(before) == sorted(after)
    for name in before:  # the baseline's objects are the same objects, byte for byte
        if name.split("/")[1].startswith("exam1-"):
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    changed = [n for n in before if n.split("/")[1].startswith("exam2-")]
    assert sorted(changed) == [
        "pm/exam2-wbdwi-adc.dcm",
        "pm/exam2-wbdwi-computed-b.dcm",
        "sc/exam2-wbdwi-mip.dcm",
        "seg/exam2-wbdwi-classes.dcm",
        "sr/exam2-mr-measurements.dcm",
    ]
    for name in changed:
        old, new = before[name], after[name]
        assert " v" not in str(old.SeriesDescription), name
        assert str(new.SeriesDescription).endswith(" v2, replaces v1"), name
        assert new.SeriesInstanceUID != old.SeriesInstanceUID, name
        assert new.SOPInstanceUID != old.SOPInstanceUID, name
        assert new.StudyInstanceUID == old.StudyInstanceUID, name
        assert dciodvfy_errors(tmp_path / "b" / name) == [], name
    # truth: v1's tumour is the lesion and the normal structure, v2's the lesion alone
    normal = np.zeros((12, 24, 24), bool)
    (a0, a1), (b0, b1), (c0, c1) = NORMAL_BOX
    normal[a0:a1, b0:b1, c0:c1] = True
    for folder, truth in (("a", _box("week12") | normal), ("b", _box("week12"))):
        seg = hd.seg.segread(tmp_path / folder / "seg" / "exam2-wbdwi-classes.dcm")
        tumour = _frames(seg, channel=1)
        assert np.array_equal(np.stack([tumour[k] for k in range(12)]).astype(bool), truth)
    # and the same record exports the same v2 objects again
    _export(kidney_board, tmp_path / "c")
    for name in changed:
        assert (tmp_path / "b" / name).read_bytes() == (tmp_path / "c" / name).read_bytes()
