"""IBSI-compliant radiomics through mirp: per-lesion features with IBSI codes.

Public API
----------
extract_lesion_features
    Features for every label of a label map, in parallel.
load_radiomics_inputs
    Image (NIfTI or DICOM series) and labels (NIfTI, DICOM SEG, RTSTRUCT).
write_feature_table
    Long-format CSV with IBSI codes and acquisition parameters.
"""

from tumorboard.radiomics.acquisition import AcquisitionParameters
from tumorboard.radiomics.extract import FeatureValue, LesionFeatures, extract_lesion_features
from tumorboard.radiomics.ibsi_codes import FeatureCode, decode_mirp_name
from tumorboard.radiomics.presets import Preset, PresetSpec, load_preset
from tumorboard.radiomics.sources import RadiomicsInputs, load_radiomics_inputs
from tumorboard.radiomics.table import FEATURE_COLUMNS, write_feature_table

__all__ = [
    "FEATURE_COLUMNS",
    "AcquisitionParameters",
    "FeatureCode",
    "FeatureValue",
    "LesionFeatures",
    "Preset",
    "PresetSpec",
    "RadiomicsInputs",
    "decode_mirp_name",
    "extract_lesion_features",
    "load_preset",
    "load_radiomics_inputs",
    "write_feature_table",
]
