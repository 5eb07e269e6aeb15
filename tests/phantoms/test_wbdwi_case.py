import numpy as np
import pytest

from tumorboard.phantoms import wbdwi_case
from tumorboard.phantoms.torso import BRIGHT_NORMAL_STRUCTURES, Tissue, reference_anatomy


def test_anatomy_has_the_structures_the_issue_names():
    anatomy = reference_anatomy()
    voxel_ml = anatomy.labels.voxel_volume_ml
    for tissue in (
        Tissue.BONE,
        Tissue.BRAIN,
        Tissue.KIDNEY_LEFT,
        Tissue.KIDNEY_RIGHT,
        Tissue.SPLEEN,
        Tissue.BOWEL,
        Tissue.SPINAL_CORD,
        Tissue.LIVER,
        Tissue.PANCREAS,
        Tissue.BREAST,
    ):
        assert anatomy.mask(tissue).sum() * voxel_ml > 10, tissue
    assert anatomy.labels.array.dtype == np.uint8


@pytest.mark.parametrize("exam", range(1, 7))
def test_truth_hits_the_published_case(exam):
    truth = wbdwi_case.exam_truth(exam)
    voxel_ml = reference_anatomy().labels.voxel_volume_ml
    assert truth["total_diffusion_volume_ml"] == pytest.approx(
        wbdwi_case.EXAM_VOLUMES_ML[exam - 1], abs=voxel_ml
    )
    assert truth["adc_um2_per_s"]["mean"] == pytest.approx(
        wbdwi_case.EXAM_MEAN_ADC_UM2_PER_S[exam - 1], abs=0.01
    )


def test_story_relapse_like_baseline_and_new_lesions_at_exam_6():
    t1, t4, t6 = (wbdwi_case.exam_truth(e) for e in (1, 4, 6))
    assert abs(t4["adc_um2_per_s"]["median"] - t1["adc_um2_per_s"]["median"]) < 30
    names6 = {lesion["name"] for lesion in t6["lesions"]}
    names5 = {lesion["name"] for lesion in wbdwi_case.exam_truth(5)["lesions"]}
    assert {"liver-segment-6", "liver-segment-4", "pancreas-tail"} <= names6 - names5
    # persistent red clusters on the second line: most of the l-spine stays red
    assert wbdwi_case.exam_truth(5)["classes_ml"]["red"] > 100


def test_lesions_are_nested_and_avoid_bright_organs():
    anatomy = reference_anatomy()
    previous = None
    for exam in (1, 2, 3):
        labels = wbdwi_case.exam_lesion_labels(exam).array
        if previous is not None:
            assert not ((labels > 0) & ~(previous > 0)).any()  # shrinking exams are subsets
        previous = labels
    labels6 = wbdwi_case.exam_lesion_labels(6).array
    assert not ((labels6 > 0) & anatomy.mask(*BRIGHT_NORMAL_STRUCTURES)).any()


def test_simulation_is_deterministic():
    a = wbdwi_case.build_exam(2).images[600.0].array
    b = wbdwi_case.build_exam(2).images[600.0].array
    np.testing.assert_array_equal(a, b)
