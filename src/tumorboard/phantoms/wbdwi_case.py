"""Six whole-body DWI exams of the reference patient, with their truth.

The story follows the published case of metastatic breast cancer monitored
with WB-DWI ("MR Total Tumor Load"; b50, b600, b900) over two lines of
hormonal therapy:

====  ==========  ===========  ========================================
exam  line        volume (ml)  mean ADC (um^2/s) and pattern
====  ==========  ===========  ========================================
1     baseline    384          704, untreated
2     first       290          971, global response
3     first       235          933, response
4     relapse     698          histogram like baseline (about 712)
5     second      617          956, global rise, persistent red clusters
6     second      883          904, red clusters, new liver and pancreas lesions
====  ==========  ===========  ========================================

Lesions (stable ids across exams) grow as nested connected shapes of exact
voxel counts (:mod:`tumorboard.phantoms.lesion_growth`), so the truth
volumes are the published ones to within one voxel. Tumour voxels get an
ADC from a skewed baseline field plus a per-lesion, per-exam response term;
one global gain per exam makes the truth mean ADC exactly the published one.
Tumour signal at b = 1000 is 200-350 a.u. whatever the ADC (well above the
100 a.u. reading threshold); normal brain, cord, spleen, kidneys and bowel
are also bright there and must be removed by the reader.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from tumorboard.imaging.volume import Volume
from tumorboard.phantoms.lesion_growth import growth_order, smooth_noise
from tumorboard.phantoms.patients import BREAST_PATIENT
from tumorboard.phantoms.torso import Anatomy, Tissue, reference_anatomy

SEED = 20240611
B_VALUES_S_PER_MM2 = (50.0, 600.0, 900.0)
#: Gaussian channel noise of the magnitude images (Rician in the images).
NOISE_SD = 3.0
#: Truth volumes (ml) and mean tumour ADC (um^2/s) of the six exams.
EXAM_VOLUMES_ML = (384.0, 290.0, 235.0, 698.0, 617.0, 883.0)
EXAM_MEAN_ADC_UM2_PER_S = (704.0, 971.0, 933.0, 712.0, 956.0, 904.0)
EXAM_DATES = tuple(BREAST_PATIENT.date_of(f"wbdwi-exam{exam}") for exam in range(1, 7))
EXAM_LINES = ("baseline", "first-line", "first-line", "relapse", "second-line", "second-line")
#: Vendor style of the b-value attribute, per exam (the reader must handle all).
EXAM_VENDORS = ("standard", "siemens", "ge", "philips", "standard", "siemens")
#: Reference exam (1-based) for the response classes of each exam.
EXAM_REFERENCE = (1, 1, 1, 1, 4, 4)
#: The published class rule, restated here as literal numbers so that the
#: truth never comes from the code under test: a tumour voxel is green when its
#: ADC is at least 1500 um^2/s, yellow when it is at least the reference exam's
#: 95th-centile tumour ADC (numpy's default linear percentile) but below 1500,
#: and red below that.
TRUTH_GREEN_LOWER_UM2_PER_S = 1500.0
TRUTH_YELLOW_LOWER_PERCENTILE = 95.0

#: Normal tissue (S0 a.u., ADC um^2/s) at a STIR-prepared WB-DWI.
TISSUE_SIGNAL: dict[Tissue, tuple[float, float]] = {
    Tissue.AIR: (0.0, 0.0),
    Tissue.SOFT_TISSUE: (250.0, 1500.0),
    Tissue.FAT: (40.0, 300.0),
    Tissue.BONE: (100.0, 450.0),
    Tissue.BRAIN: (600.0, 800.0),
    Tissue.SPINAL_CORD: (500.0, 700.0),
    Tissue.LUNG: (20.0, 1500.0),
    Tissue.LIVER: (200.0, 1100.0),
    Tissue.SPLEEN: (700.0, 800.0),
    Tissue.KIDNEY_LEFT: (900.0, 1800.0),
    Tissue.KIDNEY_RIGHT: (900.0, 1800.0),
    Tissue.PANCREAS: (300.0, 1300.0),
    Tissue.BOWEL: (600.0, 900.0),
    Tissue.BLADDER: (1200.0, 3000.0),
    Tissue.BREAST: (300.0, 1600.0),
    Tissue.HEART: (300.0, 2500.0),
    Tissue.CSF: (1000.0, 3000.0),
}


@dataclass(frozen=True)
class LesionSpec:
    """A lesion of the reference patient.

    Attributes
    ----------
    lesion_id : int
        Stable id (label value in the lesion maps).
    name : str
        Site, e.g. ``"l-spine"``.
    host : tuple of Tissue
        Tissues it may grow into.
    seed_xyd_mm : tuple of float
        Seed position: x (patient left +), y (posterior +), depth below vertex.
    weights : tuple of float
        Relative size at each of the six exams (0 = absent).
    response : tuple of float
        Response strength 0..1 at each exam (scales the ADC rise).
    roughness : float
        Boundary irregularity (diffuse disease is rougher).
    """

    lesion_id: int
    name: str
    host: tuple[Tissue, ...]
    seed_xyd_mm: tuple[float, float, float]
    weights: tuple[float, ...]
    response: tuple[float, ...]
    roughness: float = 0.3


_BONE = (Tissue.BONE,)
_SOFT = (Tissue.SOFT_TISSUE, Tissue.FAT)
LESIONS: tuple[LesionSpec, ...] = (
    LesionSpec(
        1,
        "breast-primary-right",
        (Tissue.BREAST, Tissue.FAT),
        (-85, -100, 420),
        (40, 25, 16, 30, 24, 26),
        (0, 1.0, 1.0, 0.1, 0.9, 0.8),
    ),
    LesionSpec(
        2,
        "axillary-node-right-1",
        _SOFT,
        (-140, 5, 360),
        (10, 5, 3, 8, 6, 8),
        (0, 0.9, 0.9, 0, 0.9, 0.8),
        0.1,
    ),
    LesionSpec(
        3,
        "axillary-node-right-2",
        _SOFT,
        (-128, 22, 392),
        (7, 3, 2, 5, 4, 5),
        (0, 0.9, 0.9, 0, 0.9, 0.8),
        0.1,
    ),
    LesionSpec(
        4,
        "t-spine-t7",
        _BONE,
        (0, 50, 460),
        (62, 52, 46, 112, 97, 122),
        (0, 0.8, 0.7, 0, 0.8, 0.35),
    ),
    LesionSpec(
        5, "t-spine-t11", _BONE, (0, 50, 570), (25, 20, 17, 46, 41, 55), (0, 0.8, 0.7, 0, 0.9, 0.8)
    ),
    LesionSpec(
        6,
        "l-spine-l3",
        _BONE,
        (0, 40, 745),
        (70, 58, 50, 130, 118, 150),
        (0, 0.5, 0.5, 0, 0.0, 0.0),
        0.8,
    ),
    LesionSpec(
        7, "sacrum", _BONE, (0, 72, 885), (40, 33, 28, 75, 70, 92), (0, 0.8, 0.7, 0, 0.9, 0.9), 0.8
    ),
    LesionSpec(
        8,
        "iliac-left",
        _BONE,
        (95, 35, 830),
        (45, 36, 30, 88, 80, 108),
        (0, 0.8, 0.7, 0, 0.9, 0.9),
        0.8,
    ),
    LesionSpec(
        9,
        "iliac-right",
        _BONE,
        (-95, 35, 835),
        (30, 24, 20, 60, 56, 74),
        (0, 0.8, 0.7, 0, 0.0, 0.0),
    ),
    LesionSpec(
        10,
        "femur-right",
        _BONE,
        (-90, 0, 915),
        (20, 15, 11, 42, 38, 50),
        (0, 0.8, 0.7, 0, 0.9, 0.8),
    ),
    LesionSpec(
        11, "sternum", _BONE, (0, -92, 420), (12, 9, 6, 24, 21, 26), (0, 0.8, 0.7, 0, 0.9, 0.8)
    ),
    LesionSpec(
        12,
        "humerus-right",
        _BONE,
        (-150, 10, 320),
        (12, 9, 6, 26, 22, 30),
        (0, 0.8, 0.7, 0, 0.9, 0.8),
    ),
    LesionSpec(
        13, "skull", _BONE, (40, -70, 60), (11, 8, 5, 24, 22, 28), (0, 0.8, 0.7, 0, 0.9, 0.8)
    ),
    LesionSpec(
        14,
        "liver-segment-6",
        (Tissue.LIVER,),
        (-100, 20, 630),
        (0, 0, 0, 0, 0, 14),
        (0, 0, 0, 0, 0, 0),
        0.1,
    ),
    LesionSpec(
        15,
        "liver-segment-4",
        (Tissue.LIVER,),
        (-25, -20, 600),
        (0, 0, 0, 0, 0, 7),
        (0, 0, 0, 0, 0, 0),
        0.1,
    ),
    LesionSpec(
        16,
        "pancreas-tail",
        (Tissue.PANCREAS,),
        (50, 20, 652),
        (0, 0, 0, 0, 0, 9),
        (0, 0, 0, 0, 0, 0),
        0.1,
    ),
)


@dataclass(frozen=True, eq=False)
class WbdwiExam:
    """One exam: images and truth.

    Attributes
    ----------
    index : int
        1-based exam number.
    date : datetime.date
        Exam date.
    images : dict of float to Volume
        Noisy magnitude images by b-value.
    lesion_labels : Volume
        uint8 lesion ids (0 = no tumour).
    adc_truth_um2_per_s : Volume
        Noise-free ADC of every tissue.
    """

    index: int
    date: dt.date
    images: dict[float, Volume]
    lesion_labels: Volume
    adc_truth_um2_per_s: Volume

    @property
    def tumour_mask(self) -> NDArray[np.bool_]:
        """Truth tumour mask."""
        return np.asarray(self.lesion_labels.array > 0)


@dataclass(frozen=True, eq=False)
class _LesionFields:
    orders: dict[int, NDArray[np.int64]]
    voxel_counts: NDArray[np.int64]  # (n_lesions, 6)
    base_adc: NDArray[np.float64]  # flat, whole grid
    response_potential: NDArray[np.float64]
    signal_b1000: NDArray[np.float64]


def _voxel_counts(voxel_ml: float) -> NDArray[np.int64]:
    """Per-lesion voxel counts per exam, summing exactly to the truth volumes."""
    weights = np.array([lesion.weights for lesion in LESIONS], dtype=float)
    counts = np.zeros_like(weights, dtype=np.int64)
    for exam, volume_ml in enumerate(EXAM_VOLUMES_ML):
        total = int(round(volume_ml / voxel_ml))
        share = weights[:, exam] / weights[:, exam].sum() * total
        floor = np.floor(share).astype(np.int64)
        remainder = total - int(floor.sum())
        floor[np.argsort(-(share - floor))[:remainder]] += 1
        counts[:, exam] = floor
    return counts


@lru_cache(maxsize=1)
def _lesion_fields() -> _LesionFields:
    anatomy = reference_anatomy()
    grid = anatomy.labels
    rng = np.random.default_rng(SEED)
    shape = grid.spatial_shape
    growth_noise = smooth_noise(shape, rng, coarse_factor=2)
    counts = _voxel_counts(grid.voxel_volume_ml)
    claimed = np.zeros(shape, dtype=bool)
    orders: dict[int, NDArray[np.int64]] = {}
    for row, lesion in enumerate(LESIONS):
        host = anatomy.mask(*lesion.host) & ~claimed
        x, y, d = lesion.seed_xyd_mm
        seed = np.rint(grid.lps_to_index(np.array([x, y, -d]))).astype(int)
        order = growth_order(
            host,
            (int(seed[0]), int(seed[1]), int(seed[2])),
            grid.spacing_mm,
            growth_noise,
            int(counts[row].max()),
            lesion.roughness,
        )
        if order.size < counts[row].max():
            raise RuntimeError(f"lesion {lesion.name} does not fit its host tissue")
        orders[lesion.lesion_id] = order
        claimed.ravel()[order] = True
    base_field = smooth_noise(shape, rng, coarse_factor=2).ravel()
    base_adc = _gamma_quantiles(base_field, shape_k=12.0, mean=704.0)
    # About a fifth of the voxels can respond strongly (necrosis: ADC above
    # 1500), the rest modestly: a steep sigmoid of the uniform rank.
    response_rank = _uniform_ranks(smooth_noise(shape, rng).ravel())
    response_potential = 150.0 + 1150.0 / (1.0 + np.exp(-(response_rank - 0.78) * 30.0))
    signal_b1000 = 200.0 + 150.0 * (smooth_noise(shape, rng).ravel() + 1.0) / 2.0
    return _LesionFields(orders, counts, base_adc, response_potential, signal_b1000)


def _uniform_ranks(field: NDArray[np.float64]) -> NDArray[np.float64]:
    """Ranks of a field mapped to (0, 1)."""
    return np.asarray((np.argsort(np.argsort(field)) + 0.5) / field.size)


def _gamma_quantiles(
    field: NDArray[np.float64], shape_k: float, mean: float
) -> NDArray[np.float64]:
    """Map a field's ranks onto gamma quantiles (positively skewed, kurtotic ADC)."""
    return np.asarray(stats.gamma.ppf(_uniform_ranks(field), a=shape_k, scale=mean / shape_k))


def exam_lesion_labels(exam: int) -> Volume:
    """Lesion label map (uint8, 0 = no tumour) of exam ``exam`` (1..6)."""
    fields = _lesion_fields()
    grid = reference_anatomy().labels
    labels = np.zeros(grid.spatial_shape, dtype=np.uint8)
    for row, lesion in enumerate(LESIONS):
        count = int(fields.voxel_counts[row, exam - 1])
        labels.ravel()[fields.orders[lesion.lesion_id][:count]] = lesion.lesion_id
    return grid.with_array(labels, unit="label")


def exam_tumour_adc(exam: int, labels: NDArray[np.uint8]) -> NDArray[np.float64]:
    """Truth ADC (um^2/s) of the tumour voxels of one exam, flat over ``labels > 0``.

    The per-exam gain makes the mean exactly :data:`EXAM_MEAN_ADC_UM2_PER_S`.
    """
    fields = _lesion_fields()
    flat_labels = labels.ravel()
    tumour = np.flatnonzero(flat_labels)
    response = np.zeros(len(LESIONS) + 1)
    for lesion in LESIONS:
        response[lesion.lesion_id] = lesion.response[exam - 1]
    base = fields.base_adc[tumour]
    rise = response[flat_labels[tumour]] * fields.response_potential[tumour]
    target = EXAM_MEAN_ADC_UM2_PER_S[exam - 1]
    if rise.sum() > 0:
        gain = (target - base.mean()) / rise.mean()
        adc = base + gain * rise
    else:
        adc = base * (target / base.mean())
    return np.asarray(adc)


def build_exam(exam: int, anatomy: Anatomy | None = None) -> WbdwiExam:
    """Simulate exam ``exam`` (1..6): noisy b50/b600/b900 images and truth maps."""
    anatomy = anatomy or reference_anatomy()
    grid = anatomy.labels
    fields = _lesion_fields()
    lesion_labels = exam_lesion_labels(exam)
    tissue = anatomy.labels.array
    s0_table = np.zeros(256)
    adc_table = np.zeros(256)
    for label, (s0, adc) in TISSUE_SIGNAL.items():
        s0_table[label], adc_table[label] = s0, adc
    s0 = s0_table[tissue].ravel()
    adc = adc_table[tissue].ravel()
    tumour = np.flatnonzero(lesion_labels.array.ravel())
    tumour_adc = exam_tumour_adc(exam, lesion_labels.array)
    adc[tumour] = tumour_adc
    s0[tumour] = fields.signal_b1000[tumour] * np.exp(tumour_adc / 1000.0)
    shape = grid.spatial_shape
    rng = np.random.default_rng(SEED + exam)
    images: dict[float, Volume] = {}
    for b_value in B_VALUES_S_PER_MM2:
        clean = (s0 * np.exp(-b_value * adc * 1e-6)).reshape(shape)
        real = clean + rng.normal(0.0, NOISE_SD, size=shape)
        imaginary = rng.normal(0.0, NOISE_SD, size=shape)
        magnitude = np.hypot(real, imaginary).astype(np.float32)
        images[b_value] = grid.with_array(magnitude, unit="a.u.")
    return WbdwiExam(
        index=exam,
        date=EXAM_DATES[exam - 1],
        images=images,
        lesion_labels=lesion_labels,
        adc_truth_um2_per_s=grid.with_array(adc.reshape(shape).astype(np.float32), unit="um2/s"),
    )


def _truth_statistics(adc_um2_per_s: NDArray[np.float64]) -> dict[str, float]:
    """ADC statistics of the truth, in plain numpy (definitions as the contract states).

    Percentiles by linear interpolation (type 7), sample SD (ddof 1), population
    skewness and excess kurtosis (central moment ratios m3/m2^1.5 and m4/m2^2 - 3).
    """
    values = np.asarray(adc_um2_per_s, dtype=np.float64)
    mean = float(values.mean())
    centred = values - mean
    m2 = float(np.mean(centred**2))
    m3 = float(np.mean(centred**3))
    m4 = float(np.mean(centred**4))
    p05, p10, p25, p75, p90, p95 = (
        float(v) for v in np.percentile(values, (5, 10, 25, 75, 90, 95))
    )
    statistics = {
        "mean": mean,
        "median": float(np.median(values)),
        "sd": float(values.std(ddof=1)),
        "p05": p05,
        "p10": p10,
        "p25": p25,
        "p75": p75,
        "p90": p90,
        "p95": p95,
        "skewness": m3 / m2**1.5,
        "kurtosis": m4 / m2**2 - 3.0,
    }
    return {key: round(value, 4) for key, value in statistics.items()}


def truth_class_masks(
    tumour_adc_um2_per_s: NDArray[np.float64], yellow_lower_um2_per_s: float
) -> dict[str, NDArray[np.bool_]]:
    """Red, yellow and green voxels of a tumour ADC sample, by the literal published rule.

    Parameters
    ----------
    tumour_adc_um2_per_s : ndarray
        Generating ADC of the tumour voxels.
    yellow_lower_um2_per_s : float
        The reference exam's generating 95th-centile tumour ADC.

    Returns
    -------
    dict of str to ndarray of bool
        ``red``, ``yellow``, ``green``; every voxel is in exactly one.

    Examples
    --------
    >>> masks = truth_class_masks(np.array([700.0, 1000.0, 1500.0]), 900.0)
    >>> [int(masks[name].sum()) for name in ("red", "yellow", "green")]
    [1, 1, 1]
    """
    adc = np.asarray(tumour_adc_um2_per_s, dtype=np.float64)
    green = adc >= TRUTH_GREEN_LOWER_UM2_PER_S
    yellow = (adc >= yellow_lower_um2_per_s) & ~green
    return {"red": ~green & ~yellow, "yellow": yellow, "green": green}


def exam_truth(exam: int) -> dict[str, object]:
    """Truth summary of one exam: volume, ADC statistics, class volumes, lesions.

    Everything comes from the generating fields: the lesion voxel counts, the
    generating ADC of each tumour voxel, and the class rule restated with
    literal numbers (:data:`TRUTH_GREEN_LOWER_UM2_PER_S`, the reference exam's
    generating 95th centile).
    """
    grid = reference_anatomy().labels
    voxel_ml = grid.voxel_volume_ml
    labels = exam_lesion_labels(exam).array
    tumour_adc = exam_tumour_adc(exam, labels)
    reference = EXAM_REFERENCE[exam - 1]
    reference_labels = exam_lesion_labels(reference).array
    reference_p95 = float(
        np.percentile(exam_tumour_adc(reference, reference_labels), TRUTH_YELLOW_LOWER_PERCENTILE)
    )
    masks = truth_class_masks(tumour_adc, reference_p95)
    class_ml = {name: float(mask.sum() * voxel_ml) for name, mask in masks.items()}
    tumour_labels = labels.ravel()[np.flatnonzero(labels.ravel())]
    lesions = []
    for lesion in LESIONS:
        voxels = tumour_labels == lesion.lesion_id
        count = int(voxels.sum())
        if count:
            lesions.append(
                {
                    "lesion_id": lesion.lesion_id,
                    "name": lesion.name,
                    "volume_ml": round(count * voxel_ml, 4),
                    "mean_adc_um2_per_s": round(float(tumour_adc[voxels].mean()), 2),
                }
            )
    return {
        "exam": exam,
        "date": EXAM_DATES[exam - 1].isoformat(),
        "line": EXAM_LINES[exam - 1],
        "vendor_style": EXAM_VENDORS[exam - 1],
        "b_values_s_per_mm2": list(B_VALUES_S_PER_MM2),
        "noise_sd": NOISE_SD,
        "total_diffusion_volume_ml": round(float(tumour_labels.size * voxel_ml), 4),
        "adc_um2_per_s": _truth_statistics(tumour_adc),
        "reference_exam": reference,
        "yellow_lower_um2_per_s": round(reference_p95, 3),
        "green_lower_um2_per_s": TRUTH_GREEN_LOWER_UM2_PER_S,
        "classes_ml": {name: round(class_ml[name], 4) for name in ("red", "yellow", "green")},
        "lesions": lesions,
    }
