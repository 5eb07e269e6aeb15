"""tumorboard: quantitative imaging for tumour-board response assessment.

The public API is declared in the subpackages (``tumorboard.imaging``,
``tumorboard.dwi``, ...); this top level only carries the version.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tumorboard")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = ["__version__"]
