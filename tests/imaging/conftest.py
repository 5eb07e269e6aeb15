"""Fixtures shared by the DICOM reader/writer tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dicom_helpers import STUDY

from tumorboard.imaging.dicom_write import write_dicom_series
from tumorboard.imaging.volume import Volume


@pytest.fixture
def write_series(tmp_path: Path) -> Callable[..., list[Path]]:
    """Write a volume as an MR series below tmp_path/<name> (defaults filled in)."""

    def write(volume: Volume, name: str = "series", **kwargs: Any) -> list[Path]:
        options: dict[str, Any] = {
            "modality": "MR",
            "series_description": f"test {name}",
            "series_number": 1,
            "study": STUDY,
        }
        options.update(kwargs)
        return write_dicom_series(volume, tmp_path / name, **options)

    return write
