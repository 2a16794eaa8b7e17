"""The W3C VC API (VCALM) issuer and verifier: request shapes, and verification of Data Integrity secured
credentials and presentations, reported as VC API verification results. The HTTP adapter is
`ec_issuer.api.routes_vc_api`; see docs/vc-api.md for the status codes and problem types.
"""
