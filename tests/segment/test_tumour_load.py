import numpy as np
import pytest

from tumorboard.errors import EmptyResultError, InputError
from tumorboard.imaging.volume import Volume
from tumorboard.segment.tumour_load import (
    SegmentationOptions,
    exclusion_from_labels,
    segment_tumour_load,
)

SPACING = (5.0, 2.0, 2.0)  # voxel = 0.02 ml


def ball(shape, centre, radius_vox):
    zz, yy, xx = np.indices(shape)
    return (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2 <= radius_vox**2


@pytest.fixture
def scene():
    shape = (20, 40, 40)
    computed = np.full(shape, 30.0)
    big = ball(shape, (10, 12, 12), 4)
    small = ball(shape, (10, 30, 30), 1)  # 7 voxels = 0.14 ml
    organ = ball(shape, (10, 30, 10), 3)
    computed[big | small | organ] = 300.0
    adc = np.where(big, 800.0, 1200.0)
    labels = np.zeros(shape, np.int16)
    labels[organ] = 5
    grid = Volume(computed, SPACING, (0.0, 0.0, 0.0))
    return grid, adc, big, small, organ, labels


def test_threshold_exclusion_and_min_volume(scene):
    grid, adc, big, small, organ, labels = scene
    fitted = np.ones(grid.shape, bool)
    result = segment_tumour_load(
        grid,
        adc,
        fitted,
        SegmentationOptions(min_component_ml=0.5),
        exclusion=exclusion_from_labels([labels], [5]),
    )
    np.testing.assert_array_equal(result.mask, big)
    assert result.excluded_voxels == int(organ.sum())
    kept = [c for c in result.components if c.kept]
    removed = [c for c in result.components if not c.kept]
    assert len(kept) == 1 and removed[0].reason == "min-volume"
    assert kept[0].volume_ml == pytest.approx(big.sum() * 0.02)
    assert kept[0].mean_adc_um2_per_s == pytest.approx(800.0)
    # centroid of the ball centre (z=10, y=12, x=12) in LPS mm (x, y, z)
    np.testing.assert_allclose(kept[0].centroid_lps_mm, (24.0, 24.0, 50.0), atol=1e-9)


def test_curated_keep_and_remove_lists(scene):
    grid, adc, big, small, organ, labels = scene
    fitted = np.ones(grid.shape, bool)
    first = segment_tumour_load(grid, adc, fitted, SegmentationOptions(min_component_ml=0))
    ids = {c.component_id: c for c in first.components}
    small_id = next(i for i, c in ids.items() if c.voxel_count == small.sum())
    kept = segment_tumour_load(
        grid, adc, fitted, SegmentationOptions(keep_components=frozenset({small_id}))
    )
    np.testing.assert_array_equal(kept.mask, small)
    removed = segment_tumour_load(
        grid,
        adc,
        fitted,
        SegmentationOptions(min_component_ml=0, remove_components=frozenset({small_id})),
    )
    assert not removed.mask[small].any() and removed.mask[big].all()
    with pytest.raises(InputError, match="do not exist"):
        segment_tumour_load(
            grid, adc, fitted, SegmentationOptions(remove_components=frozenset({99}))
        )


def test_adc_window_and_noise_relative_threshold(scene):
    grid, adc, big, small, organ, labels = scene
    fitted = np.ones(grid.shape, bool)
    windowed = segment_tumour_load(
        grid, adc, fitted, SegmentationOptions(adc_max_um2_per_s=1000, min_component_ml=0)
    )
    np.testing.assert_array_equal(windowed.mask, big)
    relative = segment_tumour_load(
        grid, adc, fitted, SegmentationOptions(threshold_sd=20, min_component_ml=0), noise_sd=10.0
    )
    assert relative.threshold == pytest.approx(200.0)
    assert relative.noise_sd == 10.0


def test_empty_results_say_which_step_emptied_them(scene):
    grid, adc, big, small, organ, labels = scene
    fitted = np.ones(grid.shape, bool)
    with pytest.raises(EmptyResultError, match="reaches the threshold 1000"):
        segment_tumour_load(grid, adc, fitted, SegmentationOptions(threshold=1000))
    everything = np.ones(grid.shape, np.int16)
    with pytest.raises(EmptyResultError, match="exclusion mask"):
        segment_tumour_load(
            grid,
            adc,
            fitted,
            SegmentationOptions(),
            exclusion=exclusion_from_labels([everything], None),
        )
    with pytest.raises(EmptyResultError, match="minimum volume"):
        segment_tumour_load(grid, adc, fitted, SegmentationOptions(min_component_ml=100))


def test_options_and_labels_are_validated():
    with pytest.raises(InputError):
        SegmentationOptions(threshold=-1)
    with pytest.raises(InputError, match="min < max"):
        SegmentationOptions(adc_min_um2_per_s=2000, adc_max_um2_per_s=1000)
    with pytest.raises(InputError, match="finite"):
        SegmentationOptions(adc_min_um2_per_s=float("nan"), adc_max_um2_per_s=1000)
    with pytest.raises(InputError, match="finite"):
        SegmentationOptions(adc_max_um2_per_s=float("inf"))
    with pytest.raises(InputError, match="--min-volume-ml"):
        SegmentationOptions(min_component_ml=float("nan"))
    with pytest.raises(InputError, match="both kept and removed"):
        SegmentationOptions(keep_components=frozenset({1}), remove_components=frozenset({1}))
    with pytest.raises(InputError, match="--exclude-labels 7 not found"):
        exclusion_from_labels([np.array([[[0, 5]]])], [5, 7])


def test_largest_component_volume_centroid_and_share():
    from tumorboard.segment.components import largest_component

    shape = (20, 40, 40)
    big, small = ball(shape, (10, 12, 12), 4), ball(shape, (10, 30, 30), 1)
    grid = Volume(np.zeros(shape), SPACING, (0.0, 0.0, 0.0))
    found = largest_component(big | small, grid)
    assert found is not None
    assert found.voxels == big.sum()
    assert found.volume_ml == pytest.approx(big.sum() * 0.02)
    np.testing.assert_allclose(found.centroid_lps_mm, (24.0, 24.0, 50.0), atol=1e-9)
    assert found.fraction_of_mask == pytest.approx(big.sum() / (big.sum() + small.sum()))
    assert largest_component(np.zeros(shape, bool), grid) is None
