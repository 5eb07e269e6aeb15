"""Guards applied to input files before anything is allocated or decoded.

One concept: the documented limits on what a reader accepts, in one place.

Size
    An image is refused when the number of voxels it *claims* (DICOM
    Rows x Columns x NumberOfFrames x SamplesPerPixel per file, the sum over
    all files of a series or of a whole read, the NIfTI header's dimensions)
    exceeds :func:`max_voxels`. The check runs on header fields, before any
    pixel buffer is allocated and before pydicom or nibabel decode anything,
    so a small compressed file that claims a huge matrix costs nothing.

    The default, :data:`DEFAULT_MAX_VOXELS` = 2**29 (536,870,912 voxels,
    2 GiB once stored as float32), holds every clinical acquisition the
    package reads with room to spare: a whole-body CT of 512 x 512 x 2000
    slices (524 M voxels), a DCE-MRI of 80 frames of 256 x 256 x 100
    (524 M), a whole-body DWI exam of 4 b-values x 6 stations x 50 slices of
    256 x 256 (79 M). Beyond it the float32 volume alone no longer fits the
    memory of an ordinary workstation next to the copies the analyses make.
    A user with more memory raises it with the environment variable
    ``TUMORBOARD_MAX_VOXELS`` (a positive whole number, e.g.
    ``TUMORBOARD_MAX_VOXELS=4294967296``); the refusal message names it.

File type
    Only regular files are read (after following symbolic links): a FIFO
    would block the reader forever and a link to ``/dev/zero`` would feed it
    endless bytes. :func:`open_regular_file` opens without blocking and
    checks the opened descriptor, so the file cannot be swapped between the
    check and the read.

JSON
    :func:`load_json_file` reads the small JSON inputs (``FACTS.json``, a
    previous exam's ``summary.json``) within fixed limits checked before or
    while parsing: at most :data:`MAX_JSON_BYTES` bytes, nesting at most
    :data:`MAX_JSON_DEPTH` deep, numbers of at most
    :data:`MAX_JSON_NUMBER_CHARACTERS` characters that are finite (no
    ``NaN``, ``Infinity`` or ``1e999999``). Python's parser would otherwise
    raise RecursionError on 100,000 nested brackets and ValueError on
    integers of more than 4300 digits; here every case is one line.

Examples
--------
>>> max_voxels() >= 1
True
>>> check_voxel_count(512 * 512 * 300, what="CT series")
>>> try:
...     check_voxel_count(65535 * 65535, what="file x.dcm")
... except InputError as error:
...     print(str(error).split(";")[0])
file x.dcm claims 4294836225 voxels, more than the limit of 536870912
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from tumorboard.errors import InputError

#: Environment variable that raises (or lowers) the voxel limit.
MAX_VOXELS_VARIABLE = "TUMORBOARD_MAX_VOXELS"
#: Default largest number of voxels an image (or one read of several) may claim.
DEFAULT_MAX_VOXELS = 2**29
#: Largest JSON input file read (the tumorboard JSON inputs are a few kilobytes).
MAX_JSON_BYTES = 16 * 2**20
#: Deepest nesting of JSON arrays/objects accepted.
MAX_JSON_DEPTH = 64
#: Longest number literal accepted in JSON (digits, sign, point and exponent).
MAX_JSON_NUMBER_CHARACTERS = 40

_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def max_voxels() -> int:
    """The voxel limit: ``TUMORBOARD_MAX_VOXELS`` when set, else :data:`DEFAULT_MAX_VOXELS`.

    Returns
    -------
    int
        The largest number of voxels accepted.

    Raises
    ------
    InputError
        If the environment variable is set but not a positive whole number.

    Examples
    --------
    >>> max_voxels() >= 1
    True
    """
    text = os.environ.get(MAX_VOXELS_VARIABLE, "").strip()
    if not text:
        return DEFAULT_MAX_VOXELS
    if not text.isascii() or not text.replace("_", "").isdigit() or len(text) > 30:
        raise InputError(
            f"environment variable {MAX_VOXELS_VARIABLE} must be a positive whole number, "
            f"got {text[:40]!r}"
        )
    value = int(text)
    if value < 1:
        raise InputError(f"environment variable {MAX_VOXELS_VARIABLE} must be at least 1")
    return value


def voxel_count(dimensions: Iterable[int]) -> int:
    """The product of image dimensions as an exact integer (no overflow).

    Examples
    --------
    >>> voxel_count([65535, 65535, 2])
    8589672450
    """
    return math.prod(int(size) for size in dimensions)


def check_voxel_count(count: int, *, what: str, error: type[InputError] = InputError) -> None:
    """Refuse an image (or a set of images read together) that claims too many voxels.

    Parameters
    ----------
    count : int
        The claimed number of voxels.
    what : str
        How the input is named in the message (file or series).
    error : type of InputError
        The exception raised (e.g. :class:`~tumorboard.errors.DicomError`).

    Raises
    ------
    InputError
        If ``count`` exceeds :func:`max_voxels`; the message names the
        limit and how to raise it.

    Examples
    --------
    >>> check_voxel_count(10, what="tiny image")
    """
    limit = max_voxels()
    if count > limit:
        raise error(
            f"{what} claims {count} voxels, more than the limit of {limit}; "
            f"refused before reading the pixels (set {MAX_VOXELS_VARIABLE} to raise the limit)"
        )


def check_regular_file(
    path: str | os.PathLike[str], *, what: str, error: type[InputError] = InputError
) -> None:
    """Refuse anything but an existing regular file (symbolic links are followed).

    Parameters
    ----------
    path : path-like
        The file.
    what : str
        How the file is named in the message (e.g. ``"b600 image"``).
    error : type of InputError
        The exception raised.

    Raises
    ------
    InputError
        If the path is missing (or a dangling link) or names a folder, FIFO,
        socket or device.

    Examples
    --------
    >>> try:
    ...     check_regular_file("/dev/null", what="image")
    ... except InputError as error:
    ...     print(error)
    image /dev/null: not a regular file (a character device); only regular files are read
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise error(f"{what} {path}: file not found") from None
    except OSError as exc:
        raise error(f"{what} {path}: cannot be read ({exc.strerror})") from None
    _require_regular(mode, path, what, error)


def open_regular_file(
    path: str | os.PathLike[str], *, what: str, error: type[InputError] = InputError
) -> BinaryIO:
    """Open a file for binary reading only if it is a regular file; never block.

    The file is opened with ``O_NONBLOCK`` (so opening a FIFO returns at
    once) and the type is checked on the opened descriptor (so the file cannot
    be replaced between the check and the read).

    Parameters
    ----------
    path : path-like
        The file (symbolic links are followed).
    what : str
        How the file is named in the message.
    error : type of InputError
        The exception raised.

    Returns
    -------
    binary file object
        Open for reading, positioned at the start.

    Raises
    ------
    InputError
        If the file is missing or is not a regular file.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as tmp:
    ...     with open_regular_file(tmp.name, what="file") as handle:
    ...         handle.read()
    b''
    """
    descriptor = _open_regular_descriptor(path, what=what, error=error)
    try:
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_regular_file(
    path: str | os.PathLike[str],
    *,
    what: str,
    error: type[InputError] = InputError,
    limit_bytes: int,
) -> bytes:
    """Read up to ``limit_bytes`` of a file, only if it is a regular file; never block.

    The checks of :func:`open_regular_file`, with one ``read`` on the
    descriptor and no file object around it (the importer reads every file
    of a study this way).

    Parameters
    ----------
    path : path-like
        The file (symbolic links are followed).
    what : str
        How the file is named in the message.
    error : type of InputError
        The exception raised.
    limit_bytes : int
        Read at most this many bytes.

    Returns
    -------
    bytes
        The first ``limit_bytes`` bytes (all of a shorter file).

    Raises
    ------
    InputError
        If the file is missing, is not a regular file or cannot be read.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as tmp:
    ...     _ = tmp.write(b"DICM data"); tmp.flush()
    ...     read_regular_file(tmp.name, what="file", limit_bytes=4)
    b'DICM'
    """
    descriptor = _open_regular_descriptor(path, what=what, error=error)
    try:
        parts = []
        left = limit_bytes
        while left > 0:
            part = os.read(descriptor, left)
            if not part:
                break
            parts.append(part)
            left -= len(part)
    except OSError as exc:
        raise error(f"{what} {path}: cannot be read ({exc.strerror})") from None
    finally:
        os.close(descriptor)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _open_regular_descriptor(
    path: str | os.PathLike[str], *, what: str, error: type[InputError]
) -> int:
    """Open a regular file's descriptor for blocking reads (see :func:`open_regular_file`)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise error(f"{what} {path}: file not found") from None
    except OSError as exc:
        raise error(f"{what} {path}: cannot be read ({exc.strerror})") from None
    try:
        _require_regular(os.fstat(descriptor).st_mode, path, what, error)
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def load_json_file(path: str | os.PathLike[str], *, what: str) -> Any:
    """Read a small JSON input file within the documented limits.

    Parameters
    ----------
    path : path-like
        The file (a regular file of at most :data:`MAX_JSON_BYTES` bytes, UTF-8).
    what : str
        How the file is named in messages (e.g. ``"FACTS"``).

    Returns
    -------
    object
        The decoded JSON value.

    Raises
    ------
    InputError
        If the file is missing or not a regular file, too large, not UTF-8,
        not JSON, nested deeper than :data:`MAX_JSON_DEPTH` or holds a number
        that is not finite or longer than :data:`MAX_JSON_NUMBER_CHARACTERS`.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "f.json"
    ...     _ = path.write_text('{"ki67_pct": 12.5}')
    ...     load_json_file(path, what="FACTS")
    {'ki67_pct': 12.5}
    """
    with open_regular_file(path, what=what) as handle:
        raw = handle.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise InputError(f"{what} {path}: larger than {MAX_JSON_BYTES} bytes; not a JSON input")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what} {path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    return parse_json_text(text, what=f"{what} {path}")


def parse_json_text(text: str, *, what: str) -> Any:
    """Parse JSON text within :data:`MAX_JSON_DEPTH` and the number-length limit.

    Parameters
    ----------
    text : str
        The JSON document.
    what : str
        How the input is named in messages.

    Returns
    -------
    object
        The decoded value.

    Raises
    ------
    InputError
        One line naming ``what`` and the broken rule.

    Examples
    --------
    >>> parse_json_text('[1, 2.5, "x"]', what="list")
    [1, 2.5, 'x']
    >>> try:
    ...     parse_json_text("[" * 100000, what="deep.json")
    ... except InputError as error:
    ...     print(error)
    deep.json: JSON nested deeper than 64 levels
    """
    _check_depth(text, what)

    def number_text(literal: str) -> str:
        if len(literal) > MAX_JSON_NUMBER_CHARACTERS:
            raise InputError(
                f"{what}: number of {len(literal)} characters, more than "
                f"{MAX_JSON_NUMBER_CHARACTERS} (starting {literal[:12]}...)"
            )
        return literal

    def parse_float(literal: str) -> float:
        value = float(number_text(literal))
        if not math.isfinite(value):
            raise InputError(f"{what}: number {literal} is outside the floating-point range")
        return value

    def parse_constant(literal: str) -> float:
        raise InputError(f"{what}: {literal} is not a number JSON allows")

    try:
        return json.loads(
            text,
            parse_int=lambda literal: int(number_text(literal)),
            parse_float=parse_float,
            parse_constant=parse_constant,
        )
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{what}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:  # unreachable after _check_depth; kept as a last resort
        raise InputError(f"{what}: JSON nested too deeply") from None


def _check_depth(text: str, what: str) -> None:
    depth = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise InputError(f"{what}: JSON nested deeper than {MAX_JSON_DEPTH} levels")
        else:
            depth -= 1


def _require_regular(
    mode: int, path: str | os.PathLike[str], what: str, error: type[InputError]
) -> None:
    if stat.S_ISREG(mode):
        return
    kind = (
        "a folder"
        if stat.S_ISDIR(mode)
        else "a FIFO"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a character device"
        if stat.S_ISCHR(mode)
        else "a block device"
        if stat.S_ISBLK(mode)
        else "a special file"
    )
    raise error(f"{what} {Path(path)}: not a regular file ({kind}); only regular files are read")


__all__ = [
    "DEFAULT_MAX_VOXELS",
    "MAX_VOXELS_VARIABLE",
    "check_regular_file",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_JSON_NUMBER_CHARACTERS",
    "check_voxel_count",
    "load_json_file",
    "max_voxels",
    "open_regular_file",
    "parse_json_text",
    "read_regular_file",
    "voxel_count",
]
