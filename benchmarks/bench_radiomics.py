"""Benchmark: radiomics for 20 lesions of one patient (target <= 20 s on 2 cores).

Ours: :func:`tumorboard.radiomics.extract_lesion_features` (grid-aligned crop
per lesion, 2 worker processes). Peer: mirp called lesion by lesion in
sequence on the whole image (what a script around ``mirp.extract_features``
does). Both use preset ``ibsi-c`` (3-D, trilinear to 2 mm, all IBSI-1
families). The synthetic CT is 320 x 320 x 120 voxels (0.9 x 0.9 x 2.5 mm)
with 20 heterogeneous lesions of 4-15 mm radius.

Run: ``python benchmarks/bench_radiomics.py [--peer-lesions N]``; the peer
is timed on N lesions (default 20) and, if fewer, extrapolated linearly.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import numpy as np

from tumorboard.imaging.volume import Volume
from tumorboard.radiomics import extract_lesion_features, load_preset

SHAPE = (120, 320, 320)
SPACING_MM = (2.5, 0.9, 0.9)
N_LESIONS = 20
SEED = 20261121


def synthetic_patient(seed: int = SEED) -> tuple[Volume, Volume]:
    rng = np.random.default_rng(seed)
    nz, ny, nx = SHAPE
    zz, yy, xx = np.meshgrid(
        np.arange(nz) * SPACING_MM[0],
        np.arange(ny) * SPACING_MM[1],
        np.arange(nx) * SPACING_MM[2],
        indexing="ij",
    )
    cy, cx = (
        (ny - 1) * SPACING_MM[1] / 2,
        (nx - 1) * SPACING_MM[2] / 2,
    )
    body = ((yy - cy) / 120.0) ** 2 + ((xx - cx) / 140.0) ** 2 <= 1.0
    image = np.where(body, 40.0, -1000.0) + rng.normal(0.0, 12.0, SHAPE)
    labels = np.zeros(SHAPE, dtype=np.int16)
    placed = 0
    while placed < N_LESIONS:
        radius = rng.uniform(4.0, 15.0)
        centre = (
            rng.uniform(30, nz * SPACING_MM[0] - 30),
            cy + rng.uniform(-80, 80),
            cx + rng.uniform(-100, 100),
        )
        distance = np.sqrt((zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2)
        inside = distance <= radius
        if np.any(labels[inside]) or not np.all(body[inside]):
            continue
        placed += 1
        labels[inside] = placed
        image[inside] = rng.uniform(60, 120) + 25.0 * rng.standard_normal(int(inside.sum()))
    volume = Volume(np.round(image), spacing_mm=SPACING_MM, unit="HU")
    return volume, volume.with_array(labels, unit="label")


def mirp_lesion_by_lesion(image: Volume, labels: Volume, count: int) -> list[float]:
    """The peer: mirp on the whole image, one lesion per call, in sequence."""
    from mirp import extract_features
    from mirp._data_import.numpy_file import ImageNumpyFile, MaskNumpyFile

    settings = dict(load_preset("ibsi-c").mirp_settings)
    settings["base_feature_families"] = "all"
    volumes = []
    array = image.array.astype(np.float32)
    origin = tuple(float(v) for v in image.origin_mm[::-1])
    for label in range(1, count + 1):
        mask_array = labels.array == label
        image_file = ImageNumpyFile(
            image_data=array,
            image_spacing=image.spacing_mm,
            image_origin=origin,
            image_dimensions=array.shape,
            image_modality="ct",
            sample_name="peer",
        )
        image_file.image_metadata = array
        mask_file = MaskNumpyFile(
            image_data=mask_array,
            image_spacing=image.spacing_mm,
            image_origin=origin,
            image_dimensions=array.shape,
            image_modality="generic_mask",
            sample_name="peer",
        )
        mask_file.image_metadata = mask_array
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = extract_features(image=image_file, mask=mask_file, **settings)[0]
        volumes.append(float(table["morph_volume"].iloc[0]))
    return volumes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--peer-lesions", type=int, default=N_LESIONS)
    args = parser.parse_args()
    logging.getLogger().addHandler(logging.NullHandler())
    logging.disable(logging.INFO)
    image, labels = synthetic_patient()
    print(f"image {SHAPE} voxels, {N_LESIONS} lesions, preset ibsi-c, all IBSI-1 families")

    start = time.perf_counter()
    ours = extract_lesion_features(image, labels, "ibsi-c", workers=2)
    ours_s = time.perf_counter() - start
    print(
        f"tumorboard (crop + 2 workers): {ours_s:7.2f} s for {len(ours)} lesions "
        f"({len(ours[0].values)} features each)"
    )

    count = max(1, min(args.peer_lesions, N_LESIONS))
    start = time.perf_counter()
    peer_volumes = mirp_lesion_by_lesion(image, labels, count)
    peer_s = (time.perf_counter() - start) * N_LESIONS / count
    note = "" if count == N_LESIONS else f" (measured on {count}, scaled to {N_LESIONS})"
    print(f"mirp lesion by lesion, whole image, sequential: {peer_s:7.2f} s{note}")
    print(
        f"ratio peer / ours: {peer_s / ours_s:5.1f}x; target <= 20 s: "
        f"{'met' if ours_s <= 20 else 'MISSED'}"
    )
    ours_volumes = [lesion.value("morph.vol") for lesion in ours[:count]]
    worst = max(abs(a / b - 1.0) for a, b in zip(ours_volumes, peer_volumes, strict=True))
    print(f"largest relative difference of mesh volume, ours vs peer: {worst:.2e}")


if __name__ == "__main__":
    main()
