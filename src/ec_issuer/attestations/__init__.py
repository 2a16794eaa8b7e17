"""Validation attestations: credentials saying that a file passed a validation workflow run."""
