"""``tumorboard sign``: each signature freezes the form as a new version; old ones never change."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from dwi_exams import write_exam

from tumorboard.cli.main import main
from tumorboard.store import open_workspace

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
    folder = str(write_exam(tmp_path / "dicom", "baseline"))
    assert main(["import", "--workspace", str(workspace), folder]) == 0
    (tmp_path / "reads.csv").write_text(READS)
    assert (
        main(["lesion", "import", "--workspace", str(workspace), str(tmp_path / "reads.csv")]) == 0
    )
    capsys.readouterr()
    return workspace


def _pdf_text(workspace: Path, sha256: str, tmp_path: Path) -> str:
    ws = open_workspace(workspace)
    try:
        pdf = ws.objects.path(sha256)
        out = tmp_path / f"{sha256[:8]}.txt"
        subprocess.run(["pdftotext", "-layout", str(pdf), str(out)], check=True, timeout=60)
    finally:
        ws.close()
    return out.read_text()


def _sign(board: Path, signer: str, capsys) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert main(["sign", "--workspace", str(board), "DWI-001", "--signer", signer, "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_signing_twice_keeps_both_versions_and_the_first_pdf_unchanged(
    board: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    first = _sign(board, "dr-a", capsys)
    assert (first["version"], first["signer"]) == (1, "dr-a")
    before = _pdf_text(board, first["pdf_object_sha256"], tmp_path)
    assert "PR" in before  # 50 -> 30 mm: -40 %, a RECIST partial response
    # the record changes: the week-12 lesion grows to 70 mm (+40 %: progression)
    assert (
        main(
            [
                "lesion",
                "measure",
                "--workspace",
                str(board),
                "DWI-001",
                "--label",
                "L1",
                "--exam",
                "2024-04-01",
                "--long-axis-mm",
                "70",
            ]
        )
        == 0
    )
    capsys.readouterr()
    second = _sign(board, "dr-b", capsys)
    assert (second["version"], second["signer"]) == (2, "dr-b")
    assert second["pdf_object_sha256"] != first["pdf_object_sha256"]
    assert "PD" in _pdf_text(board, second["pdf_object_sha256"], tmp_path)
    # version 1 still reads as it was signed
    assert _pdf_text(board, first["pdf_object_sha256"], tmp_path) == before
    assert main(["sign", "--workspace", str(board), "DWI-001", "--list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["versions"]
    assert [(v["version"], v["signer"]) for v in listed] == [(1, "dr-a"), (2, "dr-b")]


def test_sign_refuses_an_unknown_patient_and_an_empty_signer(board: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["sign", "--workspace", str(board), "NOBODY", "--signer", "dr-a"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no patient" in err
    assert main(["sign", "--workspace", str(board), "DWI-001", "--signer", "  "]) == 1
    assert "must not be empty" in capsys.readouterr().err
    assert main(["sign", "--workspace", str(board), "DWI-001", "--list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["versions"] == []


def test_case_facts_entered_by_command_join_the_guide_to_the_form(
    board: Path, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    facts = tmp_path / "FACTS.json"
    facts.write_text('{"primary_site": "pancreas", "ki67_pct": 12, "mitoses_per_2mm2": 3}')
    assert main(["facts", "--workspace", str(board), "DWI-001", str(facts), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"keys": 3}
    out = tmp_path / "report"
    assert main(["report", "--workspace", str(board), "DWI-001", "--out", str(out)]) == 0
    form = json.loads((out / "crf.json").read_text())
    # Ki-67 12 % is G2 (WHO: 3-20 %); the guide of the entered facts is on the form
    assert form["guide"]["who_grade"] == "G2"
    assert "G2" in (out / "crf.html").read_text()
    # facts the guide refuses are refused in one line and nothing is kept
    facts.write_text('{"primary_site": "moon", "ki67_pct": 12}')
    assert main(["facts", "--workspace", str(board), "DWI-001", str(facts)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "primary_site" in err
    assert main(["facts", "--workspace", str(board), "NOBODY", str(facts)]) == 1
    assert "no patient" in capsys.readouterr().err
