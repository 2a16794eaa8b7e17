"""ec-issuer: an issuing service for verifiable educational credentials."""

__version__ = "0.1.0"
