"""Adapters of the KeyCustody port (keys/ports.py): where private keys live and how they sign.

local (encrypted files), pkcs11 (an HSM through its PKCS#11 module), vault (HashiCorp Vault or OpenBao
transit) and kms (AWS KMS). Every adapter answers `sign` in JOSE form and raises `Unavailable` when
its backend cannot be reached, so a failed signature is a 503 and stores nothing.
"""
