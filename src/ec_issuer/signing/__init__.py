"""Securing mechanisms for credentials. VC-JOSE (`vc+jwt`) now; Data Integrity, JAdES and SD-JWT later,
each as its own module behind the same shape: secure bytes with a key held by a custody backend."""
