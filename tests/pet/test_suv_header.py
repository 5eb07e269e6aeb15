"""SUV scale factors from PET headers against the IBSI DROs and the cornerstone vectors."""

from __future__ import annotations

import copy
import csv
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from tumorboard.errors import DicomError, InputError
from tumorboard.imaging.dicom_scan import scan_dicom_folder
from tumorboard.imaging.dicom_volume import series_to_volume
from tumorboard.imaging.nifti import read_nifti
from tumorboard.pet.suv_header import (
    DecayCorrection,
    ScanTimeRule,
    SuvConversion,
    Units,
    parse_dt,
    parse_tm,
    suv_conversion,
)

#: The cornerstone/IBSI comparison: relative agreement of the SUVbw factor.
CORNERSTONE_RELATIVE_TOLERANCE = 1e-6
#: IBSI DROs: min/median/max inside the mask compared at two decimals.
IBSI_DECIMALS = 2
#: DRO_2_3 stores CM2ML values with RescaleSlope 0.01: one quantisation step
#: of SUVbsa (0.01 cm2/ml) is 0.01 x weight/BSA = 0.0379 SUVbw.
DRO_2_3_QUANTISATION = 0.01 * 70_000 / 18_481.430181

_RADIOPHARMACEUTICAL_KEYS = {
    "RadionuclideTotalDose",
    "RadionuclideHalfLife",
    "RadiopharmaceuticalStartTime",
    "RadiopharmaceuticalStartDateTime",
}


def _cornerstone_dataset(instance: dict[str, object]) -> Dataset:
    ds = Dataset()
    ds.Modality = "PT"
    item = Dataset()
    for key, value in instance.items():
        if key == "PhilipsPETPrivateGroup":
            assert isinstance(value, dict)
            if "SUVScaleFactor" in value:
                ds.add_new(0x70531000, "DS", str(value["SUVScaleFactor"]).strip())
            if "ActivityConcentrationScaleFactor" in value:
                ds.add_new(0x70531009, "DS", str(value["ActivityConcentrationScaleFactor"]).strip())
        elif key in _RADIOPHARMACEUTICAL_KEYS:
            setattr(item, key, value.strip() if isinstance(value, str) else value)
        else:
            setattr(ds, key, value)
    ds.RadiopharmaceuticalInformationSequence = [item]
    return ds


def _cornerstone_cases(reference_dir: Path) -> list[dict[str, str]]:
    table = reference_dir / "pet" / "suv_test_vectors" / "cornerstone_calculate_suv"
    with open(table / "expected_suv_factors.csv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _load_cornerstone(reference_dir: Path, filename: str) -> list[Dataset]:
    folder = reference_dir / "pet" / "suv_test_vectors" / "cornerstone_calculate_suv"
    instances = json.loads((folder / filename).read_text(encoding="utf-8"))
    return [_cornerstone_dataset(instance) for instance in instances]


def test_cornerstone_vectors_all_eight(reference_dir: Path) -> None:
    cases = _cornerstone_cases(reference_dir)
    assert len(cases) == 8
    for case in cases:
        datasets = _load_cornerstone(reference_dir, case["metadata_file"])
        conversion = suv_conversion(datasets, where=case["case"])
        expected = float(case["expected_suvbw_factor_g_per_Bq"])
        assert conversion.pixel_to_suvbw[0] == pytest.approx(
            expected, rel=CORNERSTONE_RELATIVE_TOLERANCE
        ), case["case"]
        if case["decay_time_s"]:
            assert conversion.scan_datetime is not None
            assert conversion.injection_datetime is not None
            decay_s = (conversion.scan_datetime - conversion.injection_datetime).total_seconds()
            assert decay_s == pytest.approx(float(case["decay_time_s"]), abs=0.05), case["case"]


def test_cornerstone_scan_time_rules(reference_dir: Path) -> None:
    rules = {}
    for case in _cornerstone_cases(reference_dir):
        conversion = suv_conversion(_load_cornerstone(reference_dir, case["metadata_file"]))
        rules[case["case"]] = conversion.scan_time_rule
    assert rules["SIEMENS"] is ScanTimeRule.SERIES_TIME
    # FrameReferenceTime is 0 here: back-computation must not be used.
    assert rules["CPS_AND_BQML_AC_DT_-_S_DT"] is ScanTimeRule.EARLIEST_ACQUISITION


def test_unconditional_back_computation_would_be_wrong(reference_dir: Path) -> None:
    datasets = _load_cornerstone(reference_dir, "CPS_AND_BQML_AC_DT_-_S_DT-instances.json")
    reference = suv_conversion(datasets).pixel_to_suvbw[0]
    for ds in datasets:
        ds.FrameReferenceTime = 60000.0  # now positive: the back-computation rule applies
    moved = suv_conversion(datasets)
    assert moved.scan_time_rule is ScanTimeRule.FRAME_REFERENCE
    assert abs(moved.pixel_to_suvbw[0] / reference - 1) > 1e-3


def _read_dro(folder: Path) -> tuple[np.ndarray, np.ndarray, SuvConversion]:
    series = [s for s in scan_dicom_folder(folder / "PT") if s.is_image][0]
    activity = series_to_volume(series.slices, what=folder.name)
    conversion = suv_conversion([item.dataset for item in series.slices], where=folder.name)
    suv = conversion.suvbw(activity)
    mask = read_nifti(folder / "mask" / "DRO_mask.nii.gz", what="DRO mask")
    assert suv.same_geometry(mask)
    return np.asarray(suv.array), np.asarray(mask.array) > 0, conversion


def _dro_ids(reference_dir: Path) -> list[dict[str, str]]:
    with open(reference_dir / "pet" / "ibsi_suv_dro" / "DRO_list.csv", encoding="utf-8") as h:
        return list(csv.DictReader(h))


def test_ibsi_all_17_dros(ibsi_dro_dir: Path, reference_dir: Path) -> None:
    rows = _dro_ids(reference_dir)
    assert len(rows) == 17
    for row in rows:
        suv, mask, _ = _read_dro(ibsi_dro_dir / row["ID"])
        values = suv[mask].astype(np.float64)
        measured = np.array([values.min(), np.median(values), values.max()])
        rounded = np.round(measured, IBSI_DECIMALS)
        expected = np.array(
            [float(row[k]) for k in ("SUVmin_expected", "SUVmed_expected", "SUVmax_expected")]
        )
        if row["ID"] == "DRO_2_3":
            assert np.all(np.abs(measured - expected) <= DRO_2_3_QUANTISATION), measured
            assert np.allclose(rounded, [0.19, 0.98, 3.98], rtol=0, atol=1e-9)
        else:
            assert np.allclose(rounded, expected, rtol=0, atol=1e-9), (row["ID"], measured)


def test_ibsi_rules_used(ibsi_dro_dir: Path) -> None:
    _, _, conversion = _read_dro(ibsi_dro_dir / "DRO_3_2")
    assert conversion.scan_time_rule is ScanTimeRule.FRAME_REFERENCE
    _, _, conversion = _read_dro(ibsi_dro_dir / "DRO_3_4")
    assert conversion.decay_correction is DecayCorrection.NONE
    factors = conversion.pixel_to_suvbw
    assert len(np.unique(factors)) == 2  # two frame acquisition times
    _, _, conversion = _read_dro(ibsi_dro_dir / "DRO_2_4")
    assert conversion.units is Units.CNTS


# ----------------------------------------------------------------------------- synthetic
def _bqml_slice(**overrides: object) -> Dataset:
    ds = Dataset()
    ds.Modality = "PT"
    ds.Units = "BQML"
    ds.DecayCorrection = "START"
    ds.CorrectedImage = ["NORM", "ATTN", "DECY"]
    ds.SeriesDate = "20250101"
    ds.SeriesTime = "110000"
    ds.AcquisitionDate = "20250101"
    ds.AcquisitionTime = "110000"
    ds.PatientWeight = "70"
    ds.PatientSize = "1.75"
    ds.PatientSex = "M"
    ds.ImagePositionPatient = [0, 0, 0]
    item = Dataset()
    item.RadionuclideTotalDose = "370000000"
    item.RadionuclideHalfLife = "6586.2"
    item.RadiopharmaceuticalStartDateTime = "20250101100000"
    ds.RadiopharmaceuticalInformationSequence = [item]
    for key, value in overrides.items():
        if value is None:
            delattr(ds, key)
        else:
            setattr(ds, key, value)
    return ds


def _expected_bqml(
    weight_kg: float = 70.0,
    dose: float = 370e6,
    decay_s: float = 3600.0,
    half_life_s: float = 6586.2,
) -> float:
    return weight_kg * 1000 / (dose * np.exp(-np.log(2) * decay_s / half_life_s))


def test_bqml_factor_and_contract_fields() -> None:
    conversion = suv_conversion([_bqml_slice()])
    assert conversion.pixel_to_suvbw[0] == pytest.approx(_expected_bqml(), rel=1e-12)
    assert conversion.suvbw_scale_g_per_bq == pytest.approx(_expected_bqml(), rel=1e-12)
    assert conversion.half_life_s == 6586.2
    assert conversion.scan_datetime == datetime(2025, 1, 1, 11, 0, 0)
    sul = conversion.sul_scale_g_per_bq("james120")
    assert sul == pytest.approx(_expected_bqml() * 57.8 / 70, rel=1e-9)


def test_dose_in_mbq_is_detected() -> None:
    ds = _bqml_slice()
    ds.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose = "370"
    assert suv_conversion([ds]).injected_dose_bq == pytest.approx(370e6)


def test_half_life_from_radionuclide_code() -> None:
    ds = _bqml_slice()
    item = ds.RadiopharmaceuticalInformationSequence[0]
    del item.RadionuclideHalfLife
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "C-111A1", "SRT", "^18^F"
    item.RadionuclideCodeSequence = [code]
    assert suv_conversion([ds]).half_life_s == pytest.approx(109.77 * 60)
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "", "", "Ga-68"
    assert suv_conversion([ds]).half_life_s == pytest.approx(67.71 * 60)


def test_midnight_crossing_with_time_only() -> None:
    ds = _bqml_slice(
        SeriesDate="20250102",
        SeriesTime="003000",
        AcquisitionDate="20250102",
        AcquisitionTime="003000",
    )
    item = ds.RadiopharmaceuticalInformationSequence[0]
    del item.RadiopharmaceuticalStartDateTime
    item.RadiopharmaceuticalStartTime = "233000"
    conversion = suv_conversion([ds])
    assert conversion.injection_datetime == datetime(2025, 1, 1, 23, 30)
    assert conversion.pixel_to_suvbw[0] == pytest.approx(_expected_bqml(), rel=1e-12)


def test_weight_override_and_missing_weight() -> None:
    ds = _bqml_slice(PatientWeight=None)
    with pytest.raises(InputError, match="PatientWeight.*--weight-kg"):
        suv_conversion([ds])
    conversion = suv_conversion([ds], weight_kg=80.0)
    assert conversion.pixel_to_suvbw[0] == pytest.approx(_expected_bqml(80.0), rel=1e-12)


@pytest.mark.parametrize(("weight", "accepted"), [(499.9, True), (500.0, False), (0.1, True)])
def test_body_weight_limit_is_below_500_kg(weight: float, accepted: bool) -> None:
    ds = _bqml_slice(PatientWeight=None)
    if accepted:
        conversion = suv_conversion([ds], weight_kg=weight)
        assert conversion.pixel_to_suvbw[0] == pytest.approx(_expected_bqml(weight), rel=1e-12)
    else:
        with pytest.raises(InputError, match="between 0 and 500 kg"):
            suv_conversion([ds], weight_kg=weight)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"CorrectedImage": ["NORM", "DECY"]}, "not attenuation corrected"),
        ({"Units": "PROPCPS"}, "Units .*'PROPCPS' is not supported"),
        ({"Modality": "CT"}, "expected 'PT'"),
        ({"SeriesTime": None, "AcquisitionTime": None}, "scan time is missing"),
        ({"SeriesDate": "20241231", "AcquisitionDate": "20241231"}, "before the injection"),
        ({"Units": "CNTS"}, "Philips SUV scale factor"),
        ({"DecayCorrection": "LATER"}, "DecayCorrection"),
    ],
)
def test_bad_headers_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(DicomError, match=message):
        suv_conversion([_bqml_slice(**change)])


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("RadionuclideTotalDose", "RadionuclideTotalDose .* is missing"),
        ("RadionuclideHalfLife", "RadionuclideHalfLife .* is missing"),
        ("RadiopharmaceuticalStartDateTime", "injection time is missing"),
    ],
)
def test_missing_dose_half_life_or_injection_time(field: str, message: str) -> None:
    ds = _bqml_slice()
    delattr(ds.RadiopharmaceuticalInformationSequence[0], field)
    with pytest.raises(DicomError, match=message):
        suv_conversion([ds])


def test_missing_radiopharmaceutical_sequence() -> None:
    ds = _bqml_slice(RadiopharmaceuticalInformationSequence=None)
    with pytest.raises(DicomError, match="RadiopharmaceuticalInformationSequence"):
        suv_conversion([ds])


def test_inconsistent_slices_are_refused() -> None:
    first = _bqml_slice()
    second = copy.deepcopy(first)
    second.Units = "CNTS"
    with pytest.raises(DicomError, match="Units differs between slices"):
        suv_conversion([first, second])


def test_slices_with_different_doses_in_their_sequences_are_refused() -> None:
    # decoded sequences used to be keyed by repr ("<Sequence, length 1>"), so two
    # slices whose injected doses differ fell into one group and the first dose won
    first = _bqml_slice()
    second = copy.deepcopy(first)
    second.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose = "380000000"
    with pytest.raises(DicomError, match="differs between slices"):
        suv_conversion([first, second])
    same = copy.deepcopy(first)  # equal sequences still share one factor
    conversion = suv_conversion([first, same])
    assert conversion.pixel_to_suvbw[0] == conversion.pixel_to_suvbw[1]


def test_gml_needs_no_dose() -> None:
    ds = _bqml_slice(Units="GML", RadiopharmaceuticalInformationSequence=[Dataset()])
    ds.SUVType = "BW"
    conversion = suv_conversion([ds])
    assert conversion.pixel_to_suvbw[0] == 1.0
    assert conversion.suvbw_scale_g_per_bq is None


def test_suv_linear_in_activity() -> None:
    """Doubling the dose halves the factor; doubling the weight doubles it."""
    base = suv_conversion([_bqml_slice()]).pixel_to_suvbw[0]
    ds = _bqml_slice(PatientWeight="140")
    ds.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose = "740000000"
    assert suv_conversion([ds]).pixel_to_suvbw[0] == pytest.approx(base, rel=1e-12)


def test_time_parsers() -> None:
    assert parse_tm("1234", "t").minute == 34
    assert parse_tm("12:34:56.5", "t").microsecond == 500000
    assert parse_dt("20250101103000.25+0100", "dt") == datetime(2025, 1, 1, 10, 30, 0, 250000)
    with pytest.raises(DicomError, match="not a DICOM time"):
        parse_tm("1x", "AcquisitionTime")


def test_header_read_from_real_file(ibsi_dro_dir: Path) -> None:
    path = sorted((ibsi_dro_dir / "DRO_0_0" / "PT").glob("*.dcm"))[0]
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    # 368.08 MBq decayed over 1 h of F-18 is 252 MBq by design of the DRO.
    assert suv_conversion([ds]).pixel_to_suvbw[0] == pytest.approx(70_000 / 252e6, rel=1e-4)


@pytest.mark.parametrize("change", [{"Units": "GML", "SUVType": "BSA"}, {"Units": "CM2ML"}])
def test_suvbsa_to_suvbw_is_weight_over_bsa_in_g_per_cm2(change: dict[str, object]) -> None:
    """SUVbsa (cm^2/ml) x weight (g) / BSA (cm^2) = SUVbw (g/ml); Du Bois BSA written out."""
    bsa_m2 = 0.007184 * 70.0**0.425 * 175.0**0.725
    conversion = suv_conversion([_bqml_slice(**change)])
    assert conversion.pixel_to_suvbw[0] == pytest.approx(70_000.0 / (bsa_m2 * 10_000.0), rel=1e-12)


def _philips_counts(suv_scale: str | None, activity_scale: str | None) -> Dataset:
    ds = _bqml_slice(Units="CNTS")
    if suv_scale is not None:
        ds.add_new(0x70531000, "DS", suv_scale)
    if activity_scale is not None:
        ds.add_new(0x70531009, "DS", activity_scale)
    return ds


def test_philips_counts_zero_suv_scale_falls_back_to_activity_scale() -> None:
    """A zero SUV scale factor (7053,1000) is absent: the activity scale (7053,1009) is used."""
    conversion = suv_conversion([_philips_counts("0", "2.0")])
    assert conversion.pixel_to_suvbw[0] == pytest.approx(2.0 * _expected_bqml(), rel=1e-12)
    assert suv_conversion([_philips_counts("0.5", "2.0")]).pixel_to_suvbw[0] == 0.5


def test_philips_counts_zero_activity_scale_is_refused() -> None:
    with pytest.raises(DicomError, match="counts cannot be converted"):
        suv_conversion([_philips_counts(None, "0")])
