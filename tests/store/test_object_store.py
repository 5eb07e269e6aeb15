"""How the object store flushes what it wrote: a few files one by one, many at once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tumorboard.store import objects as objects_module
from tumorboard.store.objects import FSYNC_EACH_MAX, ObjectStore


class _Calls:
    def __init__(self) -> None:
        self.fsync: list[int] = []
        self.syncfs = 0

    def fake_fsync(self, fd: int) -> None:
        self.fsync.append(fd)

    def fake_syncfs(self, fd: int) -> int:
        self.syncfs += 1
        return 0


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> _Calls:
    seen = _Calls()
    monkeypatch.setattr(os, "fsync", seen.fake_fsync)

    class FakeLibc:
        syncfs = staticmethod(seen.fake_syncfs)

    fake: Any = FakeLibc()
    monkeypatch.setattr(objects_module, "_LIBC", fake)
    return seen


def test_an_analysis_few_outputs_are_flushed_file_by_file_not_the_whole_disk(
    tmp_path: Path, calls: _Calls
) -> None:
    store = ObjectStore(tmp_path / "objects")
    digests = {store.put_file_bytes(f"map {n}".encode()) for n in range(3)}
    store.sync()
    folders = {d[:2] for d in digests}
    assert calls.syncfs == 0
    assert len(calls.fsync) == len(digests) + len(folders)
    store.sync()  # nothing new: nothing flushed
    assert len(calls.fsync) == len(digests) + len(folders) and calls.syncfs == 0


def test_an_import_many_files_are_flushed_with_one_syncfs(tmp_path: Path, calls: _Calls) -> None:
    store = ObjectStore(tmp_path / "objects")
    for n in range(FSYNC_EACH_MAX + 1):
        store.put_file_bytes(f"slice {n}".encode())
    store.sync()
    assert calls.syncfs == 1 and calls.fsync == []


def test_the_limit_itself_is_still_flushed_file_by_file(tmp_path: Path, calls: _Calls) -> None:
    store = ObjectStore(tmp_path / "objects")
    for n in range(FSYNC_EACH_MAX):
        store.put_file_bytes(f"slice {n}".encode())
    store.sync()
    assert calls.syncfs == 0 and len(calls.fsync) >= FSYNC_EACH_MAX


def test_an_object_already_stored_is_not_flushed_again(tmp_path: Path, calls: _Calls) -> None:
    store = ObjectStore(tmp_path / "objects")
    store.put_file_bytes(b"same")
    store.sync()
    before = len(calls.fsync)
    store.put_file_bytes(b"same")
    store.sync()
    assert len(calls.fsync) == before
