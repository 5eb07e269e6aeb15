"""Helpers shared by the DICOM reader/writer tests (imported by the test modules)."""

from __future__ import annotations

import numpy as np

#: A study dict with identifiers that must never leak into messages.
STUDY = {
    "patient_name": "Secretname^Patient",
    "patient_id": "PID-7734-SECRET",
    "patient_birth_date": "19510203",
    "patient_sex": "F",
    "patient_weight_kg": 61.5,
    "study_date": "20260101",
    "study_time": "101500",
    "study_instance_uid": "1.2.826.0.1.3680043.8.498.4242",
}
SECRETS = ("Secretname", "PID-7734", "19510203")


def oblique_direction(angle_deg: float = 20.0) -> np.ndarray:
    """A right-handed rotation about an oblique axis (columns x, y, z)."""
    axis = np.array([1.0, 2.0, 3.0]) / np.sqrt(14.0)
    angle = np.deg2rad(angle_deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def ramp(shape: tuple[int, int, int], scale: float = 1.0, offset: float = 0.0) -> np.ndarray:
    """A smooth test image that differs on every axis (so flips and shuffles show)."""
    z, y, x = np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij")
    return offset + scale * (100.0 * z + 3.0 * y + 0.5 * x)
