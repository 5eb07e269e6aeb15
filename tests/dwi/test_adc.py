import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tumorboard.dwi.adc import computed_b_image, fit_adc
from tumorboard.errors import InputError

#: OSIPI TF2.4 IVIM test tolerances for D (reference README): rtol 0.1, atol 5e-4 mm^2/s.
OSIPI_D_RTOL = 0.1
OSIPI_D_ATOL_MM2_PER_S = 5e-4
#: Reference README: log-linear fit of b >= 200 recovers D within 2 % for every tissue.
OSIPI_HIGH_B_REL = 0.02


def mono_exponential(s0, adc_mm2_per_s, b_values):
    return {b: (s0 * np.exp(-b * adc_mm2_per_s)).astype(np.float32) for b in b_values}


@given(
    adc=st.floats(1e-4, 3.5e-3),
    s0=st.floats(10.0, 1e4),
    b_values=st.lists(
        st.sampled_from([0, 50, 100, 400, 600, 800, 900, 1000, 1500]),
        min_size=2,
        max_size=5,
        unique=True,
    ),
    weighted=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_noise_free_mono_exponential_is_recovered_exactly(adc, s0, b_values, weighted):
    images = mono_exponential(np.full((2, 2, 2), s0), adc, b_values)
    fit = fit_adc(images, weighted=weighted, noise_floor=0.0)
    np.testing.assert_allclose(fit.adc_mm2_per_s, adc, rtol=2e-4)
    np.testing.assert_allclose(computed_b_image(fit, 1200.0), s0 * np.exp(-1200 * adc), rtol=1e-3)


def test_adc_map_in_clinical_units_and_computed_image():
    adc = np.array([0.7e-3, 1.5e-3]).reshape(1, 1, 2)
    fit = fit_adc(mono_exponential(np.full((1, 1, 2), 800.0), adc, (50, 600, 900)))
    np.testing.assert_allclose(fit.adc_um2_per_s.ravel(), [700.0, 1500.0], rtol=1e-4)
    np.testing.assert_allclose(
        computed_b_image(fit, 1000).ravel(), 800 * np.exp(-1000 * adc.ravel()), rtol=1e-4
    )


def test_osipi_ivim_tissues_give_true_d_when_fitting_b_at_least_200(reference_dir):
    data = json.loads((reference_dir / "dwi/osipi_ivim/unit_tests/generic.json").read_text())
    b_values = np.asarray(data.pop("config")["bvalues"], dtype=float)
    checked = 0
    for name, tissue in data.items():
        signal = np.asarray(tissue["data"], dtype=float)
        images = {b: np.full((1, 1, 1), s) for b, s in zip(b_values, signal, strict=True)}
        fit = fit_adc(images, min_b_s_per_mm2=200, noise_floor=0.0)
        d_fit = float(fit.adc_mm2_per_s.ravel()[0])
        if tissue["f"] < 0.8:  # OSIPI checks D only when f < 0.8
            assert d_fit == pytest.approx(
                tissue["D"], rel=OSIPI_D_RTOL, abs=OSIPI_D_ATOL_MM2_PER_S
            ), name
            assert d_fit == pytest.approx(tissue["D"], rel=OSIPI_HIGH_B_REL), name
            checked += 1
    assert checked >= 10


def test_fit_with_low_b_is_biased_by_perfusion_but_min_b_removes_it(reference_dir):
    data = json.loads((reference_dir / "dwi/osipi_ivim/unit_tests/generic.json").read_text())
    b_values = data.pop("config")["bvalues"]
    marrow = data["Bone Marrow"]  # f = 0.145, D = 0.43e-3 mm^2/s
    images = {b: np.full((1, 1, 1), s) for b, s in zip(b_values, marrow["data"], strict=True)}
    all_b = float(fit_adc(images, noise_floor=0.0).adc_mm2_per_s.ravel()[0])
    high_b = float(fit_adc(images, min_b_s_per_mm2=200, noise_floor=0.0).adc_mm2_per_s.ravel()[0])
    assert all_b > 1.2 * marrow["D"]
    assert high_b == pytest.approx(marrow["D"], rel=OSIPI_HIGH_B_REL)


def test_weighted_fit_is_less_biased_at_low_snr(rng):
    true_adc, s0, sigma = 1.0e-3, 100.0, 4.0
    b_values = (0, 500, 1000, 1500, 2000)
    clean = {b: np.full((40, 40, 40), s0 * np.exp(-b * true_adc)) for b in b_values}
    noisy = {b: np.abs(v + rng.normal(0, sigma, v.shape)) for b, v in clean.items()}
    plain = fit_adc(noisy, noise_floor=0.0).adc_mm2_per_s.mean()
    weighted = fit_adc(noisy, weighted=True, noise_floor=0.0).adc_mm2_per_s.mean()
    assert abs(weighted - true_adc) < abs(plain - true_adc)


def test_dark_voxels_are_left_out_not_fitted():
    s0 = np.array([1000.0, 2.0, 0.0]).reshape(1, 1, 3)
    images = mono_exponential(s0, 1e-3, (50, 900))
    fit = fit_adc(images, noise_floor=10.0)
    np.testing.assert_array_equal(fit.fitted.ravel(), [True, False, False])
    assert fit.adc_mm2_per_s.ravel()[1:].tolist() == [0.0, 0.0]
    assert computed_b_image(fit).ravel()[1:].tolist() == [0.0, 0.0]


def test_default_noise_floor_is_qiba_fraction_of_peak():
    s0 = np.linspace(0, 1000, 10001).reshape(1, 1, -1)
    fit = fit_adc(mono_exponential(s0 + 0.0, 1e-3, (0, 1000)))
    peak = np.percentile(s0, 99.9)
    assert fit.noise_floor == pytest.approx(0.004 * peak)


@pytest.mark.parametrize(
    ("images", "message"),
    [
        ({50: np.ones((2, 2, 2))}, "at least two distinct b-values"),
        ({50: np.ones((2, 2, 2)), 600: np.ones((2, 2, 3))}, r"b600 image has shape \(2, 2, 3\)"),
        ({50: np.full((2, 2, 2), np.nan), 600: np.ones((2, 2, 2))}, "NaN or infinite"),
        ({50: -np.ones((2, 2, 2)), 600: np.ones((2, 2, 2))}, "negative voxels"),
        ({50: np.zeros((2, 2, 2)), 600: np.zeros((2, 2, 2))}, "no positive voxel"),
    ],
)
def test_bad_signals_are_refused(images, message):
    with pytest.raises(InputError, match=message):
        fit_adc(images)


def test_min_b_leaving_one_b_value_is_refused():
    with pytest.raises(InputError, match=">= 500"):
        fit_adc({50: np.ones((1, 1, 1)), 600: np.ones((1, 1, 1))}, min_b_s_per_mm2=500)


def test_computed_b_rejects_negative_b():
    fit = fit_adc(mono_exponential(np.ones((1, 1, 1)) * 10, 1e-3, (0, 1000)))
    with pytest.raises(InputError):
        computed_b_image(fit, -5)


def test_zero_signal_inside_the_body_is_refused_but_zero_air_is_not():
    body = np.zeros((4, 10, 10), dtype=bool)
    body[:, 2:8, 2:8] = True
    s0 = np.where(body, 500.0, 0.0)
    images = mono_exponential(s0, 1e-3, (50, 600, 900))
    fit = fit_adc(images)  # exact zeros in the air: accepted, not fitted
    assert fit.fitted.sum() == body.sum()
    np.testing.assert_allclose(fit.adc_mm2_per_s[body], 1e-3, rtol=1e-4)
    holed = dict(images)
    holed[600] = np.where(body, 0.0, 0.0).astype(np.float32)
    holed[600][0, 2, 2] = 1.0  # one positive voxel: not "no positive voxel"
    with pytest.raises(InputError, match=r"b600 image is zero in 99 % of the body"):
        fit_adc(holed)
    with pytest.raises(InputError, match=r"^late\.nii is zero in"):
        fit_adc(holed, image_names={600: "late.nii", 50: "early.nii"})


def test_a_few_zero_voxels_in_the_body_are_left_out():
    s0 = np.full((2, 5, 5), 400.0)
    images = mono_exponential(s0, 1e-3, (50, 900))
    images[900][0, 0, 0] = 0.0
    fit = fit_adc(images)
    assert not fit.fitted[0, 0, 0] and fit.fitted.sum() == s0.size - 1
    assert fit.adc_mm2_per_s[0, 0, 0] == 0.0


def test_messages_name_the_image():
    images = {50: np.ones((2, 2, 2)), 600: np.full((2, 2, 2), np.nan)}
    with pytest.raises(InputError, match=r"^b600\.nii\.gz has 8 NaN"):
        fit_adc(images, image_names={600.0: "b600.nii.gz"})


def test_computed_image_of_negative_adc_stays_finite():
    # signal rising with b (noise) gives a negative ADC; extrapolating far must not overflow
    images = {50: np.full((1, 1, 1), 100.0), 900: np.full((1, 1, 1), 200.0)}
    fit = fit_adc(images, noise_floor=0.0)
    assert fit.adc_mm2_per_s.item() < 0
    computed = computed_b_image(fit, 1e6)
    assert np.isfinite(computed).all()


def test_weighted_fit_with_zeros_leaves_them_out():
    s0 = np.full((1, 1, 3), 300.0)
    images = mono_exponential(s0, 1.2e-3, (50, 600, 900))
    images[900][0, 0, 1] = 0.0
    fit = fit_adc(images, weighted=True, noise_floor=0.0)
    assert fit.fitted.ravel().tolist() == [True, False, True]
    np.testing.assert_allclose(fit.adc_mm2_per_s.ravel()[[0, 2]], 1.2e-3, rtol=1e-4)
    assert np.isfinite(fit.adc_mm2_per_s).all()


def test_bad_min_b_is_refused():
    with pytest.raises(InputError, match="minimum b-value"):
        fit_adc({50: np.ones((1, 1, 1)), 600: np.ones((1, 1, 1))}, min_b_s_per_mm2=float("nan"))


def test_air_blanked_at_high_b_is_accepted_even_at_low_snr(rng):
    # body in a third of the field; air noise well above the 0.4 % noise floor at b50,
    # and the scanner writes zeros in the air of the b900 image
    shape = (6, 30, 30)
    body = np.zeros(shape, dtype=bool)
    body[:, 10:20, 5:25] = True
    s0 = np.where(body, 300.0, 0.0)
    clean = mono_exponential(s0, 1e-3, (50, 900))
    images = {
        b: np.hypot(v + rng.normal(0, 6, shape), rng.normal(0, 6, shape)) for b, v in clean.items()
    }
    images[900] = np.where(body, images[900], 0.0)
    fit = fit_adc(images)
    assert fit.fitted[body].mean() > 0.99
    assert np.median(fit.adc_mm2_per_s[body]) == pytest.approx(1e-3, rel=0.05)
