"""European Digital Credentials as files: the admin download, new public links, and the public download.

Registered before the credentials blueprint, whose `/<path:credential_id>` would otherwise take these URLs.
"""

# APIFlask's decorators carry partially unknown parameter types (marshmallow unions); the views are typed.
# pyright: reportUnknownMemberType=false

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import Response

from ec_issuer.api.context import bearer_auth, caller, services
from ec_issuer.api.http import json_response
from ec_issuer.api.openapi import media_response
from ec_issuer.api.schemas import DownloadLinkOut
from ec_issuer.credentials.downloads import SealedFile
from ec_issuer.elm.issuing import MEDIA_TYPE

admin = APIBlueprint("europass", __name__, url_prefix="/api/v1/credentials", tag="European Digital Credentials")
public = APIBlueprint("europass_public", __name__, tag="European Digital Credentials")

_RESPONSES: dict[int | str, Any] = {401: "Unauthenticated", 404: "No such credential, or it has no EDC"}
_FILE = media_response("The sealed file (JAdES JSON serialization)", {MEDIA_TYPE: {"type": "object"}})
_DOWNLOAD_RESPONSES: dict[int | str, Any] = {200: _FILE, **_RESPONSES}
_PUBLIC_RESPONSES: dict[int | str, Any] = {200: _FILE, 404: "No such link", 410: "Revoked or suspended"}


def public_download_url(token: str) -> str:
    return f"{services().settings.public_url.rstrip('/')}/europass/{token}"


def admin_download_path(credential_id: str) -> str:
    return f"/api/v1/credentials/{credential_id}/elm"


@admin.get("/<path:credential_id>/elm")
@admin.auth_required(bearer_auth)
@admin.doc(
    summary="Download the sealed European Digital Credential",
    description=(
        "The EDC (ELM 3.2, sealed JAdES-B-B) as `<title>.jsonld`, for upload to Europass. `credential_id` is "
        "the EDC or the Open Badge it was issued with."
    ),
    responses=_DOWNLOAD_RESPONSES,
)
def download(credential_id: str) -> Response:
    return _file_response(services().european_files.for_admin(caller(), credential_id))


@admin.post("/<path:credential_id>/elm/link")
@admin.auth_required(bearer_auth)
@admin.output(DownloadLinkOut, status_code=201)
@admin.doc(
    summary="Mint a public download link for the learner",
    description="The link needs no authentication and replaces the one handed out before.",
    responses=_RESPONSES,
)
def new_link(credential_id: str) -> Response:
    credential, token = services().european_files.new_link_token(caller(), credential_id)
    return json_response({"credentialId": credential.id, "publicDownload": public_download_url(token)}, 201)


@public.get("/europass/<token>")
@public.doc(
    summary="Download a European Digital Credential through its public link",
    description="404 for an unknown link, 410 when the credential was revoked or suspended.",
    responses=_PUBLIC_RESPONSES,
)
def public_download(token: str) -> Response:
    response = _file_response(services().european_files.for_link(token))
    # The link is a bearer secret in a URL: keep it out of caches, search engines and Referer headers.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _file_response(sealed: SealedFile) -> Response:
    response = Response(sealed.content, mimetype=MEDIA_TYPE)
    response.headers.set("Content-Disposition", "attachment", filename=sealed.file_name)
    return response
