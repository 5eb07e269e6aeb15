"""Criteria rules reached by the fourth mutation round of issue 9 (benchmarks/README.md).

Covers the code the earlier rounds never reached or left open: the structural
rules of a patient's series (``baseline_rules.check_series`` and
``_check_sizes_present``), the record checks (``records`` ``__post_init__``),
the new-lesion ledger (``new_baseline.build_ledger``), the best overall
response (``best_response``), the patient context (``selection``) and the
target snapshots (``target_sums``).

Every expected value is the published rule (RECIST 1.1, Eisenhauer et al. 2009;
iRECIST, Seymour et al. 2017; PERCIST 1.0, Wahl et al. 2009) or the documented
contract, applied by hand to plain records written in the test; none is read
back from the code under test. No images, no files.
"""

from __future__ import annotations

import datetime as dt
import pickle
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from tumorboard.criteria.baseline_rules import organ_key
from tumorboard.criteria.best_response import best_overall_response, patient_assessment
from tumorboard.criteria.choi import assess_choi
from tumorboard.criteria.engine import _assess_encoded, assess_cohort, assess_patient
from tumorboard.criteria.new_baseline import build_ledger
from tumorboard.criteria.options import AssessmentOptions
from tumorboard.criteria.pituitary import PituitaryResponse, ProlactinomaReading
from tumorboard.criteria.recist import assess_recist
from tumorboard.criteria.records import (
    Criteria,
    LesionMeasurement,
    LesionRole,
    LesionStatus,
    NewLesionFinding,
    PatientAssessment,
    PatientSeries,
    Response,
    Timepoint,
    TimepointAssessment,
)
from tumorboard.criteria.selection import (
    DrugClass,
    PatientInfo,
    PreviousTreatment,
    choose_criteria,
    patient_info_from_mapping,
    recommended_criteria,
)
from tumorboard.criteria.target_sums import (
    Metric,
    SeriesFacts,
    TargetSnapshot,
    is_progression,
    non_target_response,
    target_snapshot,
)
from tumorboard.criteria.transport import decode, encode
from tumorboard.errors import InputError

D = Decimal
R = Response
BASE_DATE = dt.date(2024, 1, 1)


def lesion(
    lesion_id: str,
    *,
    role: str = "target",
    organ: str = "liver",
    node: bool = False,
    status: str = "present",
    modality: str = "ct",
    ld: str | None = None,
    sa: str | None = None,
    row: int | None = None,
    **extra: object,
) -> LesionMeasurement:
    """One reading; ``ld``/``sa`` are the longest diameter and the short axis in mm."""
    return LesionMeasurement(
        lesion_id,
        organ,
        role,  # type: ignore[arg-type]  # converted on construction
        node,
        status,  # type: ignore[arg-type]
        modality=modality,
        longest_diameter_mm=None if ld is None else D(ld),
        short_axis_mm=None if sa is None else D(sa),
        row=row,
        **extra,  # type: ignore[arg-type]
    )


def scan(label: str, day: int, *readings: LesionMeasurement) -> Timepoint:
    """A timepoint ``day`` days after 2024-01-01."""
    return Timepoint(label, BASE_DATE + dt.timedelta(days=day), tuple(readings))


def series(*timepoints: Timepoint, pre: Timepoint | None = None) -> PatientSeries:
    return PatientSeries("P1", tuple(timepoints), pre_baseline=pre)


def liver_target(ld: str = "40", **kwargs: object) -> LesionMeasurement:
    return lesion("L1", ld=ld, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------ series structure
def test_a_patient_without_timepoints_has_no_baseline() -> None:
    with pytest.raises(InputError, match="^no baseline: the patient has no timepoints$"):
        series()


def test_a_baseline_with_only_the_liver_reference_has_no_baseline_lesion() -> None:
    reference = lesion("liver-reference", role="target", modality="pet-fdg", sul_peak=D(2), row=2)
    with pytest.raises(
        InputError,
        match="^row 2: no baseline: the first timepoint 'baseline' has no target or "
        "non-target lesion$",
    ):
        series(scan("baseline", 0, reference))


def test_a_pre_baseline_scan_on_the_baseline_day_is_out_of_order() -> None:
    """The pre-treatment scan must be strictly earlier than the baseline."""
    baseline = scan("baseline", 10, liver_target())
    same_day = Timepoint("pre-baseline", BASE_DATE + dt.timedelta(days=10), (liver_target(row=5),))
    with pytest.raises(
        InputError,
        match="^row 5: dates out of order: the pre-baseline scan is not before the baseline$",
    ):
        series(baseline, pre=same_day)
    day_before = Timepoint("pre-baseline", BASE_DATE + dt.timedelta(days=9), (liver_target(),))
    assert series(baseline, pre=day_before).pre_baseline is day_before


def test_a_follow_up_on_the_day_of_the_previous_scan_is_out_of_order() -> None:
    """Dates strictly increase: a second scan on the same day is refused, the next day not."""
    with pytest.raises(
        InputError,
        match="^row 7: dates out of order: timepoint 'FU1' is not after the preceding "
        "timepoint 'baseline'$",
    ):
        series(scan("baseline", 0, liver_target()), scan("FU1", 0, liver_target(row=7)))
    next_day = series(scan("baseline", 0, liver_target()), scan("FU1", 1, liver_target()))
    assert [tp.label for tp in next_day.timepoints] == ["baseline", "FU1"]


def test_a_timepoint_label_used_twice_is_refused() -> None:
    with pytest.raises(InputError, match="^row 4: timepoint label 'FU1' is used twice$"):
        series(
            scan("baseline", 0, liver_target()),
            scan("FU1", 30, liver_target()),
            scan("FU1", 60, liver_target(row=4)),
        )


# ------------------------------------------------------------------ sizes a reading must carry
def test_a_present_target_lesion_at_follow_up_needs_its_longest_diameter() -> None:
    """RECIST 1.1: every target is measured at every assessment; a non-nodal target
    reads its longest diameter."""
    with pytest.raises(
        InputError,
        match="^row 3: rule 'present target lesions have a size': target 'L1' has no "
        "longest_diameter_mm$",
    ):
        series(scan("baseline", 0, liver_target()), scan("FU1", 60, lesion("L1", row=3)))


def test_a_target_node_is_measured_by_its_short_axis_alone() -> None:
    """A node counts its short axis (RECIST 1.1); it needs no longest diameter."""
    node = lesion("N1", organ="mediastinum", node=True, sa="20")
    later = lesion("N1", organ="mediastinum", node=True, sa="12")
    result = series(scan("baseline", 0, node), scan("FU1", 60, later))
    assert result.timepoints[1].by_id["N1"].longest_diameter_mm is None


def test_a_pet_only_target_needs_its_sulpeak_and_a_pet_only_non_target_does_not() -> None:
    """PERCIST 1.0 measures a PET-only target by its SULpeak."""
    with pytest.raises(
        InputError,
        match="^row 2: rule 'PET-only targets are measured by their SULpeak': target 'S1' on "
        "pet-fdg has no sul_peak and no diameter$",
    ):
        series(scan("baseline", 0, liver_target(), lesion("S1", modality="pet-fdg", row=2)))
    accepted = series(
        scan(
            "baseline",
            0,
            liver_target(),
            lesion("B1", role="non-target", organ="bone", modality="pet-fdg"),
        )
    )
    assert accepted.baseline.by_id["B1"].is_pet_only


def test_readings_that_are_not_present_need_no_size() -> None:
    """Absent, too small and not evaluated carry no size (RECIST 1.1 values 0, 5, unknown)."""
    for status in ("absent", "too-small", "not-evaluated"):
        later = lesion("L1", status=status)
        node = lesion("N1", organ="neck", node=True, status=status)
        result = series(
            scan("baseline", 0, liver_target(), lesion("N1", organ="neck", node=True, sa="18")),
            scan("FU1", 60, later, node),
        )
        assert result.timepoints[1].by_id["L1"].status is LesionStatus(status)


# ------------------------------------------------------------------ measurable baseline targets
@pytest.mark.parametrize(
    ("reading", "message"),
    [
        (  # RECIST 1.1: a pathological node needs a short axis of at least 15 mm
            lesion("N1", organ="neck", node=True, sa="14.9", row=2),
            "row 2: rule 'target nodes need a short axis >= 15 mm': got 14.9",
        ),
        (
            lesion("N1", organ="neck", node=True, ld="30", row=2),
            "row 2: rule 'target nodes need a short axis >= 15 mm': got none",
        ),
        (  # a non-nodal lesion needs a longest diameter of at least 10 mm
            lesion("L1", ld="9.9", row=2),
            "row 2: rule 'target lesions need a longest diameter >= 10 mm': got 9.9",
        ),
        (  # ... or twice the slice thickness for slices thicker than 5 mm
            lesion("L1", ld="13.9", slice_thickness_mm=D(7), row=2),
            "row 2: rule 'target lesions need a longest diameter >= 14 mm': got 13.9",
        ),
        (
            lesion("L1", row=2),
            "row 2: rule 'target lesions need a longest diameter >= 10 mm': got none",
        ),
    ],
)
def test_an_unmeasurable_baseline_target_names_the_limit_and_the_size(
    reading: LesionMeasurement, message: str
) -> None:
    with pytest.raises(InputError) as info:
        series(scan("baseline", 0, reading))
    assert str(info.value) == message


@pytest.mark.parametrize(
    "reading",
    [
        lesion("N1", organ="neck", node=True, sa="15"),
        lesion("L1", ld="10"),
        lesion("L1", ld="10", slice_thickness_mm=D(5)),
        lesion("L1", ld="14", slice_thickness_mm=D(7)),
    ],
)
def test_a_baseline_target_at_the_measurability_limit_is_measurable(
    reading: LesionMeasurement,
) -> None:
    """RECIST 1.1 limits are inclusive: 15 mm short axis, 10 mm, 2 x 7 mm = 14 mm."""
    assert series(scan("baseline", 0, reading)).baseline.measurements == (reading,)


@pytest.mark.parametrize("status", ["absent", "too-small", "not-evaluated", "equivocal"])
def test_a_baseline_target_must_be_present(status: str) -> None:
    with pytest.raises(
        InputError,
        match=f"^row 2: rule 'baseline targets are present and measured': status '{status}'$",
    ):
        series(scan("baseline", 0, lesion("L1", ld="40", status=status, row=2)))


def test_a_pet_only_baseline_target_must_be_present() -> None:
    pet = lesion("S1", modality="pet-fdg", status="absent", row=3)
    with pytest.raises(
        InputError,
        match="^row 3: rule 'baseline targets are present and measured': PET target 'S1' has "
        "status 'absent'$",
    ):
        series(scan("baseline", 0, liver_target(), pet))
    present = lesion("S1", modality="pet-fdg", sul_peak=D(7))
    assert series(scan("baseline", 0, liver_target(), present)).baseline.by_id["S1"].is_pet_only
    alone = series(scan("baseline", 0, present))  # PERCIST-only baseline
    assert alone.baseline.measurements == (present,)


def test_at_most_five_baseline_targets_and_the_sixth_is_named() -> None:
    """RECIST 1.1: a maximum of five target lesions in total (two per organ)."""
    targets = [lesion(f"L{k}", organ=f"organ{k}", ld="20", row=2 + k) for k in range(6)]
    assert len(series(scan("baseline", 0, *targets[:5])).baseline.measurements) == 5
    with pytest.raises(InputError) as info:
        series(scan("baseline", 0, *targets))
    assert str(info.value) == "row 7: rule 'at most 5 target lesions': 6 targets at baseline"


# ------------------------------------------------------------------ PET-only targets per scan
def _pet_targets(count: int, organ: str | None = None) -> list[LesionMeasurement]:
    return [
        lesion(
            f"S{k}",
            organ=organ or f"organ{k}",
            modality="pet-fdg",
            sul_peak=D(5),
            row=10 + k,
        )
        for k in range(count)
    ]


def test_at_most_five_pet_only_targets_per_scan() -> None:
    """PERCIST 1.0: up to five target lesions per scan (the hottest need not be at baseline)."""
    assert series(scan("baseline", 0, liver_target()), scan("FU1", 60, *_pet_targets(5)))
    with pytest.raises(
        InputError,
        match="^row 15: rule 'at most 5 PET target lesions per scan \\(PERCIST\\)': 6 PET-only "
        "targets at 'FU1'$",
    ):
        series(scan("baseline", 0, liver_target()), scan("FU1", 60, *_pet_targets(6)))


def test_at_most_two_pet_only_targets_per_organ_at_a_follow_up() -> None:
    assert series(scan("baseline", 0, liver_target()), scan("FU1", 60, *_pet_targets(2, "bone")))
    with pytest.raises(
        InputError,
        match="^row 12: rule 'at most 2 PET target lesions per scan \\(PERCIST\\) per organ': a "
        "third target in organ 'bone'$",
    ):
        series(scan("baseline", 0, liver_target()), scan("FU1", 60, *_pet_targets(3, "bone")))


# ------------------------------------------------------------------ a lesion keeps its role
def _pet_target(lesion_id: str = "S9", **kwargs: object) -> LesionMeasurement:
    return lesion(lesion_id, organ="bone", modality="pet-fdg", sul_peak=D(6), **kwargs)  # type: ignore[arg-type]


def test_a_pet_only_target_first_listed_at_a_follow_up_stays_a_pet_only_target() -> None:
    """PERCIST compares the hottest lesion of each scan, which need not be a baseline lesion."""
    accepted = series(
        scan("baseline", 0, liver_target()),
        scan("FU1", 60, liver_target(), _pet_target()),
        scan("FU2", 120, liver_target(), _pet_target()),
    )
    assert accepted.timepoints[2].by_id["S9"].is_pet_only
    later = {
        "non-target": (
            lesion("S9", role="non-target", organ="bone", modality="pet-fdg", row=8),
            "lesion 'S9' was a PET-only target at an earlier scan and cannot become a "
            "non-target lesion at 'FU2'",
        ),
        "new": (
            lesion("S9", role="new", organ="bone", modality="pet-fdg", row=8),
            "lesion 'S9' was a PET-only target at an earlier scan and cannot become a new "
            "lesion at 'FU2'",
        ),
        "sized target": (
            lesion("S9", organ="bone", modality="pet-fdg", ld="20", sul_peak=D(6), row=8),
            "lesion 'S9' was a PET-only target at an earlier scan and cannot become a target "
            "with a size at 'FU2'",
        ),
    }
    for reading, message in later.values():
        with pytest.raises(InputError) as info:
            series(
                scan("baseline", 0, liver_target()),
                scan("FU1", 60, liver_target(), _pet_target()),
                scan("FU2", 120, liver_target(), reading),
            )
        assert str(info.value) == "row 8: " + message


def test_a_baseline_lesion_cannot_become_new_or_change_its_role() -> None:
    """RECIST 1.1: targets and non-targets are fixed at baseline."""
    for role, wanted in (("new", "new"), ("non-target", "non-target")):
        with pytest.raises(InputError) as info:
            series(
                scan("baseline", 0, liver_target()),
                scan("FU1", 60, lesion("L1", role=role, ld="40", row=6)),
            )
        assert str(info.value) == f"row 6: lesion 'L1' changes role from target to {wanted}"


def test_a_new_lesion_stays_new() -> None:
    new = lesion("X1", role="new", organ="lung", ld="12")
    accepted = series(
        scan("baseline", 0, liver_target()),
        scan("FU1", 60, liver_target(), new),
        scan("FU2", 120, liver_target(), new),
    )
    assert accepted.timepoints[2].by_id["X1"].role is LesionRole.NEW
    with pytest.raises(InputError) as info:
        series(
            scan("baseline", 0, liver_target()),
            scan("FU1", 60, liver_target(), new),
            scan("FU2", 120, liver_target(), lesion("X1", organ="lung", ld="12", row=9)),
        )
    assert str(info.value) == "row 9: lesion 'X1' changes role from new to target"


def test_a_fragment_keeps_the_role_of_the_lesion_it_split_from() -> None:
    """RECIST 1.1 split lesions: the fragments of a target are summed as that target."""
    fragment = lesion("L1b", ld="15", part_of="L1")
    accepted = series(
        scan("baseline", 0, liver_target()),
        scan("FU1", 60, lesion("L1", ld="20"), fragment),
    )
    assert accepted.timepoints[1].fragments == {"L1": (fragment,)}
    as_non_target = lesion("L1b", role="non-target", ld="15", part_of="L1", row=4)
    with pytest.raises(InputError) as info:
        series(
            scan("baseline", 0, liver_target()),
            scan("FU1", 60, lesion("L1", ld="20"), as_non_target),
        )
    assert str(info.value) == (
        "row 4: non-target lesion 'L1b' at 'FU1' is not at baseline (lesions appearing later "
        "have role new; only PET-only targets may differ between scans)"
    )


# ------------------------------------------------------------------ new-lesion ledger
def _new(lesion_id: str, status: str, modality: str = "ct") -> LesionMeasurement:
    return lesion(lesion_id, role="new", organ="lung", status=status, modality=modality, ld="12")


def test_an_equivocal_new_lesion_confirmed_later_is_progression_from_its_first_sighting() -> None:
    """RECIST 1.1 section 4.3.2: an equivocal new lesion is not PD yet; "if repeat scans
    confirm there is definitely a new lesion, then progression should be declared using the
    date of the initial scan"."""
    history = series(
        scan("baseline", 0, liver_target()),
        scan("FU1", 60, liver_target(), _new("X1", "equivocal")),
        scan("FU2", 120, liver_target(), _new("X1", "equivocal")),
        scan("FU3", 180, liver_target(), _new("X1", "present")),
    )
    ledger = build_ledger(history)
    held = frozenset[str]()
    x1 = frozenset({"X1"})
    assert ledger.progression_ids == (held, x1, x1, x1)
    assert ledger.strict_ids == (held, x1, x1, x1)
    assert ledger.equivocal == (False, True, True, False)
    assert ledger.first_seen == {"X1": 1}
    assert ledger.new_baseline_ids == ((), (), (), ())
    assert ledger.notes == (
        (),
        (
            "new lesion X1 equivocal: held until confirmed",
            "new lesion X1 confirmed at FU3: progression dated from this first sighting",
        ),
        (),
        ("new lesion X1 confirmed (first seen at FU1)",),
    )
    assert [ledger.finding(i) for i in range(4)] == [NewLesionFinding.NO] + [
        NewLesionFinding.YES
    ] * 3


def test_an_equivocal_new_lesion_that_resolves_is_never_progression() -> None:
    history = series(
        scan("baseline", 0, liver_target()),
        scan("FU1", 60, liver_target(), _new("X1", "equivocal")),
        scan("FU2", 120, liver_target(), _new("X1", "absent")),
    )
    ledger = build_ledger(history)
    assert ledger.progression_ids == (frozenset(),) * 3
    assert ledger.equivocal == (False, True, False)
    assert [ledger.finding(i) for i in range(3)] == [
        NewLesionFinding.NO,
        NewLesionFinding.EQUIVOCAL,
        NewLesionFinding.NO,
    ]


@pytest.mark.parametrize("status", ["present", "too-small", "unequivocal-progression"])
def test_each_visible_reading_confirms_an_equivocal_new_lesion(status: str) -> None:
    history = series(
        scan("baseline", 0, liver_target()),
        scan("FU1", 60, liver_target(), _new("X1", "equivocal")),
        scan("FU2", 120, liver_target(), _new("X1", status)),
    )
    assert build_ledger(history).progression_ids[1:] == (frozenset({"X1"}),) * 2


def test_confirmation_dates_only_the_scans_where_the_lesion_was_seen() -> None:
    """Scans between the first sighting and the confirmation that did not read the lesion
    (no row, or not evaluated) do not count it as new disease."""
    history = series(
        scan("baseline", 0, liver_target()),
        scan("FU1", 60, liver_target(), _new("X1", "equivocal")),
        scan("FU2", 120, liver_target()),
        scan("FU3", 150, liver_target(), _new("X1", "not-evaluated")),
        scan("FU4", 180, liver_target(), _new("X1", "present")),
    )
    x1 = frozenset({"X1"})
    assert build_ledger(history).progression_ids == (
        frozenset(),
        x1,
        frozenset(),
        frozenset(),
        x1,
    )


def test_a_new_lesion_not_seen_at_a_scan_is_not_new_disease_there() -> None:
    history = series(
        scan("baseline", 0, liver_target()),
        scan("FU1", 60, liver_target(), _new("X1", "not-evaluated")),
        scan("FU2", 120, liver_target(), _new("X1", "present")),
        scan("FU3", 180, liver_target(), _new("X1", "absent")),
    )
    ledger = build_ledger(history)
    assert ledger.progression_ids == (frozenset(), frozenset(), frozenset({"X1"}), frozenset())
    assert ledger.first_seen == {"X1": 2}


def _tracer_history() -> PatientSeries:
    """CT only at baseline; DOTATATE PET from FU1 on shows a lesion X1."""
    return series(
        scan("baseline", 0, liver_target()),
        scan("FU1", 60, liver_target(), _new("X1", "present", "pet-dotatate")),
        scan("FU2", 120, liver_target(), _new("X1", "present", "pet-dotatate")),
        scan("FU3", 180, liver_target(), _new("X1", "unequivocal-progression", "pet-dotatate")),
        scan("FU4", 240, liver_target(), _new("X1", "absent", "pet-dotatate")),
    )


def test_a_lesion_first_seen_on_a_new_tracer_is_a_new_baseline_lesion_until_it_progresses() -> None:
    """NET reading guide: a lesion first seen on a modality not used at baseline is a new
    baseline lesion, not progression; its unequivocal progression is progression. The
    strict reading counts it as new disease whenever it is seen."""
    ledger = build_ledger(_tracer_history())
    none = frozenset[str]()
    x1 = frozenset({"X1"})
    assert ledger.progression_ids == (none, none, none, x1, none)
    assert ledger.strict_ids == (none, x1, x1, x1, none)
    assert ledger.new_baseline_ids == ((), ("X1",), ("X1",), ("X1",), ("X1",))
    assert ledger.equivocal == (False,) * 5
    assert ledger.notes[1] == (
        "lesion X1 first seen on pet-dotatate, a modality not used at baseline: new baseline "
        "lesion for that modality, not progression (strict reading: new lesion, PD)",
    )
    assert ledger.notes[2] == ()
    assert ledger.notes[3] == ("new baseline lesion X1 progressed unequivocally",)
    assert ledger.finding(1) is NewLesionFinding.NO
    assert ledger.finding(1, strict=True) is NewLesionFinding.YES


def test_without_the_new_baseline_rule_a_new_tracer_lesion_is_new_disease() -> None:
    ledger = build_ledger(_tracer_history(), new_baseline_rule=False)
    none = frozenset[str]()
    x1 = frozenset({"X1"})
    assert ledger.progression_ids == (none, x1, x1, x1, none)
    assert ledger.strict_ids == ledger.progression_ids
    assert ledger.new_baseline_ids == ((),) * 5
    assert ledger.notes == ((),) * 5


def test_a_modality_used_at_baseline_stays_in_use_when_a_follow_up_skips_it() -> None:
    """FDG PET at baseline, CT only at FU1: a lesion on FDG PET at FU2 is ordinary new
    disease (the modality is not new), not a new baseline lesion."""
    bone = lesion("B1", role="non-target", organ="bone", modality="pet-fdg")
    history = series(
        scan("baseline", 0, liver_target(), bone),
        scan("FU1", 60, liver_target()),
        scan("FU2", 120, liver_target(), bone, _new("X1", "present", "pet-fdg")),
    )
    ledger = build_ledger(history)
    assert ledger.progression_ids[2] == frozenset({"X1"})
    assert ledger.new_baseline_ids[2] == ()


def test_a_new_lesion_on_a_baseline_modality_is_new_disease_at_the_first_follow_up() -> None:
    history = series(
        scan("baseline", 0, liver_target()),
        scan("FU1", 60, liver_target(), _new("X1", "present"), _new("X2", "present")),
    )
    ledger = build_ledger(history)
    assert ledger.progression_ids == (frozenset(), frozenset({"X1", "X2"}))
    assert ledger.first_seen == {"X1": 1, "X2": 1}


# ------------------------------------------------------------------ records check themselves
_SIZE_FIELDS = (
    "longest_diameter_mm",
    "short_axis_mm",
    "viable_diameter_mm",
    "sul_peak",
    "sul_sd",
    "slice_thickness_mm",
    "tlg_g",
    "suv_max",
)


def test_roles_and_statuses_given_as_text_become_their_codes() -> None:
    reading = LesionMeasurement("L1", "liver", "non-target", False, "too-small")  # type: ignore[arg-type]
    assert reading.role is LesionRole.NON_TARGET
    assert reading.status is LesionStatus.TOO_SMALL
    given = LesionMeasurement("L1", "liver", LesionRole.NEW, False, LesionStatus.EQUIVOCAL)
    assert (given.role, given.status) == (LesionRole.NEW, LesionStatus.EQUIVOCAL)


def test_an_unknown_role_or_status_names_the_row_and_the_allowed_codes() -> None:
    with pytest.raises(InputError) as info:
        lesion("L1", role="main", row=3)
    assert str(info.value) == "row 3: role must be one of target, non-target, new; got 'main'"
    with pytest.raises(InputError) as info:
        lesion("L1", status="gone", row=4)
    assert str(info.value) == (
        "row 4: status must be one of present, absent, too-small, not-evaluated, "
        "unequivocal-progression, equivocal; got 'gone'"
    )


def test_a_lesion_needs_an_id() -> None:
    with pytest.raises(InputError) as info:
        lesion("", row=5)
    assert str(info.value) == "row 5: lesion_id must not be empty"


@pytest.mark.parametrize("name", _SIZE_FIELDS)
def test_sizes_may_be_zero_or_small_but_not_negative(name: str) -> None:
    """Sizes are >= 0: 0 mm is an absent lesion's size, 0.5 a small reading."""
    plain = LesionMeasurement("L1", "liver", LesionRole.TARGET, False, LesionStatus.PRESENT, row=6)
    for value in ("0", "0.5"):
        if name == "slice_thickness_mm" and value == "0":
            continue  # a slice has a thickness (below)
        size: dict[str, Any] = {name: D(value)}
        assert getattr(replace(plain, **size), name) == D(value)
    negative: dict[str, Any] = {name: D("-0.1")}
    with pytest.raises(InputError) as info:
        replace(plain, **negative)
    assert str(info.value) == f"row 6: {name} must not be negative (sizes are >= 0); got -0.1"


def test_the_blood_pool_sul_belongs_on_the_liver_reference_row() -> None:
    """PERCIST 1.0 CMR compares lesions with the blood pool of the same scan."""
    reference = LesionMeasurement(
        "liver-reference",
        "liver",
        LesionRole.TARGET,
        False,
        LesionStatus.PRESENT,
        sul_peak=D("2.0"),
        blood_pool_sul=D("0"),
    )
    assert reference.blood_pool_sul == 0
    with pytest.raises(InputError) as info:
        lesion("L1", ld="20", blood_pool_sul=D("1.5"), row=7)
    assert str(info.value) == (
        "row 7: blood_pool_sul belongs on the 'liver-reference' row; lesion 'L1' has one"
    )


def test_a_slice_thickness_of_zero_is_refused_and_one_mm_accepted() -> None:
    with pytest.raises(InputError) as info:
        lesion("L1", ld="20", slice_thickness_mm=D(0), row=8)
    assert str(info.value) == "row 8: slice_thickness_mm must be > 0; got 0"
    assert lesion("L1", ld="20", slice_thickness_mm=D(1)).slice_thickness_mm == 1


def _reference(**kwargs: object) -> LesionMeasurement:
    return LesionMeasurement(
        "liver-reference",
        "liver",
        LesionRole.TARGET,
        False,
        LesionStatus.PRESENT,
        modality="pet-fdg",
        sul_peak=D("2.1"),
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_timepoint_keeps_the_liver_reference_apart_from_the_lesions() -> None:
    """The PERCIST liver reference is not a lesion: it is kept aside, wherever it is listed."""
    reference = _reference()
    l1, l2 = liver_target(), lesion("L2", organ="lung", ld="15", modality="pet-fdg")
    first = Timepoint("baseline", BASE_DATE, (reference, l1, l2))
    assert first.liver_reference is reference
    assert first.measurements == (l1, l2)
    assert first.by_id == {"L1": l1, "L2": l2}
    assert first.modalities == frozenset({"ct", "pet-fdg"})
    given = Timepoint("baseline", BASE_DATE, (l1,), liver_reference=reference)
    assert (given.liver_reference, given.measurements) == (reference, (l1,))
    listed_and_given = Timepoint("baseline", BASE_DATE, (l1, reference), liver_reference=reference)
    assert listed_and_given.liver_reference is reference


def test_a_second_liver_reference_at_a_timepoint_is_a_duplicate() -> None:
    message = (
        "row 9: duplicate lesion id 'liver-reference' at timepoint 'baseline' (one row per "
        "lesion per timepoint)"
    )
    with pytest.raises(InputError) as info:
        Timepoint("baseline", BASE_DATE, (_reference(), liver_target(), _reference(row=9)))
    assert str(info.value) == message
    with pytest.raises(InputError) as info:
        Timepoint(
            "baseline", BASE_DATE, (liver_target(), _reference(row=9)), liver_reference=_reference()
        )
    assert str(info.value) == message


def test_a_lesion_listed_twice_at_a_timepoint_is_a_duplicate() -> None:
    with pytest.raises(InputError) as info:
        Timepoint("FU1", BASE_DATE, (liver_target(), liver_target(row=3)))
    assert str(info.value) == (
        "row 3: duplicate lesion id 'L1' at timepoint 'FU1' (one row per lesion per timepoint)"
    )


def test_fragments_are_grouped_under_the_lesion_they_name() -> None:
    """RECIST 1.1 split lesions: fragments name their parent and are summed."""
    a, b = lesion("L1a", ld="12", part_of="L1"), lesion("L1b", ld="8", part_of="L1")
    whole = lesion("L2", ld="30")
    timepoint = Timepoint("FU1", BASE_DATE, (a, whole, b))
    assert timepoint.fragments == {"L1": (a, b)}
    assert timepoint.measurements == (a, whole, b)


def test_stated_modalities_are_kept_and_missing_ones_are_those_of_the_readings() -> None:
    """A scan may use a modality on which no lesion was listed (it still counts as used)."""
    stated = Timepoint("baseline", BASE_DATE, (liver_target(),), frozenset({"ct", "pet-fdg"}))
    assert stated.modalities == frozenset({"ct", "pet-fdg"})
    derived = Timepoint("baseline", BASE_DATE, (liver_target(),))
    assert derived.modalities == frozenset({"ct"})


def test_a_series_given_as_a_list_holds_a_tuple_of_timepoints() -> None:
    baseline = scan("baseline", 0, liver_target())
    built = PatientSeries("P1", [baseline])  # type: ignore[arg-type]
    assert built.timepoints == (baseline,)
    assert built.baseline is baseline


@pytest.mark.parametrize(
    "accepted",
    [
        "a PET-only target seen before",
        "a PET-only target first listed",
        "a fragment",
        "a new lesion",
    ],
)
def test_a_row_after_an_accepted_follow_up_row_is_still_checked(accepted: str) -> None:
    """Each follow-up row is checked, whatever row comes before it at the same scan."""
    before = {
        "a PET-only target seen before": _pet_target(),
        "a PET-only target first listed": _pet_target("S8"),
        "a fragment": lesion("L1b", ld="15", part_of="L1"),
        "a new lesion": _new("X1", "present"),
    }[accepted]
    stray = lesion("L7", organ="lung", ld="20", row=12)
    with pytest.raises(InputError) as info:
        series(
            scan("baseline", 0, liver_target()),
            scan("FU1", 60, liver_target(), _pet_target()),
            scan("FU2", 120, liver_target(), before, stray),
        )
    assert str(info.value).startswith("row 12: target lesion 'L7' at 'FU2' is not at baseline")


# ------------------------------------------------------------------ best overall response
def _row_at(label: str, day: int, response: Response | None) -> TimepointAssessment:
    return TimepointAssessment(
        timepoint=label,
        date=BASE_DATE + dt.timedelta(days=day),
        criteria=Criteria.RECIST11,
        target_sum_mm=None,
        change_from_baseline_pct=None,
        change_from_nadir_pct=None,
        target_response=None,
        non_target_response=None,
        new_lesions=None,
        overall_response=response,
        response_vs_baseline=None,
        response_vs_nadir=None,
    )


def _best(
    *points: tuple[int, Response], options: AssessmentOptions | None = None
) -> tuple[Response | None, str | None]:
    rows = [_row_at("baseline", 0, None)] + [
        _row_at(f"FU{k}", day, response) for k, (day, response) in enumerate(points, 1)
    ]
    return best_overall_response(rows, options or AssessmentOptions())


CONFIRM = AssessmentOptions(confirmation=True)


def test_an_unconfirmed_early_response_then_progression_is_pd() -> None:
    """RECIST 1.1 section 4.4 (confirmation required): PR not confirmed, SD duration not
    met, then PD -> best response PD."""
    assert _best((30, R.PR), (60, R.PD), options=CONFIRM) == (R.PD, "FU2")
    assert _best((30, R.CR), (60, R.PD), options=CONFIRM) == (R.PD, "FU2")
    # PR not confirmed and nothing else: not evaluable
    assert _best((30, R.PR), options=CONFIRM) == (R.NE, None)


def test_an_unconfirmed_response_after_the_sd_duration_is_sd_at_its_first_date() -> None:
    """RECIST 1.1: an unconfirmed PR counts as SD once the SD minimum (6 weeks) is met."""
    assert _best((30, R.SD), (50, R.PR), (60, R.PD), options=CONFIRM) == (R.SD, "FU2")
    assert _best((42, R.PR), (49, R.SD), options=CONFIRM) == (R.SD, "FU1")


def test_the_best_response_is_dated_at_the_first_scan_that_reached_it() -> None:
    assert _best((50, R.PR), (100, R.PR)) == (R.PR, "FU1")
    assert _best((50, R.SD), (100, R.SD)) == (R.SD, "FU1")
    assert _best((50, R.PR), (100, R.CR)) == (R.CR, "FU2")


def test_stable_disease_counts_from_42_days_after_baseline() -> None:
    """RECIST 1.1: SD must be met at least once after a minimum interval (6 weeks here)."""
    assert _best((42, R.SD)) == (R.SD, "FU1")
    assert _best((41, R.SD)) == (R.NE, None)
    assert _best((41, R.SD), (90, R.PD)) == (R.PD, "FU2")
    assert _best((41, R.NON_CR_NON_PD), (42, R.NON_CR_NON_PD)) == (R.NON_CR_NON_PD, "FU2")


def test_assessments_after_the_first_progression_are_not_considered() -> None:
    """RECIST 1.1: the best response is recorded from the start of treatment until PD."""
    assert _best((50, R.PD), (100, R.PR)) == (R.PD, "FU1")
    assert _best((50, R.NE), (100, R.NE)) == (R.NE, None)
    assert _best((50, R.NE), (100, R.SD)) == (R.SD, "FU2")


# ------------------------------------------------------------------ criteria, patient context
@pytest.mark.parametrize(
    ("drug_class", "expected"),
    [
        ("cytotoxic", (Criteria.RECIST11,)),
        ("targeted", (Criteria.RECIST11, Criteria.CHOI)),
        ("immunotherapy", (Criteria.RECIST11, Criteria.IRECIST)),
        ("somatostatin-analogue", (Criteria.RECIST11, Criteria.CHOI)),
        ("prrt", (Criteria.RECIST11, Criteria.CHOI)),
        ("locoregional", (Criteria.RECIST11, Criteria.MRECIST, Criteria.CHOI)),
        (None, tuple(Criteria)),
    ],
)
def test_the_reading_guide_criteria_of_each_drug_class(
    drug_class: str | None, expected: tuple[Criteria, ...]
) -> None:
    """NET reading guide: RECIST 1.1 always; Choi for cytostatic treatments (targeted
    agents, SSA, PRRT, locoregional), iRECIST for immunotherapy, mRECIST locoregional."""
    assert recommended_criteria(drug_class) == expected
    anatomical = series(scan("baseline", 0, liver_target()))
    assert choose_criteria([anatomical], drug_class) == expected


def test_percist_is_added_once_when_a_baseline_has_pet_readings() -> None:
    hot = lesion("L2", ld="20", modality="pet-fdg", sul_peak=D(4))
    pet = series(scan("baseline", 0, liver_target(), hot))
    ct = series(scan("baseline", 0, liver_target()))
    assert choose_criteria([ct, pet], "cytotoxic") == (Criteria.RECIST11, Criteria.PERCIST)
    assert choose_criteria([pet], "targeted") == (
        Criteria.RECIST11,
        Criteria.CHOI,
        Criteria.PERCIST,
    )
    assert choose_criteria([ct], "targeted") == (Criteria.RECIST11, Criteria.CHOI)
    assert choose_criteria([pet], None) == tuple(Criteria)


def test_previous_treatments_are_known_when_the_key_is_given_even_if_empty() -> None:
    """An unticked box means "none" only when the previous treatments were stated."""
    assert patient_info_from_mapping({"previous_treatments": []}).previous_treatments_known
    assert not patient_info_from_mapping({}).previous_treatments_known
    info = patient_info_from_mapping({"previous_treatments": ["prrt", "surgery"]})
    assert info.previous_treatments == (PreviousTreatment.PRRT, PreviousTreatment.SURGERY)
    assert info.previous_treatments_known
    assert PatientInfo(previous_treatments=("sirt",)).previous_treatments_known  # type: ignore[arg-type]
    assert not PatientInfo().previous_treatments_known
    assert not PatientInfo(
        previous_treatments=("sirt",),  # type: ignore[arg-type]
        previous_treatments_known=False,
    ).previous_treatments_known


def test_patient_json_defaults_and_conversions() -> None:
    info = patient_info_from_mapping(
        {
            "drug_class": "prrt",
            "drug": "177Lu-DOTATATE",
            "tumour": "pancreatic NET G2",
            "patient_name": "  Doe^Jane ",
            "birth_date": " 1960-02-29 ",
        }
    )
    assert info.study_id == "TUMORBOARD"
    assert info.drug_class is DrugClass.PRRT
    assert (info.drug, info.tumour) == ("177Lu-DOTATATE", "pancreatic NET G2")
    assert (info.patient_name, info.birth_date) == ("Doe^Jane", "1960-02-29")
    assert info.prolactinoma is None
    assert patient_info_from_mapping({"study_id": "S7"}).study_id == "S7"
    assert patient_info_from_mapping({}).drug_class is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"drug": "x", "colour": 1, "age": 2}, "patient.json: unknown key(s) age, colour"),
        ({"previous_treatments": "prrt"}, "patient.json: previous_treatments must be a list"),
        ({"drug": 5}, "patient.json: drug must be text; got int"),
        ({"study_id": None}, "patient.json: study_id must be text; got NoneType"),
        ({"drug_class": 3}, "patient.json: drug_class must be text"),
        (
            {"drug_class": "radiation"},
            "patient.json: drug_class must be one of cytotoxic, targeted, immunotherapy, "
            "somatostatin-analogue, prrt, locoregional; got 'radiation'",
        ),
        (
            {"previous_treatments": ["surgery", "magic"]},
            "patient.json: previous_treatments: each must be one of surgery, thermal-ablation, "
            "liver-embolization, sirt, prrt, chemotherapy, targeted, immunotherapy, "
            "somatostatin-analogue; got 'magic'",
        ),
        ({"birth_date": "29.02.1960"}, "patient.json: birth_date must be an ISO date YYYY-MM-DD"),
        ({"study_id": "  "}, "patient.json: study_id must not be empty"),
        (
            {"prolactinoma": [1, 2]},
            "patient.json: prolactinoma must be an object with prolactin_ug_per_l, "
            "upper_limit_normal_ug_per_l, baseline_size_ml, current_size_ml",
        ),
        (
            {
                "prolactinoma": {
                    "prolactin_ug_per_l": 1,
                    "upper_limit_normal_ug_per_l": 2,
                    "baseline_size_ml": 3,
                    "current_size_ml": 2,
                    "extra": 1,
                }
            },
            "patient.json: prolactinoma: missing nothing, unknown extra",
        ),
        (
            {
                "prolactinoma": {
                    "prolactin_ug_per_l": 1,
                    "upper_limit_normal_ug_per_l": 2,
                    "baseline_size_ml": [3],
                    "current_size_ml": 2,
                }
            },
            "patient.json: prolactinoma: baseline_size_ml must be a number; got [3]",
        ),
    ],
)
def test_patient_json_errors_name_the_file_and_the_rule(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError) as info:
        patient_info_from_mapping(data, "patient.json")
    assert str(info.value) == message


def test_a_prolactinoma_block_is_read_as_exact_decimals() -> None:
    info = patient_info_from_mapping(
        {
            "prolactinoma": {
                "prolactin_ug_per_l": "20",
                "upper_limit_normal_ug_per_l": 25,
                "baseline_size_ml": 2.4,
                "current_size_ml": "1.2",
            }
        }
    )
    assert info.prolactinoma == ProlactinomaReading(D(20), D(25), D("2.4"), D("1.2"))
    assert info.prolactinoma.assess().category is PituitaryResponse.RESPONSE


# ------------------------------------------------------------------ records across processes
def test_assessments_pickle_to_equal_records() -> None:
    """Worker processes return records; they must arrive field for field."""
    row = TimepointAssessment(
        timepoint="FU1",
        date=dt.date(2024, 3, 1),
        criteria=Criteria.IRECIST,
        target_sum_mm=D("54.15"),
        change_from_baseline_pct=D("-10.04"),
        change_from_nadir_pct=D("0"),
        target_response=R.IPR,
        non_target_response=R.NON_CR_NON_PD,
        new_lesions=NewLesionFinding.EQUIVOCAL,
        overall_response=R.IPR,
        response_vs_baseline=R.IPR,
        response_vs_nadir=R.ISD,
        strict_response=R.IUPD,
        mean_hu=D("60"),
        change_in_hu_pct=D("-25"),
        sul_peak=D("3.25"),
        new_baseline_lesions=("N1",),
        notes=("a note",),
    )
    whole = PatientAssessment("P7", Criteria.IRECIST, (row,), R.IPR, "FU1", ("n",))
    assert pickle.loads(pickle.dumps(row)) == row
    assert pickle.loads(pickle.dumps(whole)) == whole


def test_a_worker_chunk_decodes_to_the_assessment_of_each_patient() -> None:
    """The spawned workers of ``assess_cohort`` send each chunk encoded; decoded, it is
    the in-process assessment of every patient, in order."""
    first = series(scan("baseline", 0, liver_target()), scan("FU1", 60, liver_target("20")))
    second = series(scan("baseline", 0, liver_target()), scan("FU1", 60, liver_target("60")))
    criteria = (Criteria.RECIST11, Criteria.CHOI)
    options = AssessmentOptions()
    decoded = decode(_assess_encoded(([first, second], criteria, options)))
    assert decoded == [assess_patient(first, criteria), assess_patient(second, criteria)]
    assert [r[0].timepoints[1].overall_response for r in decoded] == [R.PR, R.PD]


def test_a_response_is_confirmed_by_a_later_scan_at_least_4_weeks_after_it() -> None:
    """RECIST 1.1 section 4.4 with confirmation: PR needs a later PR or CR at least 4 weeks
    after it; NE between does not break it, and a too-early repeat does not confirm."""
    # SD first, then a PR confirmed 40 days later
    assert _best((50, R.SD), (80, R.PR), (120, R.PR), options=CONFIRM) == (R.PR, "FU2")
    # a repeat 10 days after the PR does not confirm it; one 50 days after does
    assert _best((50, R.PR), (60, R.PR), (100, R.PR), options=CONFIRM) == (R.PR, "FU1")
    # NE between the PR and its confirmation
    assert _best((50, R.PR), (80, R.NE), (110, R.PR), options=CONFIRM) == (R.PR, "FU1")
    # an unconfirmed PR (SD follows) does not stop a later PR from being confirmed
    assert _best((50, R.PR), (80, R.SD), (110, R.PR), (150, R.PR), options=CONFIRM) == (R.PR, "FU3")
    # CR confirmed by a CR, with NE between
    assert _best((50, R.CR), (60, R.NE), (90, R.CR), options=CONFIRM) == (R.CR, "FU1")
    # RECIST 1.1 table 3: "PR then CR" is a confirmed PR (the CR itself is unconfirmed)
    assert _best((50, R.PR), (90, R.CR), options=CONFIRM) == (R.PR, "FU1")


def test_a_follow_up_without_an_overall_response_is_skipped() -> None:
    assert _best((50, None), (100, R.PR)) == (R.PR, "FU2")  # type: ignore[arg-type]
    assert _best((50, None)) == (None, None)  # type: ignore[arg-type]


def test_an_unseen_new_lesion_row_does_not_hide_the_next_one() -> None:
    history = series(
        scan("baseline", 0, liver_target()),
        scan("FU1", 60, liver_target(), _new("X1", "not-evaluated"), _new("X2", "present")),
    )
    assert build_ledger(history).progression_ids[1] == frozenset({"X2"})


def test_a_new_lesion_keeps_its_first_sighting_and_stays_new_disease() -> None:
    """Once new disease (seen outright, or equivocal and confirmed), every later sighting
    is new disease, dated from the first one."""
    outright = series(
        scan("baseline", 0, liver_target()),
        scan("FU1", 60, liver_target(), _new("X1", "present")),
        scan("FU2", 120, liver_target(), _new("X1", "present")),
    )
    ledger = build_ledger(outright)
    assert ledger.first_seen == {"X1": 1}
    assert ledger.progression_ids[2] == frozenset({"X1"})
    confirmed = series(
        scan("baseline", 0, liver_target()),
        scan("FU1", 60, liver_target(), _new("X1", "equivocal")),
        scan("FU2", 120, liver_target(), _new("X1", "present")),
        scan("FU3", 180, liver_target(), _new("X1", "present")),
    )
    ledger = build_ledger(confirmed)
    assert ledger.first_seen == {"X1": 1}
    assert ledger.progression_ids[3] == frozenset({"X1"})
    assert ledger.notes[3] == ()


def test_errors_without_a_source_row_have_no_row_prefix() -> None:
    with pytest.raises(InputError) as info:
        lesion("")
    assert str(info.value) == "lesion_id must not be empty"


# ------------------------------------------------------------------ target sums
# (RECIST 1.1 tables 1 and 2: tests/criteria/test_recist.py::test_overall_response_tables)


def _snapshot(*readings: LesionMeasurement, metric: Metric = Metric.LONGEST) -> TargetSnapshot:
    targets = (
        lesion("L1", ld="30", viable_diameter_mm=D(20)),
        lesion("N1", organ="neck", node=True, sa="20"),
    )
    ids = frozenset({"L1", "N1"})
    return target_snapshot(Timepoint("FU1", BASE_DATE, readings), targets, ids, metric)


def test_a_target_snapshot_sums_the_values_recist_gives_each_reading() -> None:
    """RECIST 1.1: a non-nodal target counts its longest diameter, a node its short axis;
    a lesion too small to measure counts 5 mm, one that disappeared 0 mm."""
    node = lesion("N1", organ="neck", node=True, ld="25", sa="12")
    assert _snapshot(lesion("L1", ld="24"), node) == TargetSnapshot(D(36), (), False)
    assert _snapshot(lesion("L1", status="too-small"), node).sum_mm == D(17)
    gone = lesion("N1", organ="neck", node=True, sa="9.9")
    assert _snapshot(lesion("L1", status="absent"), gone) == TargetSnapshot(D("9.9"), (), True)
    # mRECIST sums the viable (enhancing) diameter
    viable = lesion("L1", ld="24", viable_diameter_mm=D(8))
    assert _snapshot(viable, node, metric=Metric.VIABLE).sum_mm == D(20)


def test_a_target_node_of_10_mm_short_axis_has_not_disappeared() -> None:
    """RECIST 1.1 CR: nodes must have reduced to < 10 mm short axis."""
    absent = lesion("L1", status="absent")
    at_10 = lesion("N1", organ="neck", node=True, sa="10")
    assert _snapshot(absent, at_10) == TargetSnapshot(D(10), (), False)
    still_there = lesion("L1", ld="0.5")
    below = lesion("N1", organ="neck", node=True, sa="5")
    assert _snapshot(still_there, below).all_gone is False


def test_a_target_not_read_makes_the_sum_a_lower_bound_and_not_all_gone() -> None:
    node = lesion("N1", organ="neck", node=True, sa="5")
    assert _snapshot(node) == TargetSnapshot(D(5), ("L1",), False)
    not_evaluated = lesion("L1", status="not-evaluated")
    assert _snapshot(not_evaluated, node) == TargetSnapshot(D(5), ("L1",), False)


def test_split_fragments_are_summed_and_a_merged_target_counts_zero() -> None:
    """RECIST 1.1: a split lesion is the sum of its fragments; when lesions coalesce, the
    merged lesion is measured once and the absorbed one counts 0 mm."""
    node = lesion("N1", organ="neck", node=True, sa="12")
    parts = (lesion("L1a", ld="12", part_of="L1"), lesion("L1b", ld="9", part_of="L1"))
    assert _snapshot(*parts, node) == TargetSnapshot(D(33), (), False)
    # own row and a fragment
    assert _snapshot(lesion("L1", ld="4"), parts[0], node).sum_mm == D(28)
    # a fragment not read leaves the lesion unknown
    unread = lesion("L1b", part_of="L1", status="not-evaluated")
    assert _snapshot(parts[0], unread, node).missing == ("L1",)
    # N1 merged into L1: N1 counts 0 under its own id and is not added to L1 again
    merged = lesion("N1", organ="neck", node=True, sa="30", part_of="L1")
    assert _snapshot(lesion("L1", ld="40"), merged) == TargetSnapshot(D(40), (), False)


def _non_target(reading: LesionMeasurement | None) -> Response | None:
    baseline = (lesion("B1", role="non-target", organ="neck", node=True, sa="18"),)
    readings = () if reading is None else (reading,)
    return non_target_response(Timepoint("FU1", BASE_DATE, readings), baseline)


def test_non_target_response_categories() -> None:
    """RECIST 1.1 non-target response: CR (all gone, nodes < 10 mm), non-CR/non-PD,
    PD (unequivocal progression), NE when a lesion was not assessed."""

    def node(**kwargs: object) -> LesionMeasurement:
        return lesion("B1", role="non-target", organ="neck", node=True, **kwargs)  # type: ignore[arg-type]

    assert _non_target(node(status="absent")) is R.CR
    assert _non_target(node(sa="9")) is R.CR
    assert _non_target(node(sa="10")) is R.NON_CR_NON_PD
    assert _non_target(node()) is R.NON_CR_NON_PD  # present, no size given
    assert _non_target(node(status="unequivocal-progression")) is R.PD
    assert _non_target(node(status="not-evaluated")) is R.NE
    assert _non_target(None) is R.NE
    assert _non_target(node(sa="14", part_of="L1")) is R.CR  # merged into another lesion
    empty = Timepoint("FU1", BASE_DATE, ())
    assert non_target_response(empty, ()) is None


def test_progression_needs_5_mm_and_20_percent_both_inclusive() -> None:
    """RECIST 1.1: PD is a >= 20 % increase of the sum that is also >= 5 mm absolute."""
    assert is_progression(D(30), D(25), D(20))  # +5 mm, +20 %
    assert not is_progression(D("29.9"), D(25), D(20))
    assert not is_progression(D(12), D(10), D(20))  # +20 % but only 2 mm
    assert is_progression(D(15), D(10), D(20))


def test_series_facts_keep_each_timepoint_and_metric_apart() -> None:
    history = series(
        scan("baseline", 0, lesion("L1", ld="30", viable_diameter_mm=D(20)), _nt("present")),
        scan("FU1", 60, lesion("L1", ld="20", viable_diameter_mm=D(5)), _nt("absent")),
    )
    facts = SeriesFacts(history.timepoints)
    assert facts.snapshot(1, Metric.LONGEST).sum_mm == D(20)
    assert facts.snapshot(1, Metric.VIABLE).sum_mm == D(5)
    assert facts.snapshot(0, Metric.LONGEST).sum_mm == D(30)
    assert facts.snapshot(1, Metric.LONGEST).sum_mm == D(20)  # again, from the cache
    assert facts.non_target(0) is R.NON_CR_NON_PD
    assert facts.non_target(1) is R.CR
    assert facts.non_target(1) is R.CR
    assert [t.lesion_id for t in facts.targets] == ["L1"]
    assert [t.lesion_id for t in facts.non_targets] == ["B1"]


def _nt(status: str) -> LesionMeasurement:
    return lesion("B1", role="non-target", organ="bone", status=status)


def test_non_target_disease_only_keeps_non_cr_non_pd_with_confirmation() -> None:
    """RECIST 1.1 table 2 (non-target disease only): the best response is NON-CR/NON-PD,
    not SD, also when confirmation is asked."""
    assert _best((50, R.NON_CR_NON_PD), options=CONFIRM) == (R.NON_CR_NON_PD, "FU1")
    assert _best((50, R.SD), options=CONFIRM) == (R.SD, "FU1")


def test_a_patient_assessment_carries_the_patient_and_the_best_response() -> None:
    history = series(scan("baseline", 0, liver_target("100")), scan("FU1", 60, liver_target()))
    rows = [_row_at("baseline", 0, None), _row_at("FU1", 60, R.PR)]
    closed = patient_assessment(
        history, Criteria.RECIST11, rows, AssessmentOptions(), notes=("n1",)
    )
    assert closed == PatientAssessment("P1", Criteria.RECIST11, tuple(rows), R.PR, "FU1", ("n1",))


def test_patient_info_refuses_an_unknown_previous_treatment() -> None:
    with pytest.raises(InputError) as info:
        PatientInfo(previous_treatments=("magic",))  # type: ignore[arg-type]
    assert str(info.value) == (
        "previous_treatments: each must be one of surgery, thermal-ablation, "
        "liver-embolization, sirt, prrt, chemotherapy, targeted, immunotherapy, "
        "somatostatin-analogue; got 'magic'"
    )


def test_patient_json_errors_name_the_patient_block_by_default() -> None:
    with pytest.raises(InputError) as info:
        patient_info_from_mapping({"colour": "red"})
    assert str(info.value) == "patient: unknown key(s) colour"


def test_prolactinoma_errors_list_every_missing_key_and_name_the_value() -> None:
    with pytest.raises(InputError) as info:
        patient_info_from_mapping(
            {"prolactinoma": {"prolactin_ug_per_l": 1, "upper_limit_normal_ug_per_l": 2}}
        )
    assert str(info.value) == (
        "patient: prolactinoma: missing baseline_size_ml, current_size_ml, unknown nothing"
    )
    with pytest.raises(InputError) as info:
        patient_info_from_mapping(
            {
                "prolactinoma": {
                    "prolactin_ug_per_l": 1,
                    "upper_limit_normal_ug_per_l": 2,
                    "baseline_size_ml": 3,
                    "current_size_ml": 2,
                    "unit": "ml",
                    "colour": "red",
                }
            }
        )
    assert str(info.value) == "patient: prolactinoma: missing nothing, unknown colour, unit"
    with pytest.raises(InputError) as info:
        patient_info_from_mapping(
            {
                "prolactinoma": {
                    "prolactin_ug_per_l": "high",
                    "upper_limit_normal_ug_per_l": 2,
                    "baseline_size_ml": 3,
                    "current_size_ml": 2,
                }
            }
        )
    assert str(info.value) == (
        "patient: prolactinoma: prolactin_ug_per_l: expected a number, got 'high'"
    )


def test_a_target_not_evaluated_is_ne_unless_the_measured_ones_already_meet_pd() -> None:
    """RECIST 1.1: with a target not assessed the response is NE, unless the measured
    targets alone already show progression (adding the missing one can only raise it)."""
    baseline = scan("baseline", 0, liver_target("40"), lesion("L2", organ="lung", ld="20"))
    unread = lesion("L2", organ="lung", status="not-evaluated")
    grown = series(baseline, scan("FU1", 60, liver_target("72"), unread))  # 72 = 60 + 20 %
    row = assess_recist(grown, build_ledger(grown)).timepoints[1]
    assert (row.target_response, row.target_sum_mm) == (R.PD, None)
    assert "target lesion(s) L2 not evaluated: measured sum alone meets PD" in row.notes
    steady = series(baseline, scan("FU1", 60, liver_target("40"), unread))
    row = assess_recist(steady, build_ledger(steady)).timepoints[1]
    assert row.target_response is R.NE
    assert "target lesion(s) L2 not evaluated: result could change, NE" in row.notes


def test_errors_about_readings_without_source_rows_have_no_row_prefix() -> None:
    """Records built in code have no CSV row; their errors start with the rule."""
    targets = [lesion(f"L{k}", organ=f"organ{k}", ld="20") for k in range(6)]
    with pytest.raises(InputError) as info:
        series(scan("baseline", 0, *targets))
    assert str(info.value) == "rule 'at most 5 target lesions': 6 targets at baseline"
    with pytest.raises(InputError) as info:
        series(
            scan("baseline", 0, liver_target()),
            scan("FU1", 30, liver_target()),
            scan("FU1", 60, liver_target()),
        )
    assert str(info.value) == "timepoint label 'FU1' is used twice"


def test_a_lesion_whose_organ_names_a_lymph_node_counts_as_a_node_whatever_the_case() -> None:
    """RECIST 1.1 section 4.2: pathological nodes are one organ (two targets at most)."""
    station = lesion("L3", organ="Lymph Node Hilar", ld="20", row=4)
    assert organ_key(station) == "lymph nodes"
    assert organ_key(lesion("L4", organ=" Liver ", ld="20")) == "liver"
    nodes = [lesion(f"N{k}", organ="neck", node=True, sa="20", row=2 + k) for k in range(2)]
    with pytest.raises(InputError) as info:
        series(scan("baseline", 0, *nodes, station))
    assert str(info.value) == (
        "row 4: rule 'at most 2 target lesions per organ': a third target in lymph nodes "
        "(nodes are one organ; this one is 'Lymph Node Hilar')"
    )


def test_the_baseline_row_of_an_assessment_carries_the_reference_values() -> None:
    """The baseline has no response; it shows the target sum (and for Choi the mean
    density) every follow-up is compared with."""
    history = series(
        scan("baseline", 10, lesion("L1", ld="40", mean_hu=D(80))),
        scan("FU1", 60, lesion("L1", ld="40", mean_hu=D(60))),
    )
    first = assess_choi(history, build_ledger(history)).timepoints[0]
    assert (first.timepoint, first.date) == ("baseline", BASE_DATE + dt.timedelta(days=10))
    assert (first.target_sum_mm, first.mean_hu, first.overall_response) == (D(40), D(80), None)


def test_a_cohort_is_assessed_with_the_options_given() -> None:
    """100 -> 60 -> 71 mm: -29 % from baseline (SD), +18 % from the nadir (not PD); with
    continued PR (default) the PR holds, without it the third scan is SD."""
    history = series(
        scan("baseline", 0, liver_target("100")),
        scan("FU1", 60, liver_target("60")),
        scan("FU2", 120, liver_target("71")),
    )
    plain = AssessmentOptions(continued_pr=False)
    ((held,),) = assess_cohort([history], ["recist1.1"])
    ((dropped,),) = assess_cohort([history], ["recist1.1"], plain)
    assert held.timepoints[2].target_response is R.PR
    assert dropped.timepoints[2].target_response is R.SD
    assert dropped == assess_patient(history, ["recist1.1"], plain)[0]


def test_the_worker_transport_keeps_each_optional_field_whatever_its_neighbours() -> None:
    """``criteria.transport``: exact values survive the trip, also when the field next to
    a given one is empty (a change from baseline without one from the nadir, ...)."""
    values = {
        "target_sum_mm": D("54.15"),
        "change_from_baseline_pct": D("-10.04"),
        "change_from_nadir_pct": D("2.5"),
        "target_response": R.PR,
        "non_target_response": R.NON_CR_NON_PD,
        "new_lesions": NewLesionFinding.NO,
        "overall_response": R.PR,
        "response_vs_baseline": R.PR,
        "response_vs_nadir": R.SD,
        "strict_response": R.PD,
        "mean_hu": D("60"),
        "change_in_hu_pct": D("-25"),
        "sul_peak": D("3.25"),
    }
    names = list(values)
    rows = []
    for keep in (0, 1):  # every other optional field empty, then the others
        given: dict[str, Any] = {
            name: values[name] if k % 2 == keep else None for k, name in enumerate(names)
        }
        rows.append(
            TimepointAssessment(
                timepoint=f"FU{keep}",
                date=dt.date(2024, 3, 1 + keep),
                criteria=Criteria.RECIST11,
                **given,
            )
        )
    sent = [(PatientAssessment("P1", Criteria.RECIST11, tuple(rows), R.PR, "FU0"),)]
    assert decode(encode(sent)) == sent


def test_every_non_target_is_read_whatever_the_one_before() -> None:
    """RECIST 1.1: non-target PD is unequivocal progression of any non-target; CR needs
    all of them gone (nodes < 10 mm)."""
    baseline = (
        lesion("B1", role="non-target", organ="neck", node=True, sa="18"),
        lesion("B2", role="non-target", organ="bone"),
    )

    def read(first: LesionMeasurement, second_status: str) -> Response | None:
        second = lesion("B2", role="non-target", organ="bone", status=second_status)
        return non_target_response(Timepoint("FU1", BASE_DATE, (first, second)), baseline)

    def node(**kwargs: object) -> LesionMeasurement:
        return lesion("B1", role="non-target", organ="neck", node=True, **kwargs)  # type: ignore[arg-type]

    assert read(node(status="not-evaluated"), "unequivocal-progression") is R.PD
    assert read(node(status="absent"), "present") is R.NON_CR_NON_PD
    assert read(node(sa="5"), "present") is R.NON_CR_NON_PD
    assert read(node(sa="5"), "absent") is R.CR


def test_a_merged_target_does_not_hide_the_next_fragment() -> None:
    """N1 merged into L1 counts 0 mm; a fragment of L1 listed after it is still summed."""
    merged = lesion("N1", organ="neck", node=True, sa="30", part_of="L1")
    fragment = lesion("L1b", ld="10", part_of="L1")
    assert _snapshot(lesion("L1", ld="40"), merged, fragment).sum_mm == D(50)


def test_response_against_baseline_and_nadir_count_non_targets_and_new_lesions() -> None:
    """The overall response against each reference goes through the RECIST 1.1 table:
    non-target progression or a new lesion is PD whatever the target sum."""
    base = scan("baseline", 0, liver_target("50"), _nt("present"))
    progressed = series(base, scan("FU1", 60, liver_target("50"), _nt("unequivocal-progression")))
    row = assess_recist(progressed, build_ledger(progressed)).timepoints[1]
    assert (row.response_vs_baseline, row.response_vs_nadir) == (R.PD, R.PD)
    new = series(base, scan("FU1", 60, liver_target("50"), _nt("present"), _new("X1", "present")))
    row = assess_recist(new, build_ledger(new)).timepoints[1]
    assert (row.response_vs_baseline, row.response_vs_nadir) == (R.PD, R.PD)
    steady = series(base, scan("FU1", 60, liver_target("50"), _nt("present")))
    row = assess_recist(steady, build_ledger(steady)).timepoints[1]
    assert (row.response_vs_baseline, row.response_vs_nadir) == (R.SD, R.SD)


def test_a_choi_follow_up_row_shows_its_mean_density() -> None:
    history = series(
        scan("baseline", 0, lesion("L1", ld="40", mean_hu=D(80))),
        scan("FU1", 60, lesion("L1", ld="40", mean_hu=D(60))),
    )
    row = assess_choi(history, build_ledger(history)).timepoints[1]
    assert (row.mean_hu, row.change_in_hu_pct) == (D(60), D(-25))
