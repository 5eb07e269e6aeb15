"""Fixtures of the PET tests: the unpacked IBSI SUV DROs and the written phantoms."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from tumorboard.phantoms.pet_case import PetCase, build_pet_case, write_pet_case
from tumorboard.phantoms.pituitary_case import (
    PituitaryCase,
    build_pituitary_case,
    write_pituitary_case,
)


@pytest.fixture(scope="session")
def ibsi_dro_dir(tmp_path_factory: pytest.TempPathFactory, reference_dir: Path) -> Path:
    """The 17 IBSI SUV DROs unpacked to a temporary folder (``DRO/DRO_x_y``)."""
    target = tmp_path_factory.mktemp("ibsi_suv_dro")
    archive = reference_dir / "pet" / "ibsi_suv_dro" / "ibsi_suv_dro_DRO_0_0-5_0.tar.gz"
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return target / "DRO"


@pytest.fixture(scope="session")
def pet_case() -> PetCase:
    """The PET reference case in memory."""
    return build_pet_case()


@pytest.fixture(scope="session")
def pet_case_dir(tmp_path_factory: pytest.TempPathFactory, pet_case: PetCase) -> Path:
    """The PET reference case written as DICOM + NIfTI."""
    folder = tmp_path_factory.mktemp("pet_case")
    write_pet_case(pet_case, folder)
    return folder


@pytest.fixture(scope="session")
def pituitary_case() -> PituitaryCase:
    """The sellar-region MRI + methionine PET case in memory."""
    return build_pituitary_case()


@pytest.fixture(scope="session")
def pituitary_dir(tmp_path_factory: pytest.TempPathFactory, pituitary_case: PituitaryCase) -> Path:
    """The sellar-region case written as DICOM."""
    folder = tmp_path_factory.mktemp("pituitary")
    write_pituitary_case(pituitary_case, folder)
    return folder
