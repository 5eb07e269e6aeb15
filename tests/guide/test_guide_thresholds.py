"""Numbers of the guide's rule tables, pinned on both sides of their edges.

Moving ``prolactinoma_goal_reduction_pct`` (50 %), the "no regression" limit
(0 %) or ``prrt_large_lesion_mm`` (20 mm) changes a result here
(benchmarks/threshold_moves.py). Expected values: the
rules applied by hand to the literal facts.
"""

from __future__ import annotations

from typing import Any

import pytest

from tumorboard.guide import parse_facts, run_guide

DISCORDANT = "discordant (possibly pseudo-refractory)"


def _refractoriness(facts: dict[str, Any]) -> str:
    return str(run_guide(parse_facts(facts)).as_dict()["pituitary"]["refractoriness"])


@pytest.mark.parametrize(("reduction", "discordant"), [(47.0, True), (50.0, False), (53.0, False)])
def test_prolactinoma_goal_is_half_the_size(reduction: float, discordant: bool) -> None:
    """Prolactin normal but < 50 % shrinkage: discordant, possibly pseudo-refractory."""
    facts = {
        "tumour_type": "prolactinoma",
        "hormone_normalised": True,
        "size_reduction_pct": reduction,
    }
    assert (_refractoriness(facts) == DISCORDANT) is discordant


@pytest.mark.parametrize(
    ("reduction", "refractoriness"),
    [
        (0.0, "biochemical and structural"),
        (0.5, "biochemical"),
        (-5.0, "biochemical and structural"),
    ],
)
def test_structural_refractoriness_is_no_regression(reduction: float, refractoriness: str) -> None:
    """Structural: growth or failure to regress (reduction <= 0 %) with local mass effect."""
    facts = {
        "pituitary_adenoma": True,
        "tumour_type": "somatotroph",
        "hormone_normalised": False,
        "size_reduction_pct": reduction,
        "local_mass_effect": True,
    }
    assert _refractoriness(facts) == refractoriness


@pytest.mark.parametrize(("largest_mm", "nuclide"), [(20.0, "90Y"), (19.0, "177Lu")])
def test_prrt_large_lesion_is_20_mm(largest_mm: float, nuclide: str) -> None:
    """tumorboard's cut (the guide gives no size): 90Y from 20 mm, 177Lu below."""
    facts = {
        "ki67_pct": 5,
        "krenning_min": 3,
        "prior_treatments": ["lanreotide"],
        "largest_lesion_mm": largest_mm,
    }
    texts = [r["text"] for r in run_guide(parse_facts(facts)).as_dict()["recommendations"]]
    expected = f"Largest lesion {largest_mm:g} mm: {nuclide}"
    assert any(text.startswith(expected) for text in texts), texts
    assert any("Large means >= 20 mm here" in text for text in texts)


@pytest.mark.parametrize(
    ("facts", "grade"),
    [
        ({"ki67_pct": 20.0, "mitoses_per_2mm2": 1}, "G2"),
        ({"ki67_pct": 21.0, "mitoses_per_2mm2": 1, "differentiation": "well"}, "G3 NET"),
        ({"ki67_pct": 1.0, "mitoses_per_2mm2": 1.9}, "G1"),
        ({"ki67_pct": 1.0, "mitoses_per_2mm2": 2}, "G2"),
        ({"ki67_pct": 1.0, "mitoses_per_2mm2": 20}, "G2"),
        ({"ki67_pct": 1.0, "mitoses_per_2mm2": 21, "differentiation": "well"}, "G3 NET"),
    ],
)
def test_who_grade_edges(facts: dict[str, Any], grade: str) -> None:
    """WHO 2019 NET: G1 Ki-67 < 3 % and < 2 mitoses; G2 3-20 % or 2-20; G3 above 20."""
    assert run_guide(parse_facts(facts)).as_dict()["who_grade"] == grade
