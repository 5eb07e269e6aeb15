"""The ``dce`` analysis of the record: per-lesion perfusion of a DCE series with a lesion SEG.

``tumorboard run`` plans one ``dce`` analysis per DCE dynamic series that has
a lesion SEG (any SEG whose description does not name an exclusion) in the
same study. :func:`compute_dce_analysis` fits the lesions of that SEG twice
with :func:`tumorboard.pipeline.dce_map.compute_dce_maps` (the one owner of
the DCE numbers): the extended Tofts model (Ktrans, ve, vp) and the
dual-input single-compartment liver model (Fp, arterial fraction,
distribution volume), and keeps the model-free IAUGC60; each lesion's value
is the median over its voxels (:mod:`tumorboard.dce.lesion_summary`).

What the record does not hold is a setting, part of the analysis identity
(:data:`DCE_SETTINGS`): the Parker population AIF, delayed to the bolus
arrival in the lesions; the modelled portal-venous input; an assumed
pre-contrast T1 of the lesions (tumorboard's default
:data:`ASSUMED_LESION_T1_MS`, not a value of the sources), since the record
keeps no T1 map; the haematocrit and relaxivity defaults of ``dce map``. The
fit region is the union of the SEG's lesions.

Memory is bounded whatever the size of the series: the series is read once,
one frame at a time (:func:`tumorboard.imaging.dicom_dynamic.open_dicom_dynamic`),
keeping only the lesion voxels' curves (float32), which both fits then read;
the kept maps are put back on the series grid. A 10,000-image series of
256 x 256 images (2.6 GB as float32) is analysed in a worker of 0.7 GB
(``benchmarks/bench_dce_memory.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from tumorboard.imaging.volume import Volume

__all__ = [
    "ASSUMED_LESION_T1_MS",
    "DCE_SETTINGS",
    "MAX_LESION_SIGNAL_BYTES",
    "compute_dce_analysis",
    "segment_names",
]

#: Pre-contrast T1 assumed for every fitted voxel when the record has no T1 map (ms).
ASSUMED_LESION_T1_MS = 1100.0

#: Settings of the ``dce`` analysis (part of its identity).
DCE_SETTINGS: dict[str, Any] = {
    "models": ["extended-tofts", "dual-input"],
    "aif": "parker",
    "portal": "model",
    "t1_ms": ASSUMED_LESION_T1_MS,
    "hct": 0.45,
    "r1_per_mM_s": 4.5,
    "fit_region": "lesions of the SEG",
}

#: Result keys of the parameters kept per lesion, by model parameter.
_KEPT = {
    "ktrans_per_min": "ktrans_per_min",
    "ve": "ve",
    "vp": "vp",
    "fp_ml_per_100ml_per_min": "fp_ml_per_100ml_per_min",
    "arterial_fraction": "arterial_fraction",
    "distribution_volume": "distribution_volume",
}


def segment_names(seg_file: Path) -> dict[int, str]:
    """SegmentNumber to SegmentLabel of a DICOM SEG (the number as text when unlabelled)."""
    import pydicom

    dataset = pydicom.dcmread(seg_file, stop_before_pixels=True)
    return {
        int(item.SegmentNumber): str(item.get("SegmentLabel", item.SegmentNumber))
        for item in dataset.get("SegmentSequence", [])
    }


def _finite(value: float) -> float | None:
    return None if value != value or value in (float("inf"), float("-inf")) else float(value)


#: Float32 bytes of lesion signal above which a series is refused (frames x lesion voxels).
MAX_LESION_SIGNAL_BYTES = 1 << 30


@dataclass(frozen=True, eq=False)
class _LesionStrip:
    """The SEG's lesion voxels of every frame, laid out as a 1 x 1 x N strip.

    Every step of the ``dce map`` pipeline is per voxel or per lesion, never
    spatial, so fitting the strip gives the numbers of fitting the series
    with the SEG as mask; :meth:`on_grid` puts a strip map back on the grid.
    """

    grid: Volume
    inside: NDArray[np.bool_]
    labels: NDArray[np.uint16]
    times_s: list[float]
    flip_deg: float
    tr_ms: float
    signal: Path
    mask: Path
    label_file: Path

    def on_grid(self, values: NDArray[Any]) -> Volume:
        """A strip map as a 3-D map of the series grid (NaN outside the lesions)."""
        import numpy as np

        full = np.full(self.grid.spatial_shape, np.nan, dtype=np.float32)
        full[self.inside] = np.asarray(values, dtype=np.float32).reshape(-1)
        return self.grid.with_array(full, unit=self.grid.unit)


def _lesion_strip(dynamic_dir: Path, seg_file: Path, work_dir: Path) -> _LesionStrip:
    """Read the series one frame at a time, keeping only the SEG's lesion voxels.

    Memory holds the headers, one frame and the lesion curves (float32), not
    the series: a 10,000-image series of 256 x 256 images is 2.6 GB as
    float32, its lesion curves a few MB.
    """
    import numpy as np

    from tumorboard.errors import InputError
    from tumorboard.imaging.dicom_dynamic import open_dicom_dynamic
    from tumorboard.imaging.label_maps import read_label_map
    from tumorboard.imaging.nifti import write_nifti
    from tumorboard.imaging.volume import Volume

    frames = open_dicom_dynamic(dynamic_dir, what="DCE series")
    grid = frames.first
    labels = read_label_map(
        seg_file, reference=grid, what="lesion SEG", reference_name="the DCE series"
    )
    label_array = np.asarray(labels.array)
    inside = label_array > 0
    n = int(inside.sum())
    if n == 0:
        raise InputError(f"lesion SEG {seg_file.name}: no segment holds a voxel")
    if len(frames) * n * 4 > MAX_LESION_SIGNAL_BYTES:
        raise InputError(
            f"lesion SEG {seg_file.name}: {n} lesion voxels x {len(frames)} frames exceed "
            f"{MAX_LESION_SIGNAL_BYTES >> 20} MB of curves; split the SEG"
        )
    acquisition = frames.acquisition
    if acquisition.flip_deg is None:
        raise InputError("DCE series: no flip angle (FlipAngle) in its headers")
    if acquisition.tr_s is None:
        raise InputError("DCE series: no repetition time (RepetitionTime) in its headers")
    signal = np.empty((len(frames), 1, 1, n), dtype=np.float32)
    for index, frame in enumerate(frames):
        signal[index, 0, 0, :] = np.asarray(frame.array)[inside]
    times = np.asarray(frames.times_s, dtype=np.float64)
    strip = Volume(signal, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3), grid.unit, times)
    return _LesionStrip(
        grid=grid,
        inside=inside,
        labels=label_array[inside].astype(np.uint16).reshape(1, 1, n),
        times_s=[float(t) for t in times],
        flip_deg=float(acquisition.flip_deg),
        tr_ms=1000.0 * float(acquisition.tr_s),
        signal=write_nifti(strip, work_dir / "lesion_signal.nii", dtype=np.float32),
        mask=write_nifti(
            strip.with_array(np.ones((1, 1, n), np.uint8), unit="mask"),
            work_dir / "lesion_mask.nii",
        ),
        label_file=write_nifti(
            strip.with_array(label_array[inside].astype(np.uint16).reshape(1, 1, n), unit="label"),
            work_dir / "lesion_labels.nii",
        ),
    )


def compute_dce_analysis(
    dynamic_dir: Path, seg_file: Path, work_dir: Path, settings: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Fit the lesions of ``seg_file`` on the DCE series of ``dynamic_dir``.

    Parameters
    ----------
    dynamic_dir : Path
        The DICOM files of the dynamic series.
    seg_file : Path
        The lesion SEG (same frame of reference and grid).
    work_dir : Path
        A scratch folder for the lesion curves and the maps.
    settings : dict
        :data:`DCE_SETTINGS` (or the settings of a recorded analysis).

    Returns
    -------
    result : dict
        ``lesions``: one row per SEG segment (``label`` number, ``name``
        SegmentLabel, ``n_voxels``, ``volume_ml``, ``failed_fraction`` and the
        lesion medians ``ktrans_per_min``, ``ve``, ``vp``,
        ``fp_ml_per_100ml_per_min``, ``arterial_fraction``,
        ``distribution_volume``, ``iaugc60_mM_s``; None when not finite), and
        the settings used.
    files : dict of str to Path
        Maps to keep (``ktrans_per_min.nii.gz``, ``fp_ml_per_100ml_per_min.nii.gz``,
        ``iaugc60_mM_s.nii.gz`` when computed).

    Raises
    ------
    InputError
        For an unusable series or SEG (one line).
    """
    import numpy as np

    from tumorboard.dce.kinetic_model import DceModel
    from tumorboard.dce.lesion_summary import summarise_lesions
    from tumorboard.imaging.nifti import write_nifti
    from tumorboard.pipeline.dce_map import DceMapRequest, compute_dce_maps

    strip = _lesion_strip(dynamic_dir, seg_file, work_dir)
    label_array = strip.labels
    names = segment_names(seg_file)
    rows: dict[int, dict[str, Any]] = {}
    files: dict[str, Path] = {}
    notes: list[str] = []
    voxel_ml = strip.grid.voxel_volume_ml
    for model_name in settings["models"]:
        model = DceModel.parse(model_name, "dce analysis model")
        result = compute_dce_maps(
            DceMapRequest(
                dynamic=strip.signal,
                model=model,
                aif=str(settings["aif"]),
                t1_ms=float(settings["t1_ms"]),
                portal=str(settings["portal"]) if model is DceModel.DUAL_INPUT else None,
                hct=float(settings["hct"]),
                r1_per_mM_s=float(settings["r1_per_mM_s"]),
                times_s=strip.times_s,
                flip_deg=strip.flip_deg,
                tr_ms=strip.tr_ms,
                mask=strip.mask,
                lesions=strip.label_file,
            )
        )
        for summary in result.summaries:
            row = rows.setdefault(
                summary.lesion,
                {
                    "label": summary.lesion,
                    "name": names.get(summary.lesion, str(summary.lesion)),
                    "n_voxels": summary.n_voxels,
                    "volume_ml": round(summary.n_voxels * voxel_ml, 4),
                },
            )
            row[f"failed_fraction_{model.value}"] = summary.failed_fraction
            for parameter in summary.parameters:
                if parameter.parameter in _KEPT:
                    row[_KEPT[parameter.parameter]] = _finite(parameter.median)
        for kept in ("ktrans_per_min", "fp_ml_per_100ml_per_min"):
            if kept in result.maps.maps:
                files[f"{kept}.nii.gz"] = write_nifti(
                    strip.on_grid(result.maps.maps[kept].array),
                    work_dir / f"{kept}.nii.gz",
                    dtype=np.float32,
                )
        if "iaugc60_mM_s.nii.gz" not in files:
            if result.iaugc60 is None:
                notes.append(result.note)
            else:
                files["iaugc60_mM_s.nii.gz"] = write_nifti(
                    strip.on_grid(result.iaugc60.array),
                    work_dir / "iaugc60_mM_s.nii.gz",
                    dtype=np.float32,
                )
                for summary in summarise_lesions(
                    {"iaugc60_mM_s": result.iaugc60.array}, label_array
                ):
                    rows[summary.lesion]["iaugc60_mM_s"] = _finite(summary.parameters[0].median)
    for row in rows.values():
        row.setdefault("iaugc60_mM_s", None)
    payload = {
        "settings": dict(settings),
        "lesions": [rows[label] for label in sorted(rows)],
        "notes": sorted(set(notes)),
    }
    return payload, files
