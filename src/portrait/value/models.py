"""The repeat-purchase models a workspace can name (``value.model``), by their registry name.

The names and settings are declared once in :mod:`portrait.registry`, which the
configuration checks against; this maps them to the classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portrait.facts import Note
from portrait.registry import PURCHASE_MODELS as SPECS
from portrait.value._purchase import PurchaseModel
from portrait.value.bgnbd import BetaGeoModel
from portrait.value.mbgnbd import ModifiedBetaGeoModel

PURCHASE_MODELS: dict[str, type[PurchaseModel]] = {
    "bgnbd": BetaGeoModel,
    "mbgnbd": ModifiedBetaGeoModel,
}
assert set(PURCHASE_MODELS) == set(SPECS), "portrait.registry and value.models disagree"


@dataclass
class PurchaseChoice:
    """The repeat-purchase model the value stage uses, and why."""

    model: PurchaseModel
    #: the model the workspace names (``value.model``)
    configured: str
    #: False when P(alive) is left empty: the model degenerated and none fits better
    p_alive: bool
    #: the fits' warnings and, when the configured model was set aside, why
    notes: list[Note] = field(default_factory=list)


def choose_purchase_model(
    frequency: Any, recency: Any, T: Any, *, configured: str = "bgnbd", penalizer: float = 0.0
) -> PurchaseChoice:
    """Fit the configured model; if it degenerated, the better-fitting other one.

    A model that keeps one-time buyers alive for certain (BG/NBD) degenerates when its fit
    predicts that most customers who came back have left
    (:meth:`~portrait.value._purchase.PurchaseModel.leaves_after_purchase`): its P(alive)
    then ranks every one-time buyer above them. The other purchase
    models are then fitted on the same data, and the one with the highest log-likelihood
    that does not degenerate is used if it fits better (MBG/NBD, Batislam et al. 2007, lets
    one-time buyers drop out too); otherwise the configured model is kept and its P(alive)
    is to be left empty. Either way a note says which.
    """
    data = (frequency, recency, T)
    model = PURCHASE_MODELS[configured](penalizer=penalizer).fit(*data)
    notes = list(model.warnings_)
    if not model.leaves_after_purchase(*data):
        return PurchaseChoice(model, configured, p_alive=True, notes=notes)
    why = {"alive": model.repeat_alive(*data), "dropout": model.mean_dropout()}
    others = [cls(penalizer=penalizer).fit(*data)
              for name, cls in PURCHASE_MODELS.items() if name != configured]  # fmt: skip
    better = [
        m for m in others
        if not m.leaves_after_purchase(*data) and m.log_likelihood_ > model.log_likelihood_
    ]  # fmt: skip
    if not better:
        notes.append(Note.of("p_alive_withheld", model=model.kind, **why))
        return PurchaseChoice(model, configured, p_alive=False, notes=notes)
    best = max(better, key=lambda m: m.log_likelihood_)
    switched = Note.of("purchase_model_switched", configured=model.kind, chosen=best.kind,
                       configured_ll=model.log_likelihood_, chosen_ll=best.log_likelihood_,
                       **why)  # fmt: skip
    notes.append(switched)
    return PurchaseChoice(best, configured, p_alive=True, notes=notes + best.warnings_)
