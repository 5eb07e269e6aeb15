"""The output-safety layer: staging, kinds, inputs, atomic claim, leftovers, write errors."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

import tumorboard.outputs as outputs
from tumorboard.errors import InputError, OutputExistsError
from tumorboard.outputs import (
    OutputWriteError,
    check_output_path,
    output_directory,
    output_file,
)

REPO_SRC = Path(__file__).resolve().parents[1] / "src"


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


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
    assert names(target) == ["new.txt"]
    assert names(tmp_path) == ["out"]


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


# -- 1. a folder never becomes a file, nor the reverse ------------------------------------


def test_force_never_replaces_a_folder_by_a_file(tmp_path):
    folder = tmp_path / "V"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "keep.txt").write_text("keep")
    with pytest.raises(InputError, match="is a folder, but this command writes a file"):
        check_output_path(folder, True, directory=False)
    with pytest.raises(InputError, match="never replaced"):
        with output_file(folder, force=True) as staging:
            staging.write_text("a,b\n")
    assert (folder / "sub" / "keep.txt").read_text() == "keep"
    assert names(tmp_path) == ["V"]


def test_force_never_replaces_a_file_by_a_folder(tmp_path):
    table = tmp_path / "table.csv"
    table.write_text("old")
    with pytest.raises(InputError, match="is a file, but this command writes a folder"):
        with output_directory(table, force=True):
            pass
    assert table.read_text() == "old"


def test_kind_is_checked_again_at_the_claim(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(InputError, match="is a folder"):
        with output_file(target, force=True) as staging:
            staging.write_text("new")
            (target / "sub").mkdir(parents=True)  # another program made a folder meanwhile
    assert (target / "sub").is_dir()
    assert names(tmp_path) == ["out.csv"]


# -- 2. the output is never an input, inside one, or around one ---------------------------


@pytest.mark.parametrize("where", ["same", "inside", "around"])
def test_output_overlapping_an_input_is_refused_even_with_force(tmp_path, where):
    source = tmp_path / "petin"
    source.mkdir()
    (source / "slice1.dcm").write_bytes(b"DICM")
    out = {"same": source, "inside": source / "result", "around": tmp_path}[where]
    relation = {"same": "is", "inside": "is inside", "around": "contains"}[where]
    with pytest.raises(InputError, match=f"output .* {relation} input .*petin"):
        with output_directory(out, force=True, inputs=[None, source]):
            pass
    assert (source / "slice1.dcm").read_bytes() == b"DICM"
    assert names(source) == ["slice1.dcm"]


def test_symbolic_links_are_resolved_before_comparing(tmp_path):
    source = tmp_path / "exam1"
    source.mkdir()
    (source / "summary.json").write_text("{}")
    alias = tmp_path / "alias"
    alias.symlink_to(source)
    with pytest.raises(InputError, match="is input"):
        check_output_path(alias, True, inputs=[source], directory=True)
    with pytest.raises(InputError, match="is input"):
        check_output_path(source, True, inputs=[alias], directory=True)
    # a missing input cannot be lost and is left to the reader to report
    assert check_output_path(tmp_path / "new", False, inputs=[tmp_path / "nope"]).name == "new"


def test_two_outputs_of_one_command_must_be_apart(tmp_path):
    table = tmp_path / "m.csv"
    with pytest.raises(InputError, match="is output .*m.csv; choose an output apart"):
        check_output_path(table, True, other_outputs=[table], directory=False)
    with pytest.raises(InputError, match="is inside output"):
        check_output_path(tmp_path / "d" / "sr.dcm", True, other_outputs=[tmp_path / "d"])
    assert check_output_path(tmp_path / "sr.dcm", False, other_outputs=[table]).name == "sr.dcm"


def test_output_through_a_symbolic_link_lands_in_its_target(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "old.txt").write_text("old")
    link = tmp_path / "link"
    link.symlink_to(real)
    with output_directory(link, force=True) as staging:
        (staging / "new.txt").write_text("new")
    assert link.is_symlink() and names(real) == ["new.txt"]


# -- 3. the claim is atomic and checked again under a lock --------------------------------


def test_a_second_run_without_force_fails_at_the_claim(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(OutputExistsError, match="exists"):
        with output_directory(target) as first:
            (first / "first.txt").write_text("1")
            # another run starts and finishes while this one is working
            with output_directory(target) as second:
                (second / "second.txt").write_text("2")
    assert names(target) == ["second.txt"]
    assert names(tmp_path) == ["out"]


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("exchange", [True, False])
def test_concurrent_claims_leave_one_complete_output(tmp_path, monkeypatch, force, exchange):
    if not exchange:
        monkeypatch.setattr(outputs, "_RENAMEAT2", None)
    for round_ in range(8):
        target = tmp_path / f"out{round_}"
        barrier = threading.Barrier(3)
        results: list[str] = []

        def run(
            name: str,
            target: Path = target,
            barrier: threading.Barrier = barrier,
            results: list[str] = results,
        ) -> None:
            try:
                with output_directory(target, force=force) as staging:
                    for part in range(3):
                        (staging / f"{name}-{part}.txt").write_text(name)
                    barrier.wait(timeout=30)
                results.append(name)
            except OutputExistsError:
                results.append("refused")

        threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b", "c")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        winners = [r for r in results if r != "refused"]
        assert len(results) == 3
        assert len(winners) == (3 if force else 1)
        files = names(target)
        owner = files[0].split("-")[0]
        assert files == [f"{owner}-{part}.txt" for part in range(3)]
        if not force:
            assert owner == winners[0]
    assert names(tmp_path) == [f"out{r}" for r in range(8)]


@pytest.mark.parametrize("exchange", [True, False])
def test_force_swaps_file_outputs_and_leaves_nothing_behind(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(outputs, "_RENAMEAT2", None)
    target = tmp_path / "table.csv"
    target.write_text("old")
    with output_file(target, force=True) as staging:
        staging.write_text("new")
    assert target.read_text() == "new"
    with pytest.raises(OutputExistsError):
        with output_file(target) as staging:
            staging.write_text("newer")
    assert target.read_text() == "new"
    assert names(tmp_path) == ["table.csv"]


def test_force_swaps_in_one_step_where_the_file_system_can(tmp_path, monkeypatch):
    if not sys.platform.startswith("linux"):
        pytest.skip("renameat2 is Linux only")
    assert outputs._RENAMEAT2 is not None
    (tmp_path / "p").write_text("p")
    (tmp_path / "q").write_text("q")
    if not outputs._renameat2(tmp_path / "p", tmp_path / "q", outputs._RENAME_EXCHANGE):
        pytest.skip("this file system has no RENAME_EXCHANGE")
    assert (tmp_path / "p").read_text() == "q" and (tmp_path / "q").read_text() == "p"
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")

    def no_two_step_rename(*args: object) -> None:
        raise AssertionError("the destination must never be missing")

    monkeypatch.setattr(os, "rename", no_two_step_rename)
    with output_directory(target, force=True) as staging:
        (staging / "new.txt").write_text("new")
    assert names(target) == ["new.txt"]
    assert names(tmp_path) == ["out", "p", "q"]


# -- 4. leftovers of killed runs ----------------------------------------------------------


def leftover(folder: Path, name: str, kind: str, pid: int, host: str | None = None) -> Path:
    path = folder / f".{name}.{kind}-{pid}-{host or outputs._HOST_TAG}-abcd1234"
    path.mkdir()
    (path / "content.txt").write_text(kind)
    return path


def test_leftovers_of_dead_runs_are_cleaned_live_ones_kept(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    pid = dead_pid()
    leftover(tmp_path, "out", "partial", pid)
    leftover(tmp_path, "out", "old", pid)
    live = leftover(tmp_path, "out", "partial", os.getppid())
    foreign = leftover(tmp_path, "out", "partial", pid, host="0123abcd")
    other = leftover(tmp_path, "other", "partial", pid)
    with output_directory(target, force=True) as staging:
        (staging / "new.txt").write_text("new")
    assert names(tmp_path) == sorted([live.name, foreign.name, other.name, "out"])
    assert names(target) == ["new.txt"]


def test_an_old_output_moved_aside_by_a_killed_run_is_put_back(tmp_path):
    target = tmp_path / "out"
    pid = dead_pid()
    leftover(tmp_path, "out", "partial", pid)
    leftover(tmp_path, "out", "old", pid)
    with pytest.raises(OutputExistsError):
        check_output_path(target, False)
    assert (target / "content.txt").read_text() == "old"
    assert names(tmp_path) == ["out"]


def run_killed(script: str, target: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_SRC)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), str(target)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_kill_between_the_two_renames_loses_nothing(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    result = run_killed(
        """
        import os, signal, sys
        import tumorboard.outputs as outputs
        outputs._RENAMEAT2 = None  # the two-rename fallback
        real_rename = os.rename
        def rename(source, target):
            real_rename(source, target)
            os.kill(os.getpid(), signal.SIGKILL)  # killed right after the first rename
        with outputs.output_directory(sys.argv[1], force=True) as staging:
            (staging / "new.txt").write_text("new")
            os.rename = rename
        """,
        target,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert not target.exists()  # the state the kill left ...
    assert any(".out.old-" in name for name in names(tmp_path))
    with pytest.raises(OutputExistsError):  # ... is repaired by the next run
        check_output_path(target, False)
    assert names(target) == ["old.txt"]
    assert names(tmp_path) == ["out"]


def test_a_run_killed_while_writing_leaves_a_partial_the_next_run_removes(tmp_path):
    target = tmp_path / "out.csv"
    result = run_killed(
        """
        import os, signal, sys
        from tumorboard.outputs import output_file
        with output_file(sys.argv[1]) as staging:
            staging.write_text("half")
            os.kill(os.getpid(), signal.SIGKILL)
        """,
        target,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert [n for n in names(tmp_path) if n.startswith(".out.csv.partial-")]
    with output_file(target) as staging:
        staging.write_text("whole")
    assert target.read_text() == "whole"
    assert names(tmp_path) == ["out.csv"]


def test_a_stale_lock_file_does_not_block(tmp_path):
    (tmp_path / ".out.lock").write_text("")  # a run killed while claiming
    with output_directory(tmp_path / "out") as staging:
        (staging / "a.txt").write_text("a")
    assert names(tmp_path) == ["out"]


def test_a_held_lock_times_out_with_one_line(tmp_path, monkeypatch):
    import fcntl

    monkeypatch.setattr(outputs, "LOCK_TIMEOUT_S", 0.2)
    fd = os.open(tmp_path / ".out.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(OutputWriteError, match="being written by another run"):
            with output_directory(tmp_path / "out"):
                pass
    finally:
        os.close(fd)
    assert not (tmp_path / "out").exists()


# -- paths that are never an output ---------------------------------------------------------


def test_paths_that_are_never_outputs(tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    for path in (".", "..", "./", str(tmp_path / "work"), "/"):
        with pytest.raises(InputError, match="current folder or contains it"):
            check_output_path(path, True, directory=True)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InputError, match="file.txt is a file, not a folder"):
        check_output_path(tmp_path / "file.txt" / "sub" / "out", True, directory=True)
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    for path in (tmp_path / "dangling", tmp_path / "dangling" / "out"):
        with pytest.raises(InputError, match="symbolic link to the missing"):
            check_output_path(path, True, directory=True)
    assert not (tmp_path / "missing").exists()
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(InputError, match="neither a regular file nor a folder"):
        check_output_path(tmp_path / "fifo", True, directory=False)
    with pytest.raises(InputError, match="empty"):
        check_output_path("", True)
    assert names(tmp_path) == ["dangling", "fifo", "file.txt", "work"]


# -- write failures are one line; nothing is changed -------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [(errno.ENOSPC, "No space left on device"), (errno.EROFS, "Read-only file system")],
)
def test_disk_full_or_read_only_while_writing(tmp_path, code, reason):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(OutputWriteError) as caught:
        with output_directory(target, force=True) as staging:
            (staging / "a.txt").write_text("a")
            raise OSError(code, os.strerror(code))
    message = str(caught.value)
    assert message.startswith(f"cannot write output {target}: {reason}")
    assert "\n" not in message and errno.errorcode[code] in message
    assert names(target) == ["old.txt"] and names(tmp_path) == ["out"]


def test_permission_denied_on_the_output_is_one_line_but_not_on_an_input(tmp_path):
    with pytest.raises(OutputWriteError, match="Permission denied"):
        with output_file(tmp_path / "a.csv") as staging:
            raise PermissionError(errno.EACCES, "Permission denied", str(staging))
    with pytest.raises(PermissionError):
        with output_file(tmp_path / "a.csv"):
            raise PermissionError(errno.EACCES, "Permission denied", "/etc/shadow")
    assert names(tmp_path) == []


def test_read_only_folder_is_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode, **kwargs: False)
    with pytest.raises(OutputWriteError, match=f"cannot write output .*: .* in {tmp_path}"):
        check_output_path(tmp_path / "a" / "out", False, directory=True)
    assert names(tmp_path) == []


def test_staging_that_cannot_be_created_is_one_line(tmp_path, monkeypatch):
    def refuse(**kwargs: object) -> str:
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / ".out.partial-x"))

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    with pytest.raises(OutputWriteError, match="Read-only file system"):
        with output_directory(tmp_path / "out"):
            pytest.fail("the block must not run")


# -- 5. workers die with their parent ------------------------------------------------------


def process_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_workers_die_when_their_parent_is_killed(tmp_path, method):
    script = tmp_path / "pool.py"
    script.write_text(
        textwrap.dedent(
            """
            import os, sys, time
            from tumorboard.worker_pool import process_pool

            def nap(i):
                os.write(1, f"{os.getpid()}\\n".encode())  # one atomic write
                time.sleep(300)

            if __name__ == "__main__":
                with process_pool(2, sys.argv[1]) as pool:
                    list(pool.map(nap, range(2)))
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_SRC)}
    parent = subprocess.Popen(
        [sys.executable, str(script), method],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert parent.stdout is not None
    with parent.stdout:
        workers = [int(parent.stdout.readline()) for _ in range(2)]
    assert all(not process_gone(pid) for pid in workers)
    parent.kill()
    parent.wait(timeout=30)
    deadline = time.monotonic() + 30  # a hang guard, not a speed requirement
    while not all(process_gone(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    survivors = [pid for pid in workers if not process_gone(pid)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert survivors == []
