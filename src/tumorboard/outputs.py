"""Safe output locations: write to a temporary sibling, then move into place.

A command's outputs either all appear, or none do: :func:`output_directory`
yields a fresh temporary directory next to the destination; when the block
finishes without error it replaces the destination (only with ``force``),
otherwise it is removed and any existing destination is untouched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tumorboard.errors import InputError, OutputExistsError


def check_output_path(path: str | os.PathLike[str], force: bool) -> Path:
    """Fail early when ``path`` exists and ``force`` is false.

    Raises
    ------
    OutputExistsError
        If the destination exists and may not be replaced.
    """
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(f"output {path} exists; use --force to replace it")
    return path


@contextmanager
def output_directory(path: str | os.PathLike[str], force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``path`` when the block succeeds.

    Parameters
    ----------
    path : path-like
        Final output directory.
    force : bool
        Replace an existing ``path``; otherwise an existing one is an error,
        raised before any work is done.

    Yields
    ------
    Path
        The temporary directory to write into.
    """
    final = check_output_path(path, force)
    if final.exists() and not final.is_dir():
        raise InputError(f"output {final} exists and is not a directory")
    parent = final.parent if str(final.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _replace(staging, final)


@contextmanager
def output_file(path: str | os.PathLike[str], force: bool = False) -> Iterator[Path]:
    """Yield a temporary file path that is renamed to ``path`` when the block succeeds."""
    final = check_output_path(path, force)
    parent = final.parent if str(final.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{final.name}.partial-", dir=parent)
    os.close(handle)
    staging = Path(name)
    try:
        yield staging
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    _replace(staging, final)


def _default_mode(directory: bool) -> int:
    """Permissions a new file or directory would get under the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def _replace(staging: Path, final: Path) -> None:
    # mkdtemp/mkstemp create private (0700/0600) entries; give the result the
    # permissions any other new output would have.
    os.chmod(staging, _default_mode(staging.is_dir()))
    if not final.exists():
        os.replace(staging, final)
        return
    backup = final.with_name(f".{final.name}.old-{os.getpid()}")
    os.replace(final, backup)
    try:
        os.replace(staging, final)
    except BaseException:
        os.replace(backup, final)
        raise
    shutil.rmtree(backup, ignore_errors=True) if backup.is_dir() else backup.unlink()
