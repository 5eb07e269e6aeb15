"""Write the embedded reference patient to disk, and cache it.

Layout of the patient folder (``PHANTOM_VERSION`` in ``manifest.json``)::

    manifest.json
    anatomy/organs.nii.gz            organ labels, as an organ segmenter would give
    anatomy/organ_labels.json        label value -> name
    wbdwi/exam1/dicom/...            4 stations x 3 b-values, one series each
    wbdwi/exam1/truth/truth.json     volumes, ADC statistics, class volumes
    wbdwi/exam1/truth/lesion_labels.nii.gz
    ...
    pet/...                          68Ga-DOTATATE and FDG PET timepoints (vendor header styles)
    pituitary/...                    sellar MRI + 11C-methionine PET, known misalignment
    dce/baseline, dce/followup       liver DCE before and two months after PRRT

Everything is written through the project's own writers
(:func:`~tumorboard.imaging.dicom_write.write_dicom_series`,
:func:`~tumorboard.imaging.nifti.write_nifti`), so the demo exercises the
same code a user's data goes through. Other modalities add their own
sub-folders through :data:`EXTRA_BUILDERS`.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np

from tumorboard import __version__
from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.diffusion_dicom import Vendor, diffusion_b_value_elements
from tumorboard.imaging.nifti import write_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.outputs import output_directory
from tumorboard.phantoms import wbdwi_case
from tumorboard.phantoms.patients import BREAST_PATIENT
from tumorboard.phantoms.torso import reference_anatomy

#: Bump when the phantom's content changes, so caches are rebuilt.
PHANTOM_VERSION = "5"
STATIONS = 4
STATION_SLICES = 44
STATION_OVERLAP_SLICES = 4

_MANUFACTURERS = {
    "standard": "SIEMENS",
    "siemens": "SIEMENS",
    "ge": "GE MEDICAL SYSTEMS",
    "philips": "Philips Medical Systems",
}
#: Synthetic identity; real identities never appear in logs, messages or exports.
_PATIENT = {
    "patient_name": "TUMORBOARD^REFERENCE",
    "patient_id": BREAST_PATIENT.patient_id,
    "patient_birth_date": "19640312",
    "patient_sex": "F",
    "patient_weight_kg": 68.0,
    "patient_size_m": 1.66,
}

#: Optional builders of other modalities: (module, function) called as
#: ``function(root: Path) -> None`` after the WB-DWI exams are written.
EXTRA_BUILDERS: tuple[tuple[str, str], ...] = (
    ("tumorboard.phantoms.pet_case", "write_into_reference_patient"),
    ("tumorboard.phantoms.pituitary_case", "write_into_reference_patient"),
    ("tumorboard.phantoms.liver_dce", "write_into_reference_patient"),
)


def default_cache_dir() -> Path:
    """``$TUMORBOARD_CACHE`` or ``$XDG_CACHE_HOME/tumorboard`` (``~/.cache/tumorboard``)."""
    if os.environ.get("TUMORBOARD_CACHE"):
        return Path(os.environ["TUMORBOARD_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tumorboard"


def ensure_reference_patient(cache_dir: Path | None = None, *, rebuild: bool = False) -> Path:
    """Return the folder of the reference patient, building it when missing.

    The folder is built in a temporary sibling and moved into place, so an
    interrupted build never leaves a half-written cache.

    Parameters
    ----------
    cache_dir : Path, optional
        Cache root (default :func:`default_cache_dir`).
    rebuild : bool
        Build again even when a current copy exists.
    """
    root = (cache_dir or default_cache_dir()) / f"reference-patient-v{PHANTOM_VERSION}"
    manifest = root / "manifest.json"
    if manifest.is_file() and not rebuild:
        try:
            if json.loads(manifest.read_text())["phantom_version"] == PHANTOM_VERSION:
                return root
        except (ValueError, KeyError):
            pass
    with output_directory(root, force=True) as staging:
        build_reference_patient(staging)
    return root


def build_reference_patient(root: Path) -> dict[str, Any]:
    """Write every modality of the reference patient into ``root``; return the manifest."""
    anatomy = reference_anatomy()
    (root / "anatomy").mkdir(parents=True, exist_ok=True)
    write_nifti(anatomy.labels, root / "anatomy" / "organs.nii.gz", dtype=np.uint8)
    _write_json(root / "anatomy" / "organ_labels.json", anatomy.label_names)
    exams = [write_wbdwi_exam(root / "wbdwi" / f"exam{exam}", exam) for exam in range(1, 7)]
    for module_name, function_name in EXTRA_BUILDERS:
        builder: Callable[[Path], object] = getattr(
            importlib.import_module(module_name), function_name
        )
        builder(root)
    manifest = {
        "phantom_version": PHANTOM_VERSION,
        "tumorboard_version": __version__,
        "wbdwi_exams": exams,
    }
    _write_json(root / "manifest.json", manifest)
    return manifest


def station_ranges(total_slices: int) -> list[tuple[int, int]]:
    """Slice ranges ``[start, stop)`` of the overlapping whole-body stations."""
    step = STATION_SLICES - STATION_OVERLAP_SLICES
    ranges = [(s * step, min(s * step + STATION_SLICES, total_slices)) for s in range(STATIONS)]
    if ranges[-1][1] != total_slices:
        raise ValueError(f"{STATIONS} stations do not cover {total_slices} slices")
    return ranges


def write_wbdwi_exam(folder: Path, exam: int) -> dict[str, Any]:
    """Write one WB-DWI exam as multi-station DICOM plus its truth; return its entry."""
    simulated = wbdwi_case.build_exam(exam)
    vendor = cast(Vendor, wbdwi_case.EXAM_VENDORS[exam - 1])
    date = simulated.date.strftime("%Y%m%d")
    study = {
        **_PATIENT,
        "study_date": date,
        "study_time": "091500",
        "series_date": date,
        "study_description": "WB-DWI tumour load",
        "study_id": f"WBDWI{exam}",
        "accession_number": f"TBACC{exam:04d}",
        "manufacturer": _MANUFACTURERS[vendor],
    }
    dicom_dir = folder / "dicom"
    grid = simulated.images[wbdwi_case.B_VALUES_S_PER_MM2[0]]
    _write_localiser(grid, dicom_dir / "localiser", study, exam)
    for station, (start, stop) in enumerate(station_ranges(grid.spatial_shape[0]), start=1):
        for b_index, b_value in enumerate(wbdwi_case.B_VALUES_S_PER_MM2, start=1):
            image = simulated.images[b_value]
            station_volume = image.slab(start, stop)
            write_dicom_series(
                station_volume,
                dicom_dir / f"station{station}",
                modality="MR",
                series_description=f"WB-DWI station {station} b{b_value:g}",
                series_number=10 * station + b_index,
                study=study,
                extra=[
                    *_dicom_elements(_acquisition(vendor, b_value)),
                    *diffusion_b_value_elements(b_value, vendor),
                ],
                file_prefix=f"b{b_value:g}_",
                seed=f"tumorboard-reference-wbdwi-{exam}",
                slice_thickness_mm=grid.spacing_mm[0],
            )
        if vendor == "siemens":
            _write_scanner_adc(
                simulated, start, stop, dicom_dir / f"station{station}", study, station, exam
            )
    truth_dir = folder / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    write_nifti(simulated.lesion_labels, truth_dir / "lesion_labels.nii.gz", dtype=np.uint8)
    write_nifti(
        simulated.adc_truth_um2_per_s, truth_dir / "adc_truth_um2_per_s.nii.gz", dtype=np.float32
    )
    truth = wbdwi_case.exam_truth(exam)
    _write_json(truth_dir / "truth.json", truth)
    return {"exam": exam, "date": truth["date"], "line": truth["line"], "path": f"wbdwi/exam{exam}"}


def _acquisition(vendor: str, b_value: float) -> dict[str, Any]:
    """Typical 1.5 T STIR-EPI whole-body DWI acquisition attributes."""
    attributes: dict[str, Any] = {
        "ScanningSequence": ["EP", "IR"],
        "SequenceVariant": ["SK", "SP"],
        "MRAcquisitionType": "2D",
        "RepetitionTime": 6500.0,
        "EchoTime": 69.0,
        "InversionTime": 180.0,
        "NumberOfAverages": 4.0,
        "MagneticFieldStrength": 1.5,
        "ImagingFrequency": 63.68,
        "EchoTrainLength": 64,
        "PercentPhaseFieldOfView": 66.67,
        "ProtocolName": "WB-DWI STIR b50-600-900",
        "PatientPosition": "HFS",
        "BodyPartExamined": "WHOLEBODY",
    }
    if vendor in ("siemens", "standard"):
        attributes["ImageType"] = ["DERIVED", "PRIMARY", "DIFFUSION", "TRACEW"]
        attributes["SequenceName"] = f"*ep_b{b_value:g}t"
    return attributes


def _dicom_elements(attributes: dict[str, Any]) -> list[Any]:
    from pydicom.dataset import Dataset

    dataset = Dataset()
    for keyword, value in attributes.items():
        setattr(dataset, keyword, value)
    return list(dataset)


def _write_localiser(grid: Volume, folder: Path, study: dict[str, Any], exam: int) -> None:
    """A one-slice coronal localiser (no b-value: the reader must skip it)."""
    middle_row = grid.spatial_shape[1] // 2
    coronal = grid.array[:, middle_row, :][None, ::-1, :].astype(np.float32)
    top = grid.index_to_lps(np.array([grid.spatial_shape[0] - 1, middle_row, 0]))
    localiser = Volume(
        array=coronal,
        spacing_mm=(grid.spacing_mm[1], grid.spacing_mm[0], grid.spacing_mm[2]),
        origin_mm=(float(top[0]), float(top[1]), float(top[2])),
        direction=np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]),
    )
    write_dicom_series(
        localiser,
        folder,
        modality="MR",
        series_description="localiser coronal",
        series_number=1,
        study=study,
        seed=f"tumorboard-reference-localiser-{exam}",
    )


def _write_scanner_adc(
    simulated: wbdwi_case.WbdwiExam,
    start: int,
    stop: int,
    folder: Path,
    study: dict[str, Any],
    station: int,
    exam: int,
) -> None:
    """The scanner's own ADC map of a station (derived: the reader must skip it)."""
    adc = simulated.adc_truth_um2_per_s.slab(start, stop)
    write_dicom_series(
        adc,
        folder,
        modality="MR",
        series_description=f"WB-DWI station {station} ADC",
        series_number=10 * station + 9,
        study=study,
        file_prefix="adc_",
        extra=_dicom_elements({"ImageType": ["DERIVED", "PRIMARY", "DIFFUSION", "ADC"]}),
        seed=f"tumorboard-reference-wbdwi-adc-{exam}",
    )


def _write_json(path: Path, payload: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2)
        handle.write("\n")
