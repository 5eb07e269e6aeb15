"""Safe output locations: every command writes through this layer.

A command's outputs either all appear, or none do, and nothing the user had
is lost:

* :func:`check_output_path` refuses, before any work, an output that exists
  without ``force``; that would replace a folder by a file or the reverse;
  that is, contains or is inside one of the command's inputs; that is (or
  contains) the working folder, ``/``, a dangling symbolic link, or lies
  under a file or in a folder that cannot be written.
* :func:`output_directory` / :func:`output_file` yield a temporary sibling
  ``.NAME.partial-PID-HOST-XXXXXXXX`` of the destination. When the block
  succeeds the sibling is *claimed* under a lock on the destination: the
  existence check is repeated, a new output is moved into place with
  ``renameat2(RENAME_NOREPLACE)`` (so a second run without ``force`` fails
  with :class:`~tumorboard.errors.OutputExistsError` instead of replacing
  the first one's result) and, with ``force``, an old output is swapped with
  the new one by ``renameat2(RENAME_EXCHANGE)``, so that the destination
  always holds either the old or the new output, then the old one is
  removed. Where ``renameat2`` is missing the old output is first renamed to
  ``.NAME.old-PID-HOST-XXXXXXXX``; a run killed between the two renames
  leaves it there and the next run for the same destination puts it back.
* Leftovers of killed runs (``.NAME.partial-*``, ``.NAME.old-*``) are
  cleaned by the next run for the same destination, once the process whose
  id is in their name has ended.
* Disk full, quota, read-only or permission failures while writing become
  one :class:`OutputWriteError` line naming the output.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tumorboard.errors import InputError, OutputExistsError, TumorboardError
from tumorboard.worker_pool import process_alive

if sys.platform != "win32":
    import fcntl

__all__ = [
    "LOCK_TIMEOUT_S",
    "OutputWriteError",
    "check_output_path",
    "output_directory",
    "output_file",
]

#: Seconds a run waits for another run's claim of the same destination.
LOCK_TIMEOUT_S = 60.0

#: Errors of a write that always mean "this output cannot be written here".
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
#: Errors that mean so when they concern the output's own files.
_ACCESS_ERRNOS = frozenset({errno.EACCES, errno.EPERM})

#: Tags the leftovers of this host's runs (a PID means nothing on another host).
_HOST_TAG = hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]

_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class OutputWriteError(TumorboardError, OSError):
    """An output could not be written (disk full, read-only, no permission)."""


PathInput = str | os.PathLike[str] | None


def check_output_path(
    path: str | os.PathLike[str],
    force: bool,
    *,
    inputs: Iterable[PathInput] = (),
    other_outputs: Iterable[PathInput] = (),
    directory: bool | None = None,
) -> Path:
    """Refuse, before any work, an output location that may not be written.

    Leftovers of killed runs for the same destination are cleaned first (an
    old output a killed ``--force`` run had moved aside is put back).

    Parameters
    ----------
    path : path-like
        The output as given (``--out``).
    force : bool
        An existing output may be replaced.
    inputs : iterable of path-like or None
        Every file or folder the command reads (``None`` and missing ones are
        skipped): the output may not be, contain or be inside any of them.
    other_outputs : iterable of path-like or None
        The command's other outputs (``None`` skipped), existing or not: the
        output may not be, contain or be inside any of them either.
    directory : bool, optional
        The command writes a folder (``True``) or a file (``False``); an
        existing output of the other kind is refused even with ``force``.

    Returns
    -------
    Path
        ``path`` as given.

    Raises
    ------
    OutputExistsError
        The destination exists and ``force`` is false.
    InputError
        Any other rule above is broken.
    OutputWriteError
        The folder that would hold the output cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "dicom").mkdir()
    >>> check_output_path(folder / "result", False, inputs=[folder / "dicom"]).name
    'result'
    >>> check_output_path(folder / "dicom", True, inputs=[folder / "dicom"])
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    tumorboard.errors.InputError: output .../dicom is input .../dicom; choose ...
    """
    target = _Destination.resolve(path, directory)
    target.check(force, inputs)
    target.check_overlap(other_outputs, "output", missing_too=True)
    return Path(path)


@contextmanager
def output_directory(
    path: str | os.PathLike[str], force: bool = False, *, inputs: Iterable[PathInput] = ()
) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``path`` when the block succeeds.

    Parameters
    ----------
    path : path-like
        Final output folder.
    force : bool
        Replace an existing ``path``; otherwise an existing one is an error,
        raised before the block and again at the final claim.
    inputs : iterable of path-like or None
        The command's inputs (see :func:`check_output_path`).

    Yields
    ------
    Path
        The temporary folder to write into.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> out = Path(tempfile.mkdtemp()) / "result"
    >>> with output_directory(out) as staging:
    ...     _ = (staging / "summary.json").write_text("{}")
    >>> sorted(p.name for p in out.iterdir())
    ['summary.json']
    """
    with _staged(path, force, inputs, directory=True) as staging:
        yield staging


@contextmanager
def output_file(
    path: str | os.PathLike[str], force: bool = False, *, inputs: Iterable[PathInput] = ()
) -> Iterator[Path]:
    """Yield a temporary file path that becomes ``path`` when the block succeeds.

    Parameters
    ----------
    path : path-like
        Final output file.
    force : bool
        Replace an existing file ``path`` (never a folder).
    inputs : iterable of path-like or None
        The command's inputs (see :func:`check_output_path`).

    Yields
    ------
    Path
        An empty temporary file to write (or overwrite).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> out = Path(tempfile.mkdtemp()) / "table.csv"
    >>> with output_file(out) as staging:
    ...     _ = staging.write_text("a,b")
    >>> out.read_text()
    'a,b'
    """
    with _staged(path, force, inputs, directory=False) as staging:
        yield staging


@contextmanager
def _staged(
    path: str | os.PathLike[str], force: bool, inputs: Iterable[PathInput], directory: bool
) -> Iterator[Path]:
    target = _Destination.resolve(path, directory)
    target.check(force, inputs)
    staging: Path | None = None
    try:
        staging = target.make_staging()
        yield staging
        target.claim(staging, force)
    except BaseException as exc:
        if staging is not None:
            _remove(staging)
        failure = target.write_error(exc, staging)
        if failure is not None:
            raise failure from exc
        raise


@dataclass(frozen=True)
class _Destination:
    """An output location: as given, and resolved (symbolic links followed)."""

    given: Path
    path: Path
    directory: bool | None

    @classmethod
    def resolve(cls, path: str | os.PathLike[str], directory: bool | None) -> _Destination:
        text = os.fspath(path)
        if not text.strip():
            raise InputError("the output path is empty")
        given = Path(text)
        _refuse_dangling_links(given)
        resolved = Path(os.path.realpath(given))
        cwd = Path(os.path.realpath(os.getcwd()))
        if resolved == cwd or resolved in cwd.parents:
            raise InputError(
                f"output {given} is the current folder or contains it; "
                "give a new folder or file name"
            )
        return cls(given, resolved, directory)

    @property
    def parent(self) -> Path:
        return self.path.parent

    def check(self, force: bool, inputs: Iterable[PathInput]) -> None:
        """All the early checks of :func:`check_output_path`."""
        self._check_parent()
        if self.parent.is_dir():
            self.recover_leftovers()
        self.check_overlap(inputs, "input", missing_too=False)
        self._check_existing(force)

    def _check_parent(self) -> None:
        ancestor = self.parent
        while not os.path.lexists(ancestor):
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise InputError(
                f"output {self.given}: {ancestor} is a file, not a folder; "
                "an output cannot be written under it"
            )
        if not os.access(ancestor, os.W_OK | os.X_OK):
            raise OutputWriteError(
                f"cannot write output {self.given}: {_access_reason(ancestor)} in {ancestor}"
            )

    def check_overlap(self, paths: Iterable[PathInput], what: str, missing_too: bool) -> None:
        """Refuse when this output is, contains or is inside one of ``paths``."""
        for item in paths:
            if item is None or not os.fspath(item).strip():
                continue
            if not missing_too and not os.path.exists(item):
                continue  # an input that is not there cannot be lost
            source = Path(os.path.realpath(item))
            if source == self.path:
                relation = "is"
            elif self.path in source.parents:
                relation = "contains"
            elif source in self.path.parents:
                relation = "is inside"
            else:
                continue
            raise InputError(
                f"output {self.given} {relation} {what} {item}; "
                f"choose an output apart from the {what}s"
            )

    def _check_existing(self, force: bool) -> None:
        if not os.path.lexists(self.path):
            return
        is_dir = self.path.is_dir()
        if not is_dir and not self.path.is_file():
            raise InputError(
                f"output {self.given} exists and is neither a regular file nor a folder"
            )
        if self.directory is not None and is_dir != self.directory:
            found, wanted = ("folder", "file") if is_dir else ("file", "folder")
            raise InputError(
                f"output {self.given} is a {found}, but this command writes a {wanted}; "
                f"a {found} is never replaced by a {wanted}, even with --force"
            )
        if not force:
            raise OutputExistsError(f"output {self.given} exists; use --force to replace it")

    def _tag(self, kind: str) -> str:
        return f".{self.path.name}.{kind}-{os.getpid()}-{_HOST_TAG}-"

    def make_staging(self) -> Path:
        """Create the parent folders and an empty temporary sibling."""
        self.parent.mkdir(parents=True, exist_ok=True)
        if self.directory:
            return Path(tempfile.mkdtemp(prefix=self._tag("partial"), dir=self.parent))
        handle, name = tempfile.mkstemp(prefix=self._tag("partial"), dir=self.parent)
        os.close(handle)
        return Path(name)

    def claim(self, staging: Path, force: bool) -> None:
        """Move ``staging`` into place; an old output is swapped out, then removed."""
        # mkdtemp/mkstemp create private (0700/0600) entries; give the result the
        # permissions any other new output would have.
        os.chmod(staging, _default_mode(staging.is_dir()))
        with _claim_lock(self):
            self._check_existing(force)
            if not os.path.lexists(self.path):
                _rename_no_replace(staging, self.path)
                return
            old = _exchange(staging, self.path, self._tag("old"))
        _remove(old)  # outside the lock: a large old output takes a while

    def recover_leftovers(self) -> None:
        """Clean what killed runs left for this destination; restore an old output."""
        pattern = re.compile(
            rf"^\.{re.escape(self.path.name)}\.(partial|old)-(\d+)-([0-9a-f]{{8}})-"
        )
        dead: list[tuple[float, str, Path]] = []
        with suppress(OSError), os.scandir(self.parent) as entries:
            for entry in entries:
                match = pattern.match(entry.name)
                if match and match[3] == _HOST_TAG and not process_alive(int(match[2])):
                    with suppress(OSError):
                        mtime = entry.stat(follow_symlinks=False).st_mtime
                        dead.append((mtime, match[1], Path(entry.path)))
        if not dead:
            return
        garbage = [leftover for _, _, leftover in dead]
        with _claim_lock(self):
            if not os.path.lexists(self.path):
                olds = sorted((item for item in dead if item[1] == "old"), reverse=True)
                if olds:
                    # a --force run was killed between its two renames: put the old output back
                    os.rename(olds[0][2], self.path)
                    garbage.remove(olds[0][2])
        for leftover in garbage:
            _remove(leftover)

    def write_error(self, exc: BaseException, staging: Path | None) -> OutputWriteError | None:
        """The one-line error for a failed write of this output, if ``exc`` is one."""
        if not isinstance(exc, OSError) or isinstance(exc, TumorboardError):
            return None
        if exc.errno in _ACCESS_ERRNOS:
            concerned = {str(self.parent), str(self.path)}
            if staging is not None:
                concerned.add(str(staging))
            filename = os.fspath(exc.filename) if exc.filename is not None else ""
            if not any(filename == c or filename.startswith(c + os.sep) for c in concerned):
                return None
        elif exc.errno not in _WRITE_ERRNOS:
            return None
        reason = exc.strerror or os.strerror(exc.errno or 0)
        code = errno.errorcode.get(exc.errno or 0, "")
        return OutputWriteError(
            f"cannot write output {self.given}: {reason}"
            + (f" ({code})" if code else "")
            + "; nothing was written and any existing output is unchanged"
        )


def _refuse_dangling_links(given: Path) -> None:
    prefix = Path(given.anchor) if given.anchor else Path()
    for part in given.parts[1 if given.anchor else 0 :]:
        prefix = prefix / part
        if os.path.islink(prefix) and not os.path.exists(prefix):
            raise InputError(
                f"output {given}: {prefix} is a symbolic link to the missing "
                f"{os.readlink(prefix)}; remove it or choose another output"
            )


def _access_reason(folder: Path) -> str:
    with suppress(OSError):
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "read-only file system"
    return "permission denied"


@contextmanager
def _claim_lock(target: _Destination) -> Iterator[None]:
    """Hold an exclusive lock on ``target`` (a lock file beside it, removed afterwards).

    The lock file is removed while held; a waiter that then locks the
    removed file notices (its inode is no longer the path's) and retries.
    Where locking is not supported, the claim goes ahead unlocked (the
    no-replace rename still refuses to overwrite).
    """
    if sys.platform == "win32":  # pragma: no cover - no fcntl
        yield
        return
    lock_path = target.parent / f".{target.path.name}.lock"
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() > deadline:
                raise OutputWriteError(
                    f"output {target.given} is being written by another run "
                    f"(lock {lock_path} held for over {LOCK_TIMEOUT_S:g} s)"
                ) from None
            time.sleep(0.02)
            continue
        except OSError:  # no locks on this file system
            os.close(fd)
            with suppress(OSError):
                os.unlink(lock_path)
            yield
            return
        try:
            current = os.stat(lock_path).st_ino
        except FileNotFoundError:
            current = -1
        if current == os.fstat(fd).st_ino:
            break
        os.close(fd)
    try:
        yield
    finally:
        with suppress(OSError):
            os.unlink(lock_path)
        os.close(fd)


def _load_renameat2() -> Any:
    """The C library's ``renameat2`` (glibc 2.28+), or ``None``."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int
    return function


_RENAMEAT2 = _load_renameat2()


def _renameat2(source: Path, target: Path, flags: int) -> bool:
    """``renameat2(source, target, flags)``; ``False`` where unsupported."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False  # old kernel or a file system without the flag
    raise OSError(code, os.strerror(code), os.fspath(source), None, os.fspath(target))


def _rename_no_replace(staging: Path, final: Path) -> None:
    try:
        if _renameat2(staging, final, _RENAME_NOREPLACE):
            return
    except FileExistsError:
        raise OutputExistsError(f"output {final} exists; use --force to replace it") from None
    # Fallback: the claim lock keeps other tumorboard runs out; a file is linked
    # (which never replaces), a folder renamed (which never replaces a non-empty one).
    if staging.is_dir():
        os.rename(staging, final)
        return
    try:
        os.link(staging, final)
    except FileExistsError:
        raise OutputExistsError(f"output {final} exists; use --force to replace it") from None
    os.unlink(staging)


def _exchange(staging: Path, final: Path, old_prefix: str) -> Path:
    """Put ``staging`` at ``final``; return where the old output now is."""
    if _renameat2(staging, final, _RENAME_EXCHANGE):
        return staging
    # Fallback: two renames. A kill between them leaves the old output at
    # ``.NAME.old-PID-...``; the next run for ``final`` puts it back.
    old = final.with_name(f"{old_prefix}{os.urandom(4).hex()}")
    os.rename(final, old)
    try:
        os.rename(staging, final)
    except BaseException:
        os.rename(old, final)
        raise
    return old


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with suppress(OSError):
            path.unlink()


def _default_mode(directory: bool) -> int:
    """Permissions a new file or directory would get under the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask
