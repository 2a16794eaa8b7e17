"""Signing keys: their custody, their public forms (JWK, JWKS, DID documents) and their lifecycle."""
