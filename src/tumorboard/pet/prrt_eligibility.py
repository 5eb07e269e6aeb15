"""PRRT-eligibility summary from SSTR PET (and FDG PET when available).

Peptide receptor radionuclide therapy is considered when every known lesion
shows SSTR uptake above the liver (Krenning score 3-4). This module lists the
lesions that fail that uptake criterion and, given a NETPET result, those that
are FDG-positive and SSTR-negative (P5, PRRT failure expected). It decides
nothing clinical on its own: the guide presents it to the tumour board.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tumorboard.errors import EmptyResultError
from tumorboard.pet.krenning import KrenningResult
from tumorboard.pet.netpet import LesionPattern, NetpetResult


@dataclass(frozen=True)
class PrrtEligibility:
    """Which lesions meet the SSTR uptake criterion for PRRT.

    Attributes
    ----------
    uptake_criterion_met : bool
        All lesions have Krenning >= 3.
    failing_labels : tuple of int
        Lesions with Krenning <= 2.
    fdg_only_labels : tuple of int
        FDG-positive, SSTR-negative lesions (from NETPET), if known.
    caution_labels : tuple of int
        Failing lesions of <= 2 cm, whose score may be lowered by partial volume.
    summary : str
        One sentence for the report.
    """

    uptake_criterion_met: bool
    failing_labels: tuple[int, ...]
    fdg_only_labels: tuple[int, ...]
    caution_labels: tuple[int, ...]
    summary: str


def prrt_eligibility(
    krenning: Sequence[KrenningResult], netpet: NetpetResult | None = None
) -> PrrtEligibility:
    """Summarise the PRRT uptake criterion over all lesions.

    Parameters
    ----------
    krenning : sequence of KrenningResult
        Krenning grade of every lesion on SSTR PET.
    netpet : NetpetResult, optional
        Dual-tracer result; its FDG-only lesions are listed as well.

    Returns
    -------
    PrrtEligibility
    """
    if len(krenning) == 0:
        raise EmptyResultError("PRRT eligibility needs at least one graded lesion")
    failing = tuple(r.label for r in krenning if not r.above_liver)
    caution = tuple(r.label for r in krenning if not r.above_liver and r.small_lesion_caution)
    fdg_only = tuple(
        label
        for label, pattern in (netpet.patterns if netpet else ())
        if pattern is LesionPattern.FDG_ONLY
    )
    met = not failing and not fdg_only
    if met:
        summary = f"all {len(krenning)} lesions show SSTR uptake above liver (Krenning 3-4)"
    else:
        parts = []
        if failing:
            parts.append("uptake not above liver in lesion(s) " + ", ".join(map(str, failing)))
        if fdg_only:
            parts.append("FDG-positive/SSTR-negative lesion(s) " + ", ".join(map(str, fdg_only)))
        if caution:
            parts.append(
                "caution: lesion(s) "
                + ", ".join(map(str, caution))
                + " are <= 2 cm (partial volume)"
            )
        summary = "; ".join(parts)
    return PrrtEligibility(met, failing, fdg_only, caution, summary)


__all__ = ["PrrtEligibility", "prrt_eligibility"]
