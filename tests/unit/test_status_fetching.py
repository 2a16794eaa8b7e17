"""Fetching other issuers' status lists: https only, public addresses only, unknown when it fails."""

from __future__ import annotations

import pytest

from ec_issuer.fetching.status_lists import HttpStatusLists
from ec_issuer.status.ports import StatusListUnavailable


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://lists.example/status/1", "only https"),
        ("https://127.0.0.1/status/1", "non-public"),
        ("https://localhost/status/1", "non-public"),
        ("https://[::1]/status/1", "non-public"),
        ("https://10.1.2.3/status/1", "non-public"),
        ("https://169.254.169.254/latest/meta-data", "non-public"),  # cloud metadata endpoint
        ("https://lists.example:8443/status/1", "default https port"),
        ("https://user:secret@lists.example/status/1", "only https"),
        ("https://no-such-host.invalid/status/1", "does not resolve"),
    ],
)
def test_lists_are_fetched_only_from_public_https_origins(url: str, reason: str) -> None:
    with pytest.raises(StatusListUnavailable, match=reason):
        HttpStatusLists().fetch(url, "application/json")
