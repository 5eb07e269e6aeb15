"""The PET reference case and the pituitary case: DICOM round trip across vendor styles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tumorboard.imaging.dicom_volume import read_series_volume
from tumorboard.pet.series_io import read_pet_series
from tumorboard.pet.suv_header import ScanTimeRule, Units
from tumorboard.phantoms.pet_case import LESIONS, TIMEPOINTS, PetCase
from tumorboard.phantoms.pituitary_case import PituitaryCase

#: int16 storage with a per-slice slope: half a step of the hottest slice (<= 35 SUV).
SUV_ROUND_TRIP_TOLERANCE = 35.0 / 32767


@pytest.mark.parametrize("key", [tp.key for tp in TIMEPOINTS])
def test_vendor_styles_round_trip(key: str, pet_case: PetCase, pet_case_dir: Path) -> None:
    series = read_pet_series(pet_case_dir / key)
    suv = series.suvbw
    truth = pet_case.suv[key]
    assert suv.same_geometry(truth)
    assert np.abs(suv.array - truth.array).max() < SUV_ROUND_TRIP_TOLERANCE
    facts = json.loads((pet_case_dir / "truth.json").read_text())["timepoints"][key]
    assert series.conversion.suvbw_scale_g_per_bq == pytest.approx(
        facts["suvbw_scale_g_per_bq"], rel=1e-9
    )


def test_vendor_rules_exercised(pet_case_dir: Path) -> None:
    ge = read_pet_series(pet_case_dir / "dotatate_baseline").conversion
    philips = read_pet_series(pet_case_dir / "dotatate_followup").conversion
    siemens = read_pet_series(pet_case_dir / "fdg_followup").conversion
    assert ge.scan_time_rule is ScanTimeRule.GE_PRIVATE
    assert philips.units is Units.CNTS and philips.pixel_to_suvbw[0] == pytest.approx(5e-4)
    assert siemens.injected_dose_bq == pytest.approx(310e6)  # stored in MBq


def test_lesion_design(pet_case: PetCase) -> None:
    labels = np.asarray(pet_case.lesions.array)
    assert sorted(np.unique(labels)) == [0, 1, 2, 3, 4, 5]
    bone = LESIONS[4]
    assert bone.suv["fdg_baseline"] > 2.2 and bone.suv["dotatate_baseline"] < 7.0


def test_pituitary_case_written(pituitary_case: PituitaryCase, pituitary_dir: Path) -> None:
    mri = read_series_volume(pituitary_dir / "mri")
    assert mri.same_geometry(pituitary_case.mri)
    pet = read_pet_series(pituitary_dir / "pet")
    assert pet.conversion.half_life_s == pytest.approx(20.364 * 60)  # from the C-11 code
    assert np.abs(pet.suvbw.array - pituitary_case.pet_suv.array).max() < 1e-3


def test_lesions_sit_in_their_organs(pet_case: PetCase) -> None:
    expected = {1: "liver", 2: "liver", 3: "pancreas", 5: "bone"}
    organs = pet_case.organs
    for lesion in LESIONS:
        if lesion.label not in expected:
            continue
        index = tuple(np.round(organs.lps_to_index(np.asarray(lesion.center_lps))).astype(int))
        assert pet_case.label_names[int(organs.array[index])] == expected[lesion.label]
