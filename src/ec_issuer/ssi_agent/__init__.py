"""Adapter: an external OID4VCI agent (the Impierce UniCore ssi-agent) reached over its admin API."""
