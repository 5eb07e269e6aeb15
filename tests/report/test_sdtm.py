from __future__ import annotations

import csv
from pathlib import Path

from tumorboard.criteria.engine import assess_patient
from tumorboard.pipeline import demo_reference
from tumorboard.report.crf import Disclosure, PatientCase
from tumorboard.report.sdtm import (
    RS_COLUMNS,
    TR_COLUMNS,
    TU_COLUMNS,
    method_of,
    sdtm_tables,
    write_sdtm,
)


def tables(disclosure: Disclosure | None = None) -> dict[str, list[dict[str, str]]]:
    series = demo_reference.reference_series()
    case = PatientCase(series, assess_patient(series, ["recist1.1", "irecist", "percist"]))
    return sdtm_tables([case], demo_reference.reference_patient_info(), disclosure)


def test_tu_tr_rs_content() -> None:
    result = tables()
    tu = {row["TULNKID"]: row for row in result["tu"]}
    assert set(tu) == {"L1", "L2", "N1", "B1", "N2", "X1", "X2"}
    assert tu["L1"]["TUORRES"] == "TARGET" and tu["B1"]["TUORRES"] == "NON-TARGET"
    assert tu["X1"]["TUORRES"] == "NEW" and tu["X1"]["TUMETHOD"] == "PET/CT SCAN"
    assert tu["X2"]["VISIT"] == "WEEK-48" and tu["L1"]["TUDTC"] == "2024-01-08"
    assert all(row["TUTESTCD"] == "TUMIDENT" and row["DOMAIN"] == "TU" for row in result["tu"])
    tr = result["tr"]
    node = [r for r in tr if r["TRLNKID"] == "N1" and r["VISIT"] == "BASELINE"]
    assert [(r["TRTESTCD"], r["TRSTRESN"], r["TRORRESU"]) for r in node] == [
        ("SAXIS", "18.0", "mm")
    ]
    sums = [r for r in tr if r["TRTESTCD"] == "SUMDIAM" and r["TRGRPID"] == "RECIST 1.1"]
    assert [r["TRSTRESN"] for r in sums] == ["88.0", "61.0", "56.0", "77.0", "83.0"]
    rs = result["rs"]
    overall = [(r["RSCAT"], r["VISIT"], r["RSORRES"]) for r in rs if r["RSTESTCD"] == "OVRLRESP"]
    assert ("RECIST 1.1", "WEEK-36", "PD") in overall
    assert ("iRECIST", "WEEK-48", "iCPD") in overall
    assert ("PERCIST 1.0", "WEEK-12", "PMR") in overall
    best = {r["RSCAT"]: r["RSORRES"] for r in rs if r["RSTESTCD"] == "BESTRESP"}
    assert best == {"RECIST 1.1": "PR", "iRECIST": "iPR", "PERCIST 1.0": "PMR"}
    assert {r["RSORRES"] for r in rs if r["RSTESTCD"] == "NEWLPROG"} <= {"Y", "N", "EQUIVOCAL"}
    assert [int(r["RSSEQ"]) for r in rs] == list(range(1, len(rs) + 1))


def test_deidentified_tables_have_study_days_only() -> None:
    result = tables(Disclosure(deidentify=True, salt="x"))
    for name, rows in result.items():
        prefix = name.upper()
        for row in rows:
            assert row[f"{prefix}DTC"] == ""
            assert row["USUBJID"].startswith("SUBJ-")
    assert {r["TUDY"] for r in result["tu"] if r["VISIT"] == "BASELINE"} == {"1"}


def test_written_files_have_cdisc_columns(tmp_path: Path) -> None:
    write_sdtm(tables(), tmp_path)
    for name, columns in (("tu", TU_COLUMNS), ("tr", TR_COLUMNS), ("rs", RS_COLUMNS)):
        with open(tmp_path / f"{name}.csv", encoding="utf-8") as handle:
            assert tuple(next(csv.reader(handle))) == columns
    assert method_of("ct") == "CT SCAN" and method_of("mr") == "MRI"
