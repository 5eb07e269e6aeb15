"""Metabolic tumour volume and TLG."""

from __future__ import annotations

import numpy as np
import pytest

from tumorboard.errors import EmptyResultError, GeometryError, InputError
from tumorboard.imaging.volume import Volume
from tumorboard.pet.mtv import MtvMethod, metabolic_volume, metabolic_volume_from_values


def test_41_percent_of_max() -> None:
    values = np.array([10.0, 5.0, 4.1, 4.0, 1.0])
    result = metabolic_volume_from_values(values, 0.064, "41pct_max")
    assert result.threshold == pytest.approx(4.1)
    assert result.mtv_ml == pytest.approx(3 * 0.064)
    assert result.mean_in_mtv == pytest.approx((10 + 5 + 4.1) / 3)
    assert result.tlg == pytest.approx(result.mtv_ml * result.mean_in_mtv)


def test_fixed_and_percist_thresholds() -> None:
    values = np.array([3.0, 2.5, 2.0])
    assert metabolic_volume_from_values(values, 1.0, MtvMethod.FIXED).mtv_ml == 2.0
    # the default fixed threshold is SUV 2.5: 2.3 is below it, 2.7 above
    edges = np.array([2.3, 2.5, 2.7])
    assert metabolic_volume_from_values(edges, 1.0, MtvMethod.FIXED).mtv_ml == 2.0
    liver = metabolic_volume_from_values(values, 1.0, "percist_liver", threshold=2.9)
    assert liver.mtv_ml == 1.0
    none = metabolic_volume_from_values(values, 1.0, "fixed", threshold=10.0)
    assert none.mtv_ml == 0.0 and none.tlg == 0.0


def test_mask_version_and_errors() -> None:
    image = Volume(np.arange(27, dtype=np.float32).reshape(3, 3, 3), (1.0, 1.0, 1.0))
    mask = Volume(np.ones((3, 3, 3), bool), (1.0, 1.0, 1.0))
    result = metabolic_volume(image, mask)
    assert result.mtv_ml == pytest.approx(np.sum(np.arange(27) >= 0.41 * 26) / 1000)
    with pytest.raises(GeometryError):
        metabolic_volume(image, Volume(np.ones((3, 3, 4), bool), (1.0, 1.0, 1.0)))
    with pytest.raises(InputError, match="needs the threshold"):
        metabolic_volume_from_values(np.ones(3), 1.0, "percist_liver")
    with pytest.raises(InputError, match="MTV method"):
        metabolic_volume_from_values(np.ones(3), 1.0, "otsu")
    with pytest.raises(EmptyResultError):
        metabolic_volume_from_values(np.array([]), 1.0)
