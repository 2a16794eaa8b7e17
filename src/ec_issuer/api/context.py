"""Access to the service graph from inside a request, and the bearer-token authentication."""

from __future__ import annotations

from typing import cast

from apiflask import HTTPTokenAuth
from flask import current_app

from ec_issuer.access.model import ApiClient
from ec_issuer.bootstrap import Container

EXTENSION_KEY = "ec_issuer"

bearer_auth = HTTPTokenAuth(scheme="Bearer", description="An API client token (`ec-issuer clients create`)")


def services() -> Container:
    return cast(Container, current_app.extensions[EXTENSION_KEY])


@bearer_auth.verify_token  # pyright: ignore[reportUnknownMemberType] - untyped flask-httpauth decorator
def _verify_token(token: str | None) -> ApiClient:
    # Raises Unauthenticated (401 problem) for a missing or unknown token.
    return services().access.authenticate(token)


def caller() -> ApiClient:
    return cast(ApiClient, bearer_auth.current_user)
