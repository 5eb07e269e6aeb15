"""One de-identifier for every export: DICOM datasets, JSON-like records and free text.

:class:`Deidentifier` holds a secret salt and one date option and gives

* :meth:`~Deidentifier.pseudonym` -- ``SUBJ-`` and 12 hex digits of
  SHA-256(salt, id), the same for the same id and salt;
* :meth:`~Deidentifier.uid` -- a ``2.25.`` UID derived from the salt and the
  original UID by SHA-256, so references between de-identified objects stay
  consistent;
* :meth:`~Deidentifier.text` -- free text with the identifiers of an
  :class:`Identity` (and their spelling variants) replaced by the pseudonym,
  other ids by ``[id]``, name tokens by ``[name]`` and dates, however
  written, by ``[date]`` (:mod:`tumorboard.privacy.free_text`);
* :meth:`~Deidentifier.record` -- the same over a JSON-like structure, with
  every key that names an identifying field (:data:`IDENTIFYING_KEYS`:
  ``patient_name``, ``birth_date`` ...) dropped and identifier keys
  (:data:`PSEUDONYM_KEYS`: ``patient_id``, ``study_id`` ...) pseudonymised;
* :meth:`~Deidentifier.dataset` -- a copy of a pydicom dataset under the
  DICOM PS3.15 Basic Application Level Confidentiality Profile
  (:mod:`tumorboard.privacy.dicom_profile`): private tags removed, every
  listed attribute removed, emptied, replaced by a dummy or (UIDs) by its
  consistent replacement, nested sequences included; ``PatientID`` and
  ``PatientName`` carry the pseudonym (a dummy value, as action Z allows),
  ``PatientIdentityRemoved`` is ``YES`` and ``DeidentificationMethod`` /
  ``DeidentificationMethodCodeSequence`` name the profile and options.

Date option (``dates``): ``"remove"`` (the Basic Profile: dates emptied,
removed or set to the dummy ``19000101``) or ``"shift"`` (the Retain
Longitudinal Temporal Information with Modified Dates Option: the dates the
option lists move back by a per-patient whole number of weeks derived from
the salt, 1 to 520 weeks, so intervals and weekdays are kept; times stay).
The birth date is removed under both.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from tumorboard.privacy.dicom_profile import Action, basic_profile_action, is_modified_date
from tumorboard.privacy.free_text import identifier_pattern, name_pattern, replace_dates

if TYPE_CHECKING:  # pydicom loads only when a DICOM dataset is de-identified
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset

__all__ = [
    "DATE_TOKEN",
    "IDENTIFYING_KEYS",
    "ID_TOKEN",
    "NAME_TOKEN",
    "PSEUDONYM_KEYS",
    "DateOption",
    "Deidentifier",
    "Identity",
    "normalise_key",
]

DateOption = Literal["remove", "shift"]
DATE_TOKEN = "[date]"
NAME_TOKEN = "[name]"
ID_TOKEN = "[id]"
#: Record keys (after :func:`normalise_key`) whose value identifies a person: dropped.
IDENTIFYING_KEYS = frozenset(
    {
        "patient_name",
        "patients_name",
        "name",
        "first_name",
        "last_name",
        "given_name",
        "family_name",
        "birth_name",
        "birth_date",
        "patient_birth_date",
        "patients_birth_date",
        "date_of_birth",
        "dob",
        "birth_time",
        "address",
        "patient_address",
        "phone",
        "telephone",
        "email",
        "mrn",
        "medical_record_number",
        "other_patient_ids",
        "accession",
        "accession_number",
        "ssn",
        "social_security_number",
        "insurance_number",
        "referring_physician",
        "referring_physician_name",
        "physician",
        "institution",
        "institution_name",
    }
)
#: Record keys holding an identifier to pseudonymise, with the pseudonym's prefix.
PSEUDONYM_KEYS: Mapping[str, str] = {
    "patient_id": "SUBJ",
    "subject_id": "SUBJ",
    "usubjid": "SUBJ",
    "study_id": "STUDY",
    "studyid": "STUDY",
}
_PSEUDONYM = re.compile(r"^(?:SUBJ|STUDY)-[0-9A-F]{12}$")
_NAME_KEYS = frozenset(
    {"patient_name", "patients_name", "name", "first_name", "last_name", "given_name"}
    | {"family_name", "birth_name"}
)
_ID_KEYS = frozenset({"mrn", "medical_record_number", "other_patient_ids", "accession_number"})
#: Dummy values of action D, by value representation.
_DUMMY = {
    "PN": "ANONYMOUS",
    "LO": "ANONYMOUS",
    "SH": "ANONYMOUS",
    "LT": "ANONYMOUS",
    "ST": "ANONYMOUS",
    "UT": "ANONYMOUS",
    "UC": "ANONYMOUS",
    "CS": "ANONYMOUS",
    "AE": "ANONYMOUS",
    "DA": "19000101",
    "DT": "19000101000000",
    "TM": "000000",
    "IS": "0",
    "DS": "0",
    "AS": "000Y",
}
_BASIC_PROFILE = ("113100", "DCM", "Basic Application Confidentiality Profile")
_MODIFIED_DATES = (
    "113107",
    "DCM",
    "Retain Longitudinal Temporal Information Modified Dates Option",
)


@lru_cache(maxsize=4096)
def normalise_key(key: str) -> str:
    """A record key in lower case with runs of other characters as ``_``.

    Examples
    --------
    >>> normalise_key("Birth-Date"), normalise_key("Patient's Name")
    ('birth_date', 'patients_name')
    """
    return re.sub(r"[^0-9a-z]+", "_", key.lower()).strip("_").replace("_s_", "s_")


@dataclass(frozen=True)
class Identity:
    """What identifies one patient in free text.

    Parameters
    ----------
    patient_id : str, optional
        Replaced by its pseudonym (with its variants, see
        :func:`~tumorboard.privacy.free_text.identifier_pattern`).
    names : tuple of str
        Person names (DICOM ``FAMILY^GIVEN`` or plain); their tokens become ``[name]``.
    other_ids : tuple of str
        Other identifiers (accession numbers, other patient ids): ``[id]``.

    Examples
    --------
    >>> from pydicom.dataset import Dataset
    >>> ds = Dataset()
    >>> ds.PatientID, ds.PatientName, ds.AccessionNumber = "MRN-1", "DOE^JANE", "ACC-9"
    >>> Identity.from_dataset(ds)
    Identity(patient_id='MRN-1', names=('DOE^JANE',), other_ids=('ACC-9',))
    """

    patient_id: str | None = None
    names: tuple[str, ...] = ()
    other_ids: tuple[str, ...] = ()

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> Identity:
        """The identity recorded in a DICOM header (ids, names, accession number)."""
        names = [str(dataset.get(key, "") or "") for key in ("PatientName", "OtherPatientNames")]
        others = [str(dataset.get(key, "") or "") for key in ("AccessionNumber", "OtherPatientIDs")]
        patient_id = str(dataset.get("PatientID", "") or "") or None
        return cls(patient_id, tuple(n for n in names if n), tuple(o for o in others if o))

    def merged(self, other: Identity) -> Identity:
        """Both identities' names and ids (this one's patient id first)."""
        patient_id = self.patient_id or other.patient_id
        others = (*self.other_ids, *other.other_ids)
        if other.patient_id and other.patient_id != patient_id:
            others = (*others, other.patient_id)
        return Identity(patient_id, (*self.names, *other.names), others)


@dataclass(frozen=True)
class Deidentifier:
    """The de-identifier of every export.

    Parameters
    ----------
    salt : str, optional
        Secret mixed into pseudonyms, UIDs and date shifts; a random one is
        drawn when omitted (then nothing links two runs, the safe default).
        Give the same salt to link the exports of one patient across runs.
    dates : {"remove", "shift"}
        DICOM dates: removed per the Basic Profile, or shifted per the
        Modified Dates Option (see the module notes).

    Examples
    --------
    >>> deid = Deidentifier(salt="k")
    >>> deid.pseudonym("MRN-778899")
    'SUBJ-1935F786E2C1'
    >>> deid.text("mrn778899-L1 seen 8-Jan-2024 by Dr Doe", Identity("MRN-778899", ("DOE^J",)))
    'SUBJ-1935F786E2C1-L1 seen [date] by Dr [name]'
    >>> deid.record({"patient_id": "MRN-778899", "dob": "1964-03-12", "note": "June 3, 2024"})
    {'patient_id': 'SUBJ-1935F786E2C1', 'note': '[date]'}
    """

    salt: str | None = field(default=None, repr=False)
    dates: DateOption = "remove"
    _salt: str = field(init=False, repr=False, default="")
    _pseudonyms: dict[tuple[str, str], str] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        if self.dates not in ("remove", "shift"):
            raise ValueError(f"dates must be 'remove' or 'shift', got {self.dates!r}")
        object.__setattr__(self, "_salt", self.salt or secrets.token_hex(16))

    # -- identifiers ---------------------------------------------------------

    def pseudonym(self, identifier: str, prefix: str = "SUBJ") -> str:
        """``PREFIX-`` and the first 12 hex digits (upper case) of SHA-256(salt, identifier)."""
        key = (identifier, prefix)
        if key not in self._pseudonyms:
            digest = hashlib.sha256(f"{self._salt}\x00{identifier}".encode()).hexdigest()
            self._pseudonyms[key] = f"{prefix}-{digest[:12].upper()}"
        return self._pseudonyms[key]

    def uid(self, uid: str) -> str:
        """The replacement of a UID: the same for the same UID and salt.

        A ``2.25.`` UID (PS3.5 B.2) whose UUID is SHA-256(salt, UID), name-based.
        """
        digest = hashlib.sha256(f"{self._salt}\x00uid\x00{uid}".encode()).digest()
        return f"2.25.{uuid.UUID(bytes=digest[:16], version=5).int}"

    def date_shift_days(self, patient_id: str) -> int:
        """Days added to a patient's dates under ``dates="shift"``: -7 to -3640, whole weeks."""
        digest = hashlib.sha256(f"{self._salt}\x00date-shift\x00{patient_id}".encode()).digest()
        return -7 * (1 + int.from_bytes(digest[:4], "big") % 520)

    # -- free text and records ----------------------------------------------

    def text(self, value: str, identity: Identity | None = None) -> str:
        """Free text with identifiers, name tokens and dates replaced."""
        identity = identity or Identity()
        if identity.patient_id and (pattern := identifier_pattern(identity.patient_id)):
            value = pattern.sub(self.pseudonym(identity.patient_id), value)
        for other in identity.other_ids:
            if pattern := identifier_pattern(other):
                value = pattern.sub(ID_TOKEN, value)
        if names := name_pattern(identity.names):
            value = names.sub(NAME_TOKEN, value)
        return replace_dates(value, DATE_TOKEN)

    def record(
        self, item: Any, identity: Identity | None = None, *, keep: Iterable[str] = ("figures",)
    ) -> Any:
        """A JSON-like structure with identifying keys dropped and every string scrubbed.

        Values under an identifying key (:data:`IDENTIFYING_KEYS`) are first
        harvested -- names, ids -- so that the same values elsewhere in the
        text are found too. Keys in ``keep`` (e.g. ``figures``: PNG data
        URIs) are copied untouched; keys are kept as they are.
        """
        kept = frozenset(keep)
        identity = (identity or Identity()).merged(_harvest(item, kept))
        return self._record(item, identity, kept)

    def _record(self, item: Any, identity: Identity, keep: frozenset[str]) -> Any:
        if isinstance(item, str):
            return self.text(item, identity)
        if isinstance(item, list | tuple):
            return [self._record(value, identity, keep) for value in item]
        if not isinstance(item, dict | Mapping):  # dict first: the ABC check is slow
            return item
        result: dict[Any, Any] = {}
        for key, value in item.items():
            name = normalise_key(str(key))
            if name in IDENTIFYING_KEYS:
                continue
            if key in keep:
                result[key] = value
            elif name in PSEUDONYM_KEYS and isinstance(value, str) and value:
                result[key] = (
                    value
                    if _PSEUDONYM.match(value)
                    else self.pseudonym(value, PSEUDONYM_KEYS[name])
                )
            else:
                result[key] = self._record(value, identity, keep)
        return result

    # -- DICOM ---------------------------------------------------------------

    def dataset(self, dataset: Dataset) -> Dataset:
        """A de-identified copy of ``dataset`` (Basic Profile; see the module notes).

        Examples
        --------
        >>> from pydicom.dataset import Dataset
        >>> ds = Dataset()
        >>> ds.PatientName, ds.PatientID, ds.PatientBirthDate = "DOE^JANE", "MRN-778899", "19640312"
        >>> ds.StudyInstanceUID, ds.Rows = "1.2.3.4", 8
        >>> out = Deidentifier(salt="k").dataset(ds)
        >>> str(out.PatientID), "PatientBirthDate" in out, out.Rows, out.PatientIdentityRemoved
        ('SUBJ-1935F786E2C1', True, 8, 'YES')
        >>> out["PatientBirthDate"].is_empty and out.StudyInstanceUID.startswith("2.25.")
        True
        """
        result = copy.deepcopy(dataset)
        patient_id = str(dataset.get("PatientID", "") or "")
        shift = self.date_shift_days(patient_id) if self.dates == "shift" else None
        self._clean(result, shift)
        meta = getattr(result, "file_meta", None)
        if meta is not None and "MediaStorageSOPInstanceUID" in meta:
            meta.MediaStorageSOPInstanceUID = self.uid(str(meta.MediaStorageSOPInstanceUID))
        pseudonym = self.pseudonym(patient_id) if patient_id else "ANONYMOUS"
        result.PatientID = pseudonym
        result.PatientName = pseudonym
        result.PatientIdentityRemoved = "YES"
        options = [_BASIC_PROFILE] + ([_MODIFIED_DATES] if shift is not None else [])
        result.DeidentificationMethod = (
            "tumorboard: DICOM PS3.15 Basic Application Level Confidentiality Profile"
            + ("; modified dates" if shift is not None else "; dates removed")
            + "; salted-hash UIDs and pseudonyms"
        )[:64]
        from pydicom.dataset import Dataset
        from pydicom.sequence import Sequence

        codes = []
        for value, scheme, meaning in options:
            code = Dataset()
            code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = value, scheme, meaning
            codes.append(code)
        result.DeidentificationMethodCodeSequence = Sequence(codes)
        return result

    def _clean(self, dataset: Dataset, shift: int | None) -> None:
        from pydicom.sequence import Sequence

        for element in list(dataset):
            tag = element.tag
            if shift is not None and is_modified_date(tag) and element.VR in ("DA", "DT", "TM"):
                if element.VR != "TM":  # whole days: the time of day stays
                    element.value = _shifted(element, shift)
                continue
            action = basic_profile_action(tag)
            if action is Action.REMOVE:
                del dataset[tag]
            elif element.VR == "SQ":
                if action is Action.EMPTY:
                    element.value = Sequence()
                else:
                    for item in element.value:
                        self._clean(item, shift)
            elif action is Action.EMPTY:
                element.value = None
            elif action is Action.DUMMY:
                element.value = (
                    self.uid(str(element.value)) if element.VR == "UI" else _dummy(element)
                )
            elif action is Action.REPLACE_UID and element.value:
                values = element.value if element.VM > 1 else [element.value]
                replaced = [self.uid(str(v)) for v in values]
                element.value = replaced if element.VM > 1 else replaced[0]


def _dummy(element: DataElement) -> Any:
    return _DUMMY.get(element.VR)


def _shifted(element: DataElement, days: int) -> Any:
    """A DA/DT value moved by ``days`` (empty when it is not a valid date)."""
    values = element.value if element.VM > 1 else [element.value]
    shifted = []
    for value in values:
        text = str(value or "")
        try:
            day = dt.datetime.strptime(text[:8], "%Y%m%d").date() + dt.timedelta(days=days)
        except ValueError:
            return None
        shifted.append(day.strftime("%Y%m%d") + (text[8:] if element.VR == "DT" else ""))
    return shifted if element.VM > 1 else shifted[0]


def _harvest(item: Any, keep: frozenset[str]) -> Identity:
    """Names and ids found under identifying and id keys anywhere in a record."""
    names: list[str] = []
    ids: list[str] = []
    patients: list[str] = []
    stack = [item]
    while stack:
        current = stack.pop()
        if isinstance(current, list | tuple):
            stack.extend(current)
        elif isinstance(current, Mapping):
            for key, value in current.items():
                name = normalise_key(str(key))
                if key in keep:
                    continue
                if isinstance(value, str) and value:
                    if name in _NAME_KEYS:
                        names.append(value)
                    elif name in _ID_KEYS or (
                        name in PSEUDONYM_KEYS and not _PSEUDONYM.match(value)
                    ):
                        (patients if PSEUDONYM_KEYS.get(name) == "SUBJ" else ids).append(value)
                elif isinstance(value, list | tuple | Mapping):
                    stack.append(value)
    first = patients[0] if patients else None
    return Identity(first, tuple(names), (*ids, *patients[1:]))
