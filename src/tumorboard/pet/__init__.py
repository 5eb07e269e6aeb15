"""PET quantification: vendor-neutral SUV, lesion and reference uptake, grading, PET/MR fusion.

Modules (import what you need; the package itself imports nothing heavy):

* :mod:`~tumorboard.pet.suv_header` -- SUVbw scale factors from DICOM headers (QIBA rules);
* :mod:`~tumorboard.pet.suv_scaling` -- the conversion record and the coded header values;
* :mod:`~tumorboard.pet.decay_rules` -- dose, half-life, injection and scan time rules;
* :mod:`~tumorboard.pet.header_values`, :mod:`~tumorboard.pet.dicom_time` -- typed
  attribute reads and DICOM DA/TM/DT parsing;
* :mod:`~tumorboard.pet.body_size` -- lean body mass (SUL), BSA, ideal body weight;
* :mod:`~tumorboard.pet.radionuclides` -- half-lives from radionuclide codes;
* :mod:`~tumorboard.pet.series_io` -- read one PET DICOM series with its SUV scaling;
* :mod:`~tumorboard.pet.uptake` -- SUVmax/mean and the PERCIST 1 cm^3 peak sphere;
* :mod:`~tumorboard.pet.mtv` -- metabolic tumour volume and TLG;
* :mod:`~tumorboard.pet.liver_reference` -- liver sphere, blood pool and organ references;
* :mod:`~tumorboard.pet.percist_inputs` -- PERCIST measurability and comparability;
* :mod:`~tumorboard.pet.krenning`, :mod:`~tumorboard.pet.netpet`,
  :mod:`~tumorboard.pet.prrt_eligibility` -- SSTR grading records;
* :mod:`~tumorboard.pet.lesion_table` -- one measurement record per lesion;
* :mod:`~tumorboard.pet.registration` -- rigid Mattes-MI PET/CT-to-MRI registration;
* :mod:`~tumorboard.pet.methionine` -- cerebellum-normalised uptake ratio.
"""
