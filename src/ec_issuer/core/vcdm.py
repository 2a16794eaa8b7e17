"""The few facts about any W3C Verifiable Credential that several capabilities read: its base context
(VC 2.0 or 1.1) and its issuer's identifier."""

from __future__ import annotations

from typing import Any, cast

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
VC_V1_CONTEXT = "https://www.w3.org/2018/credentials/v1"


def is_v1(document: dict[str, Any]) -> bool:
    """A VC 1.1 document: its first context is the VC 1.1 base context."""
    contexts = document.get("@context")
    return isinstance(contexts, list) and cast(list[Any], contexts)[:1] == [VC_V1_CONTEXT]


def issuer_id(document: dict[str, Any]) -> str | None:
    """The issuer's identifier, whether ``issuer`` is a URL or an object with an ``id``."""
    issuer: Any = document.get("issuer")
    if isinstance(issuer, dict):
        issuer = cast(dict[str, Any], issuer).get("id")
    return issuer if isinstance(issuer, str) else None
