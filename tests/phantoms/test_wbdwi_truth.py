"""The WB-DWI truth is computed from the generating fields, independently of dwi/ and lesions/.

These tests hold the library (the code under test) to that truth: a moved
class cut-off or a changed statistic definition fails here.
"""

import numpy as np
import pytest

from tumorboard.dwi.response_classes import ClassBounds, ResponseClass, classify_response
from tumorboard.lesions.adc_histogram import adc_statistics
from tumorboard.phantoms import wbdwi_case
from tumorboard.phantoms.torso import reference_anatomy


def _library_classes_ml(exam: int) -> dict[str, float]:
    truth = wbdwi_case.exam_truth(exam)
    labels = wbdwi_case.exam_lesion_labels(exam).array
    adc = np.zeros(labels.shape)
    adc.ravel()[np.flatnonzero(labels.ravel())] = wbdwi_case.exam_tumour_adc(exam, labels)
    bounds = ClassBounds(float(truth["yellow_lower_um2_per_s"]))
    classes = classify_response(adc, labels > 0, bounds)
    voxel_ml = reference_anatomy().labels.voxel_volume_ml
    return {
        name: float((classes == value).sum() * voxel_ml)
        for name, value in (
            ("red", ResponseClass.RED),
            ("yellow", ResponseClass.YELLOW),
            ("green", ResponseClass.GREEN),
        )
    }


@pytest.mark.parametrize("exam", [2, 3, 5, 6])
def test_library_classes_match_the_generating_truth(exam):
    truth = wbdwi_case.exam_truth(exam)["classes_ml"]
    voxel_ml = reference_anatomy().labels.voxel_volume_ml
    measured = _library_classes_ml(exam)
    for name in ("red", "yellow", "green"):
        # the yellow bound is rounded to 1e-3 in the truth record: at most a voxel or two moves
        assert measured[name] == pytest.approx(truth[name], abs=2 * voxel_ml), name


def test_truth_has_voxels_on_both_sides_of_the_green_cut():
    """A 10 % move of the 1500 cut changes the truth class volumes by more than the tolerance."""
    for exam in (2, 5):
        labels = wbdwi_case.exam_lesion_labels(exam).array
        adc = wbdwi_case.exam_tumour_adc(exam, labels)
        green = (adc >= 1500.0).sum()
        moved_down = (adc >= 1350.0).sum()
        moved_up = (adc >= 1650.0).sum()
        assert moved_down > 1.05 * green and moved_up < 0.95 * green


def test_truth_class_rule_edges():
    masks = wbdwi_case.truth_class_masks(np.array([899.999, 900.0, 1499.999, 1500.0]), 900.0)
    assert masks["red"].tolist() == [True, False, False, False]
    assert masks["yellow"].tolist() == [False, True, True, False]
    assert masks["green"].tolist() == [False, False, False, True]


@pytest.mark.parametrize("exam", [1, 5])
def test_library_statistics_match_the_generating_truth(exam):
    truth = wbdwi_case.exam_truth(exam)["adc_um2_per_s"]
    labels = wbdwi_case.exam_lesion_labels(exam).array
    library = adc_statistics(wbdwi_case.exam_tumour_adc(exam, labels)).as_dict()
    assert set(library) == set(truth)
    for key, value in truth.items():
        assert library[key] == pytest.approx(value, abs=2e-4), key
