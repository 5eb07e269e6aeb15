import numpy as np
import pytest

from tumorboard.dwi.response_classes import ClassBounds, ResponseClass, classify_response
from tumorboard.errors import InputError


def test_classes_follow_reference_p95_and_1500():
    adc = np.array([500.0, 999.9, 1000.0, 1499.9, 1500.0, 2500.0, 3000.0]).reshape(1, 1, -1)
    tumour = np.array([True] * 6 + [False]).reshape(1, 1, -1)
    classes = classify_response(adc, tumour, ClassBounds(yellow_lower_um2_per_s=1000.0))
    assert classes.ravel().tolist() == [
        ResponseClass.RED,
        ResponseClass.RED,
        ResponseClass.YELLOW,
        ResponseClass.YELLOW,
        ResponseClass.GREEN,
        ResponseClass.GREEN,
        ResponseClass.NONE,
    ]


def test_reference_p95_above_green_bound_leaves_no_yellow():
    adc = np.array([1400.0, 1600.0, 1700.0]).reshape(1, 1, 3)
    classes = classify_response(adc, np.ones_like(adc, bool), ClassBounds(1650.0))
    assert classes.ravel().tolist() == [ResponseClass.RED, ResponseClass.GREEN, ResponseClass.GREEN]


def test_invalid_bound_is_refused():
    with pytest.raises(InputError):
        ClassBounds(float("nan"))


def test_zero_bound_is_refused_and_a_small_positive_bound_accepted():
    # the edge of "positive": 0 is refused, 0.5 um^2/s (below 1) is a valid bound
    message = r"^yellow lower bound \(reference p95 ADC\) must be a positive number, got 0\.0$"
    with pytest.raises(InputError, match=message):
        ClassBounds(0.0)
    assert ClassBounds(0.5).yellow_lower_um2_per_s == 0.5


def test_class_map_is_uint8_label_values():
    adc = np.full((1, 1, 2), 1600.0)
    classes = classify_response(adc, np.ones_like(adc, bool), ClassBounds(1000.0))
    assert classes.dtype == np.uint8
