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


#: The label of a choice of tumorboard's own, where the source texts are silent.
TUMORBOARD_DEFAULT = "tumorboard default"
#: Rule-table id of such a choice.
DEFAULT_ID = "tumorboard-default"
#: A quote must have at least this many words (one sentence fragment) ...
QUOTE_MIN_WORDS = 8
#: ... and at most this many: quotes are short, never paragraphs.
QUOTE_MAX_WORDS = 40


@dataclass(frozen=True)
class Source:
    """Where a rule comes from: a quoted source text, or tumorboard's own default.

    Attributes
    ----------
    paper : str
        The publication, by name, or ``"tumorboard default"``.
    section : str
        The section, table or topic the rule restates.
    quote : str
        A verbatim fragment (8-40 words) of the sentence the rule rests on;
        empty for a tumorboard default.
    file : str
        The source text's file name under ``../shared/sources/``; empty for a
        tumorboard default.
    reason : str
        Why tumorboard chose this where the sources are silent (defaults only).

    Examples
    --------
    >>> Source("tumorboard default", "grading", reason="the texts give no thresholds").is_default
    True
    """

    paper: str
    section: str
    quote: str = ""
    file: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        if not self.paper or not self.section:
            raise InputError("a guide source needs both a paper and a section")
        if self.is_default:
            if not self.reason.strip() or self.quote:
                raise InputError(
                    f"guide source {self.section!r}: a tumorboard default needs a reason "
                    "and no quote"
                )
            return
        words = len(self.quote.split())
        if not self.file or not QUOTE_MIN_WORDS <= words <= QUOTE_MAX_WORDS:
            raise InputError(
                f"guide source {self.section!r}: needs a source file and a quote of "
                f"{QUOTE_MIN_WORDS}-{QUOTE_MAX_WORDS} words, got {words}"
            )

    @property
    def is_default(self) -> bool:
        """Whether this is a choice of tumorboard's own (no source text says it)."""
        return self.paper == TUMORBOARD_DEFAULT

    def as_dict(self) -> dict[str, str]:
        """JSON form: paper, section and quote + file, or reason for a default."""
        if self.is_default:
            return {"paper": self.paper, "section": self.section, "reason": self.reason}
        return {
            "paper": self.paper,
            "section": self.section,
            "quote": self.quote,
            "file": self.file,
        }


def cite(reference: dict[str, str]) -> Source:
    """Turn a rule table's reference into a :class:`Source`.

    ``{"id": "gep-guide", "section": ..., "quote": ...}`` cites a source text
    of ``rules/sources.json``; ``{"id": "tumorboard-default", "section": ...,
    "reason": ...}`` labels a choice of tumorboard's own.
    """
    if reference.get("id") == DEFAULT_ID:
        return Source(
            TUMORBOARD_DEFAULT, str(reference["section"]), reason=str(reference.get("reason", ""))
        )
    table = load_rules("sources")
    try:
        paper = table["sources"][reference["id"]]
        file = table["files"][reference["id"]]
    except KeyError:
        raise InputError(f"guide rule cites unknown source {reference.get('id')!r}") from None
    return Source(
        paper=str(paper),
        section=str(reference["section"]),
        quote=str(reference.get("quote", "")),
        file=str(file),
    )


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
        Paper, section and quote the rule restates, or tumorboard's default
        with its reason.
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
