from __future__ import annotations

import json
from pathlib import Path

import pytest

from tumorboard.criteria.engine import assess_patient
from tumorboard.phantoms import reference_measurements as reference
from tumorboard.pipeline import demo_reference
from tumorboard.report.crf import (
    CRF_PATIENT_KEYS,
    CRF_SCHEMA_VERSION,
    CRF_TOP_KEYS,
    Disclosure,
    PatientCase,
    crf_document,
    procedure_of,
    render_crf_html,
    study_day,
    write_crf_pdf,
)


@pytest.fixture(scope="module")
def case() -> PatientCase:
    series = demo_reference.reference_series()
    return PatientCase(series, assess_patient(series))


def test_document_content(case: PatientCase) -> None:
    info = demo_reference.reference_patient_info()
    criteria = [a.criteria for a in case.assessments]
    doc = crf_document([case], info, criteria, with_figures=False)
    assert doc["schema_version"] == CRF_SCHEMA_VERSION
    assert tuple(doc) == CRF_TOP_KEYS
    patient = doc["patients"][0]
    assert tuple(patient) == CRF_PATIENT_KEYS  # the layout documented in the module
    assert patient["nadir"]["timepoint"] == "week-24"
    assert patient["nadir"]["target_sum_mm"] == "56.0"
    assert patient["imaging_procedures_used"]["somatostatin-receptor imaging"]
    assert not patient["imaging_procedures_used"]["DOPA PET"]
    assert patient["previous_treatments"]["surgery"]
    assert [t["lesion_id"] for t in patient["target_lesions"]] == ["L1", "L2", "N1"]
    assert patient["target_lesions"][2]["measure"] == "short axis"
    by_criteria = {c["criteria"]: c for c in patient["conclusion"]}
    assert by_criteria["choi"]["recommended"] and not by_criteria["irecist"]["recommended"]
    assert by_criteria["recist1.1"]["response_vs_nadir"] == "PD"
    assert {n["lesion_id"]: n["new_baseline_lesion"] for n in patient["new_lesions"]} == {
        "X1": True,
        "X2": False,
    }
    matrix = {
        row["timepoint"]: {c["criteria"]: c for c in row["cells"]}
        for row in patient["response_matrix"]
    }
    assert matrix["week-36"]["RECIST 1.1"]["overall_response"] == "PD"
    assert matrix["week-36"]["CHOI"]["overall_response"] == "PR"
    assert matrix["week-24"]["RECIST 1.1"]["strict_response"] == "PD"
    assert matrix["week-24"]["RECIST 1.1"]["overall_response"] == "PR"
    assert patient["hyperprogression"] is not None
    assert patient["hyperprogression"]["champiat"] is False
    json.dumps(doc, allow_nan=False)


def test_html_shows_reason_and_both_references(case: PatientCase) -> None:
    info = demo_reference.reference_patient_info()
    doc = crf_document([case], info, [a.criteria for a in case.assessments])
    page = render_crf_html(doc)
    assert page.startswith("<!DOCTYPE html>")
    assert "not used at baseline" in page
    assert "vs nadir" in page and "Strict reading" in page
    assert page.count("data:image/png;base64,") == 3
    fragment = render_crf_html(doc, fragment=True)
    assert "<html" not in fragment and "crf-patient" in fragment


def test_deidentified_export_leaks_no_identity(case: PatientCase) -> None:
    info = demo_reference.reference_patient_info()
    criteria = [a.criteria for a in case.assessments]
    disclosure = Disclosure(deidentify=True, salt="s3cret")
    doc = crf_document([case], info, criteria, disclosure, with_figures=False)
    text = json.dumps(doc) + render_crf_html(doc)
    assert reference.PATIENT_ID not in text
    for _, date in reference.TIMEPOINTS[1:]:
        assert date not in text
    label = doc["patients"][0]["patient"]
    assert label.startswith("SUBJ-") and len(label) == 17
    assert Disclosure(deidentify=True, salt="s3cret").patient(reference.PATIENT_ID) == label
    assert Disclosure(deidentify=True, salt="other").patient(reference.PATIENT_ID) != label
    assert doc["patients"][0]["baseline"]["date"] == "day 1"


def test_study_day_and_procedures() -> None:
    import datetime as dt

    base = dt.date(2024, 1, 8)
    assert study_day(base, base) == 1
    assert study_day(dt.date(2024, 1, 9), base) == 2
    assert study_day(dt.date(2024, 1, 7), base) == -1
    assert procedure_of("pet-ga68-dotatate") == "somatostatin-receptor imaging"
    assert procedure_of("PET-FDOPA") == "DOPA PET"
    assert procedure_of("mr") == "contrast MRI"
    assert procedure_of("us") is None


def test_pdf_renders(tmp_path: Path, case: PatientCase) -> None:
    info = demo_reference.reference_patient_info()
    doc = crf_document([case], info, [a.criteria for a in case.assessments])
    path = tmp_path / "crf.pdf"
    pages = write_crf_pdf(render_crf_html(doc), path)
    assert path.read_bytes()[:5] == b"%PDF-"
    assert pages >= 2  # the whole form, not an empty page


def test_deidentify_scrubs_dates_and_ids_in_free_text() -> None:
    from tumorboard.criteria.measurements_csv import parse_measurement_rows
    from tumorboard.report.sdtm import sdtm_tables

    columns = (
        "patient_id",
        "timepoint",
        "date",
        "modality",
        "lesion_id",
        "organ",
        "role",
        "is_node",
        "longest_diameter_mm",
        "short_axis_mm",
        "mean_hu",
        "viable_diameter_mm",
        "sul_peak",
        "status",
    )
    rows = [
        dict(
            zip(
                columns,
                (
                    "MRN-77",
                    "baseline",
                    "2024-01-08",
                    "ct",
                    "L1",
                    "liver (MRN-77)",
                    "target",
                    "false",
                    "30",
                    "",
                    "",
                    "",
                    "",
                    "present",
                ),
                strict=True,
            )
        ),
        dict(
            zip(
                columns,
                (
                    "MRN-77",
                    "scan 2024-03-04",
                    "2024-03-04",
                    "ct",
                    "L1",
                    "liver (MRN-77)",
                    "target",
                    "false",
                    "20",
                    "",
                    "",
                    "",
                    "",
                    "present",
                ),
                strict=True,
            )
        ),
    ]
    (series,) = parse_measurement_rows(rows, columns)
    case = PatientCase(series, assess_patient(series, ["recist1.1"]))
    disclosure = Disclosure(deidentify=True)
    assert "s3cr3t" not in repr(Disclosure(deidentify=True, salt="s3cr3t"))
    info = demo_reference.reference_patient_info()
    doc = crf_document([case], info, ["recist1.1"], disclosure)
    text = (
        json.dumps(doc) + render_crf_html(doc) + json.dumps(sdtm_tables([case], info, disclosure))
    )
    assert "MRN-77" not in text
    assert "2024-03-04" not in text and "2024-01-08" not in text
    assert "scan [date]" in text


def test_pet_only_target_on_the_form(tmp_path: Path) -> None:
    from tumorboard.criteria.measurements_csv import read_measurements_csv
    from tumorboard.criteria.selection import PatientInfo

    path = tmp_path / "m.csv"
    path.write_text(
        "patient_id,timepoint,date,modality,lesion_id,organ,role,is_node,longest_diameter_mm,"
        "short_axis_mm,mean_hu,viable_diameter_mm,sul_peak,status,sul_sd\n"
        "P1,baseline,2024-01-08,pet-fdg,H1,liver,target,false,,,,,9.5,present,\n"
        "P1,baseline,2024-01-08,ct,L1,liver,target,false,40,,80,,,present,\n"
        "P1,baseline,2024-01-08,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2\n"
        "P1,week-12,2024-04-01,pet-fdg,H1,liver,target,false,,,,,5.0,present,\n"
        "P1,week-12,2024-04-01,ct,L1,liver,target,false,30,,60,,,present,\n"
        "P1,week-12,2024-04-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2\n",
        encoding="utf-8",
    )
    (series,) = read_measurements_csv(path)
    document = crf_document(
        [PatientCase(series, assess_patient(series))],
        PatientInfo(),
        ["recist1.1", "percist"],
        with_figures=False,
    )
    (patient,) = document["patients"]
    # anatomical targets first; the PET-only target is measured by its SULpeak
    assert [(t["lesion_id"], t["measure"]) for t in patient["target_lesions"]] == [
        ("L1", "longest diameter"),
        ("H1", "SULpeak (PET only)"),
    ]
    assert patient["target_lesions"][1]["latest"]["sul_peak"] == "5.0"
    assert any("H1 read on PET only" in note for note in patient["notes"])
    assert "SULpeak (PET only)" in render_crf_html(document)
