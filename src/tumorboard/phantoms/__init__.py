"""Synthetic reference patients with known truth, written through the project's own writers.

Truth comes from the generating parameters only: this package imports no
science package (``dwi``, ``dce``, ``pet``, ``lesions``, ``segment``,
``criteria``, ...), which ``tests/test_architecture.py`` enforces. The modules
are imported on demand (``from tumorboard.phantoms import wbdwi_case``).
"""

__all__: list[str] = []
