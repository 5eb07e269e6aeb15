"""Krenning score, NETPET grade and the PRRT-eligibility summary (record level)."""

from __future__ import annotations

import pytest

from tumorboard.errors import EmptyResultError, InputError
from tumorboard.pet.krenning import equivalent_diameter_mm, krenning_score
from tumorboard.pet.netpet import DualTracerLesion, LesionPattern, NetpetGrade, netpet_grade
from tumorboard.pet.prrt_eligibility import prrt_eligibility

LIVER, SPLEEN = 8.0, 20.0


@pytest.mark.parametrize(
    ("suv_max", "score"),
    [(1.0, 0), (3.0, 1), (4.0, 2), (8.0, 2), (8.1, 3), (20.0, 3), (20.5, 4)],
)
def test_krenning_grades(suv_max: float, score: int) -> None:
    result = krenning_score(1, suv_max, LIVER, SPLEEN, 30.0)
    assert result.score == score
    assert result.tumour_to_liver == pytest.approx(suv_max / LIVER)
    assert result.above_liver is (score >= 3)


def test_krenning_small_lesion_caution() -> None:
    assert krenning_score(1, 30.0, LIVER, SPLEEN, 20.0).small_lesion_caution
    assert not krenning_score(1, 30.0, LIVER, SPLEEN, 20.1).small_lesion_caution
    assert equivalent_diameter_mm(4 / 3 * 3.141592653589793) == pytest.approx(20.0)
    with pytest.raises(InputError, match="liver SUVmean"):
        krenning_score(1, 30.0, 0.0, SPLEEN, 30.0)


def _lesion(label: int, sstr: float, fdg: float) -> DualTracerLesion:
    return DualTracerLesion(label, sstr, LIVER, fdg, 2.0)


@pytest.mark.parametrize(
    ("lesions", "grade"),
    [
        ([_lesion(1, 2.0, 1.0)], NetpetGrade.P0),
        ([_lesion(1, 30.0, 1.5)], NetpetGrade.P1),
        ([_lesion(1, 30.0, 3.0)], NetpetGrade.P2),
        ([_lesion(1, 16.0, 4.0)], NetpetGrade.P3),
        ([_lesion(1, 8.0, 8.0), _lesion(2, 30.0, 1.0)], NetpetGrade.P4A),
        ([_lesion(i, 8.0, 8.0) for i in range(1, 4)], NetpetGrade.P4B),
        ([_lesion(1, 30.0, 1.0), _lesion(2, 2.0, 8.0)], NetpetGrade.P5),
    ],
)
def test_netpet_grades(lesions: list[DualTracerLesion], grade: NetpetGrade) -> None:
    assert netpet_grade(lesions).grade is grade


def test_netpet_patterns_and_errors() -> None:
    result = netpet_grade([_lesion(1, 2.0, 8.0)])
    assert result.patterns == ((1, LesionPattern.FDG_ONLY),)
    with pytest.raises(EmptyResultError):
        netpet_grade([])
    with pytest.raises(InputError, match="must be finite"):
        DualTracerLesion(1, -1.0, LIVER, 1.0, 2.0)


def test_prrt_summary_names_failing_lesions() -> None:
    grades = [
        krenning_score(1, 30.0, LIVER, SPLEEN, 40.0),
        krenning_score(2, 6.0, LIVER, SPLEEN, 15.0),
    ]
    result = prrt_eligibility(grades)
    assert not result.uptake_criterion_met
    assert result.failing_labels == (2,)
    assert result.caution_labels == (2,)
    assert "lesion(s) 2" in result.summary
    ok = prrt_eligibility(grades[:1], netpet_grade([_lesion(1, 30.0, 1.0)]))
    assert ok.uptake_criterion_met and "above liver" in ok.summary
    p5 = prrt_eligibility(grades[:1], netpet_grade([_lesion(1, 2.0, 8.0)]))
    assert p5.fdg_only_labels == (1,) and not p5.uptake_criterion_met
    with pytest.raises(EmptyResultError):
        prrt_eligibility([])


# ------------------------------------------- NETPET edges (pinned against a 10 % move)
def _dual(label: int, sstr_tlr: float, fdg_tlr: float) -> DualTracerLesion:
    """A lesion given by its tumour-to-liver ratios (SSTR liver 4.0, FDG liver 2.0)."""
    return DualTracerLesion(label, sstr_tlr * 4.0, 4.0, fdg_tlr * 2.0, 2.0)


@pytest.mark.parametrize(
    ("fdg_tlr", "pattern"),
    [(1.0, LesionPattern.SSTR_ONLY), (1.05, LesionPattern.FDG_LOWER)],
)
def test_fdg_positive_above_the_liver(fdg_tlr: float, pattern: LesionPattern) -> None:
    """FDG-positive when the FDG SUVmax exceeds the FDG liver mean (TLR > 1)."""
    assert _dual(1, 3.0, fdg_tlr).pattern is pattern


@pytest.mark.parametrize(
    ("ratio", "pattern"),
    [
        (1.55, LesionPattern.FDG_HIGHER),
        (1.45, LesionPattern.SIMILAR),
        (1 / 1.45, LesionPattern.SIMILAR),
        (1 / 1.55, LesionPattern.FDG_LOWER),
    ],
)
def test_similar_means_within_a_factor_1_5(ratio: float, pattern: LesionPattern) -> None:
    assert _dual(1, 2.0, 2.0 * ratio).pattern is pattern


@pytest.mark.parametrize(("n", "grade"), [(2, NetpetGrade.P4A), (3, NetpetGrade.P4B)])
def test_p4b_needs_three_fdg_higher_lesions(n: int, grade: NetpetGrade) -> None:
    lesions = [_dual(i, 2.0, 4.0) for i in range(1, n + 1)]
    assert netpet_grade(lesions).grade is grade
