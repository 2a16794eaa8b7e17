"""Outbound HTTP adapters: documents this service fetches from other hosts."""
