"""Errors of sealing European Digital Credentials and of reading sealed files."""

from __future__ import annotations

from ec_issuer.core.errors import InvalidInput, MalformedInput


class SealSetupError(InvalidInput):
    """The seal key or certificate cannot be used: wrong password, unsupported key, a certificate that
    does not belong to the key, lacks what an EDC needs, or is outside its validity."""


class MalformedSealedFile(MalformedInput):
    """The file is no JWS JSON serialization that could be checked at all (maps to 400). A readable seal
    whose signature or certificate fails is a normal verification answer, not this error."""
