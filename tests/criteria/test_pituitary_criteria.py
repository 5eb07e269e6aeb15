from __future__ import annotations

from decimal import Decimal

import pytest

from tumorboard.criteria.pituitary import PituitaryResponse, assess_prolactinoma
from tumorboard.errors import InputError


@pytest.mark.parametrize(
    ("prolactin", "size", "category", "flag"),
    [
        ("15", "1.0", PituitaryResponse.RESPONSE, False),
        ("15", "1.2", PituitaryResponse.DISCORDANT, True),
        ("80", "0.8", PituitaryResponse.DISCORDANT, True),
        ("80", "1.8", PituitaryResponse.NO_RESPONSE, False),
    ],
)
def test_prolactinoma(prolactin: str, size: str, category: PituitaryResponse, flag: bool) -> None:
    result = assess_prolactinoma(Decimal(prolactin), Decimal(25), Decimal("2.0"), Decimal(size))
    assert result.category is category
    assert result.possibly_pseudo_refractory is flag


def test_exactly_half_is_response() -> None:
    result = assess_prolactinoma(Decimal(25), Decimal(25), Decimal("2.2"), Decimal("1.1"))
    assert result.radiological_response and result.size_change_pct == -50


def test_bad_values() -> None:
    with pytest.raises(InputError, match="baseline_size must be > 0"):
        assess_prolactinoma(Decimal(1), Decimal(25), Decimal(0), Decimal(1))
    with pytest.raises(InputError, match="must not be negative"):
        assess_prolactinoma(Decimal(-1), Decimal(25), Decimal(1), Decimal(1))


def test_patient_json_block() -> None:
    from tumorboard.criteria.selection import patient_info_from_mapping

    info = patient_info_from_mapping(
        {
            "prolactinoma": {
                "prolactin_ug_per_l": 12,
                "upper_limit_normal_ug_per_l": 25,
                "baseline_size_ml": "2.4",
                "current_size_ml": 1.9,
            }
        }
    )
    assert info.prolactinoma is not None
    verdict = info.prolactinoma.assess()
    assert verdict.possibly_pseudo_refractory and verdict.size_change_pct is not None
    with pytest.raises(InputError, match="prolactinoma: missing current_size_ml"):
        patient_info_from_mapping(
            {
                "prolactinoma": {
                    "prolactin_ug_per_l": 12,
                    "upper_limit_normal_ug_per_l": 25,
                    "baseline_size_ml": 2,
                }
            }
        )
    with pytest.raises(InputError, match="must be a number"):
        patient_info_from_mapping(
            {
                "prolactinoma": {
                    "prolactin_ug_per_l": True,
                    "upper_limit_normal_ug_per_l": 25,
                    "baseline_size_ml": 2,
                    "current_size_ml": 1,
                }
            }
        )
