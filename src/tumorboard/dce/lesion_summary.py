"""Per-lesion summaries of parameter maps and their change between two visits.

A lesion is the set of voxels with one positive label. For every parameter
the summary keeps the median, quartiles and a histogram of the voxels whose
fit converged (NaN voxels are counted as failed, not summarised). The change
table compares the medians of the same lesion label at baseline and
follow-up and marks lesions whose baseline value reaches a user-supplied
threshold ("high baseline perfusion"; the study's cut-offs are not built in).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tumorboard.errors import EmptyResultError, InputError

#: Histogram bins per parameter summary.
HISTOGRAM_BINS = 20


@dataclass(frozen=True)
class ParameterSummary:
    """Distribution of one parameter within one lesion.

    Attributes
    ----------
    parameter : str
    median, p25, p75 : float
        NaN when no voxel of the lesion has a finite value.
    n_finite : int
        Voxels with a finite value.
    histogram_counts : tuple of int
    histogram_edges : tuple of float
        ``len(counts) + 1`` bin edges.
    """

    parameter: str
    median: float
    p25: float
    p75: float
    n_finite: int
    histogram_counts: tuple[int, ...]
    histogram_edges: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.histogram_counts and len(self.histogram_edges) != len(self.histogram_counts) + 1:
            raise InputError("a histogram needs one more edge than counts")


@dataclass(frozen=True)
class LesionSummary:
    """All parameter summaries of one lesion.

    Attributes
    ----------
    lesion : int
        Label value.
    n_voxels : int
    failed_fraction : float
        Fraction of voxels whose fit failed (no finite value of the first parameter).
    parameters : tuple of ParameterSummary
    """

    lesion: int
    n_voxels: int
    failed_fraction: float
    parameters: tuple[ParameterSummary, ...]

    def __post_init__(self) -> None:
        if self.n_voxels <= 0:
            raise InputError(f"lesion {self.lesion} has no voxels")
        if not 0.0 <= self.failed_fraction <= 1.0:
            raise InputError(f"failed_fraction must be in [0, 1], got {self.failed_fraction}")

    def median(self, parameter: str) -> float:
        """Median of ``parameter`` (KeyError-free: raises InputError when absent)."""
        for p in self.parameters:
            if p.parameter == parameter:
                return p.median
        raise InputError(f"lesion {self.lesion} has no parameter {parameter!r}")


def _summary(name: str, values: NDArray[np.float64]) -> ParameterSummary:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return ParameterSummary(name, np.nan, np.nan, np.nan, 0, (), ())
    p25, median, p75 = np.percentile(finite, [25, 50, 75])
    counts, edges = np.histogram(finite, bins=HISTOGRAM_BINS)
    return ParameterSummary(
        name,
        float(median),
        float(p25),
        float(p75),
        int(finite.size),
        tuple(int(c) for c in counts),
        tuple(float(e) for e in edges),
    )


def summarise_lesions(maps: Mapping[str, ArrayLike], labels: ArrayLike) -> list[LesionSummary]:
    """Summarise parameter maps per lesion label.

    Parameters
    ----------
    maps : mapping of str to array_like, each shape (nz, ny, nx)
        Parameter maps (NaN where not fitted or failed).
    labels : array_like of int, shape (nz, ny, nx)
        0 = background, positive integers = lesions.

    Returns
    -------
    list of LesionSummary
        Sorted by label.

    Raises
    ------
    InputError
        If shapes differ or labels are not integers.
    EmptyResultError
        If the label image holds no lesion.
    """
    label_array = np.asarray(labels)
    if not np.issubdtype(label_array.dtype, np.integer):
        rounded = np.rint(label_array)
        if not np.allclose(rounded, label_array):
            raise InputError("lesion labels must be integers")
        label_array = rounded.astype(np.int64)
    arrays = {name: np.asarray(m, dtype=np.float64) for name, m in maps.items()}
    for name, m in arrays.items():
        if m.shape != label_array.shape:
            raise InputError(f"map {name} has shape {m.shape}, labels have {label_array.shape}")
    lesions = sorted(int(v) for v in np.unique(label_array) if v > 0)
    if not lesions:
        raise EmptyResultError("the lesion label image holds no lesion (no label > 0)")
    first = next(iter(arrays.values()), None)
    result = []
    for lesion in lesions:
        inside = label_array == lesion
        n = int(inside.sum())
        failed = 0.0 if first is None else float(np.mean(~np.isfinite(first[inside])))
        result.append(
            LesionSummary(
                lesion=lesion,
                n_voxels=n,
                failed_fraction=failed,
                parameters=tuple(_summary(name, m[inside]) for name, m in arrays.items()),
            )
        )
    return result


@dataclass(frozen=True)
class LesionChange:
    """Change of one parameter's lesion median between two visits.

    Attributes
    ----------
    lesion : int
    parameter : str
    baseline, follow_up : float
        Lesion medians.
    change : float
        ``follow_up - baseline``.
    change_percent : float
        ``100 change / baseline`` (NaN for a zero baseline).
    high_baseline : bool
        Baseline median at or above the threshold.
    """

    lesion: int
    parameter: str
    baseline: float
    follow_up: float
    change: float
    change_percent: float
    high_baseline: bool


def lesion_changes(
    baseline: list[LesionSummary],
    follow_up: list[LesionSummary],
    parameter: str,
    *,
    high_threshold: float | None = None,
) -> list[LesionChange]:
    """Compare lesion medians of ``parameter`` between baseline and follow-up.

    Parameters
    ----------
    baseline, follow_up : list of LesionSummary
        Matched by lesion label; lesions missing at follow-up get NaN.
    parameter : str
    high_threshold : float, optional
        Baseline medians ``>= high_threshold`` are flagged as high baseline
        perfusion (user supplied; no study cut-off is built in). Without it no
        lesion is flagged.

    Returns
    -------
    list of LesionChange
    """
    if high_threshold is not None and not np.isfinite(high_threshold):
        raise InputError(f"high-perfusion threshold must be a number, got {high_threshold!r}")
    later = {s.lesion: s for s in follow_up}
    changes = []
    for s in baseline:
        before = s.median(parameter)
        after = later[s.lesion].median(parameter) if s.lesion in later else np.nan
        delta = after - before
        percent = 100.0 * delta / before if before not in (0.0,) and np.isfinite(before) else np.nan
        changes.append(
            LesionChange(
                lesion=s.lesion,
                parameter=parameter,
                baseline=before,
                follow_up=float(after),
                change=float(delta),
                change_percent=float(percent),
                high_baseline=bool(
                    high_threshold is not None and np.isfinite(before) and before >= high_threshold
                ),
            )
        )
    return changes
