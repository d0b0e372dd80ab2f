"""Customer value and churn: BG/NBD, MBG/NBD, Gamma-Gamma, CLV and a churn classifier.

Fitted on the RFM summary of each buyer (:func:`rfm_summary`), evaluated the way the
literature does (:func:`evaluate_holdout`, :func:`evaluate_churn`), run as the ``value``
stage of ``portrait build`` (:func:`build_value`) and read back as facts
(:func:`value_report`, :func:`value_summary`).
"""

from __future__ import annotations

from portrait.value.bgnbd import BetaGeoModel
from portrait.value.build import (
    NOT_EXPECTED,
    STAGE,
    WINDOWS,
    SavedModels,
    ValueResult,
    build_value,
    has_models,
    load_models,
)
from portrait.value.churn import ChurnEvaluation, ChurnModel, evaluate_churn, input_label
from portrait.value.clv import customer_lifetime_value
from portrait.value.evaluate import HoldoutEvaluation, evaluate_holdout
from portrait.value.gamma_gamma import GammaGammaModel, frequency_spend_correlation
from portrait.value.mbgnbd import ModifiedBetaGeoModel
from portrait.value.models import PURCHASE_MODELS
from portrait.value.report import (
    SavedModelsInfo,
    ValueReport,
    ValueSummary,
    default_calibration_end,
    saved_models,
    value_report,
    value_summary,
)
from portrait.value.summary import rfm_summary

__all__ = [
    "NOT_EXPECTED",
    "PURCHASE_MODELS",
    "STAGE",
    "WINDOWS",
    "BetaGeoModel",
    "ChurnEvaluation",
    "ChurnModel",
    "GammaGammaModel",
    "HoldoutEvaluation",
    "ModifiedBetaGeoModel",
    "SavedModels",
    "SavedModelsInfo",
    "ValueReport",
    "ValueResult",
    "ValueSummary",
    "build_value",
    "customer_lifetime_value",
    "default_calibration_end",
    "evaluate_churn",
    "evaluate_holdout",
    "frequency_spend_correlation",
    "has_models",
    "input_label",
    "load_models",
    "rfm_summary",
    "saved_models",
    "value_report",
    "value_summary",
]
