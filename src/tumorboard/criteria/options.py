"""Options of the response criteria, one frozen record with documented defaults."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tumorboard.errors import InputError


class ProgressionReference(StrEnum):
    """Which earlier sum progression is measured against."""

    BASELINE = "baseline"
    NADIR = "nadir"


@dataclass(frozen=True, slots=True)
class AssessmentOptions:
    """Switches of the response engine.

    Parameters
    ----------
    continued_pr : bool
        RECIST 1.1 practice: once a partial response is reached, the target
        response stays PR until progression (100, 70, 70, 80 mm -> PR
        throughout). On by default.
    new_baseline_rule : bool
        A lesion first seen on a modality not used at baseline (e.g. a new PET
        tracer) is a new baseline lesion for that modality, not progression.
        The strict reading is kept beside it either way.
    confirmation : bool
        Best overall response requires CR/PR to be confirmed by a later
        assessment at least ``confirmation_interval_days`` after.
    confirmation_interval_days : int
        Minimum interval of a confirming assessment (RECIST 1.1: 4 weeks).
    sd_min_days : int
        Minimum time from baseline for SD to count as best response.
    iupd_window_days : tuple of int
        iRECIST: the confirming assessment after iUPD is due 4-8 weeks later;
        an assessment outside the window is still used, with a note.
    choi_modified : bool
        Modified Choi: PR needs both >= 10 % size and >= 15 % density decrease.
    choi_pd_reference : ProgressionReference or str
        Reference of the Choi >= 10 % size increase (nadir by default).
    percist_tlg_rule : bool
        PERCIST: a > 75 % increase in total lesion glycolysis is progression
        when TLG is recorded.
    """

    continued_pr: bool = True
    new_baseline_rule: bool = True
    confirmation: bool = False
    confirmation_interval_days: int = 28
    sd_min_days: int = 42
    iupd_window_days: tuple[int, int] = (28, 56)
    choi_modified: bool = False
    choi_pd_reference: ProgressionReference = ProgressionReference.NADIR
    percist_tlg_rule: bool = True

    def __post_init__(self) -> None:
        try:
            object.__setattr__(
                self, "choi_pd_reference", ProgressionReference(self.choi_pd_reference)
            )
        except ValueError:
            raise InputError(
                f"choi_pd_reference must be 'baseline' or 'nadir'; got {self.choi_pd_reference!r}"
            ) from None
        if self.confirmation_interval_days < 0 or self.sd_min_days < 0:
            raise InputError("confirmation_interval_days and sd_min_days must be >= 0")
        low, high = self.iupd_window_days
        if not 0 <= low <= high:
            raise InputError(
                f"iupd_window_days must be (low, high) with 0 <= low <= high; got "
                f"{self.iupd_window_days}"
            )
