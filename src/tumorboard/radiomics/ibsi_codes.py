"""IBSI feature codes for mirp's feature names.

mirp names a feature ``<family>_<feature>[_<parameters>][_<aggregation>][_<discretisation>]``,
for example ``cm_joint_max_d1_3d_avg_fbs_w25.0``. The IBSI reference manual
names the same quantity by an abbreviation (``cm.joint.max``), a permanent
four-character identifier (``GYBY``) and, for texture features, an
aggregation identifier (``ITBB`` for 3-D averaged). The correspondence is a
data table (``ibsi_features.json``) so that it can be reviewed line by line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from tumorboard.errors import InputError

_DISCRETISATION = re.compile(r"_(fbs_w(?P<width>[-+0-9.e]+)|fbn_n(?P<bins>[0-9]+))$")
_PARAMETERS = re.compile(r"_d[0-9.]+(_a[0-9.]+)?$")


@dataclass(frozen=True)
class FeatureCode:
    """The IBSI identity of one computed feature.

    Attributes
    ----------
    tag : str
        IBSI abbreviation, e.g. ``cm.joint.max``.
    feature_id : str
        Permanent IBSI identifier, e.g. ``GYBY`` (empty when the manual has none).
    name : str
        The manual's feature name.
    family : str
        Family prefix: ``morph``, ``loc``, ``stat``, ``ih``, ``ivh``, ``cm``,
        ``rlm``, ``szm``, ``dzm``, ``ngt`` or ``ngl``.
    aggregation : str
        Texture aggregation as the manual writes it (``3D, averaged``), empty
        for non-texture features.
    aggregation_id : str
        IBSI identifier of the aggregation (``ITBB``), empty when not texture.
    discretisation : str
        ``FBS <width>``, ``FBN <bins>`` or empty when not discretised.
    mirp_name : str
        The column name mirp gave the value.
    """

    tag: str
    feature_id: str
    name: str
    family: str
    aggregation: str
    aggregation_id: str
    discretisation: str
    mirp_name: str


@cache
def _table() -> tuple[dict[str, dict[str, Any]], list[dict[str, str]]]:
    text = resources.files("tumorboard.radiomics").joinpath("ibsi_features.json").read_text("utf-8")
    data = json.loads(text)
    features = {str(entry["mirp"]): entry for entry in data["features"]}
    aggregations = sorted(data["aggregations"], key=lambda entry: -len(entry["mirp"]))
    return features, aggregations


def known_tags() -> frozenset[str]:
    """All IBSI abbreviations the table maps to."""
    features, _ = _table()
    return frozenset(str(entry["tag"]) for entry in features.values())


def decode_mirp_name(mirp_name: str) -> FeatureCode:
    """Translate one mirp feature column name into its :class:`FeatureCode`.

    Raises
    ------
    InputError
        If the name is not a feature the table knows (e.g. a metadata column).
    """
    features, aggregations = _table()
    rest = mirp_name
    discretisation = ""
    match = _DISCRETISATION.search(rest)
    if match:
        if match.group("width") is not None:
            discretisation = f"FBS {float(match.group('width')):g}"
        else:
            discretisation = f"FBN {int(match.group('bins'))}"
        rest = rest[: match.start()]
    aggregation = aggregation_id = ""
    if rest not in features:
        for aggregation_entry in aggregations:
            suffix = "_" + aggregation_entry["mirp"]
            if rest.endswith(suffix):
                rest = _PARAMETERS.sub("", rest[: -len(suffix)])
                aggregation = aggregation_entry["aggregation"]
                aggregation_id = aggregation_entry["id"]
                break
    entry = features.get(rest)
    if entry is None:
        raise InputError(f"feature {mirp_name!r} has no IBSI code in ibsi_features.json")
    tag = str(entry["tag"])
    return FeatureCode(
        tag=tag,
        feature_id=str(entry["id"] or ""),
        name=str(entry["name"]),
        family=tag.split(".", 1)[0],
        aggregation=aggregation,
        aggregation_id=aggregation_id,
        discretisation=discretisation,
        mirp_name=mirp_name,
    )
