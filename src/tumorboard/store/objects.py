"""Content-addressed storage of derived files (maps, masks, figures, PDFs).

An object is stored once under ``objects/<first two hex digits>/<sha256>``,
whatever name it had, so two analyses that produce the same bytes share one
file and a record row holds only the digest. Objects are written to a
temporary file in the same file system, flushed to disk and renamed into
place, so a killed writer leaves either the whole object or none (a stray
temporary file is removed by :meth:`ObjectStore.remove_stale_temporaries`).
Files are flushed to disk per batch (:meth:`ObjectStore.sync`): a batch of a
few files (an analysis's outputs) with one ``fsync`` per file and folder, a
large batch (an import) with one ``syncfs``, not one ``fsync`` per file, which
made an import of 1,000 files several times slower. ``syncfs`` flushes the
whole file system, other programs' writes too, so a few files are not flushed
that way (it cost a cohort task up to 130 ms on a busy machine). Callers sync
before they commit the rows that name the objects.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import itertools
import os
import tempfile
from pathlib import Path

from tumorboard.errors import InputError
from tumorboard.worker_pool import process_alive

__all__ = ["CHUNK_BYTES", "FSYNC_EACH_MAX", "ObjectStore", "sha256_of_file"]

#: Bytes read at a time when hashing or copying a file.
CHUNK_BYTES = 1 << 20

#: Files up to this size are read, hashed and written in one piece.
SMALL_FILE_BYTES = 16 << 20

#: Batches up to this many new objects are flushed file by file, larger ones by ``syncfs``.
FSYNC_EACH_MAX = 32

#: Temporary names unique within this process (the PID makes them unique across
#: processes; ``itertools.count`` is thread-safe in CPython).
_NAMES = itertools.count()

_HEX = frozenset("0123456789abcdef")

try:  # syncfs(2) flushes one file system; os.sync() flushes all of them
    _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    _libc.syncfs.argtypes = [ctypes.c_int]
    _LIBC: ctypes.CDLL | None = _libc
except (OSError, AttributeError, TypeError):  # pragma: no cover - not glibc
    _LIBC = None


class ObjectStore:
    """Files named by the SHA-256 of their content, under one folder.

    Parameters
    ----------
    root : Path
        The ``objects`` folder of a workspace (created owner-only if missing).

    Examples
    --------
    >>> import tempfile
    >>> store = ObjectStore(Path(tempfile.mkdtemp()) / "objects")
    >>> digest = store.put_bytes(b"tumour load")
    >>> digest == hashlib.sha256(b"tumour load").hexdigest()
    True
    >>> store.path(digest).read_bytes()
    b'tumour load'
    >>> store.put_bytes(b"tumour load") == digest  # stored once
    True
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._unsynced: list[Path] = []  # objects written since the last sync
        self._folders: set[str] = set()  # object folders known to exist
        self._root_text = str(self.root)

    def path(self, sha256: str) -> Path:
        """Return where the object with this digest lives (it may not exist)."""
        if len(sha256) != 64 or not set(sha256) <= _HEX:
            raise InputError(f"object id {sha256[:80]!r}: not a lower-case SHA-256 hex digest")
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        """Tell whether the object is stored."""
        return self.path(sha256).is_file()

    def put_bytes(self, data: bytes) -> str:
        """Store bytes; return their SHA-256 (a no-op when already stored)."""
        digest = hashlib.sha256(data).hexdigest()
        if not self.has(digest):
            self._commit(digest, lambda handle: handle.write(data))
        return digest

    def put_file(self, source: Path) -> str:
        """Store a copy of a regular file; return its SHA-256.

        See :meth:`put_new_file`.
        """
        return self.put_new_file(source)[0]

    def put_new_file(self, source: Path) -> tuple[str, bool]:
        """Store a copy of a regular file; return its SHA-256 and whether this call wrote it.

        The file is read once: a small file (up to :data:`SMALL_FILE_BYTES`,
        every DICOM slice) in one read, hashed and written with one write; a
        larger one copied into a temporary file while it is hashed. The copy
        is then renamed to its digest (or dropped when that object is already
        stored). The copy is not flushed to disk here; call :meth:`sync`
        before recording the digest in a database.
        """
        with open(source, "rb", buffering=0) as handle:
            data = handle.read(SMALL_FILE_BYTES + 1)
            if len(data) <= SMALL_FILE_BYTES:
                return self.put_new_file_bytes(data)
        digest = hashlib.sha256()
        handle_fd, name = tempfile.mkstemp(prefix=_temporary_prefix(), dir=self.root)
        try:
            with open(source, "rb") as src, os.fdopen(handle_fd, "wb") as sink:
                while chunk := src.read(CHUNK_BYTES):
                    digest.update(chunk)
                    sink.write(chunk)
            sha = digest.hexdigest()
            final = self.path(sha)
            created = not final.exists()
            if created:
                self._make_folder(str(final.parent))
                os.chmod(name, 0o600)
                os.replace(name, final)
                self._unsynced.append(final)
            else:
                os.unlink(name)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return sha, created

    def put_file_bytes(self, data: bytes) -> str:
        """Store the content of a file the caller has read; return its SHA-256.

        Like :meth:`put_file` for a small file (the importer reads each file
        once, to parse its header and store it): written to a temporary file,
        renamed to its digest (nothing is written when that object is already
        stored) and flushed to disk at the next :meth:`sync`, not here.

        Examples
        --------
        >>> import tempfile
        >>> store = ObjectStore(Path(tempfile.mkdtemp()) / "objects")
        >>> digest = store.put_file_bytes(b"DICM")
        >>> store.path(digest).read_bytes(), store.put_file_bytes(b"DICM") == digest
        (b'DICM', True)
        """
        return self.put_new_file_bytes(data)[0]

    def put_new_file_bytes(self, data: bytes) -> tuple[str, bool]:
        """Like :meth:`put_file_bytes`; also tell whether this call wrote the object.

        Examples
        --------
        >>> import tempfile
        >>> store = ObjectStore(Path(tempfile.mkdtemp()) / "objects")
        >>> store.put_new_file_bytes(b"DICM")[1], store.put_new_file_bytes(b"DICM")[1]
        (True, False)
        """
        # string paths, not Path objects: this runs once per imported file, and
        # building Paths and checking them cost a tenth of an import's time
        sha = hashlib.sha256(data).hexdigest()
        folder = f"{self._root_text}{os.sep}{sha[:2]}"
        final = f"{folder}{os.sep}{sha}"
        if os.path.exists(final):
            return sha, False
        self._make_folder(folder)
        name = f"{self._root_text}{os.sep}{_temporary_prefix()}{next(_NAMES)}"
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.close(fd)
            fd = -1
            os.replace(name, final)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
            raise
        self._unsynced.append(Path(final))  # list.append is atomic: threads may share a store
        return sha, True

    def _make_folder(self, folder: str) -> None:
        if folder not in self._folders:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            self._folders.add(folder)

    def sync(self) -> None:
        """Flush every object written since the last sync to disk.

        Up to :data:`FSYNC_EACH_MAX` objects: ``fsync`` of each file and of
        the folders their names were written in; more: one ``syncfs`` of the
        store's file system (``os.sync`` where there is none).
        """
        written, self._unsynced = self._unsynced, []
        if not written:
            return
        if len(written) <= FSYNC_EACH_MAX:
            for path in written:
                _fsync_path(path)
            for folder in {path.parent for path in written}:
                _fsync_path(folder)
            return
        fd = os.open(self.root, os.O_RDONLY)
        try:
            if _LIBC is not None and _LIBC.syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
        os.sync()

    def remove_stale_temporaries(self) -> int:
        """Remove temporary files left by killed writers; return how many.

        A temporary file is named after the process that writes it; files of
        processes still running (another import, now) are left alone.
        """
        removed = 0
        for leftover in [*self.root.glob(".tmp-*"), *self.root.glob("*/.tmp-*")]:
            if _writer_alive(leftover.name):
                continue
            leftover.unlink(missing_ok=True)
            removed += 1
        return removed

    def _commit(self, digest: str, write: object) -> None:
        final = self.path(digest)
        final.parent.mkdir(mode=0o700, exist_ok=True)
        handle_fd, name = tempfile.mkstemp(prefix=_temporary_prefix(), dir=final.parent)
        try:
            with os.fdopen(handle_fd, "wb") as handle:
                write(handle)  # type: ignore[operator]
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(name, 0o600)
            os.replace(name, final)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise


def _fsync_path(path: Path) -> None:
    """Flush one file or folder to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temporary_prefix() -> str:
    return f".tmp-{os.getpid()}-"


def _writer_alive(name: str) -> bool:
    """Whether the process that named a temporary file ``.tmp-PID-…`` still runs."""
    parts = name.split("-")
    return len(parts) >= 3 and parts[1].isdigit() and process_alive(int(parts[1]))


def sha256_of_file(path: Path) -> str:
    """Return the SHA-256 hex digest of a file, read in chunks.

    Examples
    --------
    >>> import tempfile
    >>> file = Path(tempfile.mkdtemp()) / "a.bin"
    >>> _ = file.write_bytes(b"abc")
    >>> sha256_of_file(file)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
