"""The repeat-purchase models a workspace can name (``value.model``), by their registry name.

The names and settings are declared once in :mod:`portrait.registry`, which the
configuration checks against; this maps them to the classes.
"""

from __future__ import annotations

from portrait.registry import PURCHASE_MODELS as SPECS
from portrait.value._purchase import PurchaseModel
from portrait.value.bgnbd import BetaGeoModel
from portrait.value.mbgnbd import ModifiedBetaGeoModel

PURCHASE_MODELS: dict[str, type[PurchaseModel]] = {
    "bgnbd": BetaGeoModel,
    "mbgnbd": ModifiedBetaGeoModel,
}
assert set(PURCHASE_MODELS) == set(SPECS), "portrait.registry and value.models disagree"
