import os
import stat

import pytest

from tumorboard.errors import OutputExistsError
from tumorboard.outputs import output_directory, output_file


def test_directory_appears_only_on_success(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with output_directory(target) as staging:
            (staging / "half.txt").write_text("x")
            raise RuntimeError("analysis failed")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    with output_directory(target) as staging:
        (staging / "done.txt").write_text("y")
    assert (target / "done.txt").read_text() == "y"


def test_existing_output_needs_force_and_survives_a_failed_force(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(OutputExistsError, match="--force"):
        with output_directory(target):
            pass
    with pytest.raises(ValueError):
        with output_directory(target, force=True):
            raise ValueError("bad input")
    assert (target / "old.txt").read_text() == "old"
    with output_directory(target, force=True) as staging:
        (staging / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_outputs_get_ordinary_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with output_directory(tmp_path / "d") as staging:
            (staging / "a.txt").write_text("a")
        with output_file(tmp_path / "f.csv") as staging_file:
            staging_file.write_text("b")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "f.csv").stat().st_mode) == 0o644
