"""Benchmark: voxel-wise DCE fitting, tumorboard vs scipy curve_fit and dcmri.

Run: ``/work/venv/bin/python benchmarks/bench_dce.py [--voxels 1000000]``

1. Extended Tofts on N voxels x 60 frames (float32 input, 5 s sampling, Parker
   AIF, Gaussian noise 0.005 mM): wall time, voxels/s, peak memory (numpy
   allocations traced with tracemalloc, and process RSS growth) relative to
   the input, and the fraction of voxels within the OSIPI tolerances.
2. Peers on a sample, extrapolated per voxel: scipy ``curve_fit`` (the usual
   per-voxel script: numpy model with ``np.convolve``) and dcmri
   (``dcmri.Tissue(kinetics='HF')``, its extended-Tofts fit, on the
   equivalent signal curves).
3. Dual-input liver model throughput (voxels/s).
"""

from __future__ import annotations

import argparse
import os
import resource
import threading
import time
import tracemalloc
import warnings

import numpy as np

from tumorboard.dce.aif import InputFunction, blood_to_plasma, parker_aif, portal_venous_input
from tumorboard.dce.fit import fit_curves, simulate

N_FRAMES = 60
DT_S = 5.0
NOISE_MM = 0.005
HCT = 0.45
OSIPI_TOL = {  # (atol, rtol), as the OSIPI DCE test suite
    "ktrans_per_min": (0.005, 0.1),
    "ve": (0.05, 0.0),
    "vp": (0.025, 0.0),
}


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) / 1024.0
    return float("nan")


def make_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, InputFunction, dict]:
    times = np.arange(N_FRAMES) * DT_S
    cp = blood_to_plasma(parker_aif(times, 10.0), HCT)
    inputs = InputFunction(times, cp, portal_venous_input(times, cp))
    truth = {
        "ktrans_per_min": rng.uniform(0.02, 0.5, n),
        "ve": rng.uniform(0.1, 0.6, n),
        "vp": rng.uniform(0.005, 0.1, n),
    }
    curves = np.empty((n, N_FRAMES), dtype=np.float32)
    step = 200_000
    for s in range(0, n, step):
        part = {k: v[s : s + step] for k, v in truth.items()}
        sim = simulate(times, inputs, "extended-tofts", part)
        curves[s : s + step] = sim + rng.normal(0, NOISE_MM, sim.shape)
    return curves, inputs, truth


def accuracy(result_params: dict, truth: dict) -> dict[str, float]:
    out = {}
    for name, (atol, rtol) in OSIPI_TOL.items():
        err = np.abs(result_params[name] - truth[name])
        out[name] = float(np.mean(err <= atol + rtol * np.abs(truth[name])))
    return out


def scipy_peer(curves: np.ndarray, inputs: InputFunction) -> float:
    """Seconds per voxel of a typical per-voxel curve_fit script."""
    from scipy.optimize import curve_fit

    t_min = inputs.times_s / 60.0
    cp = inputs.cp_mM
    dt = t_min[1] - t_min[0]

    def etofts(t: np.ndarray, ktrans: float, ve: float, vp: float) -> np.ndarray:
        irf = np.exp(-ktrans / ve * t)
        return vp * cp + ktrans * np.convolve(cp, irf)[: t.size] * dt

    start = time.perf_counter()
    for y in curves:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            curve_fit(etofts, t_min, y, p0=(0.1, 0.2, 0.05), bounds=([0, 1e-3, 0], [5, 1, 1]))
    return (time.perf_counter() - start) / len(curves)


def dcmri_peer(truth: dict, inputs: InputFunction, n: int) -> float:
    """Seconds per voxel of dcmri's extended-Tofts ('HF') fit on signal curves."""
    import dcmri as dc

    t = inputs.times_s
    cb_M = inputs.cp_mM * (1 - HCT) / 1000.0
    signals = []
    for i in range(n):
        tissue = dc.Tissue(
            kinetics="HF",
            water_exchange="FF",
            ca=cb_M,
            t=t,
            vb=truth["vp"][i] / (1 - HCT),
            vi=truth["ve"][i],
            PS=truth["ktrans_per_min"][i] / 60.0,
        )
        signals.append(tissue.predict(t))
    start = time.perf_counter()
    for sig in signals:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dc.Tissue(kinetics="HF", water_exchange="FF", ca=cb_M, t=t).train(t, sig)
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--voxels", type=int, default=1_000_000)
    parser.add_argument("--peer-sample", type=int, default=200)
    parser.add_argument("--dual-voxels", type=int, default=200_000)
    args = parser.parse_args()
    rng = np.random.default_rng(20261121)
    import numba

    print(f"numba threads: {numba.get_num_threads()}, cpus: {os.cpu_count()}")
    curves, inputs, truth = make_data(args.voxels, rng)
    times = inputs.times_s
    input_mb = curves.nbytes / 2**20
    print(f"input: {args.voxels} voxels x {N_FRAMES} frames float32 = {input_mb:.0f} MB")

    # warm-up (JIT compile or cache load), excluded from timing
    fit_curves(times, curves[:256], inputs, "extended-tofts")
    fit_curves(times, curves[:256], inputs, "dual-input")

    rss_before = rss_mb()
    rss_samples = [rss_before]
    stop = threading.Event()

    def sample_rss() -> None:
        while not stop.wait(0.02):
            rss_samples.append(rss_mb())

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    tracemalloc.start()
    start = time.perf_counter()
    result = fit_curves(times, curves, inputs, "extended-tofts")
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stop.set()
    sampler.join()
    rss_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    acc = accuracy(result.parameters, truth)
    print(
        f"tumorboard extended Tofts: {elapsed:.2f} s, {args.voxels / elapsed:,.0f} voxels/s, "
        f"converged {result.converged.mean():.4f}"
    )
    print("  within OSIPI tolerance: " + ", ".join(f"{k} {100 * v:.2f} %" for k, v in acc.items()))
    print(
        f"  peak traced numpy memory during fit: {peak / 2**20:.0f} MB "
        f"= {peak / curves.nbytes:.2f} x input"
    )
    growth = max(rss_samples) - rss_before
    print(
        f"  process RSS: before fit {rss_before:.0f} MB, peak during fit "
        f"{max(rss_samples):.0f} MB (+{growth:.0f} MB = {growth / input_mb:.2f} x input; "
        f"sampled every 20 ms); lifetime peak {rss_peak_kb / 1024:.0f} MB (incl. simulation)"
    )

    per_voxel_ours = elapsed / args.voxels
    sample = curves[: args.peer_sample].astype(np.float64)
    scipy_s = scipy_peer(sample, inputs)
    print(
        f"scipy curve_fit per voxel: {scipy_s * 1e3:.2f} ms -> "
        f"{scipy_s * args.voxels / 3600:.2f} h for {args.voxels} voxels; "
        f"ratio {scipy_s / per_voxel_ours:,.0f}x"
    )
    n_dcmri = max(10, args.peer_sample // 4)
    dcmri_s = dcmri_peer(truth, inputs, n_dcmri)
    print(
        f"dcmri Tissue(HF).train per voxel ({n_dcmri} voxels): {dcmri_s * 1e3:.2f} ms -> "
        f"{dcmri_s * args.voxels / 3600:.2f} h; ratio {dcmri_s / per_voxel_ours:,.0f}x"
    )

    n_dual = min(args.dual_voxels, args.voxels)
    dual_truth = {
        "fp_ml_per_100ml_per_min": rng.uniform(30, 200, n_dual),
        "arterial_fraction": rng.uniform(0.1, 0.95, n_dual),
        "distribution_volume": rng.uniform(0.15, 0.5, n_dual),
    }
    dual = simulate(times, inputs, "dual-input", dual_truth)
    dual += rng.normal(0, NOISE_MM, dual.shape)
    start = time.perf_counter()
    dual_result = fit_curves(times, dual.astype(np.float32), inputs, "dual-input")
    dual_s = time.perf_counter() - start
    fa_err = np.abs(dual_result.parameters["arterial_fraction"] - dual_truth["arterial_fraction"])
    print(
        f"tumorboard dual-input: {n_dual} voxels in {dual_s:.2f} s = "
        f"{n_dual / dual_s:,.0f} voxels/s; median |arterial fraction error| "
        f"{np.median(fa_err):.4f}"
    )


if __name__ == "__main__":
    main()
