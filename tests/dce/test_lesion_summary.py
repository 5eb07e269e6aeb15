from __future__ import annotations

import numpy as np
import pytest

from tumorboard.dce.lesion_summary import lesion_changes, summarise_lesions
from tumorboard.errors import EmptyResultError, InputError


def _maps(rng):
    labels = np.zeros((2, 6, 6), int)
    labels[0, :3, :3] = 1
    labels[1, 3:, 3:] = 2
    ktrans = np.where(labels == 1, 0.8, 0.2) + rng.normal(0, 0.01, labels.shape)
    ktrans[0, 0, 0] = np.nan  # a failed voxel
    return {"ktrans_per_min": ktrans}, labels


def test_medians_failed_fraction_and_histogram(rng):
    maps, labels = _maps(rng)
    summary = summarise_lesions(maps, labels)
    assert [s.lesion for s in summary] == [1, 2]
    first = summary[0]
    assert first.n_voxels == 9 and first.failed_fraction == pytest.approx(1 / 9)
    assert first.median("ktrans_per_min") == pytest.approx(0.8, abs=0.02)
    p = first.parameters[0]
    assert p.n_finite == 8 and sum(p.histogram_counts) == 8
    assert len(p.histogram_edges) == len(p.histogram_counts) + 1
    assert p.p25 <= p.median <= p.p75


def test_change_and_high_baseline_flag(rng):
    maps, labels = _maps(rng)
    before = summarise_lesions(maps, labels)
    after = summarise_lesions({"ktrans_per_min": maps["ktrans_per_min"] * 0.5}, labels)
    changes = lesion_changes(before, after, "ktrans_per_min", high_threshold=0.5)
    assert [c.high_baseline for c in changes] == [True, False]
    assert changes[0].change_percent == pytest.approx(-50.0, abs=1e-9)
    unflagged = lesion_changes(before, after, "ktrans_per_min")
    assert not any(c.high_baseline for c in unflagged)


def test_errors():
    with pytest.raises(EmptyResultError):
        summarise_lesions({"a": np.zeros((2, 2))}, np.zeros((2, 2), int))
    with pytest.raises(InputError, match="shape"):
        summarise_lesions({"a": np.zeros((2, 3))}, np.ones((2, 2), int))
    with pytest.raises(InputError, match="integers"):
        summarise_lesions({"a": np.zeros((2, 2))}, np.full((2, 2), 0.5))
