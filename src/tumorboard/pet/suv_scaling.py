"""The SUV scaling record of one PET series and the header codes it is built from.

One concept: :class:`SuvConversion`, the validated result of the header rules
of :mod:`tumorboard.pet.suv_header` (per-slice pixel-to-SUVbw factors and the
header facts behind them), which applies itself to a rescaled activity volume
and gives the other SUV normalisations (SUL, SUVbsa, SUVibw) as ratios to
SUVbw. The coded header values are enums named after their attributes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

import numpy as np
from numpy.typing import NDArray

from tumorboard.errors import DicomError, InputError
from tumorboard.imaging.volume import Volume
from tumorboard.pet.body_size import (
    LbmFormula,
    Sex,
    body_surface_area_m2,
    ideal_body_weight_kg,
    lean_body_mass_kg,
)

#: A volume slice is matched to a header slice no further than this fraction of the spacing.
SLICE_MATCH_FRACTION = 0.25


class Units(Enum):
    """PET Units (0054,1001) that tumorboard converts."""

    BQML = "BQML"
    CNTS = "CNTS"
    GML = "GML"
    CM2ML = "CM2ML"


class DecayCorrection(Enum):
    """DecayCorrection (0054,1102): the time the activity is corrected to."""

    START = "START"
    ADMIN = "ADMIN"
    NONE = "NONE"


class SuvType(Enum):
    """SUVType (0054,1006) of a series stored in GML units."""

    BW = "BW"
    BSA = "BSA"
    LBM = "LBM"
    LBMJAMES128 = "LBMJAMES128"
    LBMJANMA = "LBMJANMA"
    IBW = "IBW"


class ScanTimeRule(Enum):
    """Which header rule supplied the scan (decay reference) time."""

    SERIES_TIME = "series time"
    GE_PRIVATE = "GE private scan time"
    FRAME_REFERENCE = "back-computed from frame reference time"
    EARLIEST_ACQUISITION = "earliest acquisition time"


@dataclass(frozen=True)
class SuvConversion:
    """Header-derived SUV scaling of one PET series.

    Attributes
    ----------
    pixel_to_suvbw : ndarray, shape (n_slices,)
        Per slice (in the order of the datasets given), the factor turning the
        rescaled pixel value into SUVbw.
    positions_mm : ndarray, shape (n_slices, 3)
        ImagePositionPatient of each slice (LPS), to match factors to volume
        slices (NaN when every factor is the same and positions are not needed).
    units, decay_correction : Units, DecayCorrection
        The header's coding.
    weight_kg : float
        Body weight used (header or override).
    height_m : float or None
        PatientSize, if present.
    sex : Sex
        PatientSex (``O`` when absent).
    injected_dose_bq : float or None
        RadionuclideTotalDose in Bq (MBq detected and converted).
    half_life_s : float or None
        Radionuclide half-life.
    injection_datetime, scan_datetime : datetime or None
        Injection and decay-reference scan time.
    scan_time_rule : ScanTimeRule or None
        Which rule gave ``scan_datetime``.
    decayed_dose_bq : float or None
        The dose at the image's decay reference (scan start for START and NONE,
        injection for ADMIN).
    radionuclide : str
        Radionuclide code meaning or symbol, for display.

    Raises
    ------
    InputError
        If a factor is not positive and finite, the positions do not match
        the factors, or the weight is not positive.
    """

    pixel_to_suvbw: NDArray[np.float64]
    positions_mm: NDArray[np.float64]
    units: Units
    decay_correction: DecayCorrection
    weight_kg: float
    height_m: float | None
    sex: Sex
    injected_dose_bq: float | None
    half_life_s: float | None
    injection_datetime: datetime | None
    scan_datetime: datetime | None
    scan_time_rule: ScanTimeRule | None
    decayed_dose_bq: float | None
    radionuclide: str = ""

    def __post_init__(self) -> None:
        factors = np.asarray(self.pixel_to_suvbw, dtype=np.float64).reshape(-1)
        if factors.size == 0 or not np.all(np.isfinite(factors)) or np.any(factors <= 0):
            raise InputError(f"pixel_to_suvbw must be positive finite factors, got {factors}")
        positions = np.asarray(self.positions_mm, dtype=np.float64).reshape(-1, 3)
        if positions.shape[0] != factors.size:
            raise InputError(
                f"positions_mm has {positions.shape[0]} rows for {factors.size} slice factors"
            )
        if not (math.isfinite(self.weight_kg) and self.weight_kg > 0):
            raise InputError(f"weight_kg must be positive, got {self.weight_kg}")
        object.__setattr__(self, "pixel_to_suvbw", factors)
        object.__setattr__(self, "positions_mm", positions)

    @property
    def suvbw_scale_g_per_bq(self) -> float | None:
        """Factor turning Bq/ml (decay-corrected to the scan time) into SUVbw."""
        if self.decayed_dose_bq is None:
            return None
        return self.weight_kg * 1000.0 / self.decayed_dose_bq

    def sul_per_suvbw(self, formula: LbmFormula | str = LbmFormula.JANMAHASATIAN) -> float:
        """Ratio SUL / SUVbw = lean body mass / body weight."""
        lbm_kg = lean_body_mass_kg(self.weight_kg, self.height_m, self.sex, formula)
        return lbm_kg / self.weight_kg

    def sul_scale_g_per_bq(
        self, formula: LbmFormula | str = LbmFormula.JANMAHASATIAN
    ) -> float | None:
        """Factor turning Bq/ml into SUL (SUV normalised by lean body mass)."""
        scale = self.suvbw_scale_g_per_bq
        return None if scale is None else scale * self.sul_per_suvbw(formula)

    def suvbsa_per_suvbw(self) -> float:
        """Ratio SUVbsa [cm^2/ml] / SUVbw [g/ml] = BSA[cm^2] / weight[g]."""
        bsa_cm2 = body_surface_area_m2(self.weight_kg, self.height_m) * 1e4
        return bsa_cm2 / (self.weight_kg * 1000.0)

    def suvibw_per_suvbw(self) -> float:
        """Ratio SUVibw / SUVbw = ideal body weight / body weight."""
        return ideal_body_weight_kg(self.weight_kg, self.height_m, self.sex) / self.weight_kg

    def factors_for(self, volume: Volume) -> NDArray[np.float64]:
        """The per-slice factors in the slice order of ``volume``.

        Slices are matched by their position along the volume's slice normal.

        Returns
        -------
        ndarray, shape (nz,)
            One factor per volume slice.

        Raises
        ------
        DicomError
            If a volume slice has no header slice at its position.
        """
        nz = volume.spatial_shape[0]
        if np.all(self.pixel_to_suvbw == self.pixel_to_suvbw[0]):
            return np.full(nz, self.pixel_to_suvbw[0])
        normal = volume.direction[:, 2]
        header_positions = self.positions_mm @ normal
        slice_positions = (
            volume.index_to_lps(np.stack([np.arange(nz), np.zeros(nz), np.zeros(nz)], axis=1))
            @ normal
        )
        tolerance_mm = SLICE_MATCH_FRACTION * volume.spacing_mm[0]
        order = np.argsort(header_positions, kind="stable")
        sorted_positions = header_positions[order]
        if order.size == 1:
            nearest = np.zeros(nz, dtype=np.intp)
        else:
            right = np.clip(np.searchsorted(sorted_positions, slice_positions), 1, order.size - 1)
            left = right - 1
            pick_right = np.abs(sorted_positions[right] - slice_positions) < np.abs(
                sorted_positions[left] - slice_positions
            )
            nearest = np.where(pick_right, right, left)
        distance = np.abs(sorted_positions[nearest] - slice_positions)
        missing = np.flatnonzero(~(distance <= tolerance_mm))
        if missing.size:
            k = int(missing[0])
            raise DicomError(
                f"PET slice {k} at {slice_positions[k]:.2f} mm has no header slice within "
                f"{tolerance_mm:.2f} mm; cannot apply per-slice SUV factors"
            )
        return self.pixel_to_suvbw[order[nearest]]

    def suvbw(self, activity: Volume) -> Volume:
        """Apply the per-slice factors to a rescaled PET volume; returns SUVbw (float32)."""
        factors = self.factors_for(activity).astype(np.float32)[:, None, None]
        source = np.asarray(activity.array)
        array = np.multiply(source, factors, dtype=np.float32)
        return activity.with_array(array, unit="g/ml")


__all__ = ["DecayCorrection", "ScanTimeRule", "SuvConversion", "SuvType", "Units"]
