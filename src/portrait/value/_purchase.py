"""The repeat-purchase models' common interface: fit, P(alive), expected purchases.

BG/NBD and its modified form share their story (Fader, Hardie and Lee 2005): while alive, a
customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after each purchase
they drop out with probability p ~ Beta(a, b). Each model supplies four pieces (the
log-likelihood, the log-odds of having dropped out, the expected purchases of a customer who
is alive, and those of a new customer); everything a user asks for is built from them here.

Times are scaled so that the longest ``T`` is 10 before fitting (as lifetimes does), which
keeps every parameter near 1 whatever the time unit; ``alpha`` is scaled back afterwards.
"""

from __future__ import annotations

from typing import Any, ClassVar, cast

import numpy as np
from scipy.special import expit, gammaln

from portrait.facts import Note
from portrait.value._base import (
    FittedModel,
    as_array,
    check_summary,
    distinct_rows,
    maximise,
)

#: a fit with a mean drop-out chance per purchase above this went towards "everyone leaves
#: after each purchase", below it towards "no drop-out"
DROPOUT_DIRECTION = 0.5
#: the median P(alive) of the customers who came back below which a model that keeps
#: one-time buyers alive for certain has degenerated (:meth:`PurchaseModel.leaves_after_purchase`)
DEGENERATE_ALIVE = 0.5
#: a gamma shape r below this puts nearly every customer's purchase rate at zero: "alive"
#: customers who never buy, the other way a model without drop-out at the first purchase
#: says that customers leave
DEGENERATE_SHAPE = 0.05


def rate_terms(
    r: float, alpha: float, x: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The gamma-Poisson part every model's likelihood shares: (log of
    Gamma(r + x) alpha^r / Gamma(r), -(r + x) log(alpha + T))."""
    return gammaln(r + x) - gammaln(r) + r * np.log(alpha), -(r + x) * np.log(alpha + T)


def no_purchase_chance(
    r: float, alpha: float, t: float, x: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(z, ((alpha + T) / (alpha + T + t))^(r + x)): the hypergeometric argument of the
    conditional expectations and the chance an alive customer buys nothing in ``t``."""
    z = t / (alpha + T + t)
    return z, np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))


class PurchaseModel(FittedModel):
    """Base of the repeat-purchase models; use :class:`BetaGeoModel` and its siblings."""

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    #: whether a customer without a repeat purchase is alive for certain (BG/NBD: drop-out
    #: happens only after a repeat purchase); MBG/NBD lets them drop out too
    one_time_alive: ClassVar[bool] = False

    def __init__(self, *, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    # -- what each model defines ------------------------------------------------------------
    @staticmethod
    def _loglik(params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def _dropout_log_odds(
        params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        """log(P(dropped out) / P(alive)) given the history; -inf where alive for certain."""
        raise NotImplementedError

    @staticmethod
    def _expected_if_alive(
        params: np.ndarray, t: float, x: np.ndarray, T: np.ndarray
    ) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def _expected_new(params: np.ndarray, t: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, frequency: Any, recency: Any, T: Any) -> PurchaseModel:
        """Maximum-likelihood fit on the customers' (frequency, recency, T).

        Parameters
        ----------
        frequency
            Repeat purchases of each customer (purchase periods after the first).
        recency
            Time from the first to the last purchase (0 without a repeat purchase).
        T
            Time from the first purchase to the end of the calibration period.
        """
        x, tx, t = check_summary(frequency, recency, T)
        scale = 10.0 / max(float(t.max()), 1e-9)
        (ux, utx, ut), weights = distinct_rows(x, tx * scale, t * scale)
        start = np.array([1.0, 1.0, 1.0, 1.0])
        params, ll, ok = maximise(
            lambda p: self._loglik(p, ux, utx, ut), start, weights, penalizer=self.penalizer
        )
        params[1] /= scale  # alpha is in time units
        self.params_ = dict(zip(self.param_names, (float(v) for v in params), strict=True))
        self.log_likelihood_ = float(
            weights @ self._loglik(params, ux, utx / scale, ut / scale) / weights.sum()
        )
        self.customers_ = len(x)
        self.converged_ = ok
        self.warnings_ = []
        if not ok:
            self.warnings_.append(Note.of("not_converged", model=self.kind))
        at_bounds = self._at_bounds()
        if {"a", "b"} & set(at_bounds):
            self.warnings_.append(self._boundary_note())
        elif at_bounds:
            self.warnings_.append(Note.of("at_bound", model=self.kind, params=", ".join(at_bounds)))
        return self

    def _boundary_note(self) -> Note:
        """What ``a`` or ``b`` at the bound of the search means, in the direction it went:
        towards no drop-out (a -> 0 or b -> inf, a mean drop-out chance near 0) or towards
        everyone leaving after each purchase (a -> inf or b -> 0, a chance near 1)."""
        a, b = self.params_["a"], self.params_["b"]
        if self.mean_dropout() < DROPOUT_DIRECTION:
            return Note.of("no_dropout", model=self.kind)
        return Note.of("dropout_after_purchase", model=self.kind, a=a, b=b,
                       dropout=self.mean_dropout())  # fmt: skip

    # -- what the fit says about drop-out ---------------------------------------------------
    def mean_dropout(self) -> float:
        """The mean chance of dropping out after a purchase, E[p] = a / (a + b)."""
        params = self._check_fitted()
        a, b = float(params[2]), float(params[3])
        return a / (a + b)

    def repeat_alive(self, frequency: Any, recency: Any, T: Any) -> float | None:
        """The median P(alive) of the customers with a repeat purchase (None if none has)."""
        params, x, tx, t = self._inputs(frequency, recency, T)
        came_back = x > 0
        if not came_back.any():
            return None
        odds = self._dropout_log_odds(params, x[came_back], tx[came_back], t[came_back])
        return float(np.median(expit(-odds)))

    def leaves_after_purchase(self, frequency: Any, recency: Any, T: Any) -> bool:
        """Whether the fit went towards "everyone leaves after each purchase" in a model that
        keeps one-time buyers alive for certain (BG/NBD), on these customers.

        It has when most customers who came back are predicted gone (their median P(alive)
        is below :data:`DEGENERATE_ALIVE`) while every one-time buyer has P(alive) = 1, and
        the fit got there by one of the two ways BG/NBD has of saying that customers leave
        on a shop where most buy once: a mean drop-out chance of
        :data:`DROPOUT_DIRECTION` or more after each repeat purchase, or a purchase rate
        near zero for nearly everyone (r below :data:`DEGENERATE_SHAPE`). Its P(alive) then
        ranks the one-time buyers above everyone who returned.
        """
        if not self.one_time_alive:
            return False
        alive = self.repeat_alive(frequency, recency, T)
        extreme = (self.mean_dropout() >= DROPOUT_DIRECTION
                   or self.params_["r"] < DEGENERATE_SHAPE)  # fmt: skip
        return alive is not None and alive < DEGENERATE_ALIVE and extreme

    # -- predictions -------------------------------------------------------------------------
    def _inputs(self, frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, ...]:
        params = self._check_fitted()
        return (params, *check_summary(frequency, recency, T))

    def conditional_probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(alive) at the end of the calibration period, given each customer's history."""
        params, x, tx, t = self._inputs(frequency, recency, T)
        return cast(np.ndarray, expit(-self._dropout_log_odds(params, x, tx, t)))

    def conditional_expected_purchases(
        self, t: float, frequency: Any, recency: Any, T: Any
    ) -> np.ndarray:
        """Expected repeat purchases in the next ``t`` time units, given the history."""
        params, x, tx, big_t = self._inputs(frequency, recency, T)
        alive = expit(-self._dropout_log_odds(params, x, tx, big_t))
        if t <= 0:
            return np.zeros_like(x)
        return cast(np.ndarray, alive * self._expected_if_alive(params, float(t), x, big_t))

    def probability_purchase_within(
        self, t: float, frequency: Any, recency: Any, T: Any
    ) -> np.ndarray:
        """P(at least one purchase in the next ``t`` time units), given the history.

        Alive customers drop out only right after a purchase, so one who is alive buys
        nothing in ``t`` with probability E[exp(-lambda t)] under the posterior
        lambda ~ Gamma(r + x, alpha + T): ((alpha + T) / (alpha + T + t))^(r + x).
        """
        params, x, tx, big_t = self._inputs(frequency, recency, T)
        alive = expit(-self._dropout_log_odds(params, x, tx, big_t))
        _, none = no_purchase_chance(params[0], params[1], t, x, big_t)
        return cast(np.ndarray, alive * (1.0 - none))

    def expected_purchases(self, t: Any) -> np.ndarray:
        """Expected repeat purchases of a new customer in ``t`` time units after the first."""
        params = self._check_fitted()
        return self._expected_new(params, as_array(np.atleast_1d(t), "t"))
