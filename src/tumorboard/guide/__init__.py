"""The step-by-step reading guide: pure logic over the facts of a case.

A reading aid for the tumour board, not a decision. Rules are versioned data
tables (``guide/rules/*.json``); each step is a small module; :func:`run_guide`
walks them all. No images, readers or plotting are imported here.
"""

from tumorboard.guide.engine import GuideResult, run_guide
from tumorboard.guide.facts import CaseFacts, load_facts_json, parse_facts
from tumorboard.guide.records import DISCLAIMER, Recommendation, Source

__all__ = [
    "DISCLAIMER",
    "CaseFacts",
    "GuideResult",
    "Recommendation",
    "Source",
    "load_facts_json",
    "parse_facts",
    "run_guide",
]
