"""The fast PET series path (raw-byte grouping of slices) against the per-slice path."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset

from tumorboard.errors import DicomError
from tumorboard.imaging.dicom_scan import scan_dicom_folder
from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.volume import Volume
from tumorboard.pet.body_size import Sex
from tumorboard.pet.series_io import group_by_suv_header, pet_series, read_pet_series
from tumorboard.pet.suv_header import suv_conversion
from tumorboard.pet.suv_scaling import DecayCorrection, SuvConversion, Units
from tumorboard.phantoms import pet_case

#: The grouped and per-slice paths must give the same factors to the last bit.
SAME_FACTOR_RTOL = 0.0


def _write_pet(folder: Path, per_slice: Any = None, n_slices: int = 6) -> Path:
    rng = np.random.default_rng(7)
    item = Dataset()
    item.RadionuclideTotalDose = "370000000"
    item.RadionuclideHalfLife = "6586.2"
    item.RadiopharmaceuticalStartDateTime = "20250101100000"
    write_dicom_series(
        Volume(rng.gamma(4.0, 2000.0, (n_slices, 8, 8)), (3.0, 4.0, 4.0)),
        folder,
        modality="PT",
        series_description="test PET",
        series_number=3,
        dtype="int16",
        rescale="auto_per_slice",
        study={"patient_weight_kg": 70.0, "patient_size_m": 1.75, "patient_sex": "M"},
        extra={
            "Units": "BQML",
            "DecayCorrection": "START",
            "CorrectedImage": ["NORM", "ATTN"],
            "SeriesDate": "20250101",
            "SeriesTime": "110000",
            "AcquisitionDate": "20250101",
            "AcquisitionTime": "110000",
            "RadiopharmaceuticalInformationSequence": [item],
        },
        per_slice=per_slice,
    )
    return folder


def _both_paths(folder: Path) -> tuple[Any, Any]:
    series = [s for s in scan_dicom_folder(folder) if s.is_image][0]
    fast = pet_series(series, weight_kg=None, where=folder.name)
    fresh = [s for s in scan_dicom_folder(folder) if s.is_image][0]
    slow = suv_conversion([item.dataset for item in fresh.slices], where=folder.name)
    return fast.conversion, slow


def _assert_same(fast: Any, slow: Any) -> None:
    np.testing.assert_allclose(fast.pixel_to_suvbw, slow.pixel_to_suvbw, rtol=SAME_FACTOR_RTOL)
    assert fast.scan_time_rule is slow.scan_time_rule
    assert fast.scan_datetime == slow.scan_datetime
    assert fast.decayed_dose_bq == slow.decayed_dose_bq


def test_grouped_path_equals_per_slice_path_on_ibsi_dros(
    ibsi_dro_dir: Path, reference_dir: Path
) -> None:
    with open(reference_dir / "pet" / "ibsi_suv_dro" / "DRO_list.csv", encoding="utf-8") as h:
        ids = [row["ID"] for row in csv.DictReader(h)]
    assert len(ids) == 17
    for dro in ids:
        fast, slow = _both_paths(ibsi_dro_dir / dro / "PT")
        _assert_same(fast, slow)


def test_grouped_path_equals_per_slice_path_on_vendor_styles(pet_case_dir: Path) -> None:
    for timepoint in pet_case.TIMEPOINTS:
        fast, slow = _both_paths(pet_case_dir / timepoint.key)
        _assert_same(fast, slow)


def test_datasets_built_only_for_group_representatives(tmp_path: Path) -> None:
    folder = _write_pet(tmp_path / "pet", n_slices=12)
    series = [s for s in scan_dicom_folder(folder) if s.is_image][0]
    representatives, members = group_by_suv_header(series.slices)
    assert len(representatives) == 1 and members == [list(range(12))]
    pet_series(series, weight_kg=None, where="pet")
    built = sum("dataset" in vars(item) for item in series.slices)
    assert built == 1


def test_per_bed_acquisition_times_make_groups(tmp_path: Path) -> None:
    def bed(k: int) -> dict[str, object]:
        return {"AcquisitionTime": "110000" if k < 3 else "110300"}

    folder = _write_pet(tmp_path / "pet", per_slice=bed)
    series = [s for s in scan_dicom_folder(folder) if s.is_image][0]
    _, members = group_by_suv_header(series.slices)
    assert sorted(len(m) for m in members) == [3, 3]
    fast, slow = _both_paths(folder)
    _assert_same(fast, slow)


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("PatientWeight", "71.25"),
        ("PatientSize", "1.83"),
        ("SeriesTime", "110500"),
    ],
)
def test_series_level_attribute_differing_in_one_slice_is_refused(
    tmp_path: Path, attribute: str, value: str
) -> None:
    def odd_one(k: int) -> dict[str, object]:
        return {attribute: value} if k == 4 else {}

    folder = _write_pet(tmp_path / "pet", per_slice=odd_one)
    with pytest.raises(DicomError, match=f"{attribute} differs between slices") as error:
        read_pet_series(folder)
    assert value not in str(error.value)  # patient attributes are never quoted


def test_different_dose_in_one_slice_is_refused(tmp_path: Path) -> None:
    def other_dose(k: int) -> dict[str, object]:
        if k != 2:
            return {}
        item = Dataset()
        item.RadionuclideTotalDose = "300000000"
        item.RadionuclideHalfLife = "6586.2"
        item.RadiopharmaceuticalStartDateTime = "20250101100000"
        return {"RadiopharmaceuticalInformationSequence": [item]}

    folder = _write_pet(tmp_path / "pet", per_slice=other_dose)
    with pytest.raises(DicomError, match="RadiopharmaceuticalInformationSequence differs"):
        read_pet_series(folder)


def test_equal_values_written_differently_are_accepted(tmp_path: Path) -> None:
    def padded(k: int) -> dict[str, object]:
        return {"PatientWeight": "70.0"} if k == 1 else {}

    folder = _write_pet(tmp_path / "pet", per_slice=padded)
    conversion = read_pet_series(folder).conversion
    assert conversion.weight_kg == 70.0
    assert np.all(conversion.pixel_to_suvbw == conversion.pixel_to_suvbw[0])


def test_per_slice_factors_follow_positions_not_file_order() -> None:
    factors = np.array([3.0, 1.0, 2.0])
    positions = np.array([[0, 0, 6.0], [0, 0, 0.0], [0, 0, 3.0]])
    conversion = SuvConversion(
        factors,
        positions,
        Units.BQML,
        DecayCorrection.NONE,
        70.0,
        1.7,
        Sex.MALE,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    volume = Volume(np.ones((3, 2, 2), np.float32), (3.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    np.testing.assert_array_equal(conversion.factors_for(volume), [1.0, 2.0, 3.0])
    shifted = Volume(np.ones((3, 2, 2), np.float32), (3.0, 1.0, 1.0), (0.0, 0.0, 1.5))
    with pytest.raises(DicomError, match="no header slice within"):
        conversion.factors_for(shifted)


@pytest.mark.parametrize(("shift_mm", "matched"), [(0.72, True), (0.75, True), (0.78, False)])
def test_slice_match_tolerance_is_a_quarter_of_the_spacing(shift_mm: float, matched: bool) -> None:
    """A volume slice takes a header slice's factor within 0.25 x 3 mm = 0.75 mm."""
    conversion = SuvConversion(
        np.array([1.0, 2.0, 3.0]),
        np.array([[0, 0, 0.0], [0, 0, 3.0], [0, 0, 6.0]]),
        Units.BQML,
        DecayCorrection.NONE,
        70.0,
        1.7,
        Sex.MALE,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    volume = Volume(np.ones((3, 2, 2), np.float32), (3.0, 1.0, 1.0), (0.0, 0.0, shift_mm))
    if matched:
        np.testing.assert_array_equal(conversion.factors_for(volume), [1.0, 2.0, 3.0])
    else:
        with pytest.raises(DicomError, match="within 0.75 mm"):
            conversion.factors_for(volume)


def test_single_slice_series_takes_its_one_factor() -> None:
    conversion = SuvConversion(
        np.array([2.5]),
        np.array([[0, 0, 0.0]]),
        Units.BQML,
        DecayCorrection.NONE,
        70.0,
        1.7,
        Sex.MALE,
        None,
        None,
        None,
        None,
        None,
        None,
    )
    volume = Volume(np.ones((1, 2, 2), np.float32), (3.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    np.testing.assert_array_equal(conversion.factors_for(volume), [2.5])
