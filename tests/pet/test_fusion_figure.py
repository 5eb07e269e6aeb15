"""The fused PET/MR picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tumorboard.errors import GeometryError, InputError
from tumorboard.imaging.volume import Volume
from tumorboard.report.fusion_figure import fused_figure


def test_writes_png(tmp_path: Path) -> None:
    mri = Volume(np.random.default_rng(1).random((20, 30, 40)).astype(np.float32), (2, 1, 1))
    pet = mri.with_array(np.zeros((20, 30, 40), np.float32))
    pet.array[10, 15, 20] = 5.0
    path = fused_figure(mri, pet, tmp_path / "f.png", pet_unit="SUVbw")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(GeometryError):
        fused_figure(mri, Volume(np.zeros((2, 2, 2)), (1, 1, 1)), tmp_path / "g.png")
    with pytest.raises(InputError, match="outside the MRI"):
        fused_figure(mri, pet, tmp_path / "h.png", center_lps=(1000.0, 0.0, 0.0))
