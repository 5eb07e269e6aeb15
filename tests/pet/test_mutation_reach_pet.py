"""Edges of the PET SUV code found by mutation testing (issue 9, benchmarks/README.md).

Each test pins a rule of the QIBA / DICOM SUV conventions the module
docstrings of :mod:`tumorboard.pet.suv_header`, :mod:`tumorboard.pet.decay_rules`,
:mod:`tumorboard.pet.suv_scaling` and :mod:`tumorboard.pet.body_size` quote;
expected values are written from those formulas, not from the code.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest
from pydicom.dataset import Dataset

from tumorboard.errors import DicomError, InputError
from tumorboard.imaging.volume import Volume
from tumorboard.pet.body_size import Sex
from tumorboard.pet.suv_header import suv_conversion
from tumorboard.pet.suv_scaling import DecayCorrection, SuvConversion, Units

#: F-18 half-life written in the test headers (s).
F18_HALF_LIFE_S = 6586.2


def _slice(**overrides: object) -> Dataset:
    """One BQML slice: 70 kg, 1.75 m, male; 370 MBq F-18 injected 1 h before the scan."""
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
    item.RadionuclideHalfLife = str(F18_HALF_LIFE_S)
    item.RadiopharmaceuticalStartDateTime = "20250101100000"
    ds.RadiopharmaceuticalInformationSequence = [item]
    for key, value in overrides.items():
        if value is None:
            delattr(ds, key)
        else:
            setattr(ds, key, value)
    return ds


def _decayed(dose_bq: float, seconds: float, half_life_s: float = F18_HALF_LIFE_S) -> float:
    """The dose after ``seconds`` of decay: D exp(-ln 2 t / T1/2)."""
    return dose_bq * math.exp(-math.log(2.0) * seconds / half_life_s)


def _conversion(factors: list[float], z_mm: list[float], **kwargs: object) -> SuvConversion:
    fields: dict[str, object] = {
        "units": Units.BQML,
        "decay_correction": DecayCorrection.START,
        "weight_kg": 70.0,
        "height_m": 1.75,
        "sex": Sex.MALE,
        "injected_dose_bq": None,
        "half_life_s": None,
        "injection_datetime": None,
        "scan_datetime": None,
        "scan_time_rule": None,
        "decayed_dose_bq": None,
    }
    fields.update(kwargs)
    positions = np.array([[0.0, 0.0, z] for z in z_mm])
    return SuvConversion(np.array(factors), positions, **fields)  # type: ignore[arg-type]


def _volume(n: int, spacing_mm: float = 3.0, origin_z: float = 0.0) -> Volume:
    return Volume(np.ones((n, 2, 2), np.float32), (spacing_mm, 1.0, 1.0), (0.0, 0.0, origin_z))


# ------------------------------------------------------------- suv_scaling
def test_two_slice_series_matches_each_slice_to_its_own_factor() -> None:
    """Slices are matched to the header slice at their position (two distinct factors)."""
    conversion = _conversion([1.0, 2.0], [0.0, 3.0])
    np.testing.assert_array_equal(conversion.factors_for(_volume(2)), [1.0, 2.0])
    # file order reversed: still matched by position
    reversed_order = _conversion([2.0, 1.0], [3.0, 0.0])
    np.testing.assert_array_equal(reversed_order.factors_for(_volume(2)), [1.0, 2.0])


def test_one_unmatched_slice_is_named() -> None:
    """Only the last volume slice (z = 9 mm) lacks a header slice within 0.75 mm."""
    conversion = _conversion([1.0, 2.0, 3.0], [0.0, 3.0, 6.0])
    with pytest.raises(DicomError, match=r"PET slice 3 at 9\.00 mm has no header slice"):
        conversion.factors_for(_volume(4))


def test_suvbw_volume_is_float32_in_g_per_ml() -> None:
    """SUVbw = rescaled activity x factor, stored as float32 with the unit g/ml."""
    conversion = _conversion([0.5, 0.25], [0.0, 3.0])
    activity = Volume(
        np.full((2, 2, 2), 1000.0, np.float64), (3.0, 1.0, 1.0), (0.0, 0.0, 0.0), unit="Bq/ml"
    )
    suv = conversion.suvbw(activity)
    assert suv.unit == "g/ml"
    assert np.asarray(suv.array).dtype == np.float32
    np.testing.assert_array_equal(np.asarray(suv.array)[:, 0, 0], [500.0, 250.0])


def test_sul_scale_is_none_without_a_dose() -> None:
    """GML units carry no dose: there is no Bq/ml to SUL factor, and no error."""
    conversion = _conversion([1.0], [0.0], units=Units.GML)
    assert conversion.suvbw_scale_g_per_bq is None
    assert conversion.sul_scale_g_per_bq() is None


def test_suvbsa_and_suvibw_ratios_to_suvbw() -> None:
    """SUVbsa / SUVbw = BSA[cm^2] / weight[g] (Du Bois); SUVibw / SUVbw = IBW / weight.

    Du Bois: 0.007184 W^0.425 H^0.725 m^2; IBW (men): 48.0 + 1.06 (H - 152) kg, H in cm
    (formulas quoted in ``tumorboard.pet.body_size``).
    """
    conversion = _conversion([1.0], [0.0])
    bsa_cm2 = 0.007184 * 70.0**0.425 * 175.0**0.725 * 10_000.0
    assert conversion.suvbsa_per_suvbw() == pytest.approx(bsa_cm2 / 70_000.0, rel=1e-12)
    ibw_kg = 48.0 + 1.06 * (175.0 - 152.0)
    assert conversion.suvibw_per_suvbw() == pytest.approx(ibw_kg / 70.0, rel=1e-12)
    female = _conversion([1.0], [0.0], sex=Sex.FEMALE)
    assert female.suvibw_per_suvbw() == pytest.approx(
        (45.5 + 0.91 * (175.0 - 152.0)) / 70.0, rel=1e-12
    )


# ------------------------------------------------------------- suv_header
def test_bqml_factor_is_weight_in_grams_over_decayed_dose() -> None:
    """QIBA: SUVbw = value x weight[g] / (dose decayed from injection to scan)."""
    conversion = suv_conversion([_slice()])
    expected = 70_000.0 / _decayed(370e6, 3600.0)
    assert conversion.pixel_to_suvbw[0] == pytest.approx(expected, rel=1e-12)
    assert conversion.decayed_dose_bq == pytest.approx(_decayed(370e6, 3600.0), rel=1e-12)
    assert conversion.injection_datetime == datetime(2025, 1, 1, 10, 0, 0)


def test_admin_decay_correction_uses_the_injected_dose() -> None:
    """DecayCorrection ADMIN: the image is corrected to the injection, the dose is not decayed."""
    conversion = suv_conversion([_slice(DecayCorrection="ADMIN")])
    assert conversion.pixel_to_suvbw[0] == pytest.approx(70_000.0 / 370e6, rel=1e-12)
    assert conversion.decayed_dose_bq == 370e6


def _ln2_over(half_life_s: float = F18_HALF_LIFE_S) -> float:
    return math.log(2.0) / half_life_s


# ------------------------------------------------------------- decay_rules
def test_time_only_injection_at_the_scan_time_stays_on_the_series_date() -> None:
    """Only an injection time *after* the scan moves back a day (midnight crossing)."""
    ds = _slice()
    item = ds.RadiopharmaceuticalInformationSequence[0]
    del item.RadiopharmaceuticalStartDateTime
    item.RadiopharmaceuticalStartTime = "110000"  # the scan time itself: no decay
    conversion = suv_conversion([ds])
    assert conversion.injection_datetime == datetime(2025, 1, 1, 11, 0, 0)
    assert conversion.pixel_to_suvbw[0] == pytest.approx(70_000.0 / 370e6, rel=1e-12)


def test_zero_half_life_is_absent_and_the_code_gives_it() -> None:
    """RadionuclideHalfLife 0 is not a half-life: the SCT code of F-18 (109.77 min) is used."""
    ds = _slice()
    item = ds.RadiopharmaceuticalInformationSequence[0]
    item.RadionuclideHalfLife = "0"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator = "77004003", "SCT"  # no CodeMeaning
    item.RadionuclideCodeSequence = [code]
    conversion = suv_conversion([ds])
    assert conversion.half_life_s == pytest.approx(109.77 * 60.0)
    assert conversion.radionuclide == "F-18"  # no meaning: the symbol is shown


def test_a_code_without_meaning_needs_its_value_and_scheme() -> None:
    """Without a CodeMeaning the radionuclide is known from CodeValue + scheme only."""
    ds = _slice()
    item = ds.RadiopharmaceuticalInformationSequence[0]
    del item.RadionuclideHalfLife
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator = "35337001", "SCT"  # Ga-68, 67.71 min
    item.RadionuclideCodeSequence = [code]
    conversion = suv_conversion([ds], where="s1")
    assert conversion.half_life_s == pytest.approx(67.71 * 60.0)
    assert conversion.radionuclide == "Ga-68"
    del code.CodingSchemeDesignator
    with pytest.raises(DicomError, match="RadionuclideHalfLife"):
        suv_conversion([ds], where="s1")


def test_a_written_half_life_keeps_an_empty_label_without_a_meaning() -> None:
    """Only the half-life is given: the radionuclide label stays empty (nothing guessed)."""
    assert suv_conversion([_slice()]).radionuclide == ""
    ds = _slice()
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator = "77004003", "SCT"
    ds.RadiopharmaceuticalInformationSequence[0].RadionuclideCodeSequence = [code]
    assert suv_conversion([ds]).radionuclide == ""


def test_a_small_positive_half_life_is_used_as_written() -> None:
    """Any positive RadionuclideHalfLife is taken (ADMIN: no decay check applies)."""
    ds = _slice(DecayCorrection="ADMIN")
    ds.RadiopharmaceuticalInformationSequence[0].RadionuclideHalfLife = "0.5"
    assert suv_conversion([ds]).half_life_s == 0.5


@pytest.mark.parametrize(("dose", "bq"), [("0.5", 0.5e6), ("1", 1e6)])
def test_small_positive_doses_are_mbq(dose: str, bq: float) -> None:
    """A RadionuclideTotalDose below 1e5 is MBq; any positive value is accepted."""
    ds = _slice()
    ds.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose = dose
    assert suv_conversion([ds]).injected_dose_bq == bq


def test_zero_dose_is_refused() -> None:
    ds = _slice()
    ds.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose = "0"
    with pytest.raises(DicomError, match="RadionuclideTotalDose must be positive"):
        suv_conversion([ds])


def _frame_reference_slice(frame_reference_ms: str, duration_ms: str) -> Dataset:
    """Series time after the acquisition (post-processed), with frame timing."""
    ds = _slice(SeriesTime="120000")
    ds.FrameReferenceTime = frame_reference_ms
    ds.ActualFrameDuration = duration_ms
    return ds


def _average_count_time_s(duration_s: float) -> float:
    """Time after the frame start at which the count rate equals its frame average.

    From the definition: exp(-l t) = (1 - exp(-l T)) / (l T).
    """
    lam = _ln2_over()
    return -math.log((1.0 - math.exp(-lam * duration_s)) / (lam * duration_s)) / lam


@pytest.mark.parametrize(
    ("frame_reference_ms", "duration_ms"), [("0.5", "300000"), ("60000", "500")]
)
def test_scan_time_back_computed_from_any_positive_frame_reference(
    frame_reference_ms: str, duration_ms: str
) -> None:
    """scan = acquisition start + average count time - FrameReferenceTime (QIBA)."""
    conversion = suv_conversion([_frame_reference_slice(frame_reference_ms, duration_ms)])
    assert conversion.scan_time_rule is not None
    assert conversion.scan_time_rule.name == "FRAME_REFERENCE"
    offset_s = _average_count_time_s(float(duration_ms) / 1000.0) - float(frame_reference_ms) / 1e3
    start = datetime(2025, 1, 1, 11, 0, 0)
    assert conversion.scan_datetime is not None
    assert (conversion.scan_datetime - start).total_seconds() == pytest.approx(offset_s, abs=1e-5)


def test_series_time_equal_to_the_first_acquisition_is_the_scan_time() -> None:
    """SeriesDateTime is used unless it is *after* the earliest acquisition time."""
    ds = _slice()
    ds.FrameReferenceTime = "60000"
    ds.ActualFrameDuration = "300000"
    conversion = suv_conversion([ds])
    assert conversion.scan_time_rule is not None
    assert conversion.scan_time_rule.name == "SERIES_TIME"
    assert conversion.scan_datetime == datetime(2025, 1, 1, 11, 0, 0)


# ------------------------------------------------------------- suv_header
def test_missing_decay_correction_is_start_only_for_suv_units() -> None:
    """GML/CM2ML need no decay bookkeeping (START assumed); BQML needs DecayCorrection."""
    gml = suv_conversion([_slice(Units="GML", DecayCorrection=None)])
    assert gml.decay_correction is DecayCorrection.START
    admin = suv_conversion([_slice(Units="GML", DecayCorrection="ADMIN")])
    assert admin.decay_correction is DecayCorrection.ADMIN
    with pytest.raises(DicomError, match="DecayCorrection"):
        suv_conversion([_slice(DecayCorrection=None)])


def test_philips_suv_scale_needs_no_dose() -> None:
    """CNTS with the Philips SUV scale factor is SUVbw already: a missing dose is no error."""
    ds = _slice(Units="CNTS")
    ds.add_new(0x70531000, "DS", "0.5")
    del ds.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose
    conversion = suv_conversion([ds])
    assert conversion.pixel_to_suvbw[0] == 0.5
    assert conversion.injected_dose_bq is None
    assert conversion.radionuclide == ""


def test_philips_activity_scale_below_one_is_used() -> None:
    """CNTS x activity scale (7053,1009) = Bq/ml, then the BQML rule."""
    ds = _slice(Units="CNTS")
    ds.add_new(0x70531009, "DS", "0.5")
    expected = 0.5 * 70_000.0 / _decayed(370e6, 3600.0)
    assert suv_conversion([ds]).pixel_to_suvbw[0] == pytest.approx(expected, rel=1e-12)


def test_positions_are_kept_only_when_factors_differ() -> None:
    """Equal factors need no positions (NaN); different factors keep ImagePositionPatient."""
    first = _slice(Units="CNTS", ImagePositionPatient=[0, 0, 0])
    first.add_new(0x70531000, "DS", "0.5")
    second = _slice(Units="CNTS", ImagePositionPatient=[0, 0, 3])
    second.add_new(0x70531000, "DS", "0.25")
    differ = suv_conversion([first, second])
    np.testing.assert_array_equal(differ.pixel_to_suvbw, [0.5, 0.25])
    np.testing.assert_array_equal(differ.positions_mm, [[0, 0, 0], [0, 0, 3]])
    same = suv_conversion(
        [_slice(ImagePositionPatient=[0, 0, 0]), _slice(ImagePositionPatient=[0, 0, 3])]
    )
    assert np.isnan(same.positions_mm).all()


def test_zero_header_weight_is_missing_and_a_light_weight_is_kept() -> None:
    with pytest.raises(InputError, match="PatientWeight .* missing or zero"):
        suv_conversion([_slice(PatientWeight="0")])
    conversion = suv_conversion([_slice(PatientWeight="0.9")])
    assert conversion.weight_kg == 0.9
    assert conversion.pixel_to_suvbw[0] == pytest.approx(900.0 / _decayed(370e6, 3600.0))


def test_zero_weight_override_is_refused() -> None:
    with pytest.raises(InputError, match="between 0 and 500 kg"):
        suv_conversion([_slice()], weight_kg=0.0)


@pytest.mark.parametrize(("size", "height"), [("0", None), ("0.9", 0.9), ("1.75", 1.75)])
def test_patient_size_zero_is_absent(size: str, height: float | None) -> None:
    assert suv_conversion([_slice(PatientSize=size)]).height_m == height


def _none_slice(duration_ms: str | None) -> Dataset:
    ds = _slice(DecayCorrection="NONE")
    if duration_ms is not None:
        ds.ActualFrameDuration = duration_ms
    return ds


def test_decay_correction_none_corrects_each_frame_from_its_own_time() -> None:
    """NONE: weight[g] / dose x l T / (1 - exp(-l T)) x exp(l (t_acq - t_inj)) (QIBA)."""
    lam, duration = _ln2_over(), 300.0
    within = lam * duration / (1.0 - math.exp(-lam * duration))
    expected = 70_000.0 / 370e6 * within * math.exp(lam * 3600.0)
    conversion = suv_conversion([_none_slice("300000")])
    assert conversion.pixel_to_suvbw[0] == pytest.approx(expected, rel=1e-12)


def test_decay_correction_none_without_a_frame_duration_has_no_within_frame_term() -> None:
    """No ActualFrameDuration: T = 0, the within-frame factor l T / (1 - exp(-l T)) -> 1."""
    expected = 70_000.0 / 370e6 * math.exp(_ln2_over() * 3600.0)
    conversion = suv_conversion([_none_slice(None)])
    assert conversion.pixel_to_suvbw[0] == pytest.approx(expected, rel=1e-12)


def test_decay_correction_none_needs_the_acquisition_time() -> None:
    ds = _none_slice("300000")
    del ds.AcquisitionTime
    del ds.AcquisitionDate
    with pytest.raises(DicomError, match="DecayCorrection NONE needs the AcquisitionTime"):
        suv_conversion([ds])


# ------------------------------------------------------------- SuvConversion checks
def test_zero_factor_and_zero_weight_are_refused() -> None:
    with pytest.raises(InputError, match="pixel_to_suvbw must be positive"):
        _conversion([1.0, 0.0], [0.0, 3.0])
    with pytest.raises(InputError, match="weight_kg must be positive"):
        _conversion([1.0], [0.0], weight_kg=0.0)


def test_factors_and_positions_are_flattened() -> None:
    conversion = SuvConversion(
        np.array([[1.0], [2.0]]),
        np.array([0.0, 0.0, 0.0, 0.0, 0.0, 3.0]),
        Units.BQML,
        DecayCorrection.START,
        70.0,
        1.75,
        Sex.MALE,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    assert conversion.pixel_to_suvbw.shape == (2,)
    assert conversion.positions_mm.shape == (2, 3)


# ------------------------------------------------------------- more header rules
def test_ge_private_scan_time_is_used_for_a_post_processed_series() -> None:
    """Series time after the first acquisition: the GE private scan time (0009,100D) is used."""
    ds = _slice(SeriesTime="120000")
    ds.add_new(0x0009100D, "DT", "20250101103000")
    conversion = suv_conversion([ds])
    assert conversion.scan_time_rule is not None
    assert conversion.scan_time_rule.name == "GE_PRIVATE"
    assert conversion.scan_datetime == datetime(2025, 1, 1, 10, 30, 0)
    expected = 70_000.0 / _decayed(370e6, 1800.0)
    assert conversion.pixel_to_suvbw[0] == pytest.approx(expected, rel=1e-12)


def _time_only(**overrides: object) -> Dataset:
    ds = _slice(**overrides)
    item = ds.RadiopharmaceuticalInformationSequence[0]
    del item.RadiopharmaceuticalStartDateTime
    item.RadiopharmaceuticalStartTime = "100000"
    return ds


def test_a_time_only_injection_takes_the_series_date() -> None:
    ds = _time_only(AcquisitionDate=None, AcquisitionTime=None)
    conversion = suv_conversion([ds])
    assert conversion.injection_datetime == datetime(2025, 1, 1, 10, 0, 0)
    assert conversion.scan_datetime == datetime(2025, 1, 1, 11, 0, 0)


def test_a_time_only_injection_without_series_date_takes_the_acquisition_date() -> None:
    ds = _time_only(SeriesDate=None, SeriesTime=None)
    conversion = suv_conversion([ds])
    assert conversion.injection_datetime == datetime(2025, 1, 1, 10, 0, 0)
    assert conversion.scan_datetime == datetime(2025, 1, 1, 11, 0, 0)


def test_a_single_valued_corrected_image_attn_is_attenuation_corrected() -> None:
    conversion = suv_conversion([_slice(CorrectedImage="ATTN")])
    assert conversion.pixel_to_suvbw[0] == pytest.approx(70_000.0 / _decayed(370e6, 3600.0))


def test_missing_patient_sex_is_other() -> None:
    assert suv_conversion([_slice(PatientSex=None)]).sex is Sex.OTHER


def test_units_and_decay_correction_are_recorded() -> None:
    conversion = suv_conversion([_slice()])
    assert conversion.units is Units.BQML
    assert conversion.decay_correction is DecayCorrection.START


@pytest.mark.parametrize(
    ("suv_type", "sex", "reference_kg"),
    [
        # IBW: men 48.0 + 1.06 (H - 152), women 45.5 + 0.91 (H - 152), H = 175 cm
        ("IBW", "M", 48.0 + 1.06 * 23.0),
        ("IBW", "F", 45.5 + 0.91 * 23.0),
        # James 1976 (LBMJAMES128): men 1.10 W - 128 (W/H)^2, women 1.07 W - 148 (W/H)^2
        ("LBMJAMES128", "M", 1.10 * 70.0 - 128.0 * (70.0 / 175.0) ** 2),
        ("LBMJAMES128", "F", 1.07 * 70.0 - 148.0 * (70.0 / 175.0) ** 2),
    ],
)
def test_gml_suv_types_use_the_patient_sex(suv_type: str, sex: str, reference_kg: float) -> None:
    """GML of SUVType X is SUVbw x reference mass / weight: SUVbw = GML x weight / reference."""
    ds = _slice(Units="GML", PatientSex=sex)
    ds.SUVType = suv_type
    assert suv_conversion([ds]).pixel_to_suvbw[0] == pytest.approx(70.0 / reference_kg, rel=1e-12)


def test_equal_doses_written_differently_are_one_series() -> None:
    """Series-level values are compared as numbers: 370000000 and 3.7e8 are the same dose.

    The second slice has another (per-slice) acquisition time, so it forms its own group
    and its radiopharmaceutical sequence is compared with the first one's.
    """
    first = _slice(ImagePositionPatient=[0, 0, 0])
    second = _slice(ImagePositionPatient=[0, 0, 3], AcquisitionTime="110100")
    second.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose = "3.7e8"
    conversion = suv_conversion([first, second])
    np.testing.assert_allclose(conversion.pixel_to_suvbw, 70_000.0 / _decayed(370e6, 3600.0))
    third = _slice(ImagePositionPatient=[0, 0, 6], AcquisitionTime="110100")
    third.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose = "3.8e8"
    with pytest.raises(DicomError, match="RadiopharmaceuticalInformationSequence differs"):
        suv_conversion([first, third])


def test_empty_factors_are_refused_and_integer_inputs_become_float() -> None:
    with pytest.raises(InputError, match="pixel_to_suvbw must be positive finite factors"):
        SuvConversion(
            np.array([]),
            np.empty((0, 3)),
            Units.BQML,
            DecayCorrection.START,
            70.0,
            1.75,
            Sex.MALE,
            None,
            None,
            None,
            None,
            None,
            None,
        )
    conversion = SuvConversion(
        np.array([1, 2]),
        np.array([[0, 0, 0], [0, 0, 3]]),
        Units.BQML,
        DecayCorrection.START,
        70.0,
        1.75,
        Sex.MALE,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    assert conversion.pixel_to_suvbw.dtype == np.float64
    assert conversion.positions_mm.dtype == np.float64


def test_decay_time_message_gives_the_seconds_before_the_injection() -> None:
    from tumorboard.pet.decay_rules import check_decay_time

    with pytest.raises(DicomError, match=r"^s1: the scan time is 5 s before the injection"):
        check_decay_time(-5.0, F18_HALF_LIFE_S, "the scan time", "s1")


def test_raw_values_compare_without_their_trailing_padding() -> None:
    """DICOM pads values to an even length (NUL or space) at the end, never at the start."""
    from tumorboard.pet.suv_header import _comparable

    assert _comparable(b"20250101103000\x00") == _comparable(b"20250101103000")
    assert _comparable(b"75 ") == _comparable(b"75")
    assert _comparable(b"\x0075") != _comparable(b"75")
