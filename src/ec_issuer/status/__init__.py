"""Credential status: lifecycle state machine, W3C Bitstring and IETF Token Status List encodings.

Pure domain code, no I/O. Storage, publishing and the admin operations join later (issue 6).
"""
