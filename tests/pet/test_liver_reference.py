"""Liver, blood-pool and organ references."""

from __future__ import annotations

import numpy as np
import pytest

from tumorboard.errors import EmptyResultError, GeometryError, InputError
from tumorboard.imaging.volume import Volume
from tumorboard.pet.liver_reference import (
    ReferenceKind,
    blood_pool_reference,
    liver_center_from_mask,
    liver_reference,
    organ_reference,
    sphere_reference,
)

SPACING = (4.0, 4.0, 4.0)


def _image(rng: np.random.Generator) -> Volume:
    array = np.ones((40, 40, 40), np.float32)
    array[5:35, 5:35, 5:35] = rng.normal(2.0, 0.2, size=(30, 30, 30)).astype(np.float32)
    return Volume(array, SPACING, origin_mm=(-78.0, -78.0, -78.0))


def test_sphere_statistics_and_count(rng: np.random.Generator) -> None:
    image = _image(rng)
    ref = sphere_reference(image, (0.0, 0.0, 0.0), 30.0)
    points = image.index_to_lps(np.argwhere(np.ones(image.spatial_shape, bool)).astype(float))
    inside = np.sum(points**2, axis=1) <= 15.0**2
    values = image.array.reshape(-1)[inside]
    assert ref.n_voxels == int(inside.sum())
    assert ref.mean == pytest.approx(float(values.mean()), rel=1e-6)
    assert ref.sd == pytest.approx(float(values.std(ddof=1)), rel=1e-5)
    assert ref.percist_threshold == pytest.approx(1.5 * ref.mean + 2 * ref.sd)


def test_liver_sphere_from_mask_stays_in_right_lobe(rng: np.random.Generator) -> None:
    image = _image(rng)
    mask = np.zeros(image.spatial_shape, bool)
    mask[10:30, 8:32, 6:34] = True
    centre = liver_center_from_mask(Volume(mask, SPACING, origin_mm=image.origin_mm))
    all_x = image.index_to_lps(np.argwhere(mask).astype(float))[:, 0]
    assert centre[0] <= np.median(all_x)  # patient right = smaller LPS x
    ref = liver_reference(image, liver_mask=Volume(mask, SPACING, origin_mm=image.origin_mm))
    index = np.round(image.lps_to_index(np.asarray(ref.center_lps))).astype(int)
    assert mask[tuple(index)]
    assert ref.kind is ReferenceKind.LIVER


def test_blood_pool_cylinder(rng: np.random.Generator) -> None:
    ref = blood_pool_reference(_image(rng), (0.0, 0.0, 0.0))
    assert ref.kind is ReferenceKind.BLOOD_POOL
    assert ref.percist_threshold == pytest.approx(2.0 * ref.mean + 2 * ref.sd)
    assert 0 < ref.n_voxels < 30


def test_organ_reference_erodes(rng: np.random.Generator) -> None:
    image = _image(rng)
    mask = np.zeros(image.spatial_shape, np.uint8)
    mask[10:20, 10:20, 10:20] = 1
    ref = organ_reference(image, Volume(mask, SPACING, origin_mm=image.origin_mm))
    assert ref.n_voxels == 8**3


def test_bad_reference_inputs(rng: np.random.Generator) -> None:
    image = _image(rng)
    with pytest.raises(InputError, match="outside the PET image"):
        liver_reference(image, center_lps=(500.0, 0.0, 0.0))
    with pytest.raises(InputError, match="liver mask or a centre"):
        liver_reference(image)
    with pytest.raises(GeometryError):
        liver_reference(image, liver_mask=Volume(np.ones((4, 4, 4), bool), SPACING))
    with pytest.raises(EmptyResultError):
        organ_reference(image, image.with_array(np.zeros(image.spatial_shape, np.uint8)))


def _unit_grid() -> Volume:
    """A 1 mm grid centred on the origin, fine enough that a 10 % size change moves voxels."""
    return Volume(np.ones((48, 48, 48), np.float32), (1.0, 1.0, 1.0), origin_mm=(-24.0,) * 3)


def test_default_liver_sphere_is_3_cm() -> None:
    """PERCIST: a 3 cm diameter sphere in the right liver lobe (radius 15 mm literal)."""
    image = _unit_grid()
    points = image.index_to_lps(np.argwhere(np.ones(image.spatial_shape, bool)).astype(float))
    expected = int(np.sum(np.sum(points**2, axis=1) <= 15.0**2))
    assert sphere_reference(image, (0.0, 0.0, 0.0)).n_voxels == expected


def test_default_blood_pool_is_1_by_2_cm() -> None:
    """PERCIST: a 1 cm wide, 2 cm long cylinder along z in the aorta (literal 5 and 10 mm)."""
    image = _unit_grid()
    points = image.index_to_lps(np.argwhere(np.ones(image.spatial_shape, bool)).astype(float))
    inside = (points[:, 0] ** 2 + points[:, 1] ** 2 <= 5.0**2) & (np.abs(points[:, 2]) <= 10.0)
    assert blood_pool_reference(image, (0.0, 0.0, 0.0)).n_voxels == int(inside.sum())
