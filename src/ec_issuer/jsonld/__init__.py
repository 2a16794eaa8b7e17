"""JSON-LD for Data Integrity proofs: vendored contexts served offline (`contexts`), safe mode (`safe_mode`),
JSON-LD -> RDF through pyld (`processor`, the only module that imports it), RDFC-1.0 canonicalization with
bounded work (`rdfc`), all joined in `canonical.canonical_nquads`. Pure computation: no network, no I/O
beyond reading the packaged context files."""
