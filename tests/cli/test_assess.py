from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tumorboard.cli.main import main
from tumorboard.phantoms import reference_measurements as reference

CONTRACT_COLUMNS = (
    "patient_id",
    "timepoint",
    "criteria",
    "target_sum_mm",
    "change_from_baseline_pct",
    "change_from_nadir_pct",
    "target_response",
    "non_target_response",
    "new_lesions",
    "overall_response",
    "response_vs_baseline",
    "response_vs_nadir",
)
CODES = {
    "CR",
    "PR",
    "SD",
    "PD",
    "NE",
    "NON-CR/NON-PD",
    "iCR",
    "iPR",
    "iSD",
    "iUPD",
    "iCPD",
    "CMR",
    "PMR",
    "SMD",
    "PMD",
    "",
}
OUTPUTS = (
    "response.csv",
    "crf.html",
    "crf.pdf",
    "crf.json",
    "sdtm/tu.csv",
    "sdtm/tr.csv",
    "sdtm/rs.csv",
)


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("assess") / "measurements.csv"
    path.write_text(reference.reference_measurements_csv(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def assessed(table: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    patient = table.parent / "patient.json"
    patient.write_text(
        json.dumps(
            {
                "drug_class": "targeted",
                "drug": "everolimus",
                "previous_treatments": ["surgery"],
                "prolactinoma": {
                    "prolactin_ug_per_l": 80,
                    "upper_limit_normal_ug_per_l": 25,
                    "baseline_size_ml": 2.0,
                    "current_size_ml": 0.8,
                },
            }
        )
    )
    out = tmp_path_factory.mktemp("assess_out") / "result"
    assert (
        main(
            [
                "assess",
                str(table),
                "--criteria",
                "recist1.1,irecist,choi,mrecist,percist",
                "--patient",
                str(patient),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return out


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_contract_outputs(assessed: Path) -> None:
    for name in OUTPUTS:
        assert (assessed / name).is_file(), name
    assert (assessed / "crf.pdf").read_bytes()[:5] == b"%PDF-"
    response = rows(assessed / "response.csv")
    assert set(CONTRACT_COLUMNS) <= set(response[0])
    assert {r["criteria"] for r in response} == {
        "recist1.1",
        "irecist",
        "choi",
        "mrecist",
        "percist",
    }
    assert len(response) == 5 * 5  # criteria x timepoints (pre-baseline excluded)
    for row in response:
        for column in (
            "target_response",
            "non_target_response",
            "overall_response",
            "response_vs_baseline",
            "response_vs_nadir",
        ):
            assert row[column] in CODES
    week36 = {r["criteria"]: r for r in response if r["timepoint"] == "week-36"}
    assert week36["recist1.1"]["overall_response"] == "PD"
    assert week36["choi"]["overall_response"] == "PR"
    assert week36["recist1.1"]["change_from_nadir_pct"] == "37.5"
    document = json.loads((assessed / "crf.json").read_text())
    assert document["schema"] == "tumorboard.crf"
    assert document["patients"][0]["drug_class"] == "targeted"
    prolactinoma = document["patients"][0]["prolactinoma"]
    assert prolactinoma["category"] == "discordant" and prolactinoma["possibly_pseudo_refractory"]
    assert "pseudo-refractory" in (assessed / "crf.html").read_text(encoding="utf-8")


def test_default_criteria_follow_the_drug(table: Path, tmp_path: Path) -> None:
    patient = tmp_path / "patient.json"
    patient.write_text(json.dumps({"drug_class": "immunotherapy"}))
    out = tmp_path / "out"
    assert main(["assess", str(table), "--patient", str(patient), "--out", str(out)]) == 0
    assert {r["criteria"] for r in rows(out / "response.csv")} == {
        "recist1.1",
        "irecist",
        "percist",
    }


def test_default_is_all_five_with_ne_where_data_are_missing(tmp_path: Path) -> None:
    table = tmp_path / "small.csv"
    table.write_text(
        HEADER + "\n"
        "P9,baseline,2024-01-01,ct,L1,liver,target,false,40,,,,,present,\n"
        "P9,week-8,2024-03-01,ct,L1,liver,target,false,26,,,,,present,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["assess", str(table), "--out", str(out)]) == 0
    got = {(r["criteria"], r["timepoint"]): r for r in rows(out / "response.csv")}
    assert {c for c, _ in got} == {"recist1.1", "irecist", "choi", "mrecist", "percist"}
    assert got[("recist1.1", "week-8")]["overall_response"] == "PR"
    assert got[("mrecist", "week-8")]["overall_response"] == "NE"
    assert got[("percist", "week-8")]["overall_response"] == "NE"
    assert "no PET SULpeak at baseline" in got[("percist", "week-8")]["notes"]


def test_deidentify_leaks_nothing(table: Path, tmp_path: Path) -> None:
    out = tmp_path / "deid"
    assert (
        main(
            [
                "assess",
                str(table),
                "--criteria",
                "recist1.1",
                "--deidentify",
                "--salt",
                "k",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    for name in OUTPUTS:
        if name.endswith(".pdf"):
            continue
        text = (out / name).read_text(encoding="utf-8")
        assert reference.PATIENT_ID not in text, name
        for _, date in reference.TIMEPOINTS:
            assert date not in text, name


def test_existing_output_needs_force(
    table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("keep")
    assert main(["assess", str(table), "--criteria", "recist1.1", "--out", str(out)]) == 1
    assert "--force" in capsys.readouterr().err
    assert (out / "keep.txt").exists()
    assert (
        main(["assess", str(table), "--criteria", "recist1.1", "--out", str(out), "--force"]) == 0
    )
    assert not (out / "keep.txt").exists() and (out / "response.csv").exists()


HEADER = reference.reference_measurements_csv().splitlines()[0]
BASE = "TB-REF-0001,baseline,2024-01-08,ct"


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            [
                f"{BASE},L1,liver,target,false,40,,,,,present,",
                f"{BASE},L1,liver,target,false,40,,,,,present,",
            ],
            "row 3: duplicate lesion id 'L1'",
        ),
        (
            [f"{BASE},L{k},liver{k % 2},target,false,40,,,,,present," for k in range(6)],
            "rule 'at most 5 target lesions'",
        ),
        (
            [f"{BASE},L{k},liver,target,false,40,,,,,present," for k in range(3)],
            "row 4: rule 'at most 2 target lesions per organ'",
        ),
        ([f"{BASE},X1,liver,new,false,40,,,,,present,"], "no new lesions at baseline"),
        (
            [
                f"{BASE},L1,liver,target,false,40,,,,,present,",
                "TB-REF-0001,week-8,2023-01-01,ct,L1,liver,target,false,40,,,,,present,",
            ],
            "row 3: dates out of order",
        ),
        ([f"{BASE},L1,liver,target,false,-40,,,,,present,"], "row 2: longest_diameter_mm must not"),
        ([f"{BASE},N1,node,target,true,40,,,,,present,"], "row 2: rule 'target nodes need"),
        (
            [
                f"{BASE},N1,node,target,true,40,20,,,,present,",
                "TB-REF-0001,week-8,2024-03-01,ct,N1,node,target,true,40,,,,,present,",
            ],
            "row 3: rule 'nodes are measured by their short axis'",
        ),
        (
            [
                f"{BASE},L1,liver,target,false,40,,,,,present,",
                f"{BASE},N2,node,non-target,true,14,,,,,present,",
            ],
            "row 3: rule 'nodes are measured by their short axis'",
        ),
        ([f"{BASE},L1,liver,target,false,40,,,,,vanished,"], "row 2: status must be one of"),
        (
            ["TB-REF-0001,week-8,2024-03-01,ct,L1,liver,target,false,40,,,,,present,"],
            "row 2: no baseline",
        ),
    ],
)
def test_bad_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[str], message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["assess", str(path), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert reference.PATIENT_ID not in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.csv"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--criteria", "recist1.1,who"], "--criteria: unknown criteria 'who'"),
        (["--patient", "MISSING"], "file not found"),
        (["--patient", "BADJSON"], "not valid JSON"),
        (["--patient", "BADKEY"], "unknown key(s) colour"),
        (["--patient", "BADDRUG"], "drug_class must be one of"),
        (["--salt", "x"], "--salt is only used with --deidentify"),
        (["--sd-min-days", "-1"], "sd_min_days must be >= 0"),
        (["--pdf-patients", "-1"], "--pdf-patients -1: expected a whole number >= 0"),
    ],
)
def test_bad_options(
    table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    files = {
        "MISSING": tmp_path / "none.json",
        "BADJSON": tmp_path / "bad.json",
        "BADKEY": tmp_path / "key.json",
        "BADDRUG": tmp_path / "drug.json",
    }
    files["BADJSON"].write_text("{not json")
    files["BADKEY"].write_text(json.dumps({"colour": "red"}))
    files["BADDRUG"].write_text(json.dumps({"drug_class": "magic"}))
    args = [str(files[a]) if a in files else a for a in args]
    out = tmp_path / "out"
    assert main(["assess", str(table), *args, "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_reading_guide_joins_the_form(table: Path, tmp_path: Path) -> None:
    facts = tmp_path / "facts.json"
    facts.write_text(
        json.dumps({"primary_site": "pancreas", "ki67_pct": 8, "drug_type": "targeted"})
    )
    out = tmp_path / "crf"
    code = main(["assess", str(table), "--facts", str(facts), "--out", str(out)])
    assert code == 0
    document = json.loads((out / "crf.json").read_text())
    assert document["guide"]["who_grade"] == "G2"
    assert "Choi" in document["guide"]["response_criteria"]
    html = (out / "crf.html").read_text()
    assert "Reading guide" in html and "not a decision" in html


def test_bad_facts_write_nothing(
    table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps({"ki67_pct": 140}))
    out = tmp_path / "crf"
    assert main(["assess", str(table), "--facts", str(facts), "--out", str(out)]) == 1
    assert "ki67_pct" in capsys.readouterr().err
    assert not out.exists()


def _dwi_summary(folder: Path, volume_ml: float, median: float) -> Path:
    folder.mkdir(parents=True)
    adc = {
        "mean": median + 10,
        "median": median,
        "sd": 150.0,
        "p05": 400.0,
        "p10": 450.0,
        "p25": 550.0,
        "p75": 850.0,
        "p90": 950.0,
        "p95": 1000.0,
        "skewness": 0.5,
        "kurtosis": 0.3,
    }
    (folder / "summary.json").write_text(
        json.dumps({"total_diffusion_volume_ml": volume_ml, "adc_um2_per_s": adc})
    )
    (folder / "histogram.csv").write_text(
        "bin_lower_um2_per_s,bin_upper_um2_per_s,voxels,relative_frequency\n"
        "650,700,10,0.5\n700,750,10,0.5\n"
    )
    return folder


def test_wbdwi_exams_join_the_form(table: Path, tmp_path: Path) -> None:
    first = _dwi_summary(tmp_path / "e1", 384.0, 700.0)
    second = _dwi_summary(tmp_path / "e2", 290.0, 880.0)
    out = tmp_path / "crf"
    code = main(
        [
            "assess",
            str(table),
            "--dwi-exam",
            f"2025-01-15={first}",
            "--dwi-exam",
            f"2025-04-16={second}",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    rows = json.loads((out / "crf.json").read_text())["wbdwi"]
    assert [row["exam"] for row in rows] == ["2025-01-15", "2025-04-16"]
    assert rows[1]["tdv_change_vs_first_pct"] == pytest.approx(100 * (290 - 384) / 384, abs=0.01)
    html = (out / "crf.html").read_text()
    assert "Whole-body diffusion MRI tumour load" in html and "384.0" in html
    deid = tmp_path / "deid"
    assert (
        main(
            [
                "assess",
                str(table),
                "--deidentify",
                "--dwi-exam",
                f"2025-01-15={first}",
                "--dwi-exam",
                f"2025-04-16={second}",
                "--out",
                str(deid),
            ]
        )
        == 0
    )
    text = (deid / "crf.json").read_text() + (deid / "crf.html").read_text()
    assert "2025-01-15" not in text and "exam 2" in text


def test_bad_dwi_exam_writes_nothing(
    table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "crf"
    assert (
        main(["assess", str(table), "--dwi-exam", f"x={tmp_path / 'missing'}", "--out", str(out)])
        == 1
    )
    assert "summary.json not found" in capsys.readouterr().err
    assert not out.exists()


def test_disk_full_is_one_line_and_keeps_the_old_output(
    table: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    from tumorboard.report import crf_stream

    out = tmp_path / "out"
    assert main(["assess", str(table), "--criteria", "recist1.1", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def enospc(*args: object, **kwargs: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(crf_stream, "write_crf_pdf", enospc)
    capsys.readouterr()
    argv = ["assess", str(table), "--criteria", "recist1.1", "--out", str(out), "--force"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"cannot write output {out}: No space left on device (ENOSPC)" in err
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_cohort_beyond_the_pdf_limit_gets_every_form_in_html_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = reference.reference_measurements_csv().splitlines()
    copies = [lines[0]] + [
        line.replace(reference.PATIENT_ID, f"{reference.PATIENT_ID}-{k}")
        for k in range(3)
        for line in lines[1:]
    ]
    cohort = tmp_path / "cohort.csv"
    cohort.write_text("\n".join(copies) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    argv = ["assess", str(cohort), "--criteria", "recist1.1", "--pdf-patients", "2"]
    assert main([*argv, "--out", str(out)]) == 0, capsys.readouterr().err
    document = json.loads((out / "crf.json").read_text())
    assert [p["patient"] for p in document["patients"]] == [
        f"{reference.PATIENT_ID}-{k}" for k in range(3)
    ]
    assert (out / "crf.html").read_text().count('<section class="crf-patient">') == 3
    assert {r["patient_id"] for r in rows(out / "response.csv")} == {
        f"{reference.PATIENT_ID}-{k}" for k in range(3)
    }
    assert (out / "crf.pdf").read_bytes()[:5] == b"%PDF-"
