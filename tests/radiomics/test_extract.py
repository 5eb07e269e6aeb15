"""Per-lesion extraction: crop invariance, parallel = sequential, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from tumorboard.errors import EmptyResultError, GeometryError, InputError
from tumorboard.imaging.volume import Volume
from tumorboard.radiomics import extract_lesion_features, load_preset
from tumorboard.radiomics.extract import _aligned_bounds, _sample_count

#: Families kept small so the tests stay fast.
FAMILIES = ["morphology", "statistics", "cooccurrence_matrix"]
#: Crop and whole image agree when the crop's resampling grid coincides with
#: the whole image's; float32 rounding of the resampled values can move a single
#: voxel across a bin edge (seen: 1e-5 relative on GLCM features), hence 1e-3.
CROP_RELATIVE_TOLERANCE = 1e-3
#: IBSI-1 family prefixes of the feature tags.
IBSI_FAMILIES = ("morph", "loc", "stat", "ih", "ivh", "cm", "rlm", "szm", "dzm", "ngt", "ngl")


def lesion_image(
    rng: np.random.Generator, spacing: tuple[float, float, float]
) -> tuple[Volume, Volume]:
    shape = (24, 48, 48)
    zz, yy, xx = np.indices(shape)
    labels = np.zeros(shape, dtype=np.int16)
    image = rng.normal(40.0, 10.0, shape)
    for label, (cz, cy, cx, r) in enumerate([(8, 12, 12, 4), (14, 30, 34, 6), (16, 36, 12, 3)], 1):
        inside = (zz - cz) ** 2 + (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
        labels[inside] = label
        image[inside] += 60.0 * label + rng.normal(0.0, 15.0, int(inside.sum()))
    volume = Volume(np.round(image), spacing_mm=spacing, origin_mm=(-20.0, 5.0, 30.0), unit="HU")
    return volume, volume.with_array(labels, unit="label")


@pytest.mark.parametrize("preset", ["ibsi-a", "mr"])
def test_crop_matches_whole_image(rng: np.random.Generator, preset: str) -> None:
    image, labels = lesion_image(rng, (2.0, 1.0, 1.0))
    cropped = extract_lesion_features(image, labels, preset, families=FAMILIES, workers=1)
    whole = extract_lesion_features(image, labels, preset, families=FAMILIES, workers=1, crop=False)
    assert [lesion.label for lesion in cropped] == [1, 2, 3]
    for a, b in zip(cropped, whole, strict=True):
        assert a.voxel_count == b.voxel_count
        for va, vb in zip(a.values, b.values, strict=True):
            assert va.code == vb.code
            assert va.value == pytest.approx(vb.value, rel=CROP_RELATIVE_TOLERANCE, abs=1e-9)


def test_parallel_equals_sequential(rng: np.random.Generator) -> None:
    image, labels = lesion_image(rng, (2.0, 1.5, 1.5))
    one = extract_lesion_features(image, labels, "ibsi-c", families=FAMILIES, workers=1)
    two = extract_lesion_features(image, labels, "ibsi-c", families=FAMILIES, workers=2)
    assert [[v.value for v in lesion.values] for lesion in one] == [
        [v.value for v in lesion.values] for lesion in two
    ]
    # bigger lesions have bigger volume: the labels were not mixed up
    volumes = [lesion.value("morph.vol") for lesion in one]
    assert volumes[1] > volumes[0] > volumes[2]


def test_aligned_bounds_reach_the_image_grid() -> None:
    n, spacing, new = 201, 0.977, 2.0
    step = new / spacing
    full = 0.5 * (n - 1) - 0.5 * (_sample_count(n, spacing, new) - 1) * step
    low, high = _aligned_bounds(60, 120, n, spacing, new)
    assert low <= 60 and high >= 120
    size = high - low + 1
    phase = low + 0.5 * (size - 1) - 0.5 * (_sample_count(size, spacing, new) - 1) * step
    offset = ((phase - full) / step) % 1.0
    assert min(offset, 1 - offset) < 0.05


def test_label_subset(rng: np.random.Generator) -> None:
    image, labels = lesion_image(rng, (2.0, 1.0, 1.0))
    (lesion,) = extract_lesion_features(
        image, labels, "ibsi-a", label_values=[2], families=["statistics"], workers=1
    )
    assert lesion.label == 2
    with pytest.raises(KeyError):
        lesion.value("cm.joint.max", "3D, averaged")


def test_geometry_mismatch(rng: np.random.Generator) -> None:
    image, labels = lesion_image(rng, (2.0, 1.0, 1.0))
    other = Volume(labels.array, spacing_mm=(2.0, 1.0, 1.2), origin_mm=labels.origin_mm)
    with pytest.raises(GeometryError, match="label map has spacing"):
        extract_lesion_features(image, other, "ibsi-a", workers=1)
    small = Volume(labels.array[:, :40], spacing_mm=(2.0, 1.0, 1.0), origin_mm=labels.origin_mm)
    with pytest.raises(GeometryError, match="label map has shape"):
        extract_lesion_features(image, small, "ibsi-a", workers=1)


def test_empty_labels(rng: np.random.Generator) -> None:
    image, labels = lesion_image(rng, (2.0, 1.0, 1.0))
    empty = labels.with_array(np.zeros(labels.spatial_shape, dtype=np.int16))
    with pytest.raises(EmptyResultError, match="label map has no lesion"):
        extract_lesion_features(image, empty, "ibsi-a", workers=1)
    with pytest.raises(EmptyResultError, match="label 7 is empty"):
        extract_lesion_features(image, labels, "ibsi-a", label_values=[7], workers=1)


def test_resegmentation_removes_everything(rng: np.random.Generator) -> None:
    image, labels = lesion_image(rng, (2.0, 1.0, 1.0))
    hot = image.with_array(np.full(image.spatial_shape, 3000.0))  # outside [-500, 400] HU
    with pytest.raises(EmptyResultError, match="no voxel left after re-segmentation"):
        extract_lesion_features(
            hot, labels, "ibsi-a", label_values=[1], families=["statistics"], workers=1
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("fraction", "non-negative integers"),
        ("negative", "non-negative integers"),
        ("nan_image", "NaN"),
        ("family", "unknown feature family"),
        ("preset", "unknown radiomics preset"),
        ("workers", "workers must be at least 1"),
    ],
)
def test_bad_input(rng: np.random.Generator, change: str, message: str) -> None:
    image, labels = lesion_image(rng, (2.0, 1.0, 1.0))
    preset, families, workers = "ibsi-a", "all", 1
    if change == "fraction":
        labels = labels.with_array(labels.array * 0.5)
    elif change == "negative":
        labels = labels.with_array(-labels.array)
    elif change == "nan_image":
        array = image.array.copy()
        array[0, 0, 0] = np.nan
        image = image.with_array(array)
    elif change == "family":
        families = "glcm"
    elif change == "preset":
        preset = "ibsi-z"
    else:
        workers = 0
    with pytest.raises(InputError, match=message):
        extract_lesion_features(image, labels, preset, families=families, workers=workers)


def test_presets_load() -> None:
    for name in ("ibsi-a", "ibsi-b", "ibsi-c", "ibsi-d", "ibsi-e", "ibsi-phantom", "mr", "pet"):
        spec = load_preset(name)
        assert spec.preset.value == name and spec.description
    assert load_preset("ibsi-b").by_slice and load_preset("ibsi-b").new_spacing_mm == 2.0
    assert not load_preset("ibsi-a").interpolates


@pytest.mark.parametrize("preset", ["ibsi-a", "ibsi-b", "ibsi-c", "ibsi-d", "ibsi-e", "mr", "pet"])
def test_every_preset_computes_every_family(rng: np.random.Generator, preset: str) -> None:
    """Each contract preset runs the full IBSI feature set on an image of its kind.

    The PET preset's open re-segmentation range ``[0, no bound]`` once broke
    mirp's intensity-volume histogram (an infinite bound), so every family is run.
    """
    image, labels = lesion_image(rng, (2.0, 2.0, 2.0))
    if preset == "pet":  # SUV-like: positive, a few units
        image = image.with_array(np.clip(image.array, 0.0, None) / 20.0, unit="SUVbw")
    (lesion,) = extract_lesion_features(image, labels, preset, label_values=[2], workers=1)
    families = {value.code.family for value in lesion.values}
    assert set(IBSI_FAMILIES) <= families
    assert all(np.isfinite(v.value) for v in lesion.values)


def test_pet_preset_refuses_activity_units(rng: np.random.Generator) -> None:
    """SUV bins of 0.25 on a Bq/ml image would give ~80,000 grey levels: refused at once."""
    image, labels = lesion_image(rng, (2.0, 2.0, 2.0))
    bq_per_ml = image.with_array(np.clip(image.array, 0.0, None) * 100.0, unit="BQML")
    with pytest.raises(InputError, match=r"label 1: preset pet bins of 0.25 give \d+ grey levels"):
        extract_lesion_features(bq_per_ml, labels, "pet", workers=1)
