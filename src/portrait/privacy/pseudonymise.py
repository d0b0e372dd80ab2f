"""Pseudonymising PII columns (phone, e-mail, name, address) with a keyed hash.

The value is normalised first (an e-mail's case, a phone's punctuation and +86 prefix) so
that the same person gets the same pseudonym across exports, then hashed with SHA-256
under the workspace's secret key. Without the key, a pseudonym cannot be reversed by
hashing candidate phone numbers (a plain hash of an 11-digit phone number can). DuckDB
has no HMAC, so the key is a 256-bit secret prefix; SHA-256's length extension does not
help an attacker here because nothing is ever appended to a hashed value.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from portrait.hashing import sha256


def _normalise(value: ir.StringValue, kind: str) -> ir.StringValue:
    if kind == "email":
        return value.strip().lower()
    if kind == "phone":
        digits = value.re_replace(r"\D", "")
        return digits.re_replace(r"^(0086|86)(1\d{10})$", r"\2")
    return value.strip().re_replace(r"\s+", " ")


def pseudonymise(value: ir.StringValue, kind: str, key: str) -> ir.StringValue:
    """The keyed hash of ``value`` (64 hex digits), null where ``value`` is null."""
    normal = _normalise(value, kind)
    hashed = sha256(ibis.literal(f"{key}|{kind}|") + normal)
    return value.isnull().ifelse(ibis.null("string"), hashed)
