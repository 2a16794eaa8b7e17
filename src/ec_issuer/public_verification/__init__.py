"""What anyone may learn about a credential issued here, without an account: its status in one word, the facts a
verification page may show, the comparison of a file with the content hash a validation credential names, and
the printable certificate and badge. The HTTP side is `api/routes_verification.py`; see docs/verification.md."""
