"""Admin API for an issuer's credential templates: publish (create or replace), list, read, retire.

Each listed template adds its own credential configurations to the issuer's OID4VCI metadata, with its wallet
display; offers name it by id (`awards[].template`). See docs/oid4vci.md, "Credential templates".
"""

# APIFlask's decorators carry partially unknown parameter types (marshmallow unions); the views are typed.
# pyright: reportUnknownMemberType=false

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response

from ec_issuer.api.context import bearer_auth, caller, services
from ec_issuer.api.http import documented_body, json_response, read_json_body
from ec_issuer.api.presenters import template_out
from ec_issuer.api.schemas import CredentialTemplateList, CredentialTemplateOut
from ec_issuer.issuers.model import Issuer
from ec_issuer.oid4vci.template_commands import PutCredentialTemplate, parse_template

blueprint = APIBlueprint(
    "templates",
    __name__,
    url_prefix="/api/v1/issuers/<issuer_ref>/credential-templates",
    tag="Credential templates",
)

_ERRORS = {
    401: "No or an unknown bearer token",
    403: "The template's achievement is outside the client's scope",
    404: "No such issuer (or it is outside the client's scope), or no such template",
    422: "Invalid template (problem details name the field)",
}


def _issuer(issuer_ref: str) -> Issuer:
    return services().issuers.get_visible(caller(), issuer_ref)


@blueprint.put("/<template_id>")
@blueprint.auth_required(bearer_auth)
@documented_body(PutCredentialTemplate)
@blueprint.output(CredentialTemplateOut)
@blueprint.doc(
    summary="Publish a credential template: create it (201) or replace it (200)",
    description=(
        "The template id is a slug (a-z, 0-9, '-'). Its configurations `<template id>_<format>` join the "
        "issuer's Credential Issuer metadata with the template's `display`. Offers made before a replacement "
        "keep the achievement they were made with. Publishing a retired template's id publishes it again."
    ),
    responses={201: "Created", **_ERRORS},
)
def put_template(issuer_ref: str, template_id: str) -> Response:
    issuer = _issuer(issuer_ref)
    command = parse_template(read_json_body())
    published = services().templates.publish(caller(), issuer, template_id, command)
    if not published.created:
        return json_response(template_out(published.template))
    location = f"/api/v1/issuers/{issuer.slug}/credential-templates/{template_id}"
    return json_response(template_out(published.template), 201, {"Location": location})


@blueprint.get("")
@blueprint.auth_required(bearer_auth)
@blueprint.output(CredentialTemplateList)
@blueprint.doc(summary="List the issuer's credential templates (retired ones are not listed)", responses=_ERRORS)
def list_templates(issuer_ref: str) -> Response:
    templates = services().templates.active(_issuer(issuer_ref))
    return json_response({"items": [template_out(template) for template in templates]})


@blueprint.get("/<template_id>")
@blueprint.auth_required(bearer_auth)
@blueprint.output(CredentialTemplateOut)
@blueprint.doc(summary="Read a credential template", responses=_ERRORS)
def get_template(issuer_ref: str, template_id: str) -> Response:
    return json_response(template_out(services().templates.get(_issuer(issuer_ref), template_id)))


@blueprint.delete("/<template_id>")
@blueprint.auth_required(bearer_auth)
@blueprint.output({}, status_code=204)
@blueprint.doc(
    summary="Retire a credential template",
    description=(
        "New offers cannot use it. Offers made with it stay redeemable, and its configurations stay in the "
        "metadata until the last of them expires. Retiring a retired template answers 204 again."
    ),
    responses=_ERRORS,
)
def retire_template(issuer_ref: str, template_id: str) -> Response:
    services().templates.retire(caller(), _issuer(issuer_ref), template_id)
    return Response(status=204)
