"""Connected, nested lesion shapes of exact voxel counts.

A lesion grows from a seed through its host tissue, always adding the
frontier voxel with the lowest score ``distance_mm * (1 + roughness * noise)``.
The growth order is computed once; the lesion at any exam is the first ``n``
voxels of that order, so masks are connected, exactly ``n`` voxels large, and
nested (a smaller lesion lies inside a larger one of the same id). This is
the property that lets the reference patient hit published volumes exactly.
"""

from __future__ import annotations

import heapq

import numpy as np
from numpy.typing import NDArray

_FACE_NEIGHBOURS = np.array(
    [(-1, 0, 0), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1)], dtype=np.int64
)


def smooth_noise(
    shape: tuple[int, int, int], rng: np.random.Generator, coarse_factor: int = 3
) -> NDArray[np.float64]:
    """Spatially smooth noise in [-1, 1]: coarse white noise, linearly upsampled.

    Parameters
    ----------
    shape : tuple of int
        Output shape ``(nz, ny, nx)``.
    rng : numpy.random.Generator
        Seeded generator.
    coarse_factor : int
        Correlation length in voxels.
    """
    coarse_shape = tuple(max(2, n // coarse_factor + 2) for n in shape)
    coarse = rng.uniform(-1.0, 1.0, size=coarse_shape)
    axes = [np.linspace(0, coarse_shape[i] - 1.001, shape[i]) for i in range(3)]
    grid = np.ix_(*axes)
    lower = [np.floor(a).astype(int) for a in grid]
    frac = [a - low for a, low in zip(grid, lower, strict=True)]
    out = np.zeros(shape)
    for dz in (0, 1):
        wz = frac[0] if dz else 1 - frac[0]
        for dy in (0, 1):
            wy = frac[1] if dy else 1 - frac[1]
            for dx in (0, 1):
                wx = frac[2] if dx else 1 - frac[2]
                out += wz * wy * wx * coarse[lower[0] + dz, lower[1] + dy, lower[2] + dx]
    return out


def growth_order(
    host: NDArray[np.bool_],
    seed_index: tuple[int, int, int],
    spacing_mm: tuple[float, float, float],
    noise: NDArray[np.float64],
    max_voxels: int,
    roughness: float = 0.3,
) -> NDArray[np.int64]:
    """Order in which a lesion claims host voxels, starting at the seed.

    Parameters
    ----------
    host : ndarray of bool, shape (nz, ny, nx)
        Voxels the lesion may occupy (e.g. bone not claimed by another lesion).
    seed_index : tuple of int
        Start voxel ``(z, y, x)``; moved to the nearest host voxel if outside.
    spacing_mm : tuple of float
        Voxel spacing ``(z, y, x)``.
    noise : ndarray, same shape, values in [-1, 1]
        Smooth noise shaping the boundary.
    max_voxels : int
        Stop after this many voxels.
    roughness : float
        Weight of the noise (0 gives a distance ball clipped to the host).

    Returns
    -------
    ndarray of int64, shape (n, )
        Flat indices into the grid, in claim order; ``n <= max_voxels`` when
        the connected host region is smaller.
    """
    shape = host.shape
    seed = np.asarray(seed_index, dtype=np.int64)
    if not host[tuple(seed)]:
        candidates = np.argwhere(host)
        distances = np.linalg.norm((candidates - seed) * np.asarray(spacing_mm), axis=1)
        seed = candidates[int(np.argmin(distances))]
    spacing = np.asarray(spacing_mm)
    visited = np.zeros(shape, dtype=bool)
    heap: list[tuple[float, int, int, int]] = [(0.0, int(seed[0]), int(seed[1]), int(seed[2]))]
    visited[tuple(seed)] = True
    order: list[int] = []
    nz, ny, nx = shape
    while heap and len(order) < max_voxels:
        _, z, y, x = heapq.heappop(heap)
        order.append((z * ny + y) * nx + x)
        for dz, dy, dx in _FACE_NEIGHBOURS:
            zz, yy, xx = z + dz, y + dy, x + dx
            if 0 <= zz < nz and 0 <= yy < ny and 0 <= xx < nx:
                if host[zz, yy, xx] and not visited[zz, yy, xx]:
                    visited[zz, yy, xx] = True
                    offset = (np.array([zz, yy, xx]) - seed) * spacing
                    distance = float(np.sqrt(offset @ offset))
                    score = distance * (1.0 + roughness * float(noise[zz, yy, xx]))
                    heapq.heappush(heap, (score, int(zz), int(yy), int(xx)))
    return np.asarray(order, dtype=np.int64)
