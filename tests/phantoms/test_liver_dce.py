"""The liver DCE phantom: deterministic, with the truth it claims."""

from __future__ import annotations

import numpy as np
import pytest

from tumorboard.dce.aif import bolus_arrival_time
from tumorboard.dce.signal_to_concentration import signal_to_concentration
from tumorboard.errors import InputError
from tumorboard.phantoms.liver_dce import AIF_DELAY_S, LESIONS, Visit, liver_dce_case


def test_deterministic_and_visits_differ():
    a = liver_dce_case("baseline")
    b = liver_dce_case(Visit.BASELINE)
    c = liver_dce_case("follow-up")
    np.testing.assert_array_equal(a.dynamic.array, b.dynamic.array)
    assert not np.array_equal(a.dynamic.array, c.dynamic.array)
    with pytest.raises(InputError, match="unknown visit"):
        liver_dce_case("later")


def test_geometry_masks_and_labels():
    case = liver_dce_case()
    assert case.dynamic.array.ndim == 4 and case.dynamic.times_s is not None
    labels = case.lesions.array
    assert sorted(np.unique(labels)) == [0, 1, 2, 3]
    assert np.all(case.liver.array[labels > 0])
    assert not np.any(case.liver.array & case.aorta.array)
    assert case.dynamic.same_geometry(case.liver)


def test_signal_encodes_the_lesion_concentration():
    case = liver_dce_case()
    mid = case.lesions.array == 1
    signal = case.dynamic.array[:, mid].mean(axis=1)
    conc = signal_to_concentration(
        signal, t1_s=1.2, flip_deg=case.flip_deg, tr_s=case.tr_ms / 1000, baseline_frames=3
    )
    from tumorboard.dce.fit import simulate

    truth = simulate(case.dynamic.times_s, case.inputs, "dual-input", LESIONS[0].baseline)[0]
    assert np.max(np.abs(conc - truth)) < 0.05 * truth.max()
    assert abs(bolus_arrival_time(case.dynamic.times_s, case.inputs.cp_mM) - AIF_DELAY_S) < 4.0


def test_responders_lose_flow():
    for lesion in LESIONS:
        lower = (
            lesion.follow_up["fp_ml_per_100ml_per_min"] < lesion.baseline["fp_ml_per_100ml_per_min"]
        )
        assert lower == lesion.responder
