"""DICOM date and time values (DA, TM, DT) as Python dates and times.

One concept: the text forms of the PET timing attributes (series, acquisition
and injection times) parsed strictly, with messages that name the attribute
and show the text received (never a patient attribute).
"""

from __future__ import annotations

from datetime import date, datetime, time

from tumorboard.errors import DicomError


def parse_da(text: str, name: str) -> date:
    """Parse a DICOM DA ``YYYYMMDD`` (ACR-NEMA ``YYYY.MM.DD`` accepted).

    Parameters
    ----------
    text : str
        The value as written.
    name : str
        Where the value comes from, for the message (e.g. ``"folder: SeriesDate"``).

    Raises
    ------
    DicomError
        If ``text`` is not a date.
    """
    text = str(text).strip().replace(".", "").replace("-", "")
    try:
        return datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        raise DicomError(f"{name} is not a DICOM date (YYYYMMDD): {text!r}") from None


def parse_tm(text: str, name: str) -> time:
    """Parse a DICOM TM ``HH[MM[SS[.FFFFFF]]]`` (ACR-NEMA colons accepted).

    A leap second (60) is read as 59.

    Raises
    ------
    DicomError
        If ``text`` is not a time of day.
    """
    raw = str(text).strip().replace(":", "")
    main, _, fraction = raw.partition(".")
    if not main.isdigit() or len(main) not in (2, 4, 6) or (fraction and not fraction.isdigit()):
        raise DicomError(f"{name} is not a DICOM time (HHMMSS.FFFFFF): {text!r}")
    hours = int(main[0:2])
    minutes = int(main[2:4]) if len(main) >= 4 else 0
    seconds = int(main[4:6]) if len(main) >= 6 else 0
    micro = int((fraction + "000000")[:6]) if fraction else 0
    if hours > 23 or minutes > 59 or seconds > 60:
        raise DicomError(f"{name} is not a valid time: {text!r}")
    seconds = min(seconds, 59)
    return time(hours, minutes, seconds, micro)


def parse_dt(text: str, name: str) -> datetime:
    """Parse a DICOM DT ``YYYYMMDDHHMMSS.FFFFFF[&ZZXX]``; the UTC offset is ignored.

    Raises
    ------
    DicomError
        If ``text`` is not a date-time.
    """
    raw = str(text).strip()
    for sign in ("+", "-"):
        if sign in raw[8:]:
            raw = raw[: 8 + raw[8:].index(sign)]
    if len(raw) < 8:
        raise DicomError(f"{name} is not a DICOM date-time: {text!r}")
    day = parse_da(raw[:8], name)
    clock = parse_tm(raw[8:], name) if len(raw) > 8 else time(0)
    return datetime.combine(day, clock)


__all__ = ["parse_da", "parse_dt", "parse_tm"]
