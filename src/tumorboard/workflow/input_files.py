"""The files an import reads: folders walked, zip archives unpacked, DICOMDIR followed.

Only regular files are offered (a FIFO, socket or device, also behind a
symbolic link, is listed as skipped, never opened). Zip archives are unpacked
member by member into a private temporary folder, refusing members whose
names leave that folder and archives whose unpacked size exceeds
:data:`MAX_UNPACKED_BYTES` (counted while unpacking, not from the archive's
own claims, so a zip bomb stops at the limit). A DICOMDIR is the index of a
removable medium: the files of its folder are imported and the DICOMDIR file
itself is listed as skipped.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from tumorboard.errors import InputError
from tumorboard.worker_pool import process_alive

__all__ = [
    "MAX_UNPACKED_BYTES",
    "InputFile",
    "SkippedFile",
    "gather_input_files",
    "remove_stale_unpacked",
]

#: Largest total size unpacked from the zip archives of one import (64 GiB).
MAX_UNPACKED_BYTES = 64 * 2**30

_COPY_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class InputFile:
    """A regular file to import: where it is now and how to name it to the user."""

    path: Path
    shown_as: str


@dataclass(frozen=True)
class SkippedFile:
    """A file that is not imported, and why."""

    shown_as: str
    reason: str


def gather_input_files(
    paths: list[Path], scratch: ExitStack, scratch_parent: Path
) -> tuple[list[InputFile], list[SkippedFile]]:
    """List the regular files under ``paths`` (zip archives unpacked).

    Parameters
    ----------
    paths : list of Path
        Folders, files, zip archives or DICOMDIR files.
    scratch : ExitStack
        Removes the unpacked archives when the import ends.
    scratch_parent : Path
        Where archives are unpacked (inside the workspace, so on its disk).

    Returns
    -------
    files, skipped : lists
        Files to read, and the ones that are not regular files.

    Raises
    ------
    InputError
        If a path does not exist, or an archive is corrupt, unsafe or too large.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.dcm").write_bytes(b"x")
    >>> os.mkfifo(folder / "pipe")
    >>> with ExitStack() as stack:
    ...     files, skipped = gather_input_files([folder], stack, folder)
    >>> [f.shown_as for f in files], [(s.shown_as, s.reason) for s in skipped]
    (['a.dcm'], [('pipe', 'not a regular file')])
    """
    files: list[InputFile] = []
    skipped: list[SkippedFile] = []
    for given in paths:
        if not given.exists() and not given.is_symlink():
            raise InputError(f"import: {given} does not exist")
        if given.is_dir():
            _walk(given, files, skipped)
        elif given.name.upper() == "DICOMDIR":
            skipped.append(SkippedFile(given.name, "DICOMDIR index (its folder is imported)"))
            _walk(given.parent, files, skipped, skip_dicomdir=True)
        elif _is_regular(given) and zipfile.is_zipfile(given):
            target = Path(scratch.enter_context(_temporary_folder(scratch_parent)))
            _unpack(given, target)
            _walk(target, files, skipped, prefix=f"{given.name}:")
        elif _is_regular(given):
            files.append(InputFile(given, given.name))
        else:
            skipped.append(SkippedFile(given.name, "not a regular file"))
    return files, skipped


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _walk(
    root: Path,
    files: list[InputFile],
    skipped: list[SkippedFile],
    skip_dicomdir: bool = False,
    prefix: str = "",
) -> None:
    for folder, subfolders, names in os.walk(root):
        subfolders.sort()
        for name in sorted(names):
            path = Path(folder) / name
            shown = prefix + str(path.relative_to(root))
            if skip_dicomdir and name.upper() == "DICOMDIR":
                continue
            if name.upper() == "DICOMDIR":
                skipped.append(SkippedFile(shown, "DICOMDIR index (its folder is imported)"))
            elif _is_regular(path):
                files.append(InputFile(path, shown))
            else:
                skipped.append(SkippedFile(shown, "not a regular file"))


def remove_stale_unpacked(parent: Path) -> None:
    """Remove archive folders left by killed imports (``.unpack-PID-…`` of dead PIDs)."""
    if not parent.is_dir():
        return
    for leftover in parent.glob(".unpack-*"):
        pid = leftover.name.split("-")[1]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(leftover, ignore_errors=True)


class _temporary_folder:
    """A private folder that is removed with everything in it."""

    def __init__(self, parent: Path) -> None:
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = Path(os.path.realpath(parent)) / f".unpack-{os.getpid()}-{id(self):x}"

    def __enter__(self) -> Path:
        self.path.mkdir(mode=0o700)
        return self.path

    def __exit__(self, *_: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _unpack(archive: Path, target: Path) -> None:
    unpacked = 0
    try:
        with zipfile.ZipFile(archive) as opened:
            for member in opened.infolist():
                if member.is_dir():
                    continue
                destination = (target / member.filename).resolve()
                if not destination.is_relative_to(target):
                    raise InputError(
                        f"zip archive {archive}: member {member.filename!r} leaves the archive's "
                        "folder (unsafe name)"
                    )
                destination.parent.mkdir(parents=True, exist_ok=True)
                with opened.open(member) as source, open(destination, "wb") as sink:
                    while chunk := source.read(_COPY_CHUNK_BYTES):
                        unpacked += len(chunk)
                        if unpacked > MAX_UNPACKED_BYTES:
                            raise InputError(
                                f"zip archive {archive}: unpacks to more than "
                                f"{MAX_UNPACKED_BYTES} bytes (limit of one import)"
                            )
                        sink.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError) as exc:
        raise InputError(f"zip archive {archive}: cannot be read ({exc})") from None
