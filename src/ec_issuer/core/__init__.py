"""The shared kernel of the domain: errors, time, identifiers and JSON encoding.

Nothing in here (or in any domain package) imports a web framework, a database
library or a network client; `lint` enforces that with import-linter.
"""
