"""``dce map`` as a pipeline: read the series, build the inputs, fit every voxel, write.

:func:`compute_dce_maps` reads the images of a :class:`DceMapRequest` (through
the :mod:`tumorboard.imaging` readers) and chains the library steps of
:mod:`tumorboard.dce`; :func:`write_dce_maps` writes one NIfTI per parameter,
``r2.nii.gz``, ``failed.nii.gz``, the model-free ``iaugc60_mM_s.nii.gz`` and
``lesions.csv`` atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from tumorboard.dce.aif import (
    DEFAULT_HCT,
    blood_to_plasma,
    bolus_arrival_time,
    measured_aif,
    validate_times,
)
from tumorboard.dce.fit import kinetic_model
from tumorboard.dce.iaugc import IAUGC_WINDOW_S, iaugc_map
from tumorboard.dce.kinetic_model import DceModel, KineticModel
from tumorboard.dce.lesion_summary import LesionSummary, summarise_lesions
from tumorboard.dce.maps import (
    DEFAULT_T1_BLOOD_S,
    PopulationAif,
    SpgrAcquisition,
    auto_baseline,
    build_inputs,
    concentration_volume,
    population_aif_delay_s,
    population_input,
    vessel_signal_input,
)
from tumorboard.dce.signal_to_concentration import DEFAULT_R1_PER_MM_S
from tumorboard.dce.t1_mapping import vfa_t1_nonlinear
from tumorboard.dce.volume_fit import ParameterMaps, fit_volume
from tumorboard.errors import InputError
from tumorboard.imaging.dicom_dynamic import read_dicom_dynamic
from tumorboard.imaging.label_maps import read_label_map
from tumorboard.imaging.nifti import read_nifti, write_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.outputs import output_directory
from tumorboard.pipeline.dce_tables import (
    check_hct,
    read_columns,
    read_input_csv,
    write_lesions_csv,
)


@dataclass(frozen=True)
class DceMapRequest:
    """Everything ``dce map`` needs, as given on the command line.

    Attributes
    ----------
    dynamic : Path
        DICOM folder or 4-D NIfTI.
    model : DceModel
    aif : str
        ``parker``, ``georgiou``, an ``AIF.csv`` (plasma) or a vessel-mask NIfTI.
    times_s : sequence of float, optional
        Frame times overriding the file's.
    t1 : Path, optional
        Pre-contrast T1 map (ms). Alternatives: ``t1_ms`` or ``vfa``.
    t1_ms : float, optional
    vfa : Path, optional
        4-D variable-flip-angle images, with ``vfa_flip_deg`` and ``vfa_tr_ms``.
    vfa_flip_deg : sequence of float, optional
    vfa_tr_ms : float, optional
    flip_deg, tr_ms : float, optional
        Override (or supply) the dynamic series' flip angle and TR.
    r1_per_mM_s : float
        Relaxivity.
    baseline_frames : int, optional
        Pre-contrast frames (default: before bolus arrival).
    concentration : bool
        The series already holds concentration (mM).
    aif_delay_s : float, optional
        Delay of a population AIF (default: bolus arrival in the tissue).
    portal : str, optional
        ``model`` or a portal-vein mask NIfTI (dual-input model).
    hct : float
        Haematocrit of vessel-region and population curves (whole blood).
    t1_blood_ms : float
        Pre-contrast blood T1 for vessel-region curves.
    mask : Path, optional
        Fit mask (NIfTI, same grid as the series).
    lesions : Path, optional
        Lesion labels (NIfTI or DICOM SEG, same grid as the series).
    """

    dynamic: Path
    model: DceModel
    aif: str
    times_s: Sequence[float] | None = None
    t1: Path | None = None
    t1_ms: float | None = None
    vfa: Path | None = None
    vfa_flip_deg: Sequence[float] | None = None
    vfa_tr_ms: float | None = None
    flip_deg: float | None = None
    tr_ms: float | None = None
    r1_per_mM_s: float = DEFAULT_R1_PER_MM_S
    baseline_frames: int | None = None
    concentration: bool = False
    aif_delay_s: float | None = None
    portal: str | None = None
    hct: float = DEFAULT_HCT
    t1_blood_ms: float = 1000.0 * DEFAULT_T1_BLOOD_S
    mask: Path | None = None
    lesions: Path | None = None


@dataclass(frozen=True, eq=False)
class DceMapResult:
    """Maps and the lesion table of one ``dce map`` run.

    ``iaugc60`` is the model-free IAUGC60 map (mM s, from the AIF's bolus
    arrival), None when the acquisition ends less than 60 s after it
    (``note`` says so).
    """

    model: KineticModel
    maps: ParameterMaps
    summaries: list[LesionSummary]
    iaugc60: Volume | None = None
    note: str = ""

    @property
    def n_fitted(self) -> int:
        """Voxels inside the fit mask."""
        return int(self.maps.mask.array.sum())

    @property
    def n_failed(self) -> int:
        """Voxels whose fit failed."""
        return int(self.maps.failed.array.sum())


def _is_nifti(text: str) -> bool:
    return text.endswith(".nii") or text.endswith(".nii.gz")


def _read_dynamic(request: DceMapRequest) -> tuple[Volume, float | None, float | None]:
    """The series, its flip angle (deg) and TR (s), options taking precedence."""
    path = request.dynamic
    times = None if request.times_s is None else list(request.times_s)
    if path.is_dir():
        volume, acquisition = read_dicom_dynamic(path, times_s=times, what="--dynamic")
        flip = request.flip_deg if request.flip_deg is not None else acquisition.flip_deg
        tr_s = request.tr_ms / 1000.0 if request.tr_ms is not None else acquisition.tr_s
        return volume, flip, tr_s
    volume = read_nifti(path, what="--dynamic")
    frame_times = volume.times_s
    if volume.array.ndim != 4 or frame_times is None:
        raise InputError(f"--dynamic {path}: expected a 4-D image, got shape {volume.shape}")
    if times is not None:
        if len(times) != volume.array.shape[0]:
            raise InputError(
                f"--times-s has {len(times)} values, --dynamic {path} has "
                f"{volume.array.shape[0]} frames"
            )
        frame_times = validate_times(times, "--times-s")
        volume = Volume(
            volume.array,
            volume.spacing_mm,
            volume.origin_mm,
            volume.direction,
            volume.unit,
            frame_times,
        )
    elif not np.all(np.diff(frame_times) > 0):
        raise InputError(
            f"--dynamic {path}: frame interval pixdim[4] is {frame_times[1]:g} s; "
            "give the frame times with --times-s"
        )
    validate_times(frame_times, f"--dynamic {path} frame times")
    tr_s = request.tr_ms / 1000.0 if request.tr_ms is not None else None
    return volume, request.flip_deg, tr_s


def _spatial(path: Path, what: str, reference: Volume) -> Volume:
    volume = read_nifti(path, what=what)
    if volume.array.ndim != 3:
        raise InputError(f"{what} {path}: expected a 3-D image, got shape {volume.shape}")
    reference.require_same_geometry(volume, f"{what} {path}", "the dynamic series")
    return volume


#: A T1 map in ms has tissue values of hundreds to thousands; a median below
#: this is a map in seconds given where ms are expected (a 1000x unit trap).
T1_MAP_MIN_MEDIAN_MS = 20.0


def t1_map_seconds(volume: Volume, what: str) -> NDArray[np.float64]:
    """A pre-contrast T1 map in seconds from a map in ms (or in s, if its unit says so).

    Raises
    ------
    InputError
        If the map has no positive T1, or its unit is not stated as seconds
        and its median positive value is below :data:`T1_MAP_MIN_MEDIAN_MS`.
    """
    values = np.asarray(volume.array, dtype=np.float64)
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size == 0:
        raise InputError(f"{what}: no voxel has a positive T1")
    if volume.unit.strip().lower() in {"s", "sec", "second", "seconds"}:
        return values
    median = float(np.median(positive))
    if median < T1_MAP_MIN_MEDIAN_MS:
        raise InputError(
            f"{what}: median T1 {median:g} looks like seconds; the T1 map must be in ms "
            f"(or carry the unit s in its NIfTI description)"
        )
    return values / 1000.0


def _t1_seconds(request: DceMapRequest, dynamic: Volume) -> NDArray[np.float64] | float:
    if request.t1 is not None:
        return t1_map_seconds(_spatial(request.t1, "--t1", dynamic), f"--t1 {request.t1}")
    if request.t1_ms is not None:
        if not request.t1_ms > 0:
            raise InputError(f"--t1-ms must be > 0, got {request.t1_ms}")
        return float(request.t1_ms) / 1000.0
    if request.vfa is not None:
        if request.vfa_flip_deg is None or request.vfa_tr_ms is None:
            raise InputError("--vfa needs --vfa-flip-deg and --vfa-tr-ms")
        flips = list(request.vfa_flip_deg)
        vfa = read_nifti(request.vfa, what="--vfa")
        if vfa.array.ndim != 4 or vfa.array.shape[0] != len(flips):
            raise InputError(
                f"--vfa {request.vfa}: expected a 4-D image with {len(flips)} volumes, "
                f"got shape {vfa.shape}"
            )
        dynamic.require_same_geometry(vfa, f"--vfa {request.vfa}", "the dynamic series")
        signal = np.moveaxis(np.asarray(vfa.array, dtype=np.float64), 0, -1)
        t1 = vfa_t1_nonlinear(signal, flips, request.vfa_tr_ms / 1000.0).t1_s
        return np.asarray(t1, dtype=np.float64)
    raise InputError("a signal series needs the pre-contrast T1: give --t1, --t1-ms or --vfa")


def _vessel_input(
    request: DceMapRequest,
    dynamic: Volume,
    mask_path: Path,
    what: str,
    acquisition: SpgrAcquisition | None,
    baseline: int | tuple[int, int] | None,
) -> tuple[NDArray[np.float64], tuple[int, int] | None]:
    """Plasma curve of a vessel mask (concentration or signal series)."""
    vessel = _spatial(mask_path, what, dynamic).array > 0
    if acquisition is None:
        curve = measured_aif(dynamic.array, vessel, what=f"{what} {mask_path}")
        return blood_to_plasma(np.clip(curve, 0, None), request.hct), None
    return vessel_signal_input(
        dynamic,
        vessel,
        acquisition,
        t1_blood_s=request.t1_blood_ms / 1000.0,
        hct=request.hct,
        baseline_frames=baseline,
        what=f"{what} {mask_path}",
    )


def compute_dce_maps(request: DceMapRequest) -> DceMapResult:
    """Read the inputs of ``request``, fit every voxel and summarise the lesions.

    Raises
    ------
    InputError
        For any unusable input, with a one-line message naming the option or file.
    """
    kinetic = kinetic_model(request.model)
    check_hct(request.hct)
    dynamic, flip, tr_s = _read_dynamic(request)
    times = np.asarray(dynamic.times_s, dtype=np.float64)
    mask = None
    if request.mask is not None:
        mask = _spatial(request.mask, "--mask", dynamic).array > 0
        if not mask.any():
            raise InputError(f"--mask {request.mask}: selects no voxel")
    labels = None
    if request.lesions is not None:
        labels = read_label_map(
            request.lesions,
            reference=dynamic,
            what=f"--lesions {request.lesions}",
            reference_name="the dynamic series",
        )

    acquisition: SpgrAcquisition | None = None
    if not request.concentration:
        if flip is None:
            raise InputError(
                f"--dynamic {request.dynamic}: no flip angle (FlipAngle); give --flip-deg"
            )
        if tr_s is None:
            raise InputError(
                f"--dynamic {request.dynamic}: no repetition time (RepetitionTime); give --tr-ms"
            )
        acquisition = SpgrAcquisition(flip, tr_s, request.r1_per_mM_s)

    # ---- arterial input (a population AIF waits for the tissue's bolus arrival)
    aif = str(request.aif)
    vessel_baseline: tuple[int, int] | None = None
    cp: NDArray[np.float64] | None = None
    cv: NDArray[np.float64] | None = None
    source = f"--aif {aif}"
    if aif.lower() in {p.value for p in PopulationAif}:
        pass
    elif _is_nifti(aif):
        cp, vessel_baseline = _vessel_input(
            request, dynamic, Path(aif), "--aif", acquisition, request.baseline_frames
        )
    else:
        table = read_input_csv(Path(aif), None, False)
        if table.times_s.size != times.size or not np.allclose(table.times_s, times, atol=1e-3):
            raise InputError(
                f"AIF {aif} column time_s ({table.times_s.size} values) does not match the "
                f"{times.size} frame times of --dynamic {request.dynamic}"
            )
        cp = table.cp_mM
        cv = read_columns(Path(aif), "AIF").get("cv_mM")
        source = f"AIF {aif}"

    # ---- tissue concentration
    if acquisition is None:
        concentration = dynamic.with_array(np.asarray(dynamic.array, dtype=np.float32), unit="mM")
    else:
        t1_s = _t1_seconds(request, dynamic)
        baseline: int | tuple[int, int]
        if request.baseline_frames is not None:
            baseline = request.baseline_frames
        elif vessel_baseline is not None:
            baseline = vessel_baseline
        else:
            region = np.ones(dynamic.spatial_shape, bool) if mask is None else mask
            baseline = auto_baseline(times, dynamic.array[:, region].mean(axis=1))
        concentration = concentration_volume(dynamic, t1_s, acquisition, baseline)

    if cp is None:
        delay = request.aif_delay_s
        if delay is None:
            delay = population_aif_delay_s(concentration, mask, aif)
        cp = population_input(aif, times, delay_s=delay, hct=request.hct)

    # ---- portal-venous input
    if kinetic.needs_portal_input and cv is None:
        portal = request.portal
        if portal is None:
            raise InputError(
                "the dual-input model needs --portal (model or a portal-vein mask) "
                "or a cv_mM column in the AIF file"
            )
        if _is_nifti(portal):
            cv, _ = _vessel_input(
                request,
                dynamic,
                Path(portal),
                "--portal",
                acquisition,
                vessel_baseline or request.baseline_frames,
            )
        elif portal.strip().lower() != "model":
            raise InputError(f"--portal must be 'model' or a NIfTI mask, got {portal!r}")
    inputs = build_inputs(
        times,
        cp,
        cv_mM=cv if kinetic.needs_portal_input else None,
        model_portal=kinetic.needs_portal_input,
        source=source,
    )

    maps = fit_volume(concentration, inputs, kinetic.model, mask=mask)
    region_labels = labels.array if labels is not None else maps.mask.array.astype(np.int64)
    summaries = summarise_lesions(
        {name: maps.maps[name].array for name in kinetic.parameters}, region_labels
    )
    iaugc60, note = _iaugc60(concentration, inputs.cp_mM, maps.mask.array)
    return DceMapResult(kinetic, maps, summaries, iaugc60, note)


def _iaugc60(
    concentration: Volume, cp_mM: NDArray[np.float64], mask: NDArray[np.bool_]
) -> tuple[Volume | None, str]:
    """IAUGC60 from the AIF's bolus arrival, or None and the reason."""
    times = np.asarray(concentration.times_s, dtype=np.float64)
    try:
        onset_s = bolus_arrival_time(times, cp_mM)
    except InputError:
        return None, "IAUGC60 not computed: the AIF shows no bolus"
    if onset_s + IAUGC_WINDOW_S > times[-1]:
        ends = times[-1] - onset_s
        return None, f"IAUGC60 not computed: the series ends {ends:.0f} s after the bolus"
    return iaugc_map(concentration, onset_s, mask=mask), ""


def write_dce_maps(result: DceMapResult, out: Path, force: bool) -> None:
    """Write the maps, ``failed.nii.gz`` and ``lesions.csv`` into ``out`` atomically."""
    with output_directory(out, force) as staging:
        for name, volume in result.maps.maps.items():
            write_nifti(volume, staging / f"{name}.nii.gz", dtype=np.float32)
        write_nifti(result.maps.failed, staging / "failed.nii.gz")
        if result.iaugc60 is not None:
            write_nifti(result.iaugc60, staging / "iaugc60_mM_s.nii.gz", dtype=np.float32)
        write_lesions_csv(staging / "lesions.csv", result.model.parameters, result.summaries)
