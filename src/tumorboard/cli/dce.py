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
        --model MODEL [--mask MASK.nii.gz] [--lesions LABELS] [--force] --out DIR

``CURVES.csv`` has a ``time_s`` column and one column per tissue curve (mM);
``AIF.csv`` has ``time_s``, ``cp_mM`` and, for the dual-input model,
``cv_mM``. ``PARAMS.csv`` has one row per curve: ``curve``, the model's
parameters, ``r2`` and ``converged`` (and ``delay_s`` with ``--fit-delay``).
``dce map`` writes one NIfTI per parameter, ``r2.nii.gz``, ``failed.nii.gz``,
the model-free ``iaugc60_mM_s.nii.gz`` and ``lesions.csv`` (per-lesion
medians). LABELS is a NIfTI label image or a DICOM SEG; without
``--lesions`` the whole fitted region is lesion 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tumorboard.cli.common import add_force_and_out, parse_float_list
from tumorboard.dce.aif import DEFAULT_HCT
from tumorboard.dce.kinetic_model import DceModel
from tumorboard.dce.maps import DEFAULT_T1_BLOOD_S
from tumorboard.dce.signal_to_concentration import DEFAULT_R1_PER_MM_S
from tumorboard.outputs import check_output_path, output_file

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
    fit.add_argument(
        "--curves",
        type=Path,
        required=True,
        metavar="CURVES.csv",
        help="time_s column and one tissue-concentration column (mM) per curve",
    )
    fit.add_argument(
        "--aif",
        type=Path,
        required=True,
        metavar="AIF.csv",
        help="time_s, cp_mM (plasma) and, for dual-input, cv_mM",
    )
    fit.add_argument("--model", required=True, help=f"one of {_MODELS}")
    fit.add_argument(
        "--hct", type=float, metavar="H", help="the AIF columns are whole blood: divide by 1 - H"
    )
    fit.add_argument(
        "--fit-delay", action="store_true", help="also fit an arterial delay per curve (-10..10 s)"
    )
    add_force_and_out(fit, "output PARAMS.csv")
    fit.set_defaults(handler=run_fit)

    mapping = commands.add_parser(
        "map",
        help="voxel-wise parameter maps from a dynamic series",
        description="Fit a tracer-kinetic model in every voxel of a dynamic series.",
    )
    mapping.add_argument(
        "--dynamic",
        type=Path,
        required=True,
        metavar="DICOM_DIR|4D.nii.gz",
        help="dynamic series: DICOM folder or 4-D NIfTI",
    )
    mapping.add_argument(
        "--times-s",
        metavar="T,T,...",
        help="frame times in seconds (default: from DICOM or NIfTI pixdim[4])",
    )
    t1 = mapping.add_mutually_exclusive_group()
    t1.add_argument("--t1", type=Path, metavar="T1.nii.gz", help="pre-contrast T1 map in ms")
    t1.add_argument("--t1-ms", type=float, metavar="MS", help="one pre-contrast T1 for all voxels")
    t1.add_argument(
        "--vfa",
        type=Path,
        metavar="VFA.nii.gz",
        help="4-D variable-flip-angle images (one volume per flip angle)",
    )
    mapping.add_argument("--vfa-flip-deg", metavar="A,B,...", help="flip angles of --vfa")
    mapping.add_argument("--vfa-tr-ms", type=float, metavar="TR", help="TR of --vfa in ms")
    mapping.add_argument("--flip-deg", type=float, help="flip angle of the dynamic series")
    mapping.add_argument("--tr-ms", type=float, help="TR of the dynamic series in ms")
    mapping.add_argument(
        "--r1",
        type=float,
        default=DEFAULT_R1_PER_MM_S,
        help=f"relaxivity /mM/s (default {DEFAULT_R1_PER_MM_S})",
    )
    mapping.add_argument(
        "--baseline-frames",
        type=int,
        metavar="N",
        help="pre-contrast frames (default: before bolus arrival)",
    )
    mapping.add_argument(
        "--concentration",
        action="store_true",
        help="the dynamic series already holds concentration in mM",
    )
    mapping.add_argument(
        "--aif",
        required=True,
        help="parker or georgiou (whole blood, converted with --hct), an AIF.csv file "
        "(plasma: time_s, cp_mM[, cv_mM]) or a vessel-mask NIfTI (blood, converted with --hct)",
    )
    mapping.add_argument(
        "--aif-delay-s",
        type=float,
        default=None,
        help="delay of a population AIF (default: bolus arrival in the tissue)",
    )
    mapping.add_argument(
        "--portal",
        metavar="model|MASK.nii.gz",
        help="portal-venous input: modelled from the AIF, or a portal-vein mask",
    )
    mapping.add_argument(
        "--hct",
        type=float,
        default=DEFAULT_HCT,
        help=f"haematocrit for blood curves (default {DEFAULT_HCT})",
    )
    mapping.add_argument(
        "--t1-blood-ms",
        type=float,
        default=1000 * DEFAULT_T1_BLOOD_S,
        help="pre-contrast blood T1 for a vessel-mask AIF (ms)",
    )
    mapping.add_argument("--model", required=True, help=f"one of {_MODELS}")
    mapping.add_argument(
        "--mask",
        type=Path,
        metavar="MASK.nii.gz",
        help="fit only inside this mask (e.g. the liver)",
    )
    mapping.add_argument(
        "--lesions",
        type=Path,
        metavar="LABELS",
        help="lesion labels, NIfTI or DICOM SEG (0 = background), for lesions.csv",
    )
    add_force_and_out(mapping, "output directory")
    mapping.set_defaults(handler=run_map)


def run_fit(args: argparse.Namespace) -> int:
    """Fit a model to every curve of ``--curves`` and write ``PARAMS.csv``."""
    from tumorboard.dce.fit import fit_curves, kinetic_model
    from tumorboard.pipeline.dce_tables import read_curves_csv, read_input_csv, write_params_csv

    sources = [args.curves, args.aif]
    out = check_output_path(args.out, args.force, inputs=sources, directory=False)
    kinetic = kinetic_model(DceModel.parse(args.model))
    inputs = read_input_csv(args.aif, args.hct, kinetic.needs_portal_input)
    table = read_curves_csv(args.curves, inputs)
    result = fit_curves(
        table.times_s,
        table.curves,
        inputs,
        kinetic.model,
        fit_delay=args.fit_delay,
        source=f"curves {args.curves}",
    )
    with output_file(out, args.force, inputs=sources) as staging:
        write_params_csv(
            staging, table.names, kinetic.parameters, result, with_delay=args.fit_delay
        )
    print(
        f"fitted {len(table.names)} curve(s) with {kinetic.model.value}: "
        f"{int(result.converged.sum())} converged -> {out}"
    )
    return 0


def run_map(args: argparse.Namespace) -> int:
    """Fit every voxel of a dynamic series and write the maps and ``lesions.csv``."""
    from tumorboard.pipeline.dce_map import DceMapRequest, compute_dce_maps, write_dce_maps

    sources = [args.dynamic, args.aif, args.portal, args.t1, args.vfa, args.mask, args.lesions]
    out = check_output_path(args.out, args.force, inputs=sources, directory=True)
    request = DceMapRequest(
        dynamic=args.dynamic,
        model=DceModel.parse(args.model),
        aif=str(args.aif),
        times_s=parse_float_list(args.times_s, "--times-s") if args.times_s else None,
        t1=args.t1,
        t1_ms=args.t1_ms,
        vfa=args.vfa,
        vfa_flip_deg=(
            parse_float_list(args.vfa_flip_deg, "--vfa-flip-deg") if args.vfa_flip_deg else None
        ),
        vfa_tr_ms=args.vfa_tr_ms,
        flip_deg=args.flip_deg,
        tr_ms=args.tr_ms,
        r1_per_mM_s=args.r1,
        baseline_frames=args.baseline_frames,
        concentration=args.concentration,
        aif_delay_s=args.aif_delay_s,
        portal=args.portal,
        hct=args.hct,
        t1_blood_ms=args.t1_blood_ms,
        mask=args.mask,
        lesions=args.lesions,
    )
    result = compute_dce_maps(request)
    write_dce_maps(result, out, args.force)
    print(
        f"fitted {result.n_fitted} voxel(s) with {result.model.model.value}: "
        f"{result.n_failed} failed -> {out}"
    )
    if result.note:
        print(result.note)
    return 0
