"""Customer value and churn: BG/NBD, MBG/NBD, Gamma-Gamma, CLV and a churn classifier.

Fitted on the RFM summary of each buyer (:func:`rfm_summary`), evaluated the way the
literature does (:func:`evaluate_holdout`, :func:`evaluate_churn`) and run as the ``value``
stage of ``portrait build`` (:func:`build_value`).
"""

from __future__ import annotations

from portrait.value._base import NotFittedError
from portrait.value.bgnbd import BetaGeoModel
from portrait.value.build import (
    NOT_EXPECTED,
    RISK_ZH,
    TIER_ZH,
    WINDOW_ZH,
    WINDOWS,
    SavedModels,
    ValueResult,
    build_value,
    load_models,
    value_summary,
)
from portrait.value.churn import ChurnEvaluation, ChurnModel, evaluate_churn
from portrait.value.clv import customer_lifetime_value
from portrait.value.evaluate import HoldoutEvaluation, evaluate_holdout
from portrait.value.gamma_gamma import GammaGammaModel, frequency_spend_correlation
from portrait.value.mbgnbd import ModifiedBetaGeoModel
from portrait.value.summary import rfm_summary

__all__ = [
    "NOT_EXPECTED",
    "RISK_ZH",
    "TIER_ZH",
    "WINDOWS",
    "WINDOW_ZH",
    "BetaGeoModel",
    "ChurnEvaluation",
    "ChurnModel",
    "GammaGammaModel",
    "HoldoutEvaluation",
    "ModifiedBetaGeoModel",
    "NotFittedError",
    "SavedModels",
    "ValueResult",
    "build_value",
    "customer_lifetime_value",
    "evaluate_churn",
    "evaluate_holdout",
    "frequency_spend_correlation",
    "load_models",
    "rfm_summary",
    "value_summary",
]
