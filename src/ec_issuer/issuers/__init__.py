"""Issuers: the organisations credentials are issued in the name of, and their did:web identities."""
