"""Commands that only read the record do not load the image readers.

``tumorboard run`` with nothing new must answer within a second (a speed
contract measured in ``benchmarks/bench_record.py``); half of that second was
importing pydicom and the imaging package for nothing. This checks the cause,
not the clock: the modules a command loads.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tumorboard.cli.main import main

_HEAVY = ("pydicom", "SimpleITK", "nibabel", "scipy", "matplotlib", "highdicom")


def _loaded_after(argv: list[str]) -> list[str]:
    code = (
        "import sys; from tumorboard.cli.main import main\n"
        f"code = main({argv!r})\n"
        f"print([m for m in {_HEAVY!r} if m in sys.modules], code)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [out.stdout.strip().splitlines()[-1]]


def test_run_with_nothing_new_loads_no_image_reader(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    assert main(["init", str(workspace)]) == 0
    assert _loaded_after(["run", "--workspace", str(workspace), "--json"]) == ["[] 0"]


def test_the_imaging_package_loads_its_readers_on_first_use() -> None:
    code = (
        "import sys, tumorboard.imaging as imaging\n"
        "before = 'pydicom' in sys.modules\n"
        "reader = imaging.scan_dicom_folder\n"
        "listed = 'scan_dicom_folder' in dir(imaging)\n"
        "print(before, 'pydicom' in sys.modules, reader.__module__, listed)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "tumorboard.imaging.dicom_scan", "True"]
