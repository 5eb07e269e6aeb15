"""The ``pet_registration`` analysis of ``tumorboard run``: a PET on its CT or MR, once.

A PET is read fused on the CT or MR of its study (a PET/CT) or of another
study of the same exam (a PET/MR read from two studies). ``tumorboard run``
plans one ``pet_registration`` per PET series that has such a series
(:mod:`tumorboard.workflow.analysis_runs` chooses it) and
:func:`compute_pet_registration` computes it:

* when the two series share their frame of reference, the anatomy is already
  in the PET's frame: nothing is registered (identity matrix);
* otherwise the PET (SUVbw) is registered rigidly to the anatomy with the
  pipeline of ``tumorboard pet register``
  (:func:`tumorboard.pipeline.pet_register.register_images`, the anatomy
  fixed), and the anatomy's header is moved into the PET's frame.

The analysis stores ``transform.json`` (the 4x4 LPS matrix that maps anatomy
points to PET points) and ``anatomy.nii.gz`` (the anatomy's own voxels, float32,
with the header in the PET's frame). The reading room serves those objects;
no registration runs in a request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "PET_REGISTRATION_KIND",
    "PET_REGISTRATION_SETTINGS",
    "TRANSFORM_CONVENTION",
    "compute_pet_registration",
    "moved_into_pet_frame",
]

#: The analysis kind.
PET_REGISTRATION_KIND = "pet_registration"
#: Settings of the analysis (part of its identity).
PET_REGISTRATION_SETTINGS: dict[str, Any] = {
    "registration": "tumorboard.pet.registration.register_rigid",
    "fixed": "anatomy (CT or MR)",
    "moving": "PET SUVbw",
}
#: What the stored matrix maps (the convention of ``tumorboard pet register``).
TRANSFORM_CONVENTION = "maps anatomy (CT or MR) LPS mm points to PET LPS mm points"


def moved_into_pet_frame(anatomy: Any, matrix: Any) -> Any:
    """The anatomy with its header moved by the anatomy-to-PET matrix (voxels unchanged).

    Parameters
    ----------
    anatomy : Volume
    matrix : array_like, shape (4, 4)
        Maps anatomy LPS points to PET LPS points (rigid).

    Returns
    -------
    Volume

    Examples
    --------
    >>> from tumorboard.imaging.volume import Volume
    >>> grid = Volume(np.zeros((2, 2, 2), np.float32), (1.0, 1.0, 1.0), (10.0, 0.0, 0.0))
    >>> shift = np.eye(4); shift[:3, 3] = (1.0, 2.0, 3.0)
    >>> [float(v) for v in moved_into_pet_frame(grid, shift).origin_mm]
    [11.0, 2.0, 3.0]
    """
    from tumorboard.imaging.volume import Volume

    found = np.asarray(matrix, dtype=np.float64)
    rotation, shift = found[:3, :3], found[:3, 3]
    x, y, z = (float(v) for v in rotation @ np.asarray(anatomy.origin_mm) + shift)
    return Volume(
        anatomy.array,
        anatomy.spacing_mm,
        (x, y, z),
        rotation @ np.asarray(anatomy.direction),
        anatomy.unit,
    )


def compute_pet_registration(
    pet_folder: Path,
    anatomy_folder: Path,
    work: Path,
    *,
    modality: str,
    same_frame: bool,
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Register a PET series to its CT or MR series and write what the record keeps.

    Parameters
    ----------
    pet_folder : Path
        The PET series (DICOM; converted to SUVbw for the registration).
    anatomy_folder : Path
        The CT or MR series (DICOM).
    work : Path
        A scratch folder for the written files.
    modality : str
        ``CT`` or ``MR``.
    same_frame : bool
        Whether both series have the same frame of reference (then nothing is
        registered).

    Returns
    -------
    (dict, dict of str to Path)
        The result (``registered``, ``anatomy_to_pet`` and the registration's
        metric) and the files ``transform.json`` and ``anatomy.nii.gz``.

    Raises
    ------
    InputError
        If a series cannot be read or is not 3-D.
    """
    from tumorboard.imaging.dicom_volume import read_series_volume
    from tumorboard.imaging.nifti import write_nifti
    from tumorboard.json_output import write_json

    transform: dict[str, Any] = {"convention": TRANSFORM_CONVENTION}
    if same_frame:
        anatomy = read_series_volume(anatomy_folder, what=f"{modality} series")
        matrix = np.eye(4)
        transform["method"] = "none: the PET and the anatomy share their frame of reference"
    else:
        from tumorboard.pipeline.pet_register import register_images

        registration = register_images(pet_folder, anatomy_folder)
        result = registration.result
        matrix = np.asarray(result.transform.matrix, dtype=np.float64)
        anatomy = moved_into_pet_frame(registration.fixed, matrix)
        transform.update(
            method=PET_REGISTRATION_SETTINGS["registration"],
            metric_mattes_mi=float(f"{result.metric_value:.6g}"),
            iterations_last_level=int(result.iterations),
            stop_condition=str(result.stop_condition),
            moving_unit=registration.moving_unit or "stored values",
        )
    transform["matrix"] = [[float(f"{v:.10g}") for v in row] for row in matrix]
    work.mkdir(parents=True, exist_ok=True)
    write_json(work / "transform.json", transform)
    files = {
        "transform.json": work / "transform.json",
        "anatomy.nii.gz": write_nifti(anatomy, work / "anatomy.nii.gz", dtype=np.float32),
    }
    summary = {
        "modality": modality,
        "registered": not same_frame,
        "anatomy_to_pet": transform["matrix"],
        "transform": transform,
    }
    return summary, files
