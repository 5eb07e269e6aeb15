"""De-identification of case-report-form exports, on the one de-identifier.

:class:`Disclosure` decides how identities appear in the JSON, HTML, PDF,
SDTM and DICOM SR outputs: as given, or de-identified through
:class:`tumorboard.privacy.Deidentifier` -- the patient id becomes a salted
SHA-256 pseudonym (``SUBJ-`` + 12 hex digits), the study id too
(``STUDY-``...), every structured date a study day (baseline = day 1, SDTM
style), identifier variants, name tokens and dates however written are
removed from free text, and keys naming identifying fields (``patient_name``,
``birth_date`` ...) are dropped from the document.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tumorboard.privacy import Deidentifier, Identity

#: Keys copied untouched by the scrub: PNG data URIs and software metadata (the
#: guide's rule tables are versioned by date), and in a shared pass the patient
#: blocks (already scrubbed each with its own patient's identity).
_FIGURES = ("figures", "rules_versions", "tumorboard_version", "generator")
_SHARED_KEEP = (*_FIGURES, "patients")
_Item = TypeVar("_Item")


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

    Examples
    --------
    >>> d = Disclosure(deidentify=True, salt="k")
    >>> d.patient("MRN-778899")
    'SUBJ-1935F786E2C1'
    >>> d.text("mrn778899-L1 on 2024.06.24", "MRN-778899")
    'SUBJ-1935F786E2C1-L1 on [date]'
    >>> Disclosure().text("mrn778899-L1 on 2024.06.24", "MRN-778899")
    'mrn778899-L1 on 2024.06.24'
    """

    deidentify: bool = False
    salt: str | None = field(default=None, repr=False)
    deidentifier: Deidentifier = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "deidentifier", Deidentifier(salt=self.salt))

    def patient(self, patient_id: str) -> str:
        """The id to print: the original, or ``SUBJ-`` and 12 hex digits of SHA-256."""
        return self.deidentifier.pseudonym(patient_id) if self.deidentify else patient_id

    def study(self, study_id: str) -> str:
        """The study id to print: the original, or ``STUDY-`` and 12 hex digits."""
        if not self.deidentify or not study_id:
            return study_id
        return self.deidentifier.pseudonym(study_id, "STUDY")

    def when(self, date: dt.date, baseline: dt.date) -> str:
        """ISO date, or ``day N`` when de-identified."""
        if not self.deidentify:
            return date.isoformat()
        return f"day {study_day(date, baseline)}"

    def text(self, value: str, patient_id: str | None = None, names: Sequence[str] = ()) -> str:
        """Free text with the patient id (and variants) pseudonymised and dates removed.

        Timepoint labels, organs and notes are the user's text; a label such as
        ``2024-01-08`` would otherwise carry a date into a de-identified export.
        Tokens of the person ``names`` given (the patient's name) become ``[name]``.
        """
        if not self.deidentify:
            return value
        return self.deidentifier.text(value, Identity(patient_id, tuple(names)))

    def scrub(self, item: Any, patient_id: str | None = None, names: Sequence[str] = ()) -> Any:
        """One patient's JSON-like block, de-identified (figures are kept as they are).

        Identifying keys (``patient_name``, ``birth_date`` ...) are dropped, id
        keys pseudonymised and every string scrubbed
        (:meth:`tumorboard.privacy.Deidentifier.record`); the tokens of
        ``names`` and of any name key in ``item`` are removed from the text.
        """
        if not self.deidentify:
            return item
        identity = Identity(patient_id, tuple(names))
        return self.deidentifier.record(item, identity, keep=_FIGURES)

    def shared(self, item: _Item, patient_ids: Iterable[str]) -> _Item:
        """A block shared by several patients (the form's top level, the reading guide).

        Scrubbed with every patient's identity in turn; a ``patients`` key
        (the per-patient blocks, scrubbed by :meth:`scrub`) and ``figures``
        are copied as they are.
        """
        if not self.deidentify:
            return item
        identities = [Identity(patient_id) for patient_id in patient_ids] or [Identity()]
        for identity in identities:
            item = self.deidentifier.record(item, identity, keep=_SHARED_KEEP)
        return item


def study_day(date: dt.date, reference: dt.date) -> int:
    """SDTM study day: the reference date is day 1 and there is no day 0.

    Examples
    --------
    >>> base = dt.date(2024, 1, 8)
    >>> [study_day(dt.date(2024, 1, day), base) for day in (7, 8, 9)]
    [-1, 1, 2]
    """
    delta = (date - reference).days
    return delta + 1 if delta >= 0 else delta
