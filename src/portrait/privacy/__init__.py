"""Privacy: personal data is pseudonymised on the way in and never stored raw; a customer
can be forgotten everywhere the workspace keeps them."""

from __future__ import annotations

from portrait.privacy.forget import ForgetReport, TableRemoval, forget_customer, ids_of
from portrait.privacy.pseudonymise import pseudonymise

__all__ = ["ForgetReport", "TableRemoval", "forget_customer", "ids_of", "pseudonymise"]
