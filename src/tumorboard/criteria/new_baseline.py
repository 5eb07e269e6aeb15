"""New lesions: equivocal ones held until confirmed, and the new-baseline-lesion rule.

RECIST 1.1: an equivocal new lesion is not progression yet; if a later
assessment confirms it, progression is dated from its first sighting.

The new-baseline-lesion rule (NET reading guide): a lesion first seen on a
modality that was not used at baseline -- typically a more sensitive PET
tracer introduced during follow-up -- was most likely there before and could
not be seen; it is a new *baseline* lesion for that modality, not
progression. The strict reading (progression) is computed beside it so the
form can show both with the reason. A lesion seen later on a modality
already in use is ordinary new disease, and unequivocal progression of a
new-baseline lesion is progression.

The ledger is computed once per patient and shared by all criteria.
"""

from __future__ import annotations

from dataclasses import dataclass

from tumorboard.criteria.records import LesionRole, LesionStatus, NewLesionFinding, PatientSeries

_VISIBLE = frozenset(
    {
        LesionStatus.PRESENT,
        LesionStatus.TOO_SMALL,
        LesionStatus.UNEQUIVOCAL_PROGRESSION,
        LesionStatus.EQUIVOCAL,
    }
)
_CONFIRMED = frozenset(
    {LesionStatus.PRESENT, LesionStatus.TOO_SMALL, LesionStatus.UNEQUIVOCAL_PROGRESSION}
)


@dataclass(frozen=True, slots=True)
class NewLesionLedger:
    """Per-timepoint bookkeeping of new lesions (index 0 is the baseline).

    Attributes
    ----------
    progression_ids : tuple of frozenset of str
        New lesions counting as new disease at each timepoint (rule applied),
        including equivocal ones confirmed later, at their first sighting.
    strict_ids : tuple of frozenset of str
        The same without the new-baseline-lesion rule.
    equivocal : tuple of bool
        An unconfirmed equivocal new lesion was seen at the timepoint.
    new_baseline_ids : tuple of tuple of str
        Lesions that are new baseline lesions, listed from their first sighting on.
    first_seen : dict of str to int
        Timepoint index where each new lesion was first seen.
    notes : tuple of tuple of str
        Reasons to print on the form, per timepoint.
    """

    progression_ids: tuple[frozenset[str], ...]
    strict_ids: tuple[frozenset[str], ...]
    equivocal: tuple[bool, ...]
    new_baseline_ids: tuple[tuple[str, ...], ...]
    first_seen: dict[str, int]
    notes: tuple[tuple[str, ...], ...]

    def finding(self, index: int, strict: bool = False) -> NewLesionFinding:
        """New-lesion finding at timepoint ``index``."""
        ids = self.strict_ids[index] if strict else self.progression_ids[index]
        if ids:
            return NewLesionFinding.YES
        if self.equivocal[index]:
            return NewLesionFinding.EQUIVOCAL
        return NewLesionFinding.NO


def build_ledger(series: PatientSeries, new_baseline_rule: bool = True) -> NewLesionLedger:
    """Classify every new-lesion row of ``series``.

    Parameters
    ----------
    series : PatientSeries
        The patient's timepoints.
    new_baseline_rule : bool
        Apply the new-baseline-lesion rule; when false, ``progression_ids``
        equals ``strict_ids``.

    Returns
    -------
    NewLesionLedger
    """
    count = len(series.timepoints)
    progression: list[set[str]] = [set() for _ in range(count)]
    strict: list[set[str]] = [set() for _ in range(count)]
    equivocal = [False] * count
    new_baseline: list[list[str]] = [[] for _ in range(count)]
    notes: list[list[str]] = [[] for _ in range(count)]
    kinds: dict[str, str] = {}
    first_seen: dict[str, int] = {}
    baseline_listed: list[str] = []
    seen_modalities = set(series.timepoints[0].modalities)
    for index in range(1, count):
        timepoint = series.timepoints[index]
        fresh = timepoint.modalities - seen_modalities
        for measurement in timepoint.measurements:
            if measurement.role is not LesionRole.NEW:
                continue
            lesion_id = measurement.lesion_id
            status = measurement.status
            kind = kinds.get(lesion_id)
            if kind is None:
                if status not in _VISIBLE:
                    continue
                first_seen[lesion_id] = index
                if new_baseline_rule and measurement.modality in fresh:
                    kinds[lesion_id] = "new-baseline"
                    baseline_listed.append(lesion_id)
                    strict[index].add(lesion_id)
                    notes[index].append(
                        f"lesion {lesion_id} first seen on {measurement.modality}, a modality "
                        "not used at baseline: new baseline lesion for that modality, not "
                        "progression (strict reading: new lesion, PD)"
                    )
                elif status is LesionStatus.EQUIVOCAL:
                    kinds[lesion_id] = "equivocal"
                    equivocal[index] = True
                    notes[index].append(f"new lesion {lesion_id} equivocal: held until confirmed")
                else:
                    kinds[lesion_id] = "new"
                    progression[index].add(lesion_id)
                    strict[index].add(lesion_id)
            elif kind == "equivocal":
                if status in _CONFIRMED:
                    kinds[lesion_id] = "new"
                    first = first_seen[lesion_id]
                    for earlier in range(first, index + 1):
                        sighting = series.timepoints[earlier].by_id.get(lesion_id)
                        if sighting is not None and sighting.status in _VISIBLE:
                            progression[earlier].add(lesion_id)
                            strict[earlier].add(lesion_id)
                    notes[first].append(
                        f"new lesion {lesion_id} confirmed at {timepoint.label}: progression "
                        "dated from this first sighting"
                    )
                    notes[index].append(
                        f"new lesion {lesion_id} confirmed (first seen at "
                        f"{series.timepoints[first].label})"
                    )
                elif status is LesionStatus.EQUIVOCAL:
                    equivocal[index] = True
            elif kind == "new":
                if status in _VISIBLE:
                    progression[index].add(lesion_id)
                    strict[index].add(lesion_id)
            else:  # new-baseline
                if status in _VISIBLE:
                    strict[index].add(lesion_id)
                if status is LesionStatus.UNEQUIVOCAL_PROGRESSION:
                    progression[index].add(lesion_id)
                    notes[index].append(f"new baseline lesion {lesion_id} progressed unequivocally")
        new_baseline[index] = list(baseline_listed)
        seen_modalities |= timepoint.modalities
    if not new_baseline_rule:
        progression = [set(ids) for ids in strict]
    return NewLesionLedger(
        progression_ids=tuple(frozenset(ids) for ids in progression),
        strict_ids=tuple(frozenset(ids) for ids in strict),
        equivocal=tuple(equivocal),
        new_baseline_ids=tuple(tuple(ids) for ids in new_baseline),
        first_seen=first_seen,
        notes=tuple(tuple(n) for n in notes),
    )
