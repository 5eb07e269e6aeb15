"""De-identification of case-report-form exports.

:class:`Disclosure` decides how identities appear in the JSON, HTML, PDF,
SDTM and DICOM SR outputs: as given, or de-identified -- the patient id
becomes a salted SHA-256 pseudonym, every date a study day (baseline =
day 1, SDTM style), and date-like strings in free text are removed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Disclosure:
    """How identities appear in exports.

    Parameters
    ----------
    deidentify : bool
        Replace the patient id by a salted-hash pseudonym and dates by study days.
    salt : str, optional
        Secret mixed into the hash; a random one is drawn when omitted (then
        pseudonyms differ between runs, which is the safe default).
    """

    deidentify: bool = False
    salt: str | None = field(default=None, repr=False)
    _salt: str = field(init=False, repr=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "_salt", self.salt or secrets.token_hex(16))

    def patient(self, patient_id: str) -> str:
        """The id to print: the original, or ``SUBJ-`` and 12 hex digits of SHA-256."""
        if not self.deidentify:
            return patient_id
        digest = hashlib.sha256(f"{self._salt}\x00{patient_id}".encode()).hexdigest()
        return f"SUBJ-{digest[:12].upper()}"

    def when(self, date: dt.date, baseline: dt.date) -> str:
        """ISO date, or ``day N`` when de-identified."""
        if not self.deidentify:
            return date.isoformat()
        return f"day {study_day(date, baseline)}"

    def text(self, value: str, patient_id: str | None = None) -> str:
        """Free text with the patient id pseudonymised and date-like strings removed.

        Timepoint labels, organs and notes are the user's text; a label such as
        ``2024-01-08`` would otherwise carry a date into a de-identified export.
        """
        if not self.deidentify:
            return value
        if patient_id:
            value = value.replace(patient_id, self.patient(patient_id))
        return _DATE_LIKE.sub("[date]", value)

    def scrub(self, item: Any, patient_id: str | None = None) -> Any:
        """Apply :meth:`text` to every string in a JSON-like structure (not to figures)."""
        if not self.deidentify:
            return item
        if isinstance(item, str):
            return self.text(item, patient_id)
        if isinstance(item, list):
            return [self.scrub(value, patient_id) for value in item]
        if isinstance(item, dict):
            return {
                key: value if key == "figures" else self.scrub(value, patient_id)
                for key, value in item.items()
            }
        return item


#: Dates in free text: ISO, compact YYYYMMDD, and day/month/year with . or /.
_DATE_LIKE = re.compile(
    r"(?<![0-9A-Za-z])"
    r"(\d{4}-\d{1,2}-\d{1,2}|\d{8}|\d{1,2}[./]\d{1,2}[./]\d{2,4})"
    r"(?![0-9A-Za-z])"
)


def study_day(date: dt.date, reference: dt.date) -> int:
    """SDTM study day: the reference date is day 1 and there is no day 0."""
    delta = (date - reference).days
    return delta + 1 if delta >= 0 else delta
