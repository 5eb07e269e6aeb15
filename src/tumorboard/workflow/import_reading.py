"""Read and store the files of an import: one read per file.

One concept: files in, header facts and object digests out. Each file is read
whole once (up to :data:`~tumorboard.store.objects.SMALL_FILE_BYTES`, every
DICOM slice): its header is parsed from those bytes (the fast header walker of
:mod:`tumorboard.imaging.dicom_scan`) and, when it carries the UIDs a record
needs, the same bytes are written into the content-addressed object store.
Which of them become rows is decided afterwards, in the importer's one
transaction (:mod:`tumorboard.workflow.dicom_import`).

Speed (``benchmarks/bench_import.py``): the import used to read each file
twice (header, then copy) and to copy on four threads; reading once and
writing from the same thread is faster. Tried and dropped (measured
2026-12-07): one writer thread beside the parser (parsing and writing are
both Python work under the GIL, so the writer waited for the GIL at each
system call and the import got slower), and two reader processes (slower
still on the 2-core machine: 7.9 s against 5.1 s for 10,000 files).
This module imports no database code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tumorboard.errors import DicomError, TumorboardError
from tumorboard.imaging.dicom_raw import element_text
from tumorboard.imaging.dicom_scan import DicomSlice, read_slice_header
from tumorboard.imaging.input_limits import read_regular_file
from tumorboard.store.objects import SMALL_FILE_BYTES, ObjectStore

__all__ = [
    "READ_WHAT",
    "RECORD_TAGS",
    "ReadFile",
    "missing_uids",
    "read_and_store",
    "read_and_store_chunk",
]

#: How files are named in the reader's messages.
READ_WHAT = "import: file"

#: Files read between two progress reports.
CHUNK_FILES = 200

#: The attributes of a file that the record keeps, by tag.
RECORD_TAGS = {
    "patient_id": 0x00100020,
    "study_uid": 0x0020000D,
    "study_date": 0x00080020,
    "study_description": 0x00081030,
    "accession": 0x00080050,
    "modality": 0x00080060,
    "series_description": 0x0008103E,
    "series_date": 0x00080021,
    "protocol": 0x00181030,
    "sop_uid": 0x00080018,
    "sop_class": 0x00080016,
    "frame_of_reference": 0x00200052,
    "image_type": 0x00080008,
    "temporal_position": 0x00200100,
    "temporal_positions": 0x00200105,
}


@dataclass
class ReadFile:
    """What reading one file gave.

    Attributes
    ----------
    slice : DicomSlice or None
        The header; None when the file could not be read as DICOM.
    text : dict
        The :data:`RECORD_TAGS` as text (None when absent); empty when unread.
    skip_reason : str or None
        Why the file is not DICOM (the reader's message without the path).
    sha256 : str or None
        The stored object's digest; None when the file was not stored (not
        DICOM, or without the UIDs the record needs).
    created : bool
        Whether this read wrote the object (it was not stored before).
    """

    slice: DicomSlice | None
    text: dict[str, str | None]
    skip_reason: str | None = None
    sha256: str | None = None
    created: bool = False


def missing_uids(header: DicomSlice, text: dict[str, str | None]) -> list[str]:
    """The record's required UIDs that a file lacks (keys of :data:`RECORD_TAGS`, ``series_uid``).

    Examples
    --------
    >>> from pathlib import Path
    >>> bare = DicomSlice(Path("x.dcm"), None, "", False)  # type: ignore[arg-type]
    >>> missing_uids(bare, {"patient_id": "P1", "study_uid": "1.2", "sop_uid": None})
    ['sop_uid', 'series_uid']
    """
    missing = [key for key in ("patient_id", "study_uid", "sop_uid") if not text.get(key)]
    if not header.series_instance_uid:
        missing.append("series_uid")
    return missing


def read_and_store_chunk(store: ObjectStore, paths: Sequence[Path]) -> list[ReadFile]:
    """Read files, parse their headers and store the ones a record can take.

    Objects are written but not flushed to disk: the importer syncs the
    store before it commits the rows that name them.

    Parameters
    ----------
    store : ObjectStore
        The workspace's object store.
    paths : sequence of Path
        The files.

    Returns
    -------
    list of ReadFile
        One per path, in order.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "note.txt").write_text("not an image")
    >>> store = ObjectStore(folder / "objects")
    >>> [found] = read_and_store_chunk(store, [folder / "note.txt"])
    >>> found.slice is None, found.sha256 is None, bool(found.skip_reason)
    (True, True, True)
    """
    results = []
    for path in paths:
        try:
            data = _read_small_file(path)
            header = read_slice_header(path, what=READ_WHAT, data=data)
        except TumorboardError as exc:
            results.append(ReadFile(None, {}, skip_reason=_reason(exc, path)))
            continue
        text = {key: element_text(header.header, tag) for key, tag in RECORD_TAGS.items()}
        found = ReadFile(header, text)
        if not missing_uids(header, text):
            if data is None:  # larger than a slice: copied by path
                found.sha256, found.created = store.put_new_file(path)
            else:
                found.sha256, found.created = store.put_new_file_bytes(data)
        results.append(found)
    return results


def read_and_store(
    store: ObjectStore,
    paths: Sequence[Path],
    progress: Callable[[int], None] | None = None,
) -> Iterator[ReadFile]:
    """Read and store files, chunk by chunk.

    Parameters
    ----------
    store : ObjectStore
        The workspace's object store.
    paths : sequence of Path
        The files, all to be read.
    progress : callable, optional
        Called with the number of files read so far, after each chunk.

    Yields
    ------
    ReadFile
        One per path, in the order of ``paths``.

    Raises
    ------
    OSError
        If the object store cannot be written (e.g. the disk is full).
    """
    done = 0
    for start in range(0, len(paths), CHUNK_FILES):
        chunk = paths[start : start + CHUNK_FILES]
        yield from read_and_store_chunk(store, chunk)
        done += len(chunk)
        if progress is not None:
            progress(done)


def _read_small_file(path: Path) -> bytes | None:
    """The whole file when it is small enough to hold (None: read it by path)."""
    data = read_regular_file(
        path, what=READ_WHAT, error=DicomError, limit_bytes=SMALL_FILE_BYTES + 1
    )
    return data if len(data) <= SMALL_FILE_BYTES else None


def _reason(exc: BaseException, path: Path) -> str:
    """The reader's message without the file's path (the summary names the file)."""
    text = " ".join(str(exc).split())
    for prefix in (f"{READ_WHAT} {path}", READ_WHAT):
        if text.startswith(prefix):
            text = text[len(prefix) :].lstrip(" :")
            break
    return text.removeprefix("is ")
