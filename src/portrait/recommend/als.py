"""ALS for implicit feedback, by the ``implicit`` library.

Hu, Koren and Volinsky (2008), "Collaborative Filtering for Implicit Feedback Datasets",
*ICDM '08*: preferences weighted by confidence 1 + alpha x weight, factorised by
alternating least squares with conjugate-gradient steps (Takacs et al. 2011). ``implicit``
is the field's standard CPU implementation; this wrapper only adapts its interface.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from portrait.errors import MissingExtraError
from portrait.recommend._base import FactorRecommender, as_csr


class ALS(FactorRecommender):
    """Implicit-feedback matrix factorisation (Hu, Koren and Volinsky 2008)."""

    name = "als"

    def __init__(
        self,
        *,
        factors: int = 64,
        regularization: float = 20.0,
        alpha: float = 2.0,
        iterations: int = 15,
        seed: int = 0,
        popularity_weight: float = 0.0,
    ) -> None:
        self.popularity_weight = popularity_weight
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.seed = seed

    def fit(self, user_items: sp.csr_matrix) -> ALS:
        try:
            from implicit.cpu.als import AlternatingLeastSquares
        except ImportError:  # pragma: no cover - a dependency, but say how to fix it
            raise MissingExtraError(
                "ALS needs the implicit package: pip install implicit"
            ) from None
        from threadpoolctl import threadpool_limits

        x = as_csr(user_items)
        # implicit runs its own threads; BLAS threads inside them only get in the way
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors, regularization=self.regularization, alpha=self.alpha,
                iterations=self.iterations, random_state=self.seed, num_threads=0,
            )  # fmt: skip
            model.fit(x, show_progress=False)
        self.model_ = model
        self.user_factors_ = np.asarray(model.user_factors)
        self.item_factors_ = np.asarray(model.item_factors)
        self._fitted(x)
        return self

    def _user_vectors(self, userids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        known = userids >= 0
        factors = np.zeros((len(userids), self.user_factors_.shape[1]), dtype=np.float32)
        factors[known] = self.user_factors_[userids[known]]
        if (~known).any():
            # a user the model never saw: solve for their factors from their rows
            factors[~known] = self.model_.recalculate_user(
                np.arange((~known).sum()), user_items[~known]
            )
        return factors
