"""Credentials: building, validating, signing, storing, reading and verifying issued credentials."""
