"""QIBA DCE DRO v6 (Tofts) voxel-wise and v4 (extended Tofts) patches.

Signal converted with the DRO's acquisition (TR 5 ms, FA 30/25 deg, tissue T1
1 s, blood T1 1.44 s, r1 4.5 /mM/s, Hct 0.45, AIF = vascular strip); checked
with the OSIPI tolerances.
"""

from __future__ import annotations

import numpy as np

from tumorboard.dce.aif import InputFunction, blood_to_plasma
from tumorboard.dce.fit import fit_curves
from tumorboard.dce.signal_to_concentration import (
    baseline_frames_before_arrival,
    signal_to_concentration,
)

KTRANS_ATOL, KTRANS_RTOL = 0.005, 0.1
VE_ATOL = 0.05
VP_ATOL = 0.025
T1_TISSUE_S, T1_BLOOD_S, R1, HCT = 1.0, 1.44, 4.5, 0.45
#: v4: ve is only identifiable where the washout is seen, i.e. where
#: kep = Ktrans/ve times the 5.5-min acquisition is at least 1 (with baseline
#: pixel values of ~21, integer quantisation hides slower washouts). ve is
#: checked there (54 of 108 patches); Ktrans and vp on every patch.
V4_VE_MIN_KEP_TIMES_DURATION = 1.0


def _load(qiba_dir, version):
    z = np.load(qiba_dir / f"QIBA_DCE_{version}_noisefree.npz")
    return (
        z["signal"].astype(float),
        z["t_s"].astype(float),
        float(z["TR_ms"]) / 1000.0,
        float(z["flip_deg"]),
    )


def _inputs(signal, t, tr_s, flip, rows):
    aif_signal = signal[:, rows, :].reshape(signal.shape[0], -1).mean(axis=1)
    baseline = baseline_frames_before_arrival(t, aif_signal)
    cb = signal_to_concentration(
        aif_signal,
        t1_s=T1_BLOOD_S,
        flip_deg=flip,
        tr_s=tr_s,
        r1_per_mM_s=R1,
        baseline_frames=baseline,
    )
    return InputFunction(t, blood_to_plasma(cb, HCT)), baseline


def _close(value, reference, atol, rtol=0.0):
    return abs(value - reference) <= atol + rtol * abs(reference)


def test_qiba_v6_tofts_every_voxel(qiba_dir, read_rows):
    signal, t, tr_s, flip = _load(qiba_dir, "v6_Tofts")
    inputs, baseline = _inputs(signal, t, tr_s, flip, slice(70, 80))
    tissue = np.moveaxis(signal[:, 10:70, :], 0, -1)  # rows 10-69 hold the patches
    conc = signal_to_concentration(
        tissue, t1_s=T1_TISSUE_S, flip_deg=flip, tr_s=tr_s, r1_per_mM_s=R1, baseline_frames=baseline
    )
    result = fit_curves(t, conc.reshape(-1, t.size), inputs, "tofts")
    assert result.converged.all()
    maps = {k: v.reshape(60, 50) for k, v in result.parameters.items()}
    rows = read_rows(qiba_dir / "QIBA_DCE_v6_Tofts_truth.csv")
    assert len(rows) == 30
    for row in rows:
        r0, r1, c0, c1 = (
            int(row[k]) - o
            for k, o in (("row_start", 10), ("row_stop", 10), ("col_start", 0), ("col_stop", 0))
        )
        ktrans = maps["ktrans_per_min"][r0:r1, c0:c1]
        ve = maps["ve"][r0:r1, c0:c1]
        kt_ref, ve_ref = float(row["Ktrans_per_min"]), float(row["ve"])
        assert all(_close(v, kt_ref, KTRANS_ATOL, KTRANS_RTOL) for v in ktrans.ravel()), row
        assert all(_close(v, ve_ref, VE_ATOL) for v in ve.ravel()), row


def test_qiba_v4_extended_tofts_patches(qiba_dir, read_rows):
    signal, t, tr_s, flip = _load(qiba_dir, "v4_ExtTofts")
    inputs, baseline = _inputs(signal, t, tr_s, flip, slice(180, 200))
    rows = read_rows(qiba_dir / "QIBA_DCE_v4_ExtTofts_truth.csv")
    assert len(rows) == 108
    curves = np.stack(
        [
            signal[
                :,
                int(r["row_start"]) : int(r["row_stop"]),
                int(r["col_start"]) : int(r["col_stop"]),
            ].mean(axis=(1, 2))
            for r in rows
        ]
    )
    conc = signal_to_concentration(
        curves, t1_s=T1_TISSUE_S, flip_deg=flip, tr_s=tr_s, r1_per_mM_s=R1, baseline_frames=baseline
    )
    result = fit_curves(t, conc, inputs, "extended-tofts")
    assert result.converged.all()
    n_ve = 0
    for i, row in enumerate(rows):
        kt_ref = float(row["Ktrans_per_min"])
        assert _close(result.parameters["ktrans_per_min"][i], kt_ref, KTRANS_ATOL, KTRANS_RTOL)
        assert _close(result.parameters["vp"][i], float(row["vp"]), VP_ATOL)
        ve_ref = float(row["ve"])
        if kt_ref / ve_ref * (t[-1] - t[0]) / 60.0 >= V4_VE_MIN_KEP_TIMES_DURATION:
            n_ve += 1
            assert _close(result.parameters["ve"][i], ve_ref, VE_ATOL), row
    assert n_ve == 54


#: OSIPI R1 tolerance of VFA T1 mapping (/s).
R1_ATOL_PER_S, R1_RTOL = 0.05, 0.05


def test_qiba_v4_end_to_end_with_the_vfa_t1_map(qiba_dir, read_rows):
    """T1 from the DRO's own variable-flip-angle images, then signal -> Ktrans, ve, vp."""
    from tumorboard.dce.t1_mapping import vfa_t1_nonlinear

    z = np.load(qiba_dir / "QIBA_DCE_v4_ExtTofts_noisefree.npz")
    signal, t, tr_s, flip = _load(qiba_dir, "v4_ExtTofts")
    vfa = np.moveaxis(z["vfa_signal"].astype(float), 0, -1)
    t1_s = vfa_t1_nonlinear(vfa, z["vfa_flip_deg"], tr_s).t1_s
    for region, truth_s in ((t1_s[:180], T1_TISSUE_S), (t1_s[180:], T1_BLOOD_S)):
        r1 = 1.0 / region
        assert np.all(np.abs(r1 - 1.0 / truth_s) <= R1_ATOL_PER_S + R1_RTOL / truth_s)
    aif_signal = signal[:, 180:200, :].reshape(signal.shape[0], -1).mean(axis=1)
    baseline = baseline_frames_before_arrival(t, aif_signal)
    cb = signal_to_concentration(
        aif_signal,
        t1_s=float(np.median(t1_s[180:])),
        flip_deg=flip,
        tr_s=tr_s,
        r1_per_mM_s=R1,
        baseline_frames=baseline,
    )
    inputs = InputFunction(t, blood_to_plasma(cb, HCT))
    rows = read_rows(qiba_dir / "QIBA_DCE_v4_ExtTofts_truth.csv")
    patches = [
        (
            slice(int(r["row_start"]), int(r["row_stop"])),
            slice(int(r["col_start"]), int(r["col_stop"])),
        )
        for r in rows
    ]
    curves = np.stack([signal[:, rs, cs].mean(axis=(1, 2)) for rs, cs in patches])
    t1_patch = np.array([np.median(t1_s[rs, cs]) for rs, cs in patches])
    conc = signal_to_concentration(
        curves, t1_s=t1_patch, flip_deg=flip, tr_s=tr_s, r1_per_mM_s=R1, baseline_frames=baseline
    )
    result = fit_curves(t, conc, inputs, "extended-tofts")
    assert result.converged.all()
    for i, row in enumerate(rows):
        kt_ref, ve_ref = float(row["Ktrans_per_min"]), float(row["ve"])
        assert _close(result.parameters["ktrans_per_min"][i], kt_ref, KTRANS_ATOL, KTRANS_RTOL)
        assert _close(result.parameters["vp"][i], float(row["vp"]), VP_ATOL)
        if kt_ref / ve_ref * (t[-1] - t[0]) / 60.0 >= V4_VE_MIN_KEP_TIMES_DURATION:
            assert _close(result.parameters["ve"][i], ve_ref, VE_ATOL), row
