"""Each reference patient has one timeline across the form, PET, DCE and WB-DWI.

The dates and tracers every phantom writes (form rows, DICOM headers, truth
files) are read back and held to :mod:`tumorboard.phantoms.patients`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pydicom
import pytest

from tumorboard.phantoms import (
    liver_dce,
    pet_case,
    pituitary_case,
    reference_measurements,
    wbdwi_case,
)
from tumorboard.phantoms.patients import (
    BREAST_PATIENT,
    NET_PATIENT,
    PATIENTS,
    PITUITARY_PATIENT,
    ReferencePatient,
    TimelineEvent,
)

_FORM_TRACERS = {"pet-fdg": "fdg", "pet-dotatate": "dotatate"}


def _event_on(patient: ReferencePatient, date: dt.date) -> TimelineEvent:
    matches = [event for event in patient.events if event.date == date]
    assert matches, f"{patient.key}: nothing on the timeline on {date}"
    return matches[0]


def _first_header(folder: Path) -> pydicom.Dataset:
    path = next(p for p in sorted(folder.rglob("*.dcm")))
    return pydicom.dcmread(path, stop_before_pixels=True)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    root = tmp_path_factory.mktemp("patients")
    case = pet_case.build_pet_case()
    pet_case.write_pet_case(case, root / "pet")
    pituitary_case.write_pituitary_case(pituitary_case.build_pituitary_case(), root / "pituitary")
    liver_dce.write_into_reference_patient(root)
    return root


def test_timelines_are_ordered_and_patients_distinct():
    assert len({p.patient_id for p in PATIENTS.values()}) == len(PATIENTS)
    with pytest.raises(ValueError, match="date order"):
        ReferencePatient(
            "x",
            "X",
            "x",
            "x",
            (
                TimelineEvent("b", dt.date(2024, 2, 1), "b"),
                TimelineEvent("a", dt.date(2024, 1, 1), "a"),
            ),
        )


def test_form_dates_and_tracers_follow_the_net_timeline():
    rows = reference_measurements.reference_measurement_rows()
    assert {row["patient_id"] for row in rows} == {NET_PATIENT.patient_id}
    tracer_dates: dict[str, list[dt.date]] = {}
    for row in rows:
        date = dt.date.fromisoformat(row["date"])
        event = _event_on(NET_PATIENT, date)
        assert event.key == f"ct-{row['timepoint']}"
        tracer = _FORM_TRACERS.get(row["modality"])
        if tracer is not None:
            assert tracer in event.tracers, (row["timepoint"], tracer)
            tracer_dates.setdefault(tracer, []).append(date)
    # the form's first DOTATATE reading (the new-baseline lesion X1) is the first DOTATATE ever
    assert min(tracer_dates["dotatate"]) == NET_PATIENT.first_use("dotatate")
    assert min(tracer_dates["fdg"]) == NET_PATIENT.first_use("fdg")


def test_pet_scans_follow_the_net_timeline(written):
    first_sstr = NET_PATIENT.first_use("dotatate")
    assert first_sstr is not None
    truth = json.loads((written / "pet" / "truth.json").read_text())
    assert truth["patient"] == NET_PATIENT.key
    for tp in pet_case.TIMEPOINTS:
        header = _first_header(written / "pet" / tp.key)
        scan_date = dt.datetime.strptime(header.StudyDate, "%Y%m%d").date()
        event = _event_on(NET_PATIENT, scan_date)
        assert (
            event.key == truth["timepoints"][tp.key]["event"] == pet_case.TIMEPOINT_EVENTS[tp.key]
        )
        assert tp.tracer in event.tracers
        assert header.PatientID == NET_PATIENT.patient_id
        # the PET section's DOTATATE scans come after the patient's first DOTATATE (week 24)
        if tp.tracer == "dotatate":
            assert scan_date > first_sstr
            assert "baseline" not in str(header.SeriesDescription).lower()
    # the PET follows the form: after its last visit, around the first PRRT cycle
    last_form = max(dt.date.fromisoformat(d) for _, d in reference_measurements.TIMEPOINTS)
    prrt = NET_PATIENT.date_of("prrt-cycle-1")
    before = [tp.scan_start.date() for tp in pet_case.TIMEPOINTS if "baseline" in tp.key]
    after = [tp.scan_start.date() for tp in pet_case.TIMEPOINTS if "followup" in tp.key]
    assert last_form < min(before) and max(before) < prrt < min(after)


def test_dce_visits_follow_the_net_timeline(written):
    prrt = NET_PATIENT.date_of("prrt-cycle-1")
    dates = {}
    for visit in liver_dce.Visit:
        folder = written / "dce" / visit.folder
        header = _first_header(folder / "dicom")
        dates[visit] = dt.datetime.strptime(header.StudyDate, "%Y%m%d").date()
        assert header.PatientID == NET_PATIENT.patient_id
        truth = json.loads((folder / "truth.json").read_text())
        assert truth["patient"] == NET_PATIENT.key
        assert dt.date.fromisoformat(truth["date"]) == dates[visit]
        assert _event_on(NET_PATIENT, dates[visit]).key.startswith("dce-")
    before, after = dates[liver_dce.Visit.BASELINE], dates[liver_dce.Visit.FOLLOW_UP]
    assert before < prrt < after
    assert 50 <= (after - prrt).days <= 70  # "two months after PRRT"


def test_pituitary_and_wbdwi_are_their_own_patients(written):
    header = _first_header(written / "pituitary")
    assert header.PatientID == PITUITARY_PATIENT.patient_id
    date = dt.datetime.strptime(header.StudyDate, "%Y%m%d").date()
    assert _event_on(PITUITARY_PATIENT, date).tracers == ("methionine",)
    for exam, date in enumerate(wbdwi_case.EXAM_DATES, start=1):
        assert _event_on(BREAST_PATIENT, date).key == f"wbdwi-exam{exam}"


def test_no_patient_uses_a_tracer_before_its_first_use():
    for patient in PATIENTS.values():
        for event in patient.events:
            for tracer in event.tracers:
                first = patient.first_use(tracer)
                assert first is not None and first <= event.date
