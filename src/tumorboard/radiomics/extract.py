"""Per-lesion radiomic features through mirp, in parallel.

mirp (oncoray/mirp) is the feature engine: it reproduces all 482 IBSI-1
digital-phantom values and the CT-phantom configurations. This module adds
what a tumour board needs around it:

* one feature set per label of a label map (every lesion of a patient);
* each lesion cut out of the image with a margin before it goes to mirp, so a
  20-lesion patient does not resample the whole body twenty times. When the
  preset resamples, the crop is chosen (among crops a few voxels larger) so
  that its resampling grid falls on the grid the whole image would get under
  the IBSI rule (grid centred on the image centre) to within a small fraction
  of a voxel; the margin (>= 10 mm plus two resampled voxels) keeps the local
  intensity peak's 1 cm^3 sphere and the interpolation kernel inside the crop;
* lesions are processed by a pool of worker processes (mirp is single-threaded);
* Moran's I and Geary's C are computed exactly by FFT
  (:mod:`.spatial_autocorrelation`) instead of mirp's Monte-Carlo estimate,
  which is both slow and outside the IBSI tolerance on large ROIs;
* every value is labelled with its IBSI code (:mod:`.ibsi_codes`).
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tumorboard.errors import EmptyResultError, InputError
from tumorboard.imaging.volume import Volume
from tumorboard.radiomics.ibsi_codes import FeatureCode, decode_mirp_name
from tumorboard.radiomics.presets import Preset, PresetSpec, load_preset
from tumorboard.radiomics.spatial_autocorrelation import exact_mirp_spatial_features
from tumorboard.worker_pool import process_pool

#: Margin kept around each lesion: the local intensity peak uses a 1 cm^3
#: sphere (radius 6.2 mm) around each voxel; 10 mm covers it with room to spare.
CROP_MARGIN_MM = 10.0
#: How many extra voxels per side the grid-alignment search may add to a crop.
ALIGNMENT_SEARCH_VOXELS = 16
#: Most grey levels a fixed-bin-size preset may produce in one lesion (a GLCM
#: of 2000 x 2000 levels per direction is already 32 MB).
MAX_GREY_LEVELS = 2000
#: Largest absolute intensity accepted. Far beyond any physical unit (CT
#: -1024..3e4 HU, PET SUV < 1e3 or activity < 1e8 Bq/ml, MR signal < 1e7),
#: and small enough that ranges, squares and bin counts stay exact in float64;
#: a larger value is a broken rescale or a corrupt file, never a tissue.
MAX_ABS_INTENSITY = 1e9
#: Most intensity-volume-histogram levels when a preset does not discretise
#: the IVH (one level per whole unit, e.g. per HU: 100,000 covers any CT).
MAX_IVH_LEVELS = 100_000
_PRESET_UNITS = {"CT": "HU", "PT": "SUV", "MR": "any"}
#: mirp's metadata columns (not features) start with these prefixes.
_METADATA_PREFIXES = ("image_", "sample_name")
#: Feature families mirp computes; "all" selects every IBSI-1 family.
FEATURE_FAMILIES = (
    "morphology",
    "local_intensity",
    "statistics",
    "intensity_histogram",
    "intensity_volume_histogram",
    "cooccurrence_matrix",
    "run_length_matrix",
    "size_zone_matrix",
    "distance_zone_matrix",
    "neighbourhood_grey_tone_difference_matrix",
    "neighbouring_grey_level_dependence_matrix",
)


@dataclass(frozen=True)
class FeatureValue:
    """One feature value with its IBSI identity."""

    code: FeatureCode
    value: float


@dataclass(frozen=True)
class LesionFeatures:
    """All features of one label of a label map.

    Attributes
    ----------
    label : int
        The label value in the label map.
    voxel_count : int
        Voxels of the label on the original grid.
    values : tuple of FeatureValue
        Features in mirp's order.
    """

    label: int
    voxel_count: int
    values: tuple[FeatureValue, ...]

    def __post_init__(self) -> None:
        if self.label <= 0:
            raise InputError(f"lesion label must be a positive integer, got {self.label}")
        if self.voxel_count <= 0:
            raise EmptyResultError(f"label {self.label} has no voxels")

    def value(self, tag: str, aggregation: str = "") -> float:
        """The value of IBSI feature ``tag`` (with ``aggregation`` for texture).

        Raises
        ------
        KeyError
            If the feature was not computed.
        """
        for item in self.values:
            if item.code.tag == tag and item.code.aggregation == aggregation:
                return item.value
        raise KeyError(f"feature {tag!r} ({aggregation or 'no aggregation'}) not computed")


@dataclass(frozen=True)
class _Task:
    label: int
    image: NDArray[np.float32]
    mask: NDArray[np.bool_]
    spacing_zyx: tuple[float, float, float]
    origin_zyx: tuple[float, float, float]
    modality: str
    settings: dict[str, Any]


def extract_lesion_features(
    image: Volume,
    labels: Volume,
    preset: Preset | str = Preset.IBSI_C,
    *,
    label_values: Sequence[int] | None = None,
    families: str | Sequence[str] = "all",
    workers: int = 2,
    crop: bool = True,
) -> tuple[LesionFeatures, ...]:
    """Compute IBSI radiomic features for every lesion of a label map.

    Parameters
    ----------
    image : Volume
        3-D image (CT in HU, MR, PET in SUV).
    labels : Volume
        Label map on the image's grid: 0 is background, each positive integer
        one lesion.
    preset : Preset or str
        Processing configuration, see :mod:`tumorboard.radiomics.presets`.
    label_values : sequence of int, optional
        Labels to compute (default: every label present).
    families : str or sequence of str
        ``"all"`` or mirp family names (see :data:`FEATURE_FAMILIES`).
    workers : int
        Worker processes (lesions are distributed over them); 1 runs in-process.
    crop : bool
        Cut each lesion out with a margin before feature computation (faster;
        see the module notes). ``False`` hands mirp the whole image.

    Returns
    -------
    tuple of LesionFeatures
        One entry per label, in increasing label order.

    Raises
    ------
    GeometryError
        If the label map is not on the image's grid.
    InputError
        If an image is not 3-D, labels are not non-negative integers, or
        ``families`` names an unknown family.
    EmptyResultError
        If the label map is empty, a requested label has no voxels, or
        re-segmentation removes every voxel of a lesion.
    """
    spec = load_preset(preset)
    if image.array.ndim != 3:
        raise InputError(f"radiomics image must be 3-D, got shape {image.shape}")
    if labels.array.ndim != 3:
        raise InputError(f"label map must be 3-D, got shape {labels.shape}")
    image.require_same_geometry(labels, "label map", "the image")
    label_array = _integer_labels(labels.array)
    present = [int(value) for value in np.unique(label_array) if value > 0]
    if not present:
        raise EmptyResultError("label map has no lesion: every voxel is 0")
    wanted = present if label_values is None else [int(value) for value in label_values]
    missing = sorted(set(wanted) - set(present))
    if missing:
        raise EmptyResultError(
            f"label {missing[0]} is empty in the label map (labels present: {_short(present)})"
        )
    if workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}")
    settings = _settings(spec, families)
    intensities = np.asarray(image.array, dtype=np.float64)
    if not np.all(np.isfinite(intensities)):
        raise InputError("radiomics image contains NaN or infinite values")
    peak = float(np.max(np.abs(intensities))) if intensities.size else 0.0
    if peak > MAX_ABS_INTENSITY:
        raise InputError(
            f"radiomics image has intensities up to {peak:.3g} in magnitude, more than "
            f"{MAX_ABS_INTENSITY:g}; a broken rescale or a corrupt file?"
        )
    if spec.modality == "CT":
        intensities = np.round(intensities)  # IBSI: CT intensities are integers
    tasks = [
        _make_task(intensities, label_array, label, image, spec, settings, crop)
        for label in sorted(set(wanted))
    ]
    for task in tasks:
        _check_grey_levels(task.image[task.mask], task.label, spec)
    results = _run(tasks, workers)
    lesions = []
    for task, result in zip(tasks, results, strict=True):
        if not result or all(math.isnan(value) for _, value in result):
            raise EmptyResultError(
                f"label {task.label}: no voxel left after re-segmentation of preset "
                f"{spec.preset.value}"
            )
        values = tuple(FeatureValue(decode_mirp_name(name), value) for name, value in result)
        lesions.append(
            LesionFeatures(
                label=task.label,
                voxel_count=int(np.count_nonzero(label_array == task.label)),
                values=values,
            )
        )
    return tuple(lesions)


def _check_grey_levels(values: NDArray[np.floating[Any]], label: int, spec: PresetSpec) -> None:
    """Refuse a fixed-bin-size preset whose bins would explode on this image.

    A fixed bin size is in the unit the preset expects (HU for CT, SUV for
    PET); an image in another unit (PET in Bq/ml) would give tens of thousands
    of grey levels and texture matrices that exhaust the memory.
    """
    settings = spec.mirp_settings
    if values.size:
        whole_levels = math.floor(float(values.max())) - math.floor(float(values.min())) + 1
        for key, limit in (
            ("base_discretisation_method", MAX_GREY_LEVELS),
            ("ivh_discretisation_method", MAX_IVH_LEVELS),
        ):
            if settings.get(key) == "none" and whole_levels > limit:
                raise InputError(
                    f"label {label}: preset {spec.preset.value} does not discretise "
                    f"({key.split('_')[0]}), and intensities {float(values.min()):g} to "
                    f"{float(values.max()):g} span {whole_levels} levels, more than {limit}"
                )
    if settings.get("base_discretisation_method") != "fixed_bin_size":
        return
    width = float(settings["base_discretisation_bin_width"])
    low_bound, high_bound = settings.get("resegmentation_intensity_range", [math.nan, math.nan])
    low = float(values.min()) if math.isnan(low_bound) else max(float(low_bound), values.min())
    high = float(values.max()) if math.isnan(high_bound) else min(float(high_bound), values.max())
    levels = int(math.floor((high - min(low, high)) / width)) + 1
    if levels > MAX_GREY_LEVELS:
        raise InputError(
            f"label {label}: preset {spec.preset.value} bins of {width:g} give {levels} grey "
            f"levels (intensities {low:g} to {high:g}), more than {MAX_GREY_LEVELS}; is the "
            f"image in the unit the preset expects ({_PRESET_UNITS.get(spec.modality, '?')})?"
        )


def _integer_labels(array: NDArray[Any]) -> NDArray[np.int64]:
    if array.dtype == bool:
        return array.astype(np.int64)
    values = np.asarray(array)
    if not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(values != np.round(values)):
        raise InputError("label map must hold non-negative integers (0 = background)")
    return values.astype(np.int64)


def _short(values: Sequence[int]) -> str:
    text = ", ".join(str(value) for value in values[:10])
    return text + (", ..." if len(values) > 10 else "")


def _settings(spec: PresetSpec, families: str | Sequence[str]) -> dict[str, Any]:
    settings = dict(spec.mirp_settings)
    if isinstance(families, str):
        families = [families]
    chosen = [str(family) for family in families]
    unknown = [f for f in chosen if f != "all" and f not in FEATURE_FAMILIES]
    if unknown or not chosen:
        raise InputError(
            f"unknown feature family {unknown[0] if unknown else '(none)'}; "
            f"expected 'all' or some of {', '.join(FEATURE_FAMILIES)}"
        )
    settings["base_feature_families"] = chosen if len(chosen) > 1 else chosen[0]
    settings.setdefault("glcm_distance", 1.0)
    settings.setdefault("ngldm_distance", 1.0)
    settings.setdefault("ngldm_difference_level", 0.0)
    return settings


def _make_task(
    intensities: NDArray[np.float64],
    label_array: NDArray[np.int64],
    label: int,
    image: Volume,
    spec: PresetSpec,
    settings: dict[str, Any],
    crop: bool,
) -> _Task:
    mask = label_array == label
    slices: tuple[slice, ...] = tuple(slice(0, n) for n in mask.shape)
    if crop:
        slices = _crop_box(mask, image.spacing_mm, spec)
    origin_index = np.array([s.start for s in slices], dtype=float)
    origin_lps = image.index_to_lps(origin_index)
    return _Task(
        label=label,
        image=np.ascontiguousarray(intensities[slices], dtype=np.float32),
        mask=np.ascontiguousarray(mask[slices]),
        spacing_zyx=image.spacing_mm,
        origin_zyx=(float(origin_lps[2]), float(origin_lps[1]), float(origin_lps[0])),
        modality=spec.modality,
        settings=settings,
    )


def _crop_box(
    mask: NDArray[np.bool_], spacing_zyx: tuple[float, float, float], spec: PresetSpec
) -> tuple[slice, ...]:
    """Bounding box of ``mask`` plus margin, grid-aligned when the preset resamples."""
    where = np.nonzero(mask)
    boxes = []
    for axis, n in enumerate(mask.shape):
        spacing = spacing_zyx[axis]
        resampled = spec.interpolates and spec.new_spacing_mm is not None
        if resampled and spec.by_slice and axis == 0:
            resampled = False  # 2-D presets resample in-plane only
        new_spacing = float(spec.new_spacing_mm) if resampled and spec.new_spacing_mm else spacing
        margin_mm = CROP_MARGIN_MM + (2.0 * new_spacing if resampled else 0.0)
        margin = int(math.ceil(margin_mm / spacing)) + 1
        low = max(int(where[axis].min()) - margin, 0)
        high = min(int(where[axis].max()) + margin, n - 1)
        if resampled:
            low, high = _aligned_bounds(low, high, n, spacing, new_spacing)
        boxes.append(slice(low, high + 1))
    return tuple(boxes)


def _aligned_bounds(
    low: int, high: int, n: int, spacing: float, new_spacing: float
) -> tuple[int, int]:
    """Widen ``[low, high]`` so its IBSI resampling grid best matches the whole image's.

    Under the IBSI rule the resampled grid of ``n`` voxels has
    ``m = ceil(n * spacing / new_spacing)`` nodes centred on the image centre,
    at input-voxel positions ``0.5 (n - 1) - 0.5 (m - 1) g + j g`` with
    ``g = new_spacing / spacing``. A crop's grid is a subset of the image's
    when the two phases differ by a whole number of ``g``.
    """
    step = new_spacing / spacing
    full_phase = 0.5 * (n - 1) - 0.5 * (_sample_count(n, spacing, new_spacing) - 1) * step
    best = (math.inf, low, high)
    for start in range(low, max(low - ALIGNMENT_SEARCH_VOXELS, 0) - 1, -1):
        for stop in range(high, min(high + ALIGNMENT_SEARCH_VOXELS, n - 1) + 1):
            size = stop - start + 1
            phase = (
                start
                + 0.5 * (size - 1)
                - 0.5 * (_sample_count(size, spacing, new_spacing) - 1) * step
            )
            offset = ((phase - full_phase) / step) % 1.0
            error = min(offset, 1.0 - offset)
            if error < best[0] - 1e-9:
                best = (error, start, stop)
    return best[1], best[2]


def _sample_count(n: int, spacing: float, new_spacing: float) -> int:
    # the same expression mirp uses (np.ceil of dimension * spacing / new spacing)
    return int(
        np.ceil(np.multiply(np.array([n]), np.array([spacing]) / np.array([new_spacing])))[0]
    )


def _run(tasks: list[_Task], workers: int) -> list[list[tuple[str, float]]]:
    workers = min(workers, len(tasks), os.cpu_count() or 1)
    if workers <= 1:
        return [_features_of(task) for task in tasks]
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with process_pool(workers, method) as pool:  # workers die with this process
        return list(pool.map(_features_of, tasks))


@contextmanager
def _quiet() -> Iterator[None]:
    """Keep mirp's INFO logging and warnings off the user's terminal.

    mirp calls :func:`logging.basicConfig` (INFO, stdout) on every run; a
    temporary null handler on the root logger makes that a no-op.
    """
    root = logging.getLogger()
    handler = logging.NullHandler()
    added = not root.handlers
    if added:
        root.addHandler(handler)
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)
        if added:
            root.removeHandler(handler)


def _features_of(task: _Task) -> list[tuple[str, float]]:
    """Run mirp on one cropped lesion; return ``(mirp name, value)`` pairs."""
    from mirp import extract_features
    from mirp._data_import.numpy_file import ImageNumpyFile, MaskNumpyFile

    # mirp's array entry point: the only way to hand it voxel spacing without files
    image = ImageNumpyFile(
        image_data=task.image,
        image_spacing=task.spacing_zyx,
        image_origin=task.origin_zyx,
        image_dimensions=task.image.shape,
        image_modality=task.modality.lower(),
        sample_name=f"label_{task.label}",
    )
    image.image_metadata = task.image
    mask = MaskNumpyFile(
        image_data=task.mask,
        image_spacing=task.spacing_zyx,
        image_origin=task.origin_zyx,
        image_dimensions=task.mask.shape,
        image_modality="generic_mask",
        sample_name=f"label_{task.label}",
    )
    mask.image_metadata = task.mask
    with _quiet(), exact_mirp_spatial_features():
        tables = extract_features(image=image, mask=mask, **task.settings)
    if not tables or tables[0] is None or len(tables[0]) == 0:
        return []
    table = tables[0]
    row = table.iloc[0]
    return [
        (str(name), float(row[name]))
        for name in table.columns
        if not str(name).startswith(_METADATA_PREFIXES)
    ]
