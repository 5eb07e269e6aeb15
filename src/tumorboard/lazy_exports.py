"""Package names loaded on first use (PEP 562), for light package imports.

One concept: a package ``__init__`` lists where each public name lives, and
the module defining it is imported only when the name is first asked for. The
``imaging`` and ``store`` packages use it so that importing one light module
of theirs (e.g. the object store in the importer) does not import pydicom,
SimpleITK or SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, namespace: dict[str, Any], homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a package's module ``__getattr__`` and ``__dir__`` for lazily loaded names.

    Parameters
    ----------
    package : str
        The package's name (``__name__``).
    namespace : dict
        The package's ``globals()``: a loaded name is cached there.
    homes : mapping of str to str
        Each public name and the submodule that defines it.

    Returns
    -------
    (callable, callable)
        ``__getattr__`` and ``__dir__`` for the package.

    Examples
    --------
    >>> space = {}
    >>> getattr_, dir_ = lazy_exports("json", space, {"JSONEncoder": "encoder"})
    >>> getattr_("JSONEncoder").__module__, "JSONEncoder" in space, "JSONEncoder" in dir_()
    ('json.encoder', True, True)
    """

    def load(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    def names() -> list[str]:
        return sorted({*namespace, *homes})

    return load, names
