"""Correctness on the reference patient: volume within 3 %, class volumes within 5 %."""

import numpy as np
import pytest

from tumorboard.phantoms import wbdwi_case
from tumorboard.phantoms.torso import BRIGHT_NORMAL_STRUCTURES, reference_anatomy
from tumorboard.pipeline.dwi_assess import ReferenceExam, assess_exam, summary_payload
from tumorboard.segment.tumour_load import exclusion_from_labels

VOLUME_TOLERANCE = 0.03
CLASS_TOLERANCE = 0.05


@pytest.fixture(scope="module")
def assessed():
    labels = reference_anatomy().labels.array
    exclusion = exclusion_from_labels([labels], [int(t) for t in BRIGHT_NORMAL_STRUCTURES])
    results = {}
    references = {}
    for exam in range(1, 7):
        reference_exam = wbdwi_case.EXAM_REFERENCE[exam - 1]
        reference = references.get(reference_exam)
        result = assess_exam(
            wbdwi_case.build_exam(exam).images, exclusion=exclusion, reference=reference
        )
        if exam in (1, 4):
            references[exam] = ReferenceExam.from_assessment(result)
        results[exam] = result
    return results


@pytest.mark.parametrize("exam", range(1, 7))
def test_volume_and_classes_match_truth(assessed, exam):
    truth = wbdwi_case.exam_truth(exam)
    summary = summary_payload(assessed[exam])
    assert summary["total_diffusion_volume_ml"] == pytest.approx(
        truth["total_diffusion_volume_ml"], rel=VOLUME_TOLERANCE
    )
    assert summary["adc_um2_per_s"]["mean"] == pytest.approx(
        truth["adc_um2_per_s"]["mean"], rel=0.01
    )
    # every class within 5 % of truth, even the smallest (exam 1 green is 3 voxels)
    for name in ("green", "yellow", "red"):
        expected = truth["classes_ml"][name]
        measured = summary["classes_ml"][name]
        assert measured == pytest.approx(expected, rel=CLASS_TOLERANCE), name


def test_change_against_reference_and_red_cluster(assessed):
    summary = summary_payload(assessed[2])
    assert summary["tdv_change_pct"] == pytest.approx(100 * (290 - 384) / 384, abs=1.0)
    assert summary["adc_median_change_pct"] > 20
    cluster = summary_payload(assessed[6])["largest_red_cluster"]
    # the persistent red cluster of the second line is the lumbar spine (z about -745 mm)
    assert cluster["centroid_lps_mm"][2] == pytest.approx(-745, abs=40)
    assert abs(cluster["centroid_lps_mm"][0]) < 20


def test_without_exclusion_bright_organs_are_counted(assessed):
    exam = wbdwi_case.build_exam(1)
    result = assess_exam(exam.images)
    assert result.total_diffusion_volume_ml > 1.5 * assessed[1].total_diffusion_volume_ml
    assert np.all(result.segmentation.mask[assessed[1].segmentation.mask])
