"""The DICOM PS3.15 Basic Profile on the headers tumorboard reads and writes.

Expected actions are those of PS3.15 Table E.1-1 written out here by hand
(X remove, Z empty, D dummy, U consistent new UID, K keep), not read from the
profile table under test.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.volume import Volume
from tumorboard.privacy import Deidentifier

IDENTIFIERS = ("MRN-778899", "DOE", "JANE", "19640312", "ACC55501", "St Elsewhere", "HOUSE")


def headers(folder: Path, study_date: str = "20240108") -> list[Dataset]:
    volume = Volume(np.zeros((2, 4, 4), dtype=np.float32), (5.0, 1.0, 1.0), unit="HU")
    paths = write_dicom_series(
        volume,
        folder,
        modality="CT",
        series_description="ct",
        series_number=1,
        study={"PatientID": "MRN-778899", "PatientName": "DOE^JANE"},
    )
    result = []
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.PatientBirthDate = "19640312"
        ds.PatientSex = "F"
        ds.PatientAge = "059Y"
        ds.PatientWeight = "70"
        ds.OtherPatientIDs = "OTHER-1"
        ds.AccessionNumber = "ACC55501"
        ds.InstitutionName = "St Elsewhere"
        ds.ReferringPhysicianName = "HOUSE^G"
        ds.PerformingPhysicianName = "HOUSE^G"
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = study_date
        ds.StudyTime = "093000"
        ds.StudyID = "S1"
        ds.StudyDescription = "CT MRN-778899"
        ds.add_new(0x00091010, "LO", "private MRN-778899")
        result.append(ds)
    reference = Dataset()
    reference.ReferencedSOPClassUID = result[1].SOPClassUID
    reference.ReferencedSOPInstanceUID = result[1].SOPInstanceUID
    result[0].ReferencedImageSequence = Sequence([reference])
    return result


def test_basic_profile_actions(tmp_path: Path) -> None:
    original = headers(tmp_path / "ct")
    deid = Deidentifier(salt="k")
    out = [deid.dataset(ds) for ds in original]
    first = out[0]
    for keyword in (
        "OtherPatientIDs",
        "PerformingPhysicianName",
        "PatientAge",
        "PatientWeight",
        "StudyDescription",
        "SeriesDescription",
    ):
        assert keyword not in first, keyword  # X
    for keyword in (
        "PatientBirthDate",
        "PatientSex",
        "AccessionNumber",
        "ReferringPhysicianName",
        "StudyDate",
        "StudyTime",
        "StudyID",
    ):
        assert first[keyword].is_empty, keyword  # Z
    assert first.InstitutionName == "ANONYMOUS"  # X/Z/D -> D
    assert first.ContentDate == "19000101" and first.SeriesDate == "19000101"  # Z/D, X/D
    assert 0x00091010 not in first  # private
    assert first.PatientID == first.PatientName == deid.pseudonym("MRN-778899")
    assert first.PatientIdentityRemoved == "YES"
    assert [c.CodeValue for c in first.DeidentificationMethodCodeSequence] == ["113100"]
    # K: geometry and class stay
    for keyword in ("Rows", "Columns", "PixelSpacing", "Modality", "SOPClassUID", "PixelData"):
        assert first[keyword].value == original[0][keyword].value, keyword
    # the original is untouched
    assert original[0].PatientID == "MRN-778899" and 0x00091010 in original[0]
    path = tmp_path / "deid.dcm"
    first.save_as(path, enforce_file_format=True)
    raw = path.read_bytes()
    for identifier in IDENTIFIERS:
        assert identifier.encode() not in raw, identifier


def test_uids_are_replaced_consistently(tmp_path: Path) -> None:
    original = headers(tmp_path / "ct")
    deid = Deidentifier(salt="k")
    out = [deid.dataset(ds) for ds in original]
    for keyword in ("SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID"):
        new = str(out[0][keyword].value)
        assert new != str(original[0][keyword].value)
        assert new.startswith("2.25.") and len(new) <= 64, keyword
    assert out[0].file_meta.MediaStorageSOPInstanceUID == out[0].SOPInstanceUID
    # the reference inside a sequence points at the de-identified second image
    assert out[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID == out[1].SOPInstanceUID
    assert out[0].StudyInstanceUID == out[1].StudyInstanceUID
    again = Deidentifier(salt="k").dataset(original[0])
    other = Deidentifier(salt="other").dataset(original[0])
    assert again.SOPInstanceUID == out[0].SOPInstanceUID
    assert other.SOPInstanceUID != out[0].SOPInstanceUID
    assert other.PatientID != out[0].PatientID


def test_modified_dates_option_keeps_intervals(tmp_path: Path) -> None:
    base = headers(tmp_path / "a", "20240108")[0]
    later = headers(tmp_path / "b", "20240207")[0]  # 30 days later
    deid = Deidentifier(salt="k", dates="shift")
    shift = deid.date_shift_days("MRN-778899")
    assert shift < 0 and shift % 7 == 0 and shift >= -3640
    first, second = deid.dataset(base), deid.dataset(later)

    def day(value: str) -> dt.date:
        return dt.datetime.strptime(value, "%Y%m%d").date()

    assert day(first.StudyDate) == dt.date(2024, 1, 8) + dt.timedelta(days=shift)
    assert (day(second.StudyDate) - day(first.StudyDate)).days == 30
    assert day(first.StudyDate).weekday() == dt.date(2024, 1, 8).weekday()
    assert first.StudyTime == "093000"
    assert first["PatientBirthDate"].is_empty  # never shifted, always removed
    codes = [c.CodeValue for c in first.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113107"]


def test_bad_date_option_is_refused() -> None:
    with pytest.raises(ValueError, match="dates must be"):
        Deidentifier(dates="keep")  # type: ignore[arg-type]


def test_records_drop_identifying_keys_and_scrub_text() -> None:
    deid = Deidentifier(salt="k")
    record = {
        "patient_id": "MRN-778899",
        "patient_name": "DOE^JANE",
        "birth_date": "1964-03-12",
        "Date of Birth": "12.03.1964",
        "study_id": "TRIAL-7",
        "notes": ["Jane Doe, mrn778899-L1, 8-Jan-2024"],
        "figures": {"spider": "data:image/png;base64,20240108"},
        "size_mm": "12.5",
    }
    out = deid.record(record)
    assert set(out) == {"patient_id", "study_id", "notes", "figures", "size_mm"}
    assert out["patient_id"] == deid.pseudonym("MRN-778899")
    assert out["study_id"] == deid.pseudonym("TRIAL-7", "STUDY")
    assert out["notes"] == [f"[name] [name], {deid.pseudonym('MRN-778899')}-L1, [date]"]
    assert out["figures"] == record["figures"] and out["size_mm"] == "12.5"
    assert deid.record(out) == out  # a second pass changes nothing
