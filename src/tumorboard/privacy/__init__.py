"""Privacy of exports: one de-identifier and one formula-safe CSV writer.

* :mod:`tumorboard.privacy.deidentify` -- :class:`Deidentifier` (DICOM PS3.15
  Basic Profile for datasets, pattern rules for free text, key rules for
  records) and :class:`Identity`;
* :mod:`tumorboard.privacy.dicom_profile` -- the profile's table as data;
* :mod:`tumorboard.privacy.free_text` -- the date, identifier and name patterns;
* :mod:`tumorboard.privacy.csv_safe` -- :func:`write_csv`, :class:`SafeWriter` and
  :func:`safe_cell`
  (CSV formula-injection neutralisation, OWASP).
"""

from tumorboard.privacy.csv_safe import SafeWriter, safe_cell, write_csv
from tumorboard.privacy.deidentify import (
    DATE_TOKEN,
    IDENTIFYING_KEYS,
    PSEUDONYM_KEYS,
    Deidentifier,
    Identity,
)

__all__ = [
    "DATE_TOKEN",
    "IDENTIFYING_KEYS",
    "PSEUDONYM_KEYS",
    "Deidentifier",
    "Identity",
    "SafeWriter",
    "safe_cell",
    "write_csv",
]
