"""Anatomy of the embedded reference patient: a deterministic synthetic torso.

A female patient, supine, head first, imaged from the vertex to the upper
thighs on an axial grid in DICOM patient coordinates (LPS: +x patient left,
+y posterior, +z superior). Structures are analytic shapes (ellipsoids,
elliptic cylinders, tubes) placed by their depth ``d`` below the vertex, in mm.
Every voxel carries exactly one tissue label; later structures in
:data:`_PAINT_ORDER` overwrite earlier ones.

The anatomy is shared by every modality of the reference patient (WB-DWI,
PET, ...), so lesions of different exams sit in the same body.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from tumorboard.imaging.volume import Volume

#: Default whole-body grid: 96 x 64 in-plane at 4.5 mm, 164 slices of 6 mm.
GRID_SHAPE_ZYX = (164, 64, 96)
GRID_SPACING_MM = (6.0, 4.5, 4.5)
#: Depth below the vertex of the most superior slice centre (mm).
TOP_SLICE_DEPTH_MM = 3.0


class Tissue(enum.IntEnum):
    """Tissue labels of the anatomy map (0 = air)."""

    AIR = 0
    SOFT_TISSUE = 1
    FAT = 2
    BONE = 3
    BRAIN = 4
    SPINAL_CORD = 5
    LUNG = 6
    LIVER = 7
    SPLEEN = 8
    KIDNEY_LEFT = 9
    KIDNEY_RIGHT = 10
    PANCREAS = 11
    BOWEL = 12
    BLADDER = 13
    BREAST = 14
    HEART = 15
    CSF = 16


#: Labels an organ segmenter would give for normal structures bright at high b.
BRIGHT_NORMAL_STRUCTURES = (
    Tissue.BRAIN,
    Tissue.SPINAL_CORD,
    Tissue.SPLEEN,
    Tissue.KIDNEY_LEFT,
    Tissue.KIDNEY_RIGHT,
    Tissue.BOWEL,
)


@dataclass(frozen=True, eq=False)
class Anatomy:
    """The labelled body.

    Attributes
    ----------
    labels : Volume
        uint8 :class:`Tissue` labels on the whole-body grid.
    label_names : dict of int to str
        Lower-case tissue names by label value (``body`` is 1, soft tissue).
    """

    labels: Volume
    label_names: dict[int, str]

    def mask(self, *tissues: Tissue) -> NDArray[np.bool_]:
        """Boolean mask of the given tissues."""
        return np.isin(self.labels.array, [int(t) for t in tissues])


@dataclass(frozen=True, eq=False)
class _Coordinates:
    x: NDArray[np.float64]  # (1, 1, nx) mm, patient left positive
    y: NDArray[np.float64]  # (1, ny, 1) mm, posterior positive
    d: NDArray[np.float64]  # (nz, 1, 1) mm below the vertex


def reference_grid() -> Volume:
    """An empty (zero) volume on the reference whole-body grid."""
    nz, ny, nx = GRID_SHAPE_ZYX
    dz, dy, dx = GRID_SPACING_MM
    origin = (
        -(nx - 1) / 2 * dx,
        -(ny - 1) / 2 * dy,
        -(TOP_SLICE_DEPTH_MM + (nz - 1) * dz),
    )
    return Volume(
        array=np.zeros(GRID_SHAPE_ZYX, dtype=np.uint8),
        spacing_mm=GRID_SPACING_MM,
        origin_mm=origin,
        unit="label",
    )


def _coordinates(grid: Volume) -> _Coordinates:
    nz, ny, nx = grid.spatial_shape
    dz, dy, dx = grid.spacing_mm
    x0, y0, z0 = grid.origin_mm
    x = x0 + dx * np.arange(nx, dtype=float)
    y = y0 + dy * np.arange(ny, dtype=float)
    z = z0 + dz * np.arange(nz, dtype=float)
    return _Coordinates(x=x[None, None, :], y=y[None, :, None], d=-z[:, None, None])


def _ellipsoid(
    c: _Coordinates, centre_xyd: tuple[float, float, float], axes_xyd: tuple[float, float, float]
) -> NDArray[np.bool_]:
    (cx, cy, cd), (ax, ay, ad) = centre_xyd, axes_xyd
    return np.asarray(
        ((c.x - cx) / ax) ** 2 + ((c.y - cy) / ay) ** 2 + ((c.d - cd) / ad) ** 2 <= 1.0
    )


def _trunk_semi_axes(d: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    knots = np.array([200.0, 270.0, 310.0, 560.0, 700.0, 850.0, 930.0, 1000.0])
    lateral = np.array([55.0, 60.0, 170.0, 160.0, 150.0, 170.0, 175.0, 180.0])
    ap = np.array([60.0, 62.0, 100.0, 105.0, 110.0, 110.0, 105.0, 100.0])
    return np.interp(d, knots, lateral), np.interp(d, knots, ap)


def _body(c: _Coordinates, inset_mm: float = 0.0) -> NDArray[np.bool_]:
    head = _ellipsoid(c, (0, 0, 110), (75 - inset_mm, 95 - inset_mm, 110 - inset_mm))
    a, b = _trunk_semi_axes(c.d)
    trunk = ((c.x / (a - inset_mm)) ** 2 + ((c.y - 5) / (b - inset_mm)) ** 2 <= 1.0) & (c.d >= 200)
    breasts = _ellipsoid(c, (-85, -95, 420), (60 - inset_mm, 42 - inset_mm, 60 - inset_mm))
    breasts |= _ellipsoid(c, (85, -95, 420), (60 - inset_mm, 42 - inset_mm, 60 - inset_mm))
    breasts &= c.y < -40
    return np.asarray(head | trunk | breasts)


def _spine_centre_y(d: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.interp(d, [200, 300, 560, 720, 860], [15.0, 35.0, 50.0, 40.0, 55.0])


def _spine_radius(d: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.interp(d, [200, 300, 600, 860], [13.0, 18.0, 21.0, 25.0])


def _spine(c: _Coordinates) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.bool_]]:
    """Vertebral column (bone), spinal canal (CSF) and spinal cord."""
    level = (c.d >= 200) & (c.d <= 860)
    cy, radius = _spine_centre_y(c.d), _spine_radius(c.d)
    body = (c.x**2 + (c.y - cy) ** 2 <= radius**2) & level
    canal_y = cy + radius + 11.0
    canal = (c.x**2 + (c.y - canal_y) ** 2 <= 10.0**2) & level
    arch = (c.x**2 + (c.y - canal_y) ** 2 <= 17.0**2) & level
    cord = (c.x**2 + (c.y - canal_y) ** 2 <= 5.5**2) & (c.d >= 190) & (c.d <= 720)
    bone = np.asarray(body | (arch & ~canal))
    return bone, np.asarray(canal), np.asarray(cord)


def _tube(grid: Volume, path_xyd: NDArray[np.float64], radius_mm: float) -> NDArray[np.bool_]:
    """Voxels within ``radius_mm`` of a polyline given as (n, 3) points (x, y, d)."""
    shape = grid.spatial_shape
    seeds = np.zeros(shape, dtype=bool)
    lps = np.column_stack([path_xyd[:, 0], path_xyd[:, 1], -path_xyd[:, 2]])
    index = np.rint(grid.lps_to_index(lps)).astype(int)
    inside = np.all((index >= 0) & (index < np.array(shape)), axis=1)
    seeds[tuple(index[inside].T)] = True
    distance = ndimage.distance_transform_edt(~seeds, sampling=grid.spacing_mm)
    return np.asarray(distance <= radius_mm)


def _bowel_path() -> NDArray[np.float64]:
    t = np.linspace(0.0, 1.0, 1200)
    depth = 735 + 130 * t
    lateral = 85 * np.sin(2 * np.pi * 4.5 * t)
    ap = -45 + 25 * np.cos(2 * np.pi * 3.0 * t)
    return np.column_stack([lateral, ap, depth])


def _paint_order(c: _Coordinates, grid: Volume) -> list[tuple[Tissue, NDArray[np.bool_]]]:
    body = _body(c)
    inner = _body(c, inset_mm=12.0)
    spine_bone, canal, cord = _spine(c)
    skull = _ellipsoid(c, (0, 0, 110), (70, 90, 105)) & ~_ellipsoid(c, (0, 0, 110), (61, 81, 96))
    breast_glands = _ellipsoid(c, (-85, -100, 420), (42, 28, 42)) | _ellipsoid(
        c, (85, -100, 420), (42, 28, 42)
    )
    pelvis = (
        _ellipsoid(c, (95, 35, 835), (22, 55, 55))
        | _ellipsoid(c, (-95, 35, 835), (22, 55, 55))
        | _ellipsoid(c, (0, 72, 880), (45, 25, 55))
        | _ellipsoid(c, (90, 0, 915), (24, 24, 24))
        | _ellipsoid(c, (-90, 0, 915), (24, 24, 24))
    )
    femora = np.zeros(grid.spatial_shape, dtype=bool)
    for side in (-1.0, 1.0):
        path = np.column_stack(
            [np.linspace(90, 112, 60) * side, np.zeros(60), np.linspace(915, 1000, 60)]
        )
        femora |= _tube(grid, path, 15.0)
    sternum = (np.abs(c.x) <= 15) & (np.abs(c.y + 92) <= 7) & (c.d >= 330) & (c.d <= 500)
    humeri = _ellipsoid(c, (-150, 10, 320), (22, 22, 22)) | _ellipsoid(
        c, (150, 10, 320), (22, 22, 22)
    )
    bone = spine_bone | skull | pelvis | femora | sternum | humeri
    lungs = _ellipsoid(c, (-78, 10, 450), (62, 72, 120)) | _ellipsoid(
        c, (78, 10, 450), (62, 72, 120)
    )
    return [
        (Tissue.FAT, body),
        (Tissue.SOFT_TISSUE, inner),
        (Tissue.BREAST, breast_glands & body),
        (Tissue.LUNG, lungs & body),
        (Tissue.HEART, _ellipsoid(c, (25, -25, 480), (55, 50, 60))),
        (Tissue.LIVER, _ellipsoid(c, (-60, 5, 615), (95, 85, 75)) & ~lungs),
        (Tissue.SPLEEN, _ellipsoid(c, (100, 45, 605), (30, 40, 55))),
        (Tissue.KIDNEY_LEFT, _ellipsoid(c, (72, 55, 685), (28, 25, 55))),
        (Tissue.KIDNEY_RIGHT, _ellipsoid(c, (-72, 55, 700), (28, 25, 55))),
        (Tissue.PANCREAS, _ellipsoid(c, (15, 20, 652), (70, 14, 14))),
        (Tissue.BOWEL, _tube(grid, _bowel_path(), 11.0) & inner),
        (Tissue.BLADDER, _ellipsoid(c, (0, -25, 915), (45, 35, 35))),
        (Tissue.BONE, bone & body),
        (Tissue.CSF, canal),
        (Tissue.SPINAL_CORD, cord),
        (Tissue.BRAIN, _ellipsoid(c, (0, 0, 105), (58, 77, 88))),
    ]


@lru_cache(maxsize=1)
def _cached_anatomy() -> Anatomy:
    grid = reference_grid()
    coordinates = _coordinates(grid)
    labels = np.zeros(grid.spatial_shape, dtype=np.uint8)
    for tissue, region in _paint_order(coordinates, grid):
        labels[region] = tissue
    names = {int(t): t.name.lower() for t in Tissue}
    names[int(Tissue.SOFT_TISSUE)] = "body"
    labels.setflags(write=False)
    return Anatomy(labels=grid.with_array(labels, unit="label"), label_names=names)


def reference_anatomy() -> Anatomy:
    """The reference patient's labelled anatomy (computed once per process).

    Returns
    -------
    Anatomy
        Read-only uint8 label volume and the label names.
    """
    return _cached_anatomy()
