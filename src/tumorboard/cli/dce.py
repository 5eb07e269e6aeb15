"""``tumorboard dce fit`` and ``tumorboard dce map``.

Usage::

    tumorboard dce fit --curves CURVES.csv --aif AIF.csv
        --model (patlak|tofts|extended-tofts|2cxm|2cum|dual-input)
        [--hct H] [--fit-delay] [--force] --out PARAMS.csv
    tumorboard dce map --dynamic (DICOM_DIR | 4D.nii.gz) [--times-s T,T,...]
        [--t1 T1.nii.gz | --t1-ms MS | --vfa VFA.nii.gz --vfa-flip-deg A,B,C --vfa-tr-ms TR]
        [--flip-deg F] [--tr-ms TR] [--r1 R1] [--concentration]
        --aif (parker | georgiou | AIF.csv | VESSEL_MASK.nii.gz) [--aif-delay-s D]
        [--portal (model | PORTAL_MASK.nii.gz)] [--hct H]
        --model MODEL [--mask MASK.nii.gz] [--lesions LABELS.nii.gz] [--force] --out DIR

``CURVES.csv`` has a ``time_s`` column and one column per tissue curve (mM);
``AIF.csv`` has ``time_s``, ``cp_mM`` and, for the dual-input model,
``cv_mM``. ``PARAMS.csv`` has one row per curve: ``curve``, the model's
parameters, ``r2`` and ``converged`` (and ``delay_s`` with ``--fit-delay``).
``dce map`` writes one NIfTI per parameter, ``r2.nii.gz``, ``failed.nii.gz``
and ``lesions.csv`` (per-lesion medians; the whole mask is lesion 1 without
``--lesions``).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tumorboard.cli.common import add_force_and_out, parse_float_list
from tumorboard.dce.aif import DEFAULT_HCT, InputFunction, blood_to_plasma, validate_times
from tumorboard.dce.fit import fit_curves, fit_volume, kinetic_model
from tumorboard.dce.kinetic_model import DceModel
from tumorboard.dce.lesion_summary import summarise_lesions
from tumorboard.dce.maps import (
    DEFAULT_T1_BLOOD_S,
    PopulationAif,
    SpgrAcquisition,
    auto_baseline,
    build_inputs,
    concentration_volume,
    population_input,
    vessel_signal_input,
)
from tumorboard.dce.signal_to_concentration import DEFAULT_R1_PER_MM_S
from tumorboard.dce.t1_mapping import vfa_t1_nonlinear
from tumorboard.errors import InputError
from tumorboard.imaging.dicom_dynamic import read_dicom_dynamic
from tumorboard.imaging.nifti import read_nifti, write_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.outputs import check_output_path, output_directory, output_file

_MODELS = ", ".join(m.value for m in DceModel)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``dce`` command group."""
    dce = subparsers.add_parser("dce", help="DCE-MRI pharmacokinetic fits and maps")
    commands = dce.add_subparsers(title="dce commands", dest="dce_command", metavar="COMMAND")

    fit = commands.add_parser(
        "fit",
        help="fit a tracer-kinetic model to concentration curves in a CSV file",
        description="Fit a tracer-kinetic model to tissue concentration curves.",
    )
    fit.add_argument("--curves", type=Path, required=True, metavar="CURVES.csv",
                     help="time_s column and one tissue-concentration column (mM) per curve")
    fit.add_argument("--aif", type=Path, required=True, metavar="AIF.csv",
                     help="time_s, cp_mM (plasma) and, for dual-input, cv_mM")
    fit.add_argument("--model", required=True, help=f"one of {_MODELS}")
    fit.add_argument("--hct", type=float, metavar="H",
                     help="the AIF columns are whole blood: divide by 1 - H")
    fit.add_argument("--fit-delay", action="store_true",
                     help="also fit an arterial delay per curve (-10..10 s)")
    add_force_and_out(fit, "output PARAMS.csv")
    fit.set_defaults(handler=run_fit)

    mapping = commands.add_parser(
        "map",
        help="voxel-wise parameter maps from a dynamic series",
        description="Fit a tracer-kinetic model in every voxel of a dynamic series.",
    )
    mapping.add_argument("--dynamic", type=Path, required=True, metavar="DICOM_DIR|4D.nii.gz",
                         help="dynamic series: DICOM folder or 4-D NIfTI")
    mapping.add_argument("--times-s", metavar="T,T,...",
                         help="frame times in seconds (default: from DICOM or NIfTI pixdim[4])")
    t1 = mapping.add_mutually_exclusive_group()
    t1.add_argument("--t1", type=Path, metavar="T1.nii.gz", help="pre-contrast T1 map in ms")
    t1.add_argument("--t1-ms", type=float, metavar="MS", help="one pre-contrast T1 for all voxels")
    t1.add_argument("--vfa", type=Path, metavar="VFA.nii.gz",
                    help="4-D variable-flip-angle images (one volume per flip angle)")
    mapping.add_argument("--vfa-flip-deg", metavar="A,B,...", help="flip angles of --vfa")
    mapping.add_argument("--vfa-tr-ms", type=float, metavar="TR", help="TR of --vfa in ms")
    mapping.add_argument("--flip-deg", type=float, help="flip angle of the dynamic series")
    mapping.add_argument("--tr-ms", type=float, help="TR of the dynamic series in ms")
    mapping.add_argument("--r1", type=float, default=DEFAULT_R1_PER_MM_S,
                         help=f"relaxivity /mM/s (default {DEFAULT_R1_PER_MM_S})")
    mapping.add_argument("--baseline-frames", type=int, metavar="N",
                         help="pre-contrast frames (default: before bolus arrival)")
    mapping.add_argument("--concentration", action="store_true",
                         help="the dynamic series already holds concentration in mM")
    mapping.add_argument("--aif", required=True,
                         help="parker, georgiou, an AIF.csv file or a vessel-mask NIfTI")
    mapping.add_argument("--aif-delay-s", type=float, default=None,
                         help="delay of a population AIF (default: bolus arrival in the tissue)")
    mapping.add_argument("--portal", metavar="model|MASK.nii.gz",
                         help="portal-venous input: modelled from the AIF, or a portal-vein mask")
    mapping.add_argument("--hct", type=float, default=DEFAULT_HCT,
                         help=f"haematocrit for blood curves (default {DEFAULT_HCT})")
    mapping.add_argument("--t1-blood-ms", type=float, default=1000 * DEFAULT_T1_BLOOD_S,
                         help="pre-contrast blood T1 for a vessel-mask AIF (ms)")
    mapping.add_argument("--model", required=True, help=f"one of {_MODELS}")
    mapping.add_argument("--mask", type=Path, metavar="MASK.nii.gz",
                         help="fit only inside this mask (e.g. the liver)")
    mapping.add_argument("--lesions", type=Path, metavar="LABELS",
                         help="NIfTI lesion labels (0 = background) for lesions.csv")
    add_force_and_out(mapping, "output directory")
    mapping.set_defaults(handler=run_map)
    dce.set_defaults(handler=lambda args: _missing_command(dce))


def _missing_command(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


# --------------------------------------------------------------------- CSV in
def read_columns(path: Path, what: str) -> dict[str, NDArray[np.float64]]:
    """Read a numeric CSV file into columns, with one-line errors naming file and column."""
    if not path.is_file():
        raise InputError(f"{what} {path}: file not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{what} {path}: cannot be read as CSV ({exc})") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if len(rows) < 3:
        raise InputError(f"{what} {path}: needs a header row and at least 2 data rows")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise InputError(f"{what} {path}: duplicate column names in the header")
    columns: dict[str, list[float]] = {h: [] for h in header}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(
                f"{what} {path}: row {line} has {len(row)} cells, the header has {len(header)}"
            )
        for name, cell in zip(header, row, strict=True):
            try:
                columns[name].append(float(cell) if cell.strip() else math.nan)
            except ValueError:
                raise InputError(
                    f"{what} {path}: column {name} row {line}: not a number ({cell.strip()!r})"
                ) from None
    return {name: np.asarray(values, dtype=np.float64) for name, values in columns.items()}


def _require(columns: dict[str, NDArray[np.float64]], name: str, path: Path, what: str
             ) -> NDArray[np.float64]:
    if name not in columns:
        raise InputError(f"{what} {path}: missing column {name}")
    return columns[name]


def _check_tissue(values: NDArray[np.float64], path: Path, name: str) -> None:
    if not np.all(np.isfinite(values)):
        raise InputError(f"curves {path}: column {name} contains NaN or empty concentrations")
    peak = float(np.max(values))
    if peak <= 0 or float(np.min(values)) < -peak:
        raise InputError(
            f"curves {path}: column {name} has negative concentrations "
            f"(min {float(np.min(values)):g} mM, max {peak:g} mM)"
        )


def read_input_csv(path: Path, hct: float | None, need_portal: bool) -> InputFunction:
    """Read ``AIF.csv`` (``time_s``, ``cp_mM``, optional ``cv_mM``) as plasma inputs."""
    columns = read_columns(path, "AIF")
    times = validate_times(_require(columns, "time_s", path, "AIF"), f"AIF {path} column time_s")
    cp = _require(columns, "cp_mM", path, "AIF")
    cv = columns.get("cv_mM")
    if need_portal and cv is None:
        raise InputError(f"AIF {path}: missing column cv_mM (the dual-input model needs it)")
    if hct is not None:
        cp = blood_to_plasma(cp, hct)
        cv = None if cv is None else blood_to_plasma(cv, hct)
    return InputFunction(times, cp, cv if need_portal else None, source=f"AIF {path}")


# ------------------------------------------------------------------ dce fit
def run_fit(args: argparse.Namespace) -> int:
    """Fit a model to every curve of ``--curves`` and write ``PARAMS.csv``."""
    out = check_output_path(args.out, args.force)
    model = DceModel.parse(args.model)
    kinetic = kinetic_model(model)
    inputs = read_input_csv(args.aif, args.hct, kinetic.needs_portal_input)
    columns = read_columns(args.curves, "curves")
    times = validate_times(
        _require(columns, "time_s", args.curves, "curves"), f"curves {args.curves} column time_s"
    )
    if times.size != inputs.times_s.size:
        raise InputError(
            f"curves {args.curves} column time_s has {times.size} values, "
            f"AIF {args.aif} column time_s has {inputs.times_s.size}"
        )
    if not np.allclose(times, inputs.times_s, atol=1e-6, rtol=0):
        i = int(np.argmax(~np.isclose(times, inputs.times_s, atol=1e-6, rtol=0)))
        raise InputError(
            f"curves {args.curves} column time_s differs from AIF {args.aif} column time_s "
            f"at row {i + 2} ({times[i]:g} s vs {inputs.times_s[i]:g} s)"
        )
    names = [n for n in columns if n != "time_s"]
    if not names:
        raise InputError(f"curves {args.curves}: no curve columns besides time_s")
    for name in names:
        _check_tissue(columns[name], args.curves, name)
    curves = np.stack([columns[n] for n in names])
    result = fit_curves(
        times, curves, inputs, model, fit_delay=args.fit_delay, source=f"curves {args.curves}"
    )
    header = ["curve", *kinetic.parameters, "r2", "converged"]
    if args.fit_delay:
        header.insert(-2, "delay_s")
    with output_file(out, args.force) as staging, open(staging, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i, name in enumerate(names):
            row: list[Any] = [name]
            row += [_fmt(result.parameters[p][i]) for p in kinetic.parameters]
            if args.fit_delay:
                row.append(_fmt(result.delay_s[i]))
            row += [_fmt(result.r2[i]), str(bool(result.converged[i])).lower()]
            writer.writerow(row)
    print(f"fitted {len(names)} curve(s) with {model.value}: "
          f"{int(result.converged.sum())} converged -> {out}")
    return 0


def _fmt(value: float) -> str:
    return "nan" if not np.isfinite(value) else f"{float(value):.6g}"


# ------------------------------------------------------------------ dce map
def _read_dynamic(args: argparse.Namespace) -> tuple[Volume, float | None, float | None]:
    times = parse_float_list(args.times_s, "--times-s") if args.times_s else None
    path: Path = args.dynamic
    if path.is_dir():
        volume, acquisition = read_dicom_dynamic(path, times_s=times, what="--dynamic")
        flip = args.flip_deg if args.flip_deg is not None else acquisition.flip_deg
        tr_s = args.tr_ms / 1000.0 if args.tr_ms is not None else acquisition.tr_s
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
        frame_times = np.asarray(times, dtype=np.float64)
        volume = Volume(volume.array, volume.spacing_mm, volume.origin_mm, volume.direction,
                        volume.unit, frame_times)
    elif not np.all(np.diff(frame_times) > 0):
        raise InputError(
            f"--dynamic {path}: frame interval pixdim[4] is {frame_times[1]:g} s; "
            "give the frame times with --times-s"
        )
    validate_times(frame_times, f"--dynamic {path} frame times")
    tr_s = args.tr_ms / 1000.0 if args.tr_ms is not None else None
    return volume, args.flip_deg, tr_s


def _spatial(path: Path, what: str, reference: Volume) -> Volume:
    volume = read_nifti(path, what=what)
    if volume.array.ndim != 3:
        raise InputError(f"{what} {path}: expected a 3-D image, got shape {volume.shape}")
    reference.require_same_geometry(volume, f"{what} {path}", "the dynamic series")
    return volume


def _t1_seconds(args: argparse.Namespace, dynamic: Volume) -> NDArray[np.float64] | float:
    if args.t1 is not None:
        t1_ms = np.asarray(_spatial(args.t1, "--t1", dynamic).array, dtype=np.float64)
        return t1_ms / 1000.0
    if args.t1_ms is not None:
        if not args.t1_ms > 0:
            raise InputError(f"--t1-ms must be > 0, got {args.t1_ms}")
        return float(args.t1_ms) / 1000.0
    if args.vfa is not None:
        if args.vfa_flip_deg is None or args.vfa_tr_ms is None:
            raise InputError("--vfa needs --vfa-flip-deg and --vfa-tr-ms")
        flips = parse_float_list(args.vfa_flip_deg, "--vfa-flip-deg")
        vfa = read_nifti(args.vfa, what="--vfa")
        if vfa.array.ndim != 4 or vfa.array.shape[0] != len(flips):
            raise InputError(
                f"--vfa {args.vfa}: expected a 4-D image with {len(flips)} volumes, "
                f"got shape {vfa.shape}"
            )
        dynamic.require_same_geometry(vfa, f"--vfa {args.vfa}", "the dynamic series")
        signal = np.moveaxis(np.asarray(vfa.array, dtype=np.float64), 0, -1)
        t1 = vfa_t1_nonlinear(signal, flips, args.vfa_tr_ms / 1000.0).t1_s
        return np.asarray(t1, dtype=np.float64)
    raise InputError("a signal series needs the pre-contrast T1: give --t1, --t1-ms or --vfa")


def _is_nifti(text: str) -> bool:
    return text.endswith(".nii") or text.endswith(".nii.gz")


def run_map(args: argparse.Namespace) -> int:
    """Fit every voxel of a dynamic series and write the maps and ``lesions.csv``."""
    out = check_output_path(args.out, args.force)
    model = DceModel.parse(args.model)
    kinetic = kinetic_model(model)
    dynamic, flip, tr_s = _read_dynamic(args)
    times = np.asarray(dynamic.times_s, dtype=np.float64)
    mask = None
    if args.mask is not None:
        mask = _spatial(args.mask, "--mask", dynamic).array > 0
        if not mask.any():
            raise InputError(f"--mask {args.mask}: selects no voxel")
    labels = None if args.lesions is None else _spatial(args.lesions, "--lesions", dynamic)

    acquisition: SpgrAcquisition | None = None
    if not args.concentration:
        if flip is None:
            raise InputError(
                f"--dynamic {args.dynamic}: no flip angle (FlipAngle); give --flip-deg"
            )
        if tr_s is None:
            raise InputError(
                f"--dynamic {args.dynamic}: no repetition time (RepetitionTime); give --tr-ms"
            )
        acquisition = SpgrAcquisition(flip, tr_s, args.r1)

    # ---- arterial input
    aif = str(args.aif)
    vessel_baseline: tuple[int, int] | None = None
    cv = None
    inputs_source = f"--aif {aif}"
    if aif.lower() in {p.value for p in PopulationAif}:
        cp = None  # placed after the tissue baseline is known
    elif _is_nifti(aif):
        vessel = _spatial(Path(aif), "--aif", dynamic).array > 0
        if args.concentration:
            from tumorboard.dce.aif import measured_aif

            cp = blood_to_plasma(np.clip(measured_aif(dynamic.array, vessel), 0, None), args.hct)
        else:
            assert acquisition is not None
            cp, vessel_baseline = vessel_signal_input(
                dynamic, vessel, acquisition, t1_blood_s=args.t1_blood_ms / 1000.0,
                hct=args.hct, baseline_frames=args.baseline_frames, what=f"--aif {aif}",
            )
    else:
        table = read_input_csv(Path(aif), None, False)
        if table.times_s.size != times.size or not np.allclose(table.times_s, times, atol=1e-3):
            raise InputError(
                f"AIF {aif} column time_s ({table.times_s.size} values) does not match the "
                f"{times.size} frame times of --dynamic {args.dynamic}"
            )
        cp = table.cp_mM
        cv = read_columns(Path(aif), "AIF").get("cv_mM")
        inputs_source = f"AIF {aif}"

    # ---- tissue concentration
    if args.concentration:
        concentration = dynamic.with_array(np.asarray(dynamic.array, dtype=np.float32), unit="mM")
    else:
        assert acquisition is not None
        t1_s = _t1_seconds(args, dynamic)
        if args.baseline_frames is not None:
            baseline: int | tuple[int, int] = args.baseline_frames
        elif vessel_baseline is not None:
            baseline = vessel_baseline
        else:
            region = np.ones(dynamic.spatial_shape, bool) if mask is None else mask
            baseline = auto_baseline(times, dynamic.array[:, region].mean(axis=1))
        concentration = concentration_volume(dynamic, t1_s, acquisition, baseline)

    if cp is None:
        delay = args.aif_delay_s
        if delay is None:
            delay = _tissue_arrival(concentration, mask, times, aif)
        cp = population_input(aif, times, delay_s=delay, hct=args.hct)

    # ---- portal input
    if kinetic.needs_portal_input and cv is None:
        portal = args.portal
        if portal is None:
            raise InputError("the dual-input model needs --portal (model or a portal-vein mask) "
                             "or a cv_mM column in the AIF file")
        if _is_nifti(portal):
            pv_mask = _spatial(Path(portal), "--portal", dynamic).array > 0
            if args.concentration:
                from tumorboard.dce.aif import measured_aif

                cv = blood_to_plasma(
                    np.clip(measured_aif(dynamic.array, pv_mask), 0, None), args.hct)
            else:
                assert acquisition is not None
                cv, _ = vessel_signal_input(
                    dynamic, pv_mask, acquisition, t1_blood_s=args.t1_blood_ms / 1000.0,
                    hct=args.hct, baseline_frames=vessel_baseline or args.baseline_frames,
                    what=f"--portal {portal}",
                )
        elif portal.strip().lower() != "model":
            raise InputError(f"--portal must be 'model' or a NIfTI mask, got {portal!r}")
    inputs = build_inputs(times, cp, cv_mM=cv if kinetic.needs_portal_input else None,
                          model_portal=kinetic.needs_portal_input, source=inputs_source)

    maps = fit_volume(concentration, inputs, model, mask=mask)
    region_labels = (
        labels.array if labels is not None else maps.mask.array.astype(np.int64)
    )
    summaries = summarise_lesions(
        {name: maps.maps[name].array for name in kinetic.parameters}, region_labels
    )
    with output_directory(out, args.force) as staging:
        for name, volume in maps.maps.items():
            write_nifti(volume, staging / f"{name}.nii.gz", dtype=np.float32)
        write_nifti(maps.failed, staging / "failed.nii.gz")
        with open(staging / "lesions.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["lesion", "n_voxels", "failed_fraction",
                             *[f"{p}_median" for p in kinetic.parameters]])
            for s in summaries:
                writer.writerow([s.lesion, s.n_voxels, _fmt(s.failed_fraction),
                                 *[_fmt(s.median(p)) for p in kinetic.parameters]])
    n_fit = int(maps.mask.array.sum())
    n_failed = int(maps.failed.array.sum())
    print(f"fitted {n_fit} voxel(s) with {model.value}: {n_failed} failed -> {out}")
    return 0


def _tissue_arrival(concentration: Volume, mask: NDArray[np.bool_] | None,
                    times: NDArray[np.float64], aif: str) -> float:
    """Delay of a population AIF: bolus arrival of the mean tissue curve minus the AIF's own."""
    from tumorboard.dce.aif import bolus_arrival_time

    region = np.ones(concentration.spatial_shape, bool) if mask is None else mask
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames: handled below
        curve = np.nanmean(concentration.array[:, region], axis=1)
    try:
        arrival = bolus_arrival_time(times, np.nan_to_num(curve))
    except InputError:
        return 0.0
    reference = bolus_arrival_time(times, population_input(aif, times))
    return max(0.0, arrival - reference)
