"""PET benchmarks: SULpeak search, SUV conversion of a DICOM series, PET/MR registration.

Prints, in one run, our timing, the peer's timing and their ratio:

1. SULpeak (1.2 cm sphere, partial-voxel weights) of 50 lesions on a
   200 x 200 x 500 whole-body PET. Ours: :func:`tumorboard.pet.uptake.lesion_uptake`
   (one numba pass). Peer: ``scipy.ndimage.correlate`` with the same weights on
   each lesion's padded bounding box, then the best mean over lesion voxels.
   Contract: ours <= 1 s. The two results are compared.
2. SUV conversion of a 500-slice PET series (200 x 200, int16, per-slice
   RescaleSlope, BQML): ours reads headers and pixels, computes the SUV scale
   and writes ``suvbw.nii``; the peer is ``dcm2niix -z n`` on the same files
   (Debian package, ``benchmarks/install_dcm2niix.sh`` installs it).
   Contract: ours <= 2x dcm2niix.
3. Rigid Mattes-MI registration of the pituitary case (MRI 112 x 136 x 104 at
   1.5 mm, PET 64 x 72 x 56 at 3 mm) with the command's default settings.
   Contract: <= 20 s on 2 cores. The target registration error is printed.

Run: ``python benchmarks/bench_pet.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from scipy import ndimage

from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.nifti import write_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.pet.registration import (
    RigidTransform,
    register_rigid,
    target_registration_error_mm,
)
from tumorboard.pet.series_io import read_pet_series
from tumorboard.pet.uptake import lesion_uptake, sphere_kernel
from tumorboard.phantoms.pituitary_case import build_pituitary_case

SHAPE = (500, 200, 200)
SPACING_MM = (4.0, 4.0, 4.0)
N_LESIONS = 50
SULPEAK_LIMIT_S = 1.0
DICOM_RATIO_LIMIT = 2.0
REGISTRATION_LIMIT_S = 20.0


def best_of(repeats: int, run: Callable[[], Any]) -> tuple[float, Any]:
    """Best wall time of ``repeats`` calls and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def whole_body(rng: np.random.Generator) -> tuple[Volume, Volume]:
    """A noisy 200 x 200 x 500 PET with 50 spherical lesions of 0.5-3 cm."""
    image = rng.gamma(4.0, 0.25, SHAPE).astype(np.float32)
    labels = np.zeros(SHAPE, dtype=np.uint8)
    zz, yy, xx = np.ogrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    for label in range(1, N_LESIONS + 1):
        radius = rng.uniform(1.5, 4.0)
        centre = rng.uniform([20, 20, 20], [SHAPE[0] - 20, SHAPE[1] - 20, SHAPE[2] - 20])
        box = tuple(slice(int(c - radius - 1), int(c + radius + 2)) for c in centre)
        inside = (
            (zz[box[0]] - centre[0]) ** 2
            + (yy[:, box[1]] - centre[1]) ** 2
            + (xx[:, :, box[2]] - centre[2]) ** 2
        ) <= radius**2
        labels[box][inside] = label
        image[box][inside] *= rng.uniform(3.0, 10.0)
    return Volume(image, SPACING_MM), Volume(labels, SPACING_MM)


def peer_peaks(image: Volume, labels: Volume) -> dict[int, float]:
    """Peak per label with scipy.ndimage.correlate on padded bounding boxes."""
    kernel = sphere_kernel(image.spacing_mm)
    reach = np.abs(kernel.offsets).max(axis=0)
    weights = np.zeros(tuple(2 * reach + 1))
    weights[tuple((kernel.offsets + reach).T)] = kernel.weights
    values = np.asarray(image.array, dtype=np.float64)
    label_array = np.asarray(labels.array)
    peaks = {}
    for label, box in enumerate(ndimage.find_objects(label_array), start=1):
        if box is None:
            continue
        padded = tuple(
            slice(max(b.start - r, 0), min(b.stop + r, n))
            for b, r, n in zip(box, reach, values.shape, strict=True)
        )
        region = values[padded]
        ones = np.ones_like(region)
        summed = ndimage.correlate(region, weights, mode="constant", cval=0.0)
        norm = ndimage.correlate(ones, weights, mode="constant", cval=0.0)
        mean = summed / norm
        inner = tuple(
            slice(b.start - p.start, b.stop - p.start) for b, p in zip(box, padded, strict=True)
        )
        mask = label_array[box] == label
        peaks[label] = float(mean[inner][mask].max())
    return peaks


def bench_sulpeak(repeats: int, rng: np.random.Generator) -> None:
    image, labels = whole_body(rng)
    lesion_uptake(image, labels)  # compile / load the numba cache once
    ours_s, ours = best_of(repeats, lambda: lesion_uptake(image, labels))
    peer_s, peer = best_of(repeats, lambda: peer_peaks(image, labels))
    worst = max(abs(r.peak / peer[r.label] - 1) for r in ours)
    print(
        f"SULpeak, {len(ours)} lesions on {SHAPE[2]}x{SHAPE[1]}x{SHAPE[0]}: "
        f"ours {ours_s * 1000:.0f} ms, scipy.ndimage.correlate per lesion "
        f"{peer_s * 1000:.0f} ms, ratio {ours_s / peer_s:.2f}; largest relative difference "
        f"{worst:.1e}; contract <= {SULPEAK_LIMIT_S:g} s: "
        f"{'PASS' if ours_s <= SULPEAK_LIMIT_S else 'FAIL'}"
    )


def write_pet_series(folder: Path, rng: np.random.Generator) -> None:
    """A 500-slice BQML PET series with per-slice slopes."""
    activity = rng.gamma(4.0, 2000.0, (500, 200, 200))
    item = Dataset()
    item.RadionuclideTotalDose = "370000000"
    item.RadionuclideHalfLife = "6586.2"
    item.RadiopharmaceuticalStartDateTime = "20250101100000"
    write_dicom_series(
        Volume(activity, (2.0, 3.5, 3.5)),
        folder,
        modality="PT",
        series_description="bench PET",
        series_number=1,
        dtype="int16",
        rescale="auto_per_slice",
        study={
            "patient_weight_kg": 75.0,
            "patient_size_m": 1.8,
            "patient_sex": "F",
            "patient_name": "Bench^PET",
            "patient_id": "BENCH",
        },
        extra={
            "Units": "BQML",
            "DecayCorrection": "START",
            "CorrectedImage": ["NORM", "ATTN", "DECY"],
            "SeriesDate": "20250101",
            "SeriesTime": "110000",
            "AcquisitionDate": "20250101",
            "AcquisitionTime": "110000",
            "RadiopharmaceuticalInformationSequence": [item],
        },
    )


def bench_suv_conversion(repeats: int, rng: np.random.Generator) -> None:
    dcm2niix = shutil.which("dcm2niix")
    with tempfile.TemporaryDirectory(prefix="bench_pet_") as tmp:
        folder = Path(tmp) / "pet"
        write_pet_series(folder, rng)
        out = Path(tmp) / "out"
        out.mkdir()

        def ours() -> None:
            series = read_pet_series(folder)
            write_nifti(series.suvbw, out / "suvbw.nii")

        def peer() -> None:
            assert dcm2niix is not None
            subprocess.run(
                [dcm2niix, "-z", "n", "-o", str(out), "-f", "peer_%s", str(folder)],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )

        ours()  # warm the page cache equally
        if dcm2niix is None:
            ours_s, _ = best_of(repeats, ours)
            print(
                f"SUV conversion, 500 slices: ours {ours_s * 1000:.0f} ms; dcm2niix not "
                "installed (run benchmarks/install_dcm2niix.sh)"
            )
            return
        peer()
        # Interleave the two tools so that load from other jobs hits both alike.
        ours_s = peer_s = float("inf")
        for _ in range(repeats):
            ours_s = min(ours_s, best_of(1, ours)[0])
            peer_s = min(peer_s, best_of(1, peer)[0])
        ratio = ours_s / peer_s
        print(
            f"SUV conversion, 500 slices 200x200: ours {ours_s * 1000:.0f} ms, dcm2niix "
            f"{peer_s * 1000:.0f} ms, ratio {ratio:.2f}; contract <= {DICOM_RATIO_LIMIT:g}x: "
            f"{'PASS' if ratio <= DICOM_RATIO_LIMIT else 'FAIL'}"
        )


def bench_registration() -> None:
    case = build_pituitary_case()
    start = time.perf_counter()
    result = register_rigid(case.mri, case.pet_suv)
    seconds = time.perf_counter() - start
    targets = np.array([[x, y, z] for x in (-20, 20) for y in (-20, 20) for z in (-20, 20)], float)
    truth = RigidTransform(case.truth_mri_to_pet)
    tre = target_registration_error_mm(result.transform, truth, targets)
    print(
        f"Registration (Mattes MI, 3 levels, defaults): {seconds:.1f} s, TRE max "
        f"{tre.max():.2f} mm; contract <= {REGISTRATION_LIMIT_S:g} s: "
        f"{'PASS' if seconds <= REGISTRATION_LIMIT_S else 'FAIL'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(20261121)
    bench_sulpeak(args.repeats, rng)
    bench_suv_conversion(args.repeats, rng)
    bench_registration()
    return 0


if __name__ == "__main__":
    sys.exit(main())
