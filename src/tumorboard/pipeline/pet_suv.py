"""``tumorboard pet suv`` as a library call: PET DICOM to SUVbw, SUL and measurements.

:func:`compute_pet_suv` reads one PET DICOM series (vendor-neutral SUV rules of
:mod:`tumorboard.pet.series_io`), the optional masks on its grid, and measures
the PERCIST liver and blood-pool references, the spleen and every lesion;
:func:`write_pet_suv` writes ``suvbw.nii.gz``, ``sul.nii.gz`` (when the lean
body mass is known) and ``summary.json``. The command line
(:mod:`tumorboard.cli.pet`) only parses its options into a
:class:`PetSuvRequest`. Errors name the option and file they came from.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tumorboard.errors import EmptyResultError, InputError
from tumorboard.imaging.nifti import read_nifti, write_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.json_output import write_json
from tumorboard.outputs import output_directory
from tumorboard.pet.body_size import LbmFormula
from tumorboard.pet.lesion_table import lesion_records
from tumorboard.pet.liver_reference import (
    ReferenceKind,
    ReferenceRegion,
    blood_pool_reference,
    liver_reference,
    organ_reference,
)
from tumorboard.pet.series_io import PetSeries, read_pet_series


@dataclass(frozen=True)
class PetSuvRequest:
    """What ``tumorboard pet suv`` was asked to do.

    Attributes
    ----------
    series_dir : Path
        Folder holding one PET DICOM series.
    lesions, liver, spleen : Path, optional
        NIfTI label map / masks on the PET grid.
    liver_center_lps, blood_pool_center_lps : sequence of 3 float, optional
        Centres (LPS mm) of the 3 cm liver sphere and the blood-pool cylinder.
    sul_formula : str
        Lean-body-mass formula for SUL.
    weight_kg : float, optional
        Patient weight when the header has none.
    """

    series_dir: Path
    lesions: Path | None = None
    liver: Path | None = None
    liver_center_lps: Sequence[float] | None = None
    blood_pool_center_lps: Sequence[float] | None = None
    spleen: Path | None = None
    sul_formula: str = LbmFormula.JANMAHASATIAN.value
    weight_kg: float | None = None

    def __post_init__(self) -> None:
        if self.weight_kg is not None and not 0 < self.weight_kg < 500:
            raise InputError(f"--weight-kg must be between 0 and 500, got {self.weight_kg}")

    @property
    def inputs(self) -> list[Path | None]:
        """Every input path (the output may not be one of them)."""
        return [self.series_dir, self.lesions, self.liver, self.spleen]


@dataclass(frozen=True, eq=False)
class PetSuvResult:
    """The images and the ``summary.json`` content of one ``pet suv`` run.

    Attributes
    ----------
    suvbw : Volume
        SUVbw image.
    sul : Volume or None
        SUL image (None when height or sex is unknown).
    summary : dict
        The JSON-ready summary.
    """

    suvbw: Volume
    sul: Volume | None
    summary: dict[str, Any]


def _read_mask(path: Path, what: str, grid: Volume) -> Volume:
    volume = read_nifti(path, what=what)
    grid.require_same_geometry(volume, f"{what} {path}", "the PET series")
    return volume


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.8g}")


@contextmanager
def _naming(option: str, path: Path | None) -> Iterator[None]:
    """Prefix a bad-input error raised inside with the option and file it came from."""
    try:
        yield
    except (InputError, EmptyResultError) as exc:
        if path is None:
            raise
        kind = EmptyResultError if isinstance(exc, EmptyResultError) else InputError
        raise kind(f"{option} {path}: {exc}") from None


def _reference_json(region: ReferenceRegion, sul_ratio: float | None, what: str) -> dict[str, Any]:
    """The PERCIST reference block of ``summary.json`` (SUL mean and SD, threshold)."""
    if sul_ratio is None:
        raise InputError(
            f"the {what} is reported in SUL, which needs the patient height (PatientSize) and sex"
        )
    return {
        "sul_mean": _round(region.mean * sul_ratio),
        "sul_sd": _round(region.sd * sul_ratio),
        "suvbw_mean": _round(region.mean),
        "center_lps_mm": [round(v, 2) for v in region.center_lps],
        "n_voxels": region.n_voxels,
        "percist_threshold_sul": _round(region.percist_threshold * sul_ratio),
    }


def compute_pet_suv(
    request: PetSuvRequest,
    *,
    series: PetSeries | None = None,
    lesion_labels: Volume | None = None,
) -> PetSuvResult:
    """Convert the series to SUVbw and measure the requested references and lesions.

    Parameters
    ----------
    request : PetSuvRequest
    series : PetSeries, optional
        ``request.series_dir`` already read by the caller with
        ``read_pet_series(request.series_dir, weight_kg=request.weight_kg)``
        (e.g. to place a SEG on its grid), so that it is not read twice.
    lesion_labels : Volume, optional
        A lesion label map on the PET grid already in memory (instead of
        ``request.lesions``; giving both is refused).

    Returns
    -------
    PetSuvResult

    Raises
    ------
    InputError
        For a bad series, mask or option, naming it.
    """
    if lesion_labels is not None and request.lesions is not None:
        raise InputError("give the lesion labels once: as a file (--lesions) or in memory")
    if series is None:
        series = read_pet_series(request.series_dir, weight_kg=request.weight_kg)
    conversion = series.conversion
    suvbw = series.suvbw
    warnings: list[str] = []
    try:
        sul_ratio: float | None = conversion.sul_per_suvbw(request.sul_formula)
    except InputError as exc:
        sul_ratio = None
        warnings.append(f"SUL not available: {exc}")
    lesions = _read_mask(request.lesions, "lesion labels", suvbw) if request.lesions else None
    if lesion_labels is not None:
        suvbw.require_same_geometry(lesion_labels, "lesion labels", "the PET series")
        lesions = lesion_labels
    liver_mask = _read_mask(request.liver, "liver mask", suvbw) if request.liver else None
    spleen_mask = _read_mask(request.spleen, "spleen mask", suvbw) if request.spleen else None

    summary: dict[str, Any] = {
        "series": series.label,
        "units": conversion.units.value,
        "decay_correction": conversion.decay_correction.value,
        "suvbw_scale_g_per_bq": _round(conversion.suvbw_scale_g_per_bq),
        "sul_scale_g_per_bq": _round(
            None
            if sul_ratio is None or conversion.suvbw_scale_g_per_bq is None
            else conversion.suvbw_scale_g_per_bq * sul_ratio
        ),
        "sul_formula": LbmFormula.parse(request.sul_formula).value,
        "sul_per_suvbw": _round(sul_ratio),
        "decayed_dose_bq": _round(conversion.decayed_dose_bq),
        "injected_dose_bq": _round(conversion.injected_dose_bq),
        "scan_datetime": (
            conversion.scan_datetime.isoformat() if conversion.scan_datetime else None
        ),
        "scan_time_rule": conversion.scan_time_rule.value if conversion.scan_time_rule else None,
        "injection_datetime": (
            conversion.injection_datetime.isoformat() if conversion.injection_datetime else None
        ),
        "radionuclide_half_life_s": _round(conversion.half_life_s),
        "radionuclide": conversion.radionuclide,
        "weight_kg": conversion.weight_kg,
        "pixel_to_suvbw_range": [
            _round(float(conversion.pixel_to_suvbw.min())),
            _round(float(conversion.pixel_to_suvbw.max())),
        ],
        "suvbw_max": _round(float(suvbw.array.max())),
    }
    scale = conversion.suvbw_scale_g_per_bq
    try:
        summary["suvbsa_scale_cm2_per_bq"] = _round(
            None if scale is None else scale * conversion.suvbsa_per_suvbw()
        )
        summary["suvibw_scale_g_per_bq"] = _round(
            None if scale is None else scale * conversion.suvibw_per_suvbw()
        )
    except InputError as exc:
        warnings.append(f"SUVbsa/SUVibw not available: {exc}")
    liver_suvbw = spleen_suvbw = None
    if liver_mask is not None or request.liver_center_lps is not None:
        with _naming("--liver", request.liver):
            liver_suvbw = liver_reference(
                suvbw,
                liver_mask=liver_mask,
                center_lps=request.liver_center_lps,
                what="--liver-center",
            )
        summary["liver"] = _reference_json(liver_suvbw, sul_ratio, "liver reference")
    if request.blood_pool_center_lps is not None:
        blood_suvbw = blood_pool_reference(
            suvbw, request.blood_pool_center_lps, what="--blood-pool-center"
        )
        summary["blood_pool"] = _reference_json(blood_suvbw, sul_ratio, "blood-pool reference")
    if spleen_mask is not None:
        with _naming("--spleen", request.spleen):
            spleen_suvbw = organ_reference(suvbw, spleen_mask, ReferenceKind.SPLEEN)
        summary["spleen"] = {
            "suvbw_mean": _round(spleen_suvbw.mean),
            "suvbw_max": _round(spleen_suvbw.max),
        }
    if lesions is not None:
        with _naming("--lesions", request.lesions):
            records = lesion_records(
                suvbw,
                lesions,
                sul_per_suvbw=sul_ratio,
                liver_suvbw=liver_suvbw,
                spleen_suvbw=spleen_suvbw,
            )
        rows = []
        for record in records:
            row = record.to_json()
            if record.krenning is None:
                row.pop("krenning")
                row.pop("small_lesion_caution")
                if record.tumour_to_liver is None:
                    row.pop("tumour_to_liver")
            rows.append(row)
        summary["lesions"] = rows
    if warnings:
        summary["warnings"] = warnings
    sul = series.sul(request.sul_formula) if sul_ratio is not None else None
    return PetSuvResult(suvbw=suvbw, sul=sul, summary=summary)


def write_pet_suv(
    result: PetSuvResult, out: Path, force: bool, *, inputs: Sequence[Path | None] = ()
) -> None:
    """Write ``suvbw.nii.gz``, ``sul.nii.gz`` (when known) and ``summary.json`` into ``out``.

    The folder is written aside and moved into place only when complete.
    """
    with output_directory(out, force, inputs=inputs) as staging:
        write_nifti(result.suvbw, staging / "suvbw.nii.gz", dtype="float32")
        if result.sul is not None:  # SUL map (lean body mass known), as PERCIST reads
            write_nifti(result.sul, staging / "sul.nii.gz", dtype="float32")
        write_json(staging / "summary.json", result.summary)


__all__ = ["PetSuvRequest", "PetSuvResult", "compute_pet_suv", "write_pet_suv"]
