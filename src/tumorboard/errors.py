"""Domain exceptions.

Every error a user can cause derives from :class:`TumorboardError`; those
caused by bad input also derive from :class:`ValueError`. Messages name the
file or argument, the rule that was broken and what was received, and never
contain patient identifiers. The command line prints ``str(error)`` as one
line and exits non-zero.
"""

from __future__ import annotations


class TumorboardError(Exception):
    """Base class of all tumorboard errors."""


class InputError(TumorboardError, ValueError):
    """Bad input: a file, field or argument breaks a documented rule."""


class DicomError(InputError):
    """A DICOM file or series cannot be used (unreadable, inconsistent, missing tag)."""


class GeometryError(InputError):
    """Two images or masks do not share the geometry an operation requires."""


class OutputExistsError(TumorboardError, FileExistsError):
    """The output location exists and ``--force`` was not given."""


class EmptyResultError(TumorboardError, ValueError):
    """An analysis produced nothing to measure (e.g. an empty segmentation)."""
