"""``tumorboard report`` from the record: the contract files, the stored numbers, de-identified."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from dwi_exams import VOXEL_ML, lesion_voxels, write_exam

from tumorboard.cli.main import main

READS = (
    "patient_id,timepoint,date,modality,lesion_id,organ,role,is_node,longest_diameter_mm,"
    "short_axis_mm,mean_hu,viable_diameter_mm,sul_peak,status\n"
    "DWI-001,baseline,2024-01-08,ct,L1,liver,target,false,50,,,,,present\n"
    "DWI-001,week 12,2024-04-01,ct,L1,liver,target,false,30,,,,,present\n"
)


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


def test_report_writes_the_contract_files_with_the_stored_numbers(
    board: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "report"
    assert main(["report", "--workspace", str(board), "DWI-001", "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"crf.html", "crf.pdf", "crf.json", "report.html"} <= set(result["files"])
    assert (result["dwi_exams"], result["read_exams"]) == (2, 2)
    page = (out / "report.html").read_text()
    # self-contained: figures embedded, nothing fetched
    assert page.count("data:image/png;base64,") == 2
    assert not re.search(r"""(src|href)=['"](?!data:)""", page)
    # the tumour volumes are the generated ones (600 and 300 voxels of 0.02 ml)
    assert f"{lesion_voxels('baseline') * VOXEL_ML:.1f}" in page
    assert f"{lesion_voxels('week12') * VOXEL_ML:.1f}" in page
    form = json.loads((out / "crf.json").read_text())
    volumes = [row["total_diffusion_volume_ml"] for row in form["wbdwi"]]
    assert volumes == pytest.approx([12.0, 6.0], rel=1e-6)
    # 50 -> 30 mm: -40 %, a RECIST partial response (>= 30 % decrease)
    assert "PR" in json.dumps(form)


def test_report_deidentified_has_no_id_name_or_date(board: Path, tmp_path: Path) -> None:
    out = tmp_path / "deid"
    code = main(
        [
            "report",
            "--workspace",
            str(board),
            "DWI-001",
            "--out",
            str(out),
            "--deidentify",
            "--salt",
            "s",
        ]
    )
    assert code == 0
    for name in ("report.html", "crf.json", "crf.html"):
        text = (out / name).read_text()
        assert "DWI-001" not in text, name
        assert "Test" not in text and "Dwi" not in text, name
        assert "2024-01-08" not in text and "2024-04-01" not in text, name
        assert "1960" not in text, name


def test_report_refuses_an_unknown_patient_and_an_existing_out(
    board: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    assert main(["report", "--workspace", str(board), "NOBODY", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "NOBODY" not in err
    assert not (tmp_path / "x").exists()
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "mine.txt").write_text("mine")
    assert (
        main(["report", "--workspace", str(board), "DWI-001", "--out", str(tmp_path / "keep")]) != 0
    )
    assert (tmp_path / "keep" / "mine.txt").read_text() == "mine"
