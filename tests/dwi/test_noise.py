import numpy as np
import pytest

from tumorboard.dwi.noise import background_noise_sd
from tumorboard.errors import InputError


def test_rayleigh_background_gives_channel_sd(rng):
    sigma = 7.0
    image = np.zeros((20, 64, 64))
    image[:, 16:48, 16:48] = 400.0
    magnitude = np.hypot(
        image + rng.normal(0, sigma, image.shape), rng.normal(0, sigma, image.shape)
    )
    assert background_noise_sd(magnitude) == pytest.approx(sigma, rel=0.05)


def test_no_background_is_an_error(rng):
    image = 500 + rng.normal(0, 5, (10, 10, 10))
    with pytest.raises(InputError, match="background"):
        background_noise_sd(image, "b50 image")
