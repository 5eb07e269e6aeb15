"""The negative-concentration rule accepts real noisy curves and refuses corrupt samples."""

from __future__ import annotations

import numpy as np
import pytest

from tumorboard.dce.tissue_curves import check_tissue_curve, robust_noise_sd
from tumorboard.errors import InputError

OSIPI_NOISY = [
    "dce_DRO_data_tofts.csv",
    "dce_DRO_data_extended_tofts.csv",
    "2cxm_sd_0.001_delay_5.csv",
    "2cum_sd_0.0025_delay_5.csv",
    "patlak_sd_0.02_delay_5.csv",
]


@pytest.mark.parametrize("name", OSIPI_NOISY)
def test_every_osipi_noisy_curve_passes(osipi_dir, read_rows, cell_array, name):
    rows = read_rows(osipi_dir / "DCEmodels" / name)
    key = "C" if "C" in rows[0] else "C_t"
    for row in rows:
        check_tissue_curve(cell_array(row[key]), name, row["label"])


def test_robust_noise_sd_recovers_white_noise():
    noise = np.random.default_rng(3).normal(0.0, 0.05, 4000)
    assert robust_noise_sd(noise) == pytest.approx(0.05, rel=0.05)


@pytest.mark.parametrize(
    ("value", "message"),
    [(np.nan, "row 12: NaN"), (np.inf, "row 12: NaN"), (-0.4, "row 12: negative concentration")],
)
def test_corrupt_sample_is_refused_with_its_row(value, message):
    curve = np.concatenate([np.zeros(5), np.linspace(0, 1, 20), np.linspace(1, 0.6, 35)])
    curve[10] = value
    with pytest.raises(InputError, match=f"CURVES.csv: column met {message}"):
        check_tissue_curve(curve, "CURVES.csv", "met")
    curve[10] = -0.01  # within 5 % of the peak: rounding or noise
    np.testing.assert_array_equal(check_tissue_curve(curve, "CURVES.csv", "met"), curve)
