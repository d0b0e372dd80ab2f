"""Recommendations: models behind one interface, an evaluation harness, and serving.

Models (:class:`Popularity`, :class:`ItemKNN`, :class:`UserKNN`, :class:`ALS`,
:class:`EASE`, and :class:`MatrixFactorization` for explicit ratings) keep implicit's
contract: ``fit(user_items)``, batch ``recommend(userids, user_items, N)``,
``similar_items``. :func:`evaluate_ranking` and :func:`evaluate_ratings` judge them as the
field does; :func:`build_recommendations` is the build's ``recommend`` stage and
:func:`recommendations_for` reads a customer's list back as facts.
"""

from __future__ import annotations

from portrait.recommend._base import Recommender
from portrait.recommend.als import ALS
from portrait.recommend.ease import EASE
from portrait.recommend.evaluate import (
    RankingResult,
    RatingResult,
    Split,
    WorkspaceEvaluation,
    evaluate_ranking,
    evaluate_ratings,
    evaluate_workspace,
    ranking_metrics,
    split_random,
    split_time,
)
from portrait.recommend.interactions import Interactions, interaction_log, interactions
from portrait.recommend.itemknn import ItemKNN
from portrait.recommend.mf import MatrixFactorization
from portrait.recommend.models import CLASSES, make_model
from portrait.recommend.popularity import Popularity
from portrait.recommend.serve import (
    STAGE,
    CustomerRecommendations,
    Recommendation,
    RecommendResult,
    build_recommendations,
    recommendations_for,
)
from portrait.recommend.userknn import UserKNN

__all__ = [
    "ALS",
    "CLASSES",
    "EASE",
    "STAGE",
    "CustomerRecommendations",
    "Interactions",
    "ItemKNN",
    "MatrixFactorization",
    "Popularity",
    "RankingResult",
    "RatingResult",
    "RecommendResult",
    "Recommendation",
    "Recommender",
    "Split",
    "UserKNN",
    "WorkspaceEvaluation",
    "build_recommendations",
    "evaluate_ranking",
    "evaluate_ratings",
    "evaluate_workspace",
    "interaction_log",
    "interactions",
    "make_model",
    "ranking_metrics",
    "recommendations_for",
    "split_random",
    "split_time",
]
