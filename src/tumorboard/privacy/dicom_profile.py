"""The DICOM PS3.15 Basic Application Level Confidentiality Profile as data.

``basic_profile.json`` holds the "Basic Prof." column of PS3.15 Table E.1-1
(every attribute the standard lists, 438 of them, with the group patterns of
curves and overlays) and the attributes that the *Retain Longitudinal
Temporal Information with Modified Dates* option modifies. Names and value
representations come from pydicom's data dictionary.

Actions: ``D`` replace with a dummy value, ``Z`` replace with an empty (or
dummy) value, ``X`` remove, ``K`` keep, ``U`` replace the UID consistently.
Compound actions (``X/Z``, ``X/D``, ``Z/D``, ``X/Z/D``, ``X/Z/U*``) let the
de-identifier keep an element the object's definition requires; this
implementation always takes the last one (``X/Z`` -> ``Z``, ``X/Z/D`` ->
``D``, ``X/Z/U*`` -> keep the sequence and replace the UIDs inside), which
discloses nothing more and never breaks the object.
"""

from __future__ import annotations

import json
from enum import Enum
from functools import cache
from importlib import resources

__all__ = ["Action", "basic_profile_action", "is_modified_date"]


class Action(Enum):
    """A profile action of PS3.15 Table E.1-1."""

    DUMMY = "D"
    EMPTY = "Z"
    REMOVE = "X"
    KEEP = "K"
    REPLACE_UID = "U"


@cache
def _table() -> dict[str, object]:
    text = resources.files("tumorboard.privacy").joinpath("basic_profile.json").read_text("utf-8")
    data: dict[str, object] = json.loads(text)
    return data


@cache
def _attributes() -> dict[int, Action]:
    attributes = _table()["attributes"]
    assert isinstance(attributes, dict)
    return {int(tag.replace(",", ""), 16): _resolve(action) for tag, action in attributes.items()}


@cache
def _modified_dates() -> frozenset[int]:
    tags = _table()["modified_dates"]
    assert isinstance(tags, list)
    return frozenset(int(tag.replace(",", ""), 16) for tag in tags)


def _resolve(action: str) -> Action:
    last = action.split("/")[-1].rstrip("*")
    return Action(last)


def basic_profile_action(tag: int) -> Action:
    """The Basic Profile action of a tag (``K`` for an attribute the profile does not list).

    Private tags (odd group) are removed, and so are curve data (50xx,xxxx),
    overlay data (60xx,3000) and overlay comments (60xx,4000).

    Examples
    --------
    >>> basic_profile_action(0x00100010)  # Patient's Name
    <Action.EMPTY: 'Z'>
    >>> basic_profile_action(0x0020000D)  # Study Instance UID
    <Action.REPLACE_UID: 'U'>
    >>> basic_profile_action(0x00080080)  # Institution Name: X/Z/D
    <Action.DUMMY: 'D'>
    >>> basic_profile_action(0x00280010)  # Rows
    <Action.KEEP: 'K'>
    """
    from pydicom.tag import BaseTag  # pydicom loads only for DICOM work

    tag = BaseTag(tag)
    if tag.is_private:
        return Action.REMOVE
    group, element = tag.group, tag.element
    if group & 0xFF00 == 0x5000 or (group & 0xFF00 == 0x6000 and element in (0x3000, 0x4000)):
        return Action.REMOVE
    return _attributes().get(int(tag), Action.KEEP)


def is_modified_date(tag: int) -> bool:
    """Whether the Modified Dates option shifts this attribute instead of removing it.

    Examples
    --------
    >>> is_modified_date(0x00080020), is_modified_date(0x00100030)  # StudyDate, birth date
    (True, False)
    """
    return int(tag) in _modified_dates()
