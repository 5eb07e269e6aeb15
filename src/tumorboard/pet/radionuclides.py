"""Physical half-lives of the PET and theranostic radionuclides tumorboard knows.

Used only when a PET header lacks RadionuclideHalfLife (0018,1075): the
radionuclide is then identified from RadionuclideCodeSequence (0054,0300), by
code (SNOMED CT, or the legacy SRT code, which pydicom maps to SNOMED CT) or by
its code meaning ("^68^Gallium", "Ga-68", "68Ga"). An unknown or ambiguous
radionuclide is an error; a half-life is never guessed.

Half-lives are NNDC/DDEP evaluated values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from tumorboard.errors import DicomError


@dataclass(frozen=True)
class Radionuclide:
    """A radionuclide with its physical half-life.

    Attributes
    ----------
    symbol : str
        Short name such as ``"F-18"``.
    half_life_s : float
        Physical half-life in seconds.
    code : pydicom.sr.coding.Code
        SNOMED CT code (DICOM CID 4020 / CID 25).
    """

    symbol: str
    half_life_s: float
    code: Code


#: The radionuclides recognised from a code sequence.
RADIONUCLIDES: tuple[Radionuclide, ...] = (
    Radionuclide("F-18", 109.77 * 60.0, codes.SCT._18Fluorine),
    Radionuclide("Ga-68", 67.71 * 60.0, codes.SCT._68Gallium),
    Radionuclide("C-11", 20.364 * 60.0, codes.SCT._11Carbon),
    Radionuclide("Cu-64", 12.701 * 3600.0, codes.SCT._64Copper),
    Radionuclide("Zr-89", 78.41 * 3600.0, codes.SCT._89Zirconium),
    Radionuclide("Lu-177", 6.6443 * 86400.0, codes.SCT._177Lutetium),
    Radionuclide("I-124", 4.1760 * 86400.0, codes.SCT._124Iodine),
)

_ELEMENT_NAMES = {
    "F": "fluorine",
    "GA": "gallium",
    "C": "carbon",
    "CU": "copper",
    "ZR": "zirconium",
    "LU": "lutetium",
    "I": "iodine",
}


def _from_meaning(meaning: str) -> Radionuclide | None:
    text = meaning.strip().lower().replace("^", " ")
    for nuclide in RADIONUCLIDES:
        element, mass = nuclide.symbol.split("-")
        name = _ELEMENT_NAMES[element.upper()]
        symbol = element.lower()
        patterns = (
            rf"\b{mass}\s*-?\s*({name}|{symbol})\b",
            rf"\b({name}|{symbol})\s*-?\s*{mass}\b",
        )
        if any(re.search(pattern, text) for pattern in patterns):
            return nuclide
    return None


def radionuclide_from_code(value: str, scheme: str, meaning: str) -> Radionuclide:
    """Identify a radionuclide from a RadionuclideCodeSequence item.

    Parameters
    ----------
    value, scheme, meaning : str
        CodeValue, CodingSchemeDesignator and CodeMeaning of the item.

    Returns
    -------
    Radionuclide
        The identified radionuclide.

    Raises
    ------
    DicomError
        If neither the code nor its meaning names a known radionuclide, or if
        they name different ones.
    """
    by_code = None
    if value and scheme:
        try:
            code = Code(value=value.strip(), scheme_designator=scheme.strip(), meaning=meaning)
        except (TypeError, ValueError):
            code = None
        if code is not None:
            by_code = next((n for n in RADIONUCLIDES if n.code == code), None)
    by_meaning = _from_meaning(meaning or "")
    if by_code is not None and by_meaning is not None and by_code != by_meaning:
        raise DicomError(
            f"RadionuclideCodeSequence: code {scheme} {value} means {by_code.symbol} but its "
            f"meaning {meaning!r} says {by_meaning.symbol}; add RadionuclideHalfLife"
        )
    found = by_code or by_meaning
    if found is None:
        known = ", ".join(n.symbol for n in RADIONUCLIDES)
        raise DicomError(
            f"RadionuclideHalfLife (0018,1075) is missing and the radionuclide code "
            f"{scheme} {value} {meaning!r} is not one of {known}"
        )
    return found


__all__ = ["RADIONUCLIDES", "Radionuclide", "radionuclide_from_code"]
