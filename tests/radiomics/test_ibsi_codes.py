"""mirp feature names -> IBSI codes."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tumorboard.errors import InputError
from tumorboard.radiomics import decode_mirp_name
from tumorboard.radiomics.ibsi_codes import known_tags


@pytest.mark.parametrize(
    ("name", "tag", "feature_id", "aggregation_id", "discretisation"),
    [
        ("cm_joint_max_d1_3d_avg_fbs_w25.0", "cm.joint.max", "GYBY", "ITBB", "FBS 25"),
        ("cm_info_corr2_d1_2.5d_v_mrg_fbn_n32", "cm.info.corr.2", "JN9H", "ZW7Z", "FBN 32"),
        ("ngl_dc_energy_d1_a0.0_2d_fbn_n32", "ngl.dc.energy", "CAS9", "8QNN", "FBN 32"),
        ("szm_sze_2.5d", "szm.sze", "5QRC", "62GR", ""),
        ("rlm_r_perc_2d_s_mrg", "rlm.r.perc", "9ZK5", "SUJT", ""),
        ("morph_pca_maj_axis", "morph.pca.major", "TDIC", "", ""),
        ("ivh_diff_i10_i90_fbs_w2.5", "ivh.I10minusI90", "CNV2", "", "FBS 2.5"),
        ("loc_peak_glob", "loc.peak.global", "0F91", "", ""),
        ("ih_p10_fbn_n32", "ih.p10", "", "", "FBN 32"),
    ],
)
def test_decode(
    name: str, tag: str, feature_id: str, aggregation_id: str, discretisation: str
) -> None:
    code = decode_mirp_name(name)
    assert (code.tag, code.feature_id, code.aggregation_id, code.discretisation) == (
        tag,
        feature_id,
        aggregation_id,
        discretisation,
    )
    assert code.mirp_name == name and code.name


def test_unknown_name() -> None:
    with pytest.raises(InputError, match="has no IBSI code"):
        decode_mirp_name("image_voxel_size_x")


def test_table_covers_every_reference_tag(reference_dir: Path) -> None:
    path = reference_dir / "radiomics/ibsi/reference_values/ibsi1_reference_values.csv"
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["ibsi_tag"] for row in rows} <= known_tags()
    ids = {row["ibsi_tag"]: row["ibsi_feature_id"] for row in rows}
    for tag in ("morph.vol", "stat.kurt", "ngt.complexity", "dzm.zd.entr"):
        mirp_like = {
            "morph.vol": "morph_volume",
            "stat.kurt": "stat_kurt",
            "ngt.complexity": "ngt_complexity_3d",
            "dzm.zd.entr": "dzm_zd_entr_3d",
        }[tag]
        assert decode_mirp_name(mirp_like).feature_id == ids[tag]
