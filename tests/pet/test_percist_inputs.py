"""PERCIST scan records and comparability checks."""

from __future__ import annotations

import pytest

from tumorboard.errors import InputError
from tumorboard.pet.percist_inputs import PercistScan, compare_scans


def _scan(
    peak: float, liver: float = 2.0, uptake_min: float = 60, dose: float = 3e8
) -> PercistScan:
    return PercistScan(peak, 1, liver, 0.2, uptake_min * 60, dose)


def test_measurability() -> None:
    assert _scan(3.41).measurable
    assert not _scan(3.39).measurable
    assert _scan(3.4).measurability_threshold == pytest.approx(3.4)


def test_comparable_and_change() -> None:
    result = compare_scans(_scan(10.0), _scan(6.0, liver=2.2, uptake_min=70))
    assert result.comparable and result.notes == ()
    assert result.sul_peak_change_percent == pytest.approx(-40.0)


@pytest.mark.parametrize(
    ("follow_up", "note"),
    [
        (_scan(6.0, liver=2.35), "liver SULmean"),
        (_scan(6.0, uptake_min=80), "uptake times differ"),
        (_scan(6.0, dose=4e8), "injected doses"),
    ],
)
def test_not_comparable(follow_up: PercistScan, note: str) -> None:
    result = compare_scans(_scan(10.0), follow_up)
    assert not result.comparable
    assert any(note in n for n in result.notes)


def test_invalid_scan() -> None:
    with pytest.raises(InputError, match="liver_sul_mean"):
        PercistScan(5.0, 1, 0.0, 0.1, 3600, 3e8)
    with pytest.raises(InputError, match="finite"):
        PercistScan(float("nan"), 1, 2.0, 0.1, 3600, 3e8)
