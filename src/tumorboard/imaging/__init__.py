"""Imaging core: the :class:`Volume` type and the readers and writers of formats.

This is the only package that knows file formats. Numerical packages receive
and return :class:`Volume` objects.
"""

from tumorboard.imaging.nifti import read_nifti, write_nifti
from tumorboard.imaging.volume import Volume

__all__ = ["Volume", "read_nifti", "write_nifti"]
