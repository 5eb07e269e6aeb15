"""Records every step of the guide returns: sources, recommendations, step results."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from tumorboard.errors import InputError

#: The guide's plain statement of what it is.
DISCLAIMER = (
    "This is a reading aid for the tumour board, not a decision: it walks the published "
    "decision paths from the facts given and cites where each step comes from. The "
    "treating team decides."
)


@cache
def load_rules(name: str) -> dict[str, Any]:
    """Load the versioned rule table ``guide/rules/<name>.json``."""
    path = resources.files("tumorboard.guide").joinpath("rules", f"{name}.json")
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


@dataclass(frozen=True)
class Source:
    """Where a rule comes from.

    Attributes
    ----------
    paper : str
        The publication, by name.
    section : str
        The section, table or topic of the publication the rule restates.
    """

    paper: str
    section: str

    def __post_init__(self) -> None:
        if not self.paper or not self.section:
            raise InputError("a guide source needs both a paper and a section")

    def as_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"paper": self.paper, "section": self.section}


def cite(reference: dict[str, str]) -> Source:
    """Turn a rule table's ``{"id": ..., "section": ...}`` into a :class:`Source`."""
    papers = load_rules("sources")["sources"]
    try:
        paper = papers[reference["id"]]
    except KeyError:
        raise InputError(f"guide rule cites unknown source {reference.get('id')!r}") from None
    return Source(paper=str(paper), section=str(reference["section"]))


@dataclass(frozen=True)
class Recommendation:
    """One step of advice.

    Attributes
    ----------
    topic : str
        The step it belongs to (``who_grade``, ``imaging``, ``prrt`` ...).
    text : str
        The advice, in words a tumour board reads.
    inputs : dict
        The facts (name -> value) the advice was derived from.
    source : Source
        Paper and section the rule restates.
    """

    topic: str
    text: str
    inputs: dict[str, Any]
    source: Source

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise InputError("a recommendation needs a text")

    def as_dict(self) -> dict[str, Any]:
        """JSON form (``text``, ``inputs``, ``source``, ``topic``)."""
        return {
            "topic": self.topic,
            "text": self.text,
            "inputs": dict(self.inputs),
            "source": self.source.as_dict(),
        }


@dataclass(frozen=True)
class StepResult:
    """What one step of the guide concluded.

    Attributes
    ----------
    recommendations : tuple of Recommendation
        Advice from this step.
    missing : tuple of str
        Facts that were absent and would change this step's advice.
    """

    recommendations: tuple[Recommendation, ...] = field(default_factory=tuple)
    missing: tuple[str, ...] = field(default_factory=tuple)
