"""DCE-MRI perfusion: T1 mapping, signal to concentration, input functions, kinetic models.

Public API (code lives in one module per concept):

* relaxometry: :func:`vfa_t1_linear`, :func:`vfa_t1_nonlinear`, :func:`spgr_signal`;
* concentration: :func:`signal_to_concentration`, :func:`blood_to_plasma`;
* inputs: :class:`InputFunction`, :func:`parker_aif`, :func:`georgiou_aif`, :func:`preclinical_aif`,
  :func:`measured_aif`, :func:`portal_venous_input`, :func:`bolus_arrival_time`;
* models and fitting: :class:`DceModel`, :func:`fit_curves`, :func:`fit_volume`,
  :func:`simulate`, :func:`iaugc`, :func:`iaugc_map`, :func:`check_tissue_curve`;
* lesions: :func:`summarise_lesions`, :func:`lesion_changes`.
"""

from tumorboard.dce.aif import (
    InputFunction,
    blood_to_plasma,
    bolus_arrival_time,
    georgiou_aif,
    measured_aif,
    parker_aif,
    portal_venous_input,
    preclinical_aif,
)
from tumorboard.dce.fit import FitResult, fit_curves, simulate
from tumorboard.dce.iaugc import iaugc, iaugc_map
from tumorboard.dce.kinetic_model import DceModel
from tumorboard.dce.lesion_summary import lesion_changes, summarise_lesions
from tumorboard.dce.signal_to_concentration import signal_to_concentration
from tumorboard.dce.t1_mapping import spgr_signal, vfa_t1_linear, vfa_t1_nonlinear
from tumorboard.dce.tissue_curves import check_tissue_curve
from tumorboard.dce.volume_fit import ParameterMaps, fit_volume

__all__ = [
    "DceModel",
    "FitResult",
    "InputFunction",
    "ParameterMaps",
    "blood_to_plasma",
    "check_tissue_curve",
    "bolus_arrival_time",
    "fit_curves",
    "fit_volume",
    "georgiou_aif",
    "iaugc",
    "iaugc_map",
    "lesion_changes",
    "measured_aif",
    "parker_aif",
    "portal_venous_input",
    "preclinical_aif",
    "signal_to_concentration",
    "simulate",
    "spgr_signal",
    "summarise_lesions",
    "vfa_t1_linear",
    "vfa_t1_nonlinear",
]
