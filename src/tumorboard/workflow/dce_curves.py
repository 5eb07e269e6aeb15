"""The images and lesion curves of a stored ``dce`` analysis, for the reading room.

The ``dce`` analysis (:mod:`tumorboard.workflow.dce_analysis`) stores each
lesion's fitted parameters (medians over its voxels) and the Ktrans, Fp and
IAUGC60 maps; it keeps neither the series' anatomy, the SEG as a label image,
nor the curves. This module derives them on request from the analysis's own
input series in the record (nothing is fitted again):

* :func:`dce_lesion_curves` -- each lesion's measured concentration curve
  (mean over its voxels, converted from signal with the analysis's settings
  and the same steps as ``dce map``: :func:`~tumorboard.dce.maps.auto_baseline`,
  :func:`~tumorboard.dce.maps.concentration_volume`, the population AIF
  delayed by :func:`~tumorboard.dce.maps.population_aif_delay_s`) and, for
  each model of the analysis, the model curve of the stored parameters
  (:func:`tumorboard.dce.fit.simulate`).
* the last frame of the series (the anatomy the maps are drawn over) and
  the lesion labels on the series grid, as NIfTI bytes.

Results are cached per analysis (a stored analysis never changes).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select

from tumorboard.errors import InputError

if TYPE_CHECKING:
    from tumorboard.imaging.dicom_dynamic import DynamicAcquisition
    from tumorboard.imaging.volume import Volume
    from tumorboard.store.workspace import Workspace
    from tumorboard.workflow.exam_images import StoredAnalysis

__all__ = [
    "DCE_DERIVED_VOLUMES",
    "DceExamImages",
    "dce_exam_images",
    "dce_lesion_curves",
    "model_parameters",
]

#: Images the reading room derives from the series (not stored by the analysis).
DCE_DERIVED_VOLUMES = ("anatomy", "lesions")

#: Stored result keys of each model's physical parameters.
_MODEL_PARAMETERS = {
    "extended-tofts": ("ktrans_per_min", "ve", "vp"),
    "tofts": ("ktrans_per_min", "ve"),
    "dual-input": ("fp_ml_per_100ml_per_min", "arterial_fraction", "distribution_volume"),
}


def model_parameters(model: str, row: dict[str, Any]) -> dict[str, float] | None:
    """A lesion's stored parameters of one model, or None when one is missing.

    Examples
    --------
    >>> model_parameters("extended-tofts", {"ktrans_per_min": 0.2, "ve": 0.3, "vp": 0.01})
    {'ktrans_per_min': 0.2, 've': 0.3, 'vp': 0.01}
    >>> model_parameters("extended-tofts", {"ktrans_per_min": 0.2, "ve": None, "vp": 0.0}) is None
    True
    """
    names = _MODEL_PARAMETERS.get(model)
    if names is None:
        return None
    values = {name: row.get(name) for name in names}
    if not all(isinstance(v, int | float) and np.isfinite(v) for v in values.values()):
        return None
    return {name: float(value) for name, value in values.items()}  # type: ignore[arg-type]


def dce_lesion_curves(
    dynamic: Volume,
    acquisition: DynamicAcquisition,
    labels: NDArray[np.integer[Any]],
    result: dict[str, Any],
) -> dict[str, Any]:
    """Each lesion's measured concentration curve and its fitted model curves.

    Parameters
    ----------
    dynamic : Volume
        The DCE series ``[t, z, y, x]`` with frame times.
    acquisition : DynamicAcquisition
        Its flip angle and TR.
    labels : ndarray of int, shape (nz, ny, nx)
        SEG segment numbers on the series grid (0 outside the lesions).
    result : dict
        The stored ``dce`` result: ``settings`` and the ``lesions`` rows.

    Returns
    -------
    dict
        ``times_s``, ``aif_delay_s``, ``baseline_frames``, ``models`` and per
        lesion (``label``, ``name``) the ``measured_mM`` curve (mean over the
        lesion's voxels) and ``model_mM`` (model name to curve of the stored
        parameters; a model with a missing parameter is left out).

    Raises
    ------
    InputError
        If the settings are not those of a population-AIF analysis or the
        SEG selects no voxel.

    Examples
    --------
    >>> from tumorboard.imaging.volume import Volume
    >>> from tumorboard.imaging.dicom_dynamic import DynamicAcquisition
    >>> series = Volume(np.ones((3, 1, 1, 2), np.float32), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0),
    ...                 times_s=np.array([0.0, 5.0, 10.0]))
    >>> dce_lesion_curves(series, None, np.zeros((1, 1, 2), int), {"settings": {}})
    Traceback (most recent call last):
    ...
    tumorboard.errors.InputError: the lesion SEG selects no voxel of the DCE series
    """
    from tumorboard.dce.fit import kinetic_model, simulate
    from tumorboard.dce.maps import (
        SpgrAcquisition,
        auto_baseline,
        build_inputs,
        concentration_volume,
        population_aif_delay_s,
        population_input,
    )
    from tumorboard.imaging.volume import Volume

    label_array = np.asarray(labels)
    inside = label_array > 0
    n = int(inside.sum())
    if n == 0:
        raise InputError("the lesion SEG selects no voxel of the DCE series")
    settings = result.get("settings") or {}
    if str(settings.get("aif", "")).lower() not in {"parker", "georgiou"}:
        raise InputError("lesion curves need the population AIF of the dce analysis settings")
    times = np.asarray(dynamic.times_s, dtype=np.float64)
    signal = np.asarray(dynamic.array)[:, inside].astype(np.float32)  # [t, n]: the lesion voxels
    strip = Volume(
        signal.reshape(len(times), 1, 1, n), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), times_s=times
    )
    if acquisition.flip_deg is None or acquisition.tr_s is None:
        raise InputError("DCE series: no flip angle or repetition time in its headers")
    spgr = SpgrAcquisition(
        float(acquisition.flip_deg), float(acquisition.tr_s), float(settings["r1_per_mM_s"])
    )
    baseline = auto_baseline(times, signal.mean(axis=1))
    concentration = concentration_volume(strip, float(settings["t1_ms"]) / 1000.0, spgr, baseline)
    aif = str(settings["aif"])
    delay = population_aif_delay_s(concentration, None, aif)
    cp = population_input(aif, times, delay_s=delay, hct=float(settings["hct"]))
    curves = np.asarray(concentration.array).reshape(len(times), n)
    lesion_of_voxel = label_array[inside]
    models = [str(m) for m in settings.get("models", [])]
    rows = []
    for row in result.get("lesions", []):
        label = int(row["label"])
        voxels = curves[:, lesion_of_voxel == label]
        finite = np.all(np.isfinite(voxels), axis=0)
        measured = voxels[:, finite].mean(axis=1) if finite.any() else np.full(len(times), np.nan)
        fitted: dict[str, list[float]] = {}
        for model in models:
            parameters = model_parameters(model, row)
            if parameters is None:
                continue
            kinetic = kinetic_model(model)
            inputs = build_inputs(times, cp, model_portal=kinetic.needs_portal_input)
            curve = simulate(times, inputs, model, parameters)[0]
            fitted[model] = [round(float(v), 6) for v in curve]
        rows.append(
            {
                "label": label,
                "name": row.get("name", str(label)),
                "measured_mM": [round(float(v), 6) if np.isfinite(v) else None for v in measured],
                "model_mM": fitted,
            }
        )
    return {
        "times_s": [round(float(t), 4) for t in times],
        "aif_delay_s": round(float(delay), 4),
        "baseline_frames": [int(baseline[0]), int(baseline[1])],
        "models": models,
        "lesions": rows,
    }


@dataclass(frozen=True, eq=False)
class DceExamImages:
    """What the reading room derives from a ``dce`` analysis's input series.

    Attributes
    ----------
    curves : dict
        :func:`dce_lesion_curves`.
    volumes : dict of str to bytes
        ``anatomy`` (the last frame of the series, its signal) and ``lesions``
        (SEG segment numbers, uint16) as gzip-compressed NIfTI.
    """

    curves: dict[str, Any]
    volumes: dict[str, bytes]


def _input_series(workspace: Workspace, analysis_id: int) -> list[tuple[str, list[str]]]:
    """(kind, instance object SHA-256s) of each input series of an analysis, in input order."""
    from tumorboard.store.models import AnalysisInput, Instance, Series

    with workspace.session() as session:
        uids = list(
            session.scalars(
                select(AnalysisInput.series_instance_uid)
                .where(AnalysisInput.analysis_id == analysis_id)
                .order_by(AnalysisInput.id)
            )
        )
        found = []
        for uid in uids:
            series = session.scalars(
                select(Series).where(Series.series_instance_uid == uid)
            ).one_or_none()
            if series is None:
                continue
            shas = sorted(
                session.scalars(select(Instance.sha256).where(Instance.series_id == series.id))
            )
            found.append((series.kind, shas))
    return found


def _link(workspace: Workspace, shas: list[str], folder: Path) -> Path:
    folder.mkdir(parents=True)
    for index, sha in enumerate(shas):
        target = folder / f"{index:06d}.dcm"
        try:
            os.link(workspace.objects.path(sha), target)
        except OSError:
            shutil.copyfile(workspace.objects.path(sha), target)
    return folder


def _nifti_bytes(volume: Volume, folder: Path, name: str, dtype: Any) -> bytes:
    from tumorboard.imaging.nifti import write_nifti

    return write_nifti(volume, folder / f"{name}.nii.gz", dtype=dtype).read_bytes()


#: Derived images of the last few analyses shown (by workspace, analysis and outputs).
_CACHE: OrderedDict[tuple[str, int, str], DceExamImages] = OrderedDict()
_CACHE_SIZE = 4
_CACHE_LOCK = threading.Lock()


def _exam_images(workspace: Workspace, analysis_id: int) -> DceExamImages:
    from tumorboard.imaging.dicom_dynamic import read_dicom_dynamic
    from tumorboard.imaging.label_maps import read_label_map
    from tumorboard.workflow.exam_images import ExamImageNotFound, dce_analysis_by_id

    analysis = dce_analysis_by_id(workspace, analysis_id)
    inputs = _input_series(workspace, analysis_id)
    dynamics = [shas for kind, shas in inputs if kind == "dce"]
    segs = [shas for kind, shas in inputs if kind == "seg"]
    if not dynamics or not segs or not segs[0]:
        raise ExamImageNotFound("the DCE series or its lesion SEG is missing from the record")
    with tempfile.TemporaryDirectory(prefix="tumorboard-dce-view-") as scratch:
        folder = Path(scratch)
        dynamic_dir = _link(workspace, dynamics[0], folder / "dce")
        seg_dir = _link(workspace, segs[0], folder / "seg")
        dynamic, acquisition = read_dicom_dynamic(dynamic_dir, what="DCE series")
        grid = dynamic.with_array(np.asarray(dynamic.array[-1]), unit=dynamic.unit)
        labels = read_label_map(
            next(iter(sorted(seg_dir.iterdir()))),
            reference=grid,
            what="lesion SEG",
            reference_name="the DCE series",
        )
        label_array = np.asarray(labels.array).astype(np.uint16)
        curves = dce_lesion_curves(dynamic, acquisition, label_array, analysis.result)
        volumes = {
            "anatomy": _nifti_bytes(grid, folder, "anatomy", np.float32),
            "lesions": _nifti_bytes(
                grid.with_array(label_array, unit="label"), folder, "lesions", np.uint16
            ),
        }
    return DceExamImages(curves=curves, volumes=volumes)


def dce_exam_images(workspace: Workspace, analysis: StoredAnalysis) -> DceExamImages:
    """The anatomy, lesion labels and lesion curves of a stored ``dce`` analysis.

    Parameters
    ----------
    workspace : Workspace
    analysis : StoredAnalysis
        A ``dce`` analysis (:func:`tumorboard.workflow.exam_images.dce_analysis`).

    Returns
    -------
    DceExamImages

    Raises
    ------
    ExamImageNotFound
        If the analysis's input series are no longer in the record.
    InputError
        If the series cannot be read.

    Examples
    --------
    >>> DCE_DERIVED_VOLUMES
    ('anatomy', 'lesions')
    """
    key = (
        str(workspace.root),
        analysis.analysis_id,
        ",".join(f"{name}={sha}" for name, sha in sorted(analysis.outputs.items())),
    )
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    images = _exam_images(workspace, analysis.analysis_id)
    with _CACHE_LOCK:
        _CACHE[key] = images
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return images
