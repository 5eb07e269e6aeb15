"""Peak memory of a ``cohort run`` worker fitting a 10,000-image DCE series.

Writes one liver DCE exam as DICOM: ``--slices`` (40) x ``--matrix`` x
``--matrix`` (256 x 256, 1.5 x 1.5 x 5 mm: a 384 mm field of view over 200 mm
of abdomen) x ``--frames`` (250, every 2.4 s for 10 minutes) = 10,000
single-frame images (1.3 GB), with a lesion SEG of four liver metastases
(radius 10-25 mm, 9,000-odd voxels), signal from the PRRT phantom's forward
model (:mod:`tumorboard.phantoms.dce_forward`: Parker AIF, portal input,
dual-input curves, SPGR signal, Gaussian noise). The series is imported into a
workspace and its ``dce`` analysis is run by ``run_cohort`` on a
``LocalCluster`` of one worker with ``--memory-limit`` (2 GB; Dask would pause
the worker at 80 % and restart it at 95 %). The worker process' peak resident
set size is the kernel's high-water mark (``getrusage(RUSAGE_SELF).ru_maxrss``)
read in the worker after the task.

The peer, in the same run (``--no-peer`` skips it): a fresh worker without a
memory limit runs the whole-series ``dce map`` pipeline
(:func:`~tumorboard.pipeline.dce_map.compute_dce_maps` on the DICOM folder,
the SEG as fit mask; what the ``dce`` analysis did before it read only the
lesion voxels), and its peak RSS is read the same way (the whole series is
above the default voxel limit of one read, so the peer raises
``TUMORBOARD_MAX_VOXELS``).

Contract (issue 14): peak memory per worker <= 2 GB for a 10,000-image DCE
series. Run::

    nice python benchmarks/bench_dce_memory.py [--matrix 256] [--frames 250] [--slices 40]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.label_maps import write_dicom_seg
from tumorboard.imaging.volume import Volume
from tumorboard.phantoms import prrt_cohort as prrt
from tumorboard.phantoms.dce_forward import (
    dual_input_mM,
    parker_blood_mM,
    portal_plasma_mM,
    spgr_signal,
)

MEMORY_CONTRACT_BYTES = 2 * 10**9
SPACING_MM = (5.0, 1.5, 1.5)
FRAME_INTERVAL_S = 2.4
#: Metastases: centre (fraction of the grid, z y x), radius (mm), Fp (ml/100ml/min), v.
LESIONS = (
    ((0.35, 0.40, 0.30), 25.0, 60.0, 0.30),
    ((0.50, 0.55, 0.45), 18.0, 35.0, 0.25),
    ((0.60, 0.35, 0.55), 12.0, 80.0, 0.35),
    ((0.45, 0.62, 0.25), 10.0, 45.0, 0.20),
)


def _labels(shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Class of every voxel: 0 air, 1 body, 2 liver, 3.. lesions; and the lesion labels."""
    z, y, x = np.meshgrid(*(np.arange(n, dtype=np.float32) for n in shape), indexing="ij")
    mm = [axis * step for axis, step in zip((z, y, x), SPACING_MM, strict=True)]
    centre = [0.5 * n * step for n, step in zip(shape, SPACING_MM, strict=True)]
    classes = np.zeros(shape, np.uint8)
    body = ((mm[1] - centre[1]) / (0.42 * 2 * centre[1])) ** 2 + (
        (mm[2] - centre[2]) / (0.47 * 2 * centre[2])
    ) ** 2
    classes[body <= 1.0] = 1
    liver = (
        ((mm[0] - centre[0]) / (0.45 * 2 * centre[0])) ** 2
        + ((mm[1] - 0.47 * 2 * centre[1]) / (0.22 * 2 * centre[1])) ** 2
        + ((mm[2] - 0.40 * 2 * centre[2]) / (0.25 * 2 * centre[2])) ** 2
    )
    classes[liver <= 1.0] = 2
    lesions = np.zeros(shape, np.uint8)
    for number, (where, radius, _, _) in enumerate(LESIONS, start=1):
        inside = sum(
            (axis - fraction * 2 * c) ** 2
            for axis, fraction, c in zip(mm, where, centre, strict=True)
        )
        lesions[inside <= radius**2] = number
        classes[inside <= radius**2] = 2 + number
    return classes, lesions


def write_series(folder: Path, slices: int, matrix: int, frames: int) -> tuple[Path, int, int]:
    """Write the dynamic series and its SEG; return (folder, images, lesion voxels)."""
    shape = (slices, matrix, matrix)
    classes, lesions = _labels(shape)
    times = FRAME_INTERVAL_S * np.arange(frames)
    cp = parker_blood_mM(times, prrt.AIF_DELAY_S) / (1.0 - prrt.HCT)
    cv = portal_plasma_mM(times, cp)
    curves = [np.zeros_like(times), np.zeros_like(times)]  # air, body (no enhancement)
    curves.append(dual_input_mM(times, cp, cv, **prrt.LIVER_PARAMETERS))
    for _, _, fp, volume in LESIONS:
        curves.append(dual_input_mM(times, cp, cv, fp, 1.0, volume))
    m0 = [0.0, 0.6, prrt.M0_LIVER] + [prrt.M0_LESION] * len(LESIONS)
    t1_ms = [1000.0, 900.0, prrt.LIVER_T1_MS] + [prrt.LESION_T1_MS] * len(LESIONS)
    signal = spgr_signal(
        np.asarray(curves),
        s0=prrt.S0 * np.asarray(m0),
        t1_s=np.asarray(t1_ms) / 1000.0,
        flip_deg=prrt.FLIP_DEG,
        tr_s=prrt.TR_MS / 1000.0,
        r1_per_mM_s=prrt.R1_PER_MM_S,
    )  # (classes, frames)
    grid = Volume(np.zeros(shape, np.float32), SPACING_MM, (-192.0, -192.0, -100.0))
    study = {
        "patient_name": "BENCH^DCE",
        "patient_id": "BENCH-DCE-1",
        "patient_birth_date": "19600101",
        "patient_sex": "O",
        "study_date": "20240108",
        "study_time": "095000",
        "series_date": "20240108",
        "series_time": "100000",
        "study_description": "Liver DCE-MRI",
        "study_instance_uid": "1.2.826.0.1.3680043.10.1418.1",
        "frame_of_reference_uid": "1.2.826.0.1.3680043.10.1418.2",
    }
    extra = {
        "SeriesInstanceUID": "1.2.826.0.1.3680043.10.1418.3",
        "FlipAngle": prrt.FLIP_DEG,
        "RepetitionTime": prrt.TR_MS,
        "EchoTime": prrt.TE_MS,
        "NumberOfTemporalPositions": frames,
    }
    rng = np.random.default_rng(1418)
    first: list[Path] = []
    for frame in range(frames):
        image = signal[classes, frame] + rng.normal(0.0, prrt.NOISE_SIGMA, shape)
        image = np.round(np.abs(image)).astype(np.float32)

        def per_slice(k: int, frame: int = frame) -> dict[str, Any]:
            seconds = 36000.0 + FRAME_INTERVAL_S * frame
            hours, rest = divmod(seconds, 3600.0)
            minutes, secs = divmod(rest, 60.0)
            return {
                "TemporalPositionIdentifier": frame + 1,
                "AcquisitionTime": f"{int(hours):02d}{int(minutes):02d}{secs:09.6f}",
                "InstanceNumber": frame * slices + k + 1,
            }

        paths = write_dicom_series(
            grid.with_array(image),
            folder / "dce",
            modality="MR",
            series_description="LIVER DCE 3D SPGR",
            series_number=701,
            study=study,
            rescale=(1.0, 0.0),
            extra=extra,
            per_slice=per_slice,
            file_prefix=f"t{frame + 1:03d}_",
            seed=f"bench-dce-frame{frame + 1}",
        )
        if frame == 0:
            first = paths
    (folder / "seg").mkdir(parents=True)
    write_dicom_seg(
        grid.with_array(lesions),
        first,
        folder / "seg" / "lesions.dcm",
        {n: f"L{n}" for n in range(1, len(LESIONS) + 1)},
        series_number=702,
        series_description="liver metastases",
    )
    return folder, frames * slices, int((lesions > 0).sum())


def peak_rss_bytes() -> int:
    """This process' peak resident set size (Linux reports kB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def whole_series_fit(dce: str, seg: str, mask_path: str) -> int:
    """The peer: the ``dce map`` pipeline on the whole series; returns the lesions fitted."""
    from tumorboard.dce.kinetic_model import DceModel
    from tumorboard.pipeline.dce_map import DceMapRequest, compute_dce_maps

    result = compute_dce_maps(
        DceMapRequest(
            dynamic=Path(dce),
            model=DceModel.EXTENDED_TOFTS,
            aif="parker",
            t1_ms=1100.0,
            mask=Path(mask_path),
            lesions=Path(seg),
        )
    )
    return len(result.summaries)


def main(argv: list[str] | None = None) -> int:
    """Write the series, run the analysis in a memory-limited worker, print the peak RSS."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--slices", type=int, default=40)
    parser.add_argument("--matrix", type=int, default=256)
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args(argv)
    from distributed import Client
    from sqlalchemy import select

    from tumorboard.imaging.dicom_dynamic import open_dicom_dynamic
    from tumorboard.imaging.label_maps import read_label_map
    from tumorboard.imaging.nifti import write_nifti
    from tumorboard.store import init_workspace, open_workspace
    from tumorboard.store.models import Analysis
    from tumorboard.workflow import import_paths
    from tumorboard.workflow.cohort_run import parse_memory_limit, run_cohort, start_local_cluster

    limit = parse_memory_limit(args.memory_limit)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        start = time.perf_counter()
        folder, images, voxels = write_series(root / "exam", args.slices, args.matrix, args.frames)
        print(
            f"{images} images ({args.frames} frames x {args.slices} slices of "
            f"{args.matrix} x {args.matrix}), {voxels} lesion voxels, "
            f"written in {time.perf_counter() - start:.0f} s"
        )
        series_bytes = images * args.matrix**2 * 4
        print(f"the series as float32: {series_bytes / 1e9:.2f} GB")
        start = time.perf_counter()
        workspace = init_workspace(root / "board")
        import_paths(workspace, [folder])
        workspace.close()
        print(f"imported in {time.perf_counter() - start:.0f} s")

        cluster = start_local_cluster(1, memory_limit=limit)
        try:
            with Client(cluster) as client:
                before = client.run(peak_rss_bytes)
                start = time.perf_counter()
                summary = run_cohort(root / "board", scheduler=cluster.scheduler_address)
                took = time.perf_counter() - start
                after = list(client.run(peak_rss_bytes).values())
        finally:
            cluster.close()
        ok_run = summary.tasks_done == 1 and not summary.failed
        peak = max(after) if after else 0
        print(
            f"dce analysis in a worker limited to {limit / 1e9:.2f} GB: "
            f"{'done' if ok_run else summary.failed} in {took:.0f} s; worker peak RSS "
            f"{peak / 1e9:.2f} GB (at start-up, before the plugin's imports: "
            f"{max(before.values()) / 1e9:.2f} GB)"
        )

        workspace = open_workspace(root / "board")
        try:
            with workspace.session() as session:
                result = session.scalars(select(Analysis.result)).one() or {"lesions": []}
        finally:
            workspace.close()
        for row, (_, _, fp, volume) in zip(result["lesions"], LESIONS, strict=False):
            print(
                f"  lesion {row['name']}: {row['n_voxels']} voxels, Ktrans "
                f"{row['ktrans_per_min']:.3f} /min (planted {fp / 100:.3f}), ve "
                f"{row['ve']:.3f} (planted {volume:.3f})"
            )

        if not args.no_peer:
            seg = next((folder / "seg").iterdir())
            first = open_dicom_dynamic(folder / "dce").first
            labels = read_label_map(seg, reference=first)
            mask = write_nifti(
                labels.with_array((np.asarray(labels.array) > 0).astype(np.uint8)),
                root / "mask.nii.gz",
            )
            # the whole series claims more voxels than the default input limit
            os.environ["TUMORBOARD_MAX_VOXELS"] = str(2 * images * args.matrix**2)
            cluster = start_local_cluster(1, memory_limit=0)
            try:
                with Client(cluster) as client:
                    start = time.perf_counter()
                    client.submit(
                        whole_series_fit, str(folder / "dce"), str(seg), str(mask), pure=False
                    ).result()
                    peer_took = time.perf_counter() - start
                    peer = max(client.run(peak_rss_bytes).values())
            finally:
                cluster.close()
            print(
                f"peer, whole-series dce map (one model) in a worker without a limit: "
                f"{peer_took:.0f} s, peak RSS {peer / 1e9:.2f} GB"
            )
    print(f"load average (1/5/15 min): {'/'.join(f'{v:.1f}' for v in os.getloadavg())}")
    ok = ok_run and peak <= MEMORY_CONTRACT_BYTES
    print("contract met" if ok else "CONTRACT MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
