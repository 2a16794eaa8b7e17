"""The status list credentials an independent verifier needs, fetched from the service under test."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlsplit

from flask.testing import FlaskClient

from ec_issuer.core.encoding import loads


def status_list_documents(http: FlaskClient, *credentials: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """URL -> the published list credential (with its Data Integrity proof), for every entry referenced."""
    documents: dict[str, dict[str, Any]] = {}
    for credential in credentials:
        entries = credential.get("credentialStatus") or []
        for entry in entries if isinstance(entries, list) else [entries]:
            url = cast(dict[str, Any], entry)["statusListCredential"]
            response = http.get(urlsplit(url).path, headers={"Accept": "application/json"})
            assert response.status_code == 200, response.get_data(as_text=True)
            documents[url] = loads(response.get_data())
    return documents
