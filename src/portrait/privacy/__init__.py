"""Privacy: personal data is pseudonymised on the way in and never stored raw."""

from __future__ import annotations

from portrait.privacy.pseudonymise import pseudonymise

__all__ = ["pseudonymise"]
