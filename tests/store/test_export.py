"""``tumorboard export`` on SQLite and PostgreSQL: conformant SEG, PM and SR from the record.

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


@pytest.fixture
def board(tmp_path: Path, database_url: str | None, capsys) -> Path:  # type: ignore[no-untyped-def]
    workspace = tmp_path / "board"
    init = ["init", str(workspace)] + (["--database", database_url] if database_url else [])
    assert main(init) == 0
    folders = [str(write_exam(tmp_path / "dicom", exam)) for exam in ("baseline", "week12")]
    assert main(["import", "--workspace", str(workspace), *folders]) == 0
    (tmp_path / "reads.csv").write_text(READS)
    assert (
        main(["lesion", "import", "--workspace", str(workspace), str(tmp_path / "reads.csv")]) == 0
    )
    assert main(["run", "--workspace", str(workspace), "--quiet"]) == 0
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
    assert result["counts"] == {"pm": 4, "seg": 2, "sr": 2}
    files = sorted((tmp_path / "out").rglob("*.dcm"))
    assert {p.parent.name for p in files} == {"seg", "pm", "sr"}
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
    assert "not exported yet" in capsys.readouterr().err and not out.exists()
    (tmp_path / "keep").mkdir()
    assert (
        main(["export", "--workspace", str(board), "DWI-001", "--out", str(tmp_path / "keep")]) != 0
    )
    assert list((tmp_path / "keep").iterdir()) == []
