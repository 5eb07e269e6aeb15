"""SPGR signal to concentration against OSIPI SI_to_Conc (1e-5 mM + 1e-5 relative)."""

from __future__ import annotations

import numpy as np
import pytest

from tumorboard.dce.signal_to_concentration import (
    baseline_frames_before_arrival,
    concentration_to_signal,
    signal_to_concentration,
)
from tumorboard.errors import InputError

CONC_ATOL_MM = 1e-5
CONC_RTOL = 1e-5


def test_osipi_si_to_conc(osipi_dir, read_rows, cell_array):
    rows = read_rows(osipi_dir / "SI_to_Conc" / "SI2Conc_data.csv")
    assert len(rows) == 5
    for row in rows:
        conc = signal_to_concentration(
            cell_array(row["s"]),
            t1_s=float(row["T1base"]),
            flip_deg=float(row["FA"]),
            tr_s=float(row["TR"]),
            r1_per_mM_s=float(row["r1"]),
            # upstream: baseline = mean of points 1 .. numbaselinepts - 1
            baseline_frames=(1, int(row["numbaselinepts"])),
        )
        expected = cell_array(row["conc"])
        # the first time point is not assessed upstream
        np.testing.assert_allclose(conc[1:], expected[1:], rtol=CONC_RTOL, atol=CONC_ATOL_MM)


def test_round_trip_with_per_voxel_t1(rng):
    conc = np.concatenate([np.zeros((6, 3)), rng.uniform(0, 4, (6, 20))], axis=1)
    t1 = rng.uniform(0.5, 2.0, 6)
    signal = concentration_to_signal(conc, s0=1000.0, t1_s=t1, flip_deg=20, tr_s=0.004)
    back = signal_to_concentration(signal, t1_s=t1, flip_deg=20, tr_s=0.004, baseline_frames=3)
    np.testing.assert_allclose(back, conc, atol=1e-9)


def test_impossible_signal_gives_nan():
    signal = np.array([100.0, 100.0, 100.0, 1e9])
    conc = signal_to_concentration(signal, t1_s=1.0, flip_deg=20, tr_s=0.004, baseline_frames=3)
    assert np.isnan(conc[-1]) and np.all(np.isfinite(conc[:3]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"flip_deg": None, "tr_s": 0.004}, "flip angle"),
        ({"flip_deg": 20.0, "tr_s": None}, "TR"),
        ({"flip_deg": 20.0, "tr_s": 0.004, "r1_per_mM_s": 0.0}, "relaxivity"),
        ({"flip_deg": 20.0, "tr_s": 0.004, "baseline_frames": 50}, "baseline"),
    ],
)
def test_missing_or_invalid_sequence_parameters(kwargs, message):
    with pytest.raises(InputError, match=message):
        signal_to_concentration(np.ones(10), t1_s=1.0, **kwargs)


def test_baseline_frames_end_before_arrival():
    t = np.arange(20) * 2.0
    curve = np.where(t >= 12.0, 5.0, 0.0)
    start, stop = baseline_frames_before_arrival(t, curve)
    assert start == 0 and 1 <= stop <= 6
