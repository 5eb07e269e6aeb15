"""Diffusion-weighted MRI science: ADC fitting, computed high-b images, noise, response classes."""

from tumorboard.dwi.adc import AdcFit, computed_b_image, fit_adc
from tumorboard.dwi.response_classes import ResponseClass, classify_response

__all__ = ["AdcFit", "ResponseClass", "classify_response", "computed_b_image", "fit_adc"]
