"""Reports, figures and exports (HTML, PDF, JSON, CSV, CDISC SDTM, DICOM SR)."""
