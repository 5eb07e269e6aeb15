"""Cohort statistics as pure numerics: ROC analysis, cluster bootstrap, logistic regression.

Arrays in, numbers out: nothing here reads files or knows the record.
"""

from tumorboard.statistics.bootstrap import (
    BootstrapInterval,
    cluster_bootstrap_auc_ci,
    cluster_bootstrap_ci,
)
from tumorboard.statistics.logistic import LogisticFit, fit_logistic
from tumorboard.statistics.roc import RocCurve, YoudenCutoff, roc_auc, roc_curve, youden_cutoff

__all__ = [
    "BootstrapInterval",
    "LogisticFit",
    "RocCurve",
    "YoudenCutoff",
    "cluster_bootstrap_auc_ci",
    "cluster_bootstrap_ci",
    "fit_logistic",
    "roc_auc",
    "roc_curve",
    "youden_cutoff",
]
