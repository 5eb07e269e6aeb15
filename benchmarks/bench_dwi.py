"""WB-DWI speed: ADC + computed image against MRtrix3 ``dwi2adc``, and the whole assess.

Run: ``python benchmarks/bench_dwi.py`` (installs nothing; run
``benchmarks/install_mrtrix3.sh`` first for the peer).

1. ADC + computed b1000 on a whole-body case of 250 x 128 x 128 = 4.1 million
   voxels per b-value, 3 b-values, both tools reading the same 4-D NIfTI and
   writing their maps; best wall time of 3 runs each; ADC agreement in tissue.
2. ``assess_exam`` after reading (ADC, segmentation, components, histogram,
   classes) on the same case: wall time and peak traced memory against the
   size of the input arrays.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import nibabel as nib
import numpy as np

from tumorboard.dwi.adc import computed_b_image, fit_adc
from tumorboard.imaging.nifti import read_nifti, write_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.pipeline.dwi_assess import ReferenceExam, assess_exam

SHAPE = (250, 128, 128)
SPACING = (5.0, 3.5, 3.5)
B_VALUES = (50.0, 600.0, 900.0)
REPEATS = 3
AGREEMENT_RTOL = 1e-3


def synthetic_case(rng: np.random.Generator) -> dict[float, np.ndarray]:
    """Body of soft tissue with 40 bright tumour balls; Rician noise SD 3."""
    nz, ny, nx = SHAPE
    z, y, x = np.ogrid[:nz, :ny, :nx]
    body = ((y - ny / 2) / (0.4 * ny)) ** 2 + ((x - nx / 2) / (0.45 * nx)) ** 2 <= 1
    body = np.broadcast_to(body, SHAPE)
    s0 = np.where(body, 250.0, 0.0)
    adc = np.where(body, 1.5e-3, 0.0)
    for _ in range(40):
        cz, cy, cx = rng.integers(10, nz - 10), rng.integers(40, ny - 40), rng.integers(40, nx - 40)
        r = rng.integers(2, 7)
        ball = (z - cz) ** 2 + (y - cy) ** 2 + (x - cx) ** 2 <= r * r
        value = rng.uniform(0.5e-3, 1.8e-3)
        adc = np.where(ball, value, adc)
        s0 = np.where(ball, 250 * np.exp(value * 1000), s0)
    images = {}
    for b in B_VALUES:
        clean = s0 * np.exp(-b * adc)
        images[b] = np.hypot(clean + rng.normal(0, 3, SHAPE), rng.normal(0, 3, SHAPE)).astype(
            np.float32
        )
    return images


def best_of(function, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    rng = np.random.default_rng(7)
    images = synthetic_case(rng)
    work = Path(tempfile.mkdtemp(prefix="tb-bench-dwi-"))
    try:
        stack = np.stack([images[b] for b in B_VALUES])
        dwi4d = Volume(stack, SPACING, times_s=np.arange(len(B_VALUES), dtype=float))
        dwi_path = write_nifti(dwi4d, work / "dwi.nii")
        (work / "bvals").write_text(" ".join(f"{b:g}" for b in B_VALUES) + "\n")
        (work / "bvecs").write_text(
            "\n".join(
                " ".join(["1"] * len(B_VALUES)) if i == 0 else " ".join(["0"] * len(B_VALUES))
                for i in range(3)
            )
            + "\n"
        )

        def ours() -> None:
            volume = read_nifti(dwi_path)
            fit = fit_adc({b: volume.array[i] for i, b in enumerate(B_VALUES)})
            grid = Volume(volume.array[0], volume.spacing_mm, volume.origin_mm, volume.direction)
            write_nifti(grid.with_array(fit.adc_um2_per_s), work / "ours_adc.nii")
            write_nifti(grid.with_array(computed_b_image(fit, 1000.0)), work / "ours_b1000.nii")

        voxels = int(np.prod(SHAPE))
        print(f"case: {SHAPE} = {voxels / 1e6:.2f} M voxels per b-value, b = {B_VALUES}")
        t_ours = best_of(ours)
        print(f"tumorboard ADC + computed b1000 (read, fit, write): {t_ours:.3f} s")
        dwi2adc = shutil.which("dwi2adc")
        if dwi2adc is None:
            print("dwi2adc not found: run benchmarks/install_mrtrix3.sh for the peer")
            return 1

        def peer() -> None:
            subprocess.run(
                [
                    dwi2adc,
                    str(dwi_path),
                    str(work / "mrtrix_adc.nii"),
                    "-fslgrad",
                    str(work / "bvecs"),
                    str(work / "bvals"),
                    "-force",
                    "-quiet",
                ],
                check=True,
            )

        t_peer = best_of(peer)
        print(f"MRtrix3 dwi2adc (read, fit, write):                {t_peer:.3f} s")
        print(
            f"ratio dwi2adc / tumorboard = {t_peer / t_ours:.2f}x "
            "(>= 1 means tumorboard is at least as fast)"
        )
        ours_adc = np.asarray(nib.load(work / "ours_adc.nii").dataobj) * 1e-6
        peer_img = np.asarray(nib.load(work / "mrtrix_adc.nii").dataobj)
        peer_adc = peer_img[..., 1] if peer_img.ndim == 4 else peer_img
        tissue = np.asarray(nib.load(work / "ours_b1000.nii").dataobj) > 0
        tissue &= np.stack([images[b] for b in B_VALUES]).min(axis=0).transpose(2, 1, 0) > 30
        rel = np.abs(ours_adc[tissue] - peer_adc[tissue]) / np.maximum(
            np.abs(peer_adc[tissue]), 1e-4
        )
        print(
            f"ADC agreement in {int(tissue.sum())} tissue voxels: max relative difference "
            f"{rel.max():.2e} (limit {AGREEMENT_RTOL:g}) -> "
            f"{'OK' if rel.max() <= AGREEMENT_RTOL else 'FAIL'}"
        )

        grid_images = {b: Volume(images[b], SPACING) for b in B_VALUES}
        reference = ReferenceExam(
            total_diffusion_volume_ml=100.0, adc_median_um2_per_s=900.0, adc_p95_um2_per_s=1300.0
        )
        assess_exam(grid_images, reference=reference)  # warm-up (imports, page faults)
        t_assess = best_of(lambda: assess_exam(grid_images, reference=reference))
        tracemalloc.start()
        assess_exam(grid_images, reference=reference)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        input_bytes = sum(a.nbytes for a in images.values())
        print(
            f"assess after reading (ADC, segmentation, components, histogram, classes): "
            f"{t_assess:.3f} s (limit 2 s) -> {'OK' if t_assess <= 2 else 'FAIL'}"
        )
        print(
            f"peak memory of assess: {peak / 1e6:.0f} MB = {peak / input_bytes:.2f}x the input "
            f"arrays ({input_bytes / 1e6:.0f} MB; limit 6x) -> "
            f"{'OK' if peak <= 6 * input_bytes else 'FAIL'}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
