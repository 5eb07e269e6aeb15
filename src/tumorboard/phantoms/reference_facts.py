"""The facts the reading guide starts from for the reference patients.

The NET patient is the one of :mod:`tumorboard.phantoms.pet_case`: a
well-differentiated pancreatic-head NET (G2) with liver, nodal and bone
metastases, progressing on a somatostatin analogue. The bone metastasis
(lesion 5) has SSTR uptake below the liver (SUV 5 vs liver 7: Krenning 2) and
is FDG-avid, so the guide must find PRRT not eligible and warn about the
FDG-over-SSTR lesion. The pituitary case is the sellar-region patient of
:mod:`tumorboard.phantoms.pituitary_case`: a somatotroph adenoma with a
remnant that MRI does not show, hormone excess persisting after surgery and
treatment, so the guide suggests 11C-methionine PET.

Each record is a plain ``FACTS.json`` object (what ``tumorboard guide`` reads);
:data:`EXPECTED` holds what the guide should conclude, for the demo's checks.
"""

from __future__ import annotations

from typing import Any

#: FACTS.json of the reference NET patient.
REFERENCE_NET_FACTS: dict[str, Any] = {
    "primary_site": "pancreas",
    "tumour_type": "net",
    "ki67_pct": 8.0,
    "mitoses_per_2mm2": 3.0,
    "differentiation": "well",
    "men_syndrome": False,
    "functioning": False,
    "tumour_burden": "high",
    "liver_predominant": True,
    "resectable_fraction_pct": 35.0,
    "prior_treatments": ["lanreotide"],
    "krenning_min": 2,
    "fdg_positive": True,
    "drug_type": "targeted",
    "largest_lesion_mm": 36.0,
}

#: FACTS.json of the sellar-region (pituitary) reference case.
REFERENCE_PITUITARY_FACTS: dict[str, Any] = {
    "pituitary_adenoma": True,
    "tumour_type": "somatotroph",
    "functioning": True,
    "syndrome": "acromegaly",
    "hormone_normalised": False,
    "size_reduction_pct": 20.0,
}

#: What the guide must conclude for each case (checked by the demo and tests).
EXPECTED: dict[str, dict[str, Any]] = {
    "net": {
        "who_grade": "G2",
        "embryology": "foregut",
        "risk": "higher",
        "first_imaging_prefix": "SSTR PET",
        "response_criteria": ["RECIST 1.1", "Choi", "PERCIST"],
        "prrt": "not-eligible",
    },
    "pituitary": {"refractoriness": "biochemical"},
}
