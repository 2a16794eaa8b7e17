"""The `ec-issuer` command line: serving, migrations and administration without HTTP."""
