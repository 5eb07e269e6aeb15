"""Writing JSON outputs (shared by the command line and the pipelines)."""

from __future__ import annotations

import json
import os
from typing import Any


def write_json(path: str | os.PathLike[str], payload: Any) -> None:
    """Write ``payload`` as indented UTF-8 JSON with a trailing newline (no NaN).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.json"
    >>> write_json(target, {"a": 1})
    >>> target.read_text().splitlines()
    ['{', '  "a": 1', '}']
    """
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, allow_nan=False)
        handle.write("\n")


__all__ = ["write_json"]
