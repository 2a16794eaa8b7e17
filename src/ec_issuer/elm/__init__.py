"""European Learning Model 3.2: European Digital Credentials built from awards, checked with the official
SHACL shapes and sealed with a JAdES signature, delivered as downloadable files (see docs/elm.md)."""
