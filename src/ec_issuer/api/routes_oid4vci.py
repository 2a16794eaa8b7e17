"""OpenID for Verifiable Credential Issuance 1.0 over HTTP.

- Admin API (bearer token, problem+json errors): make offers and follow their state, through the delivery
  port (`oid4vci/delivery.py`): the built-in issuer, or an external agent when one is configured.
- The wallet's side, per issuer (``<base>/issuers/<slug>`` is the credential issuer identifier): metadata at
  the well-known paths, the offer by reference and its QR code, token, nonce, credential, deferred and
  notification endpoints. These answer errors as OAuth / OID4VCI JSON (`error`, `error_description`), the
  codes wallets act on, and mark every answer that carries a secret ``Cache-Control: no-store``.
"""

# APIFlask's decorators carry partially unknown parameter types (marshmallow unions); the views are typed.
# pyright: reportUnknownMemberType=false

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec

from apiflask import APIBlueprint
from flask import Response, request

from ec_issuer.api.context import bearer_auth, caller, services
from ec_issuer.api.http import documented_body, json_response, parse_json, read_json_body
from ec_issuer.api.oid4vci_schemas import (
    CredentialRequest,
    DeferredCredentialRequest,
    NotificationRequest,
    PushedAuthorizationRequest,
    TokenRequest,
)
from ec_issuer.api.openapi import BINARY, TEXT, answers, media_response, oauth_errors
from ec_issuer.api.qr import qr_png, qr_svg
from ec_issuer.core.errors import MalformedInput, NotFound
from ec_issuer.core.validation import parse_command
from ec_issuer.oid4vci.commands import CreateOffer
from ec_issuer.oid4vci.configurations import configuration_named
from ec_issuer.oid4vci.delivery import OfferDelivery, OfferView
from ec_issuer.oid4vci.dpop import DPOP_ALGORITHMS, DpopRequest
from ec_issuer.oid4vci.dpop_binding import PresentedToken
from ec_issuer.oid4vci.errors import InvalidToken, ProtocolError, invalid_request
from ec_issuer.oid4vci.metadata import (
    AUTHORIZATION_SERVER_WELL_KNOWN,
    CREDENTIAL_ISSUER_WELL_KNOWN,
    authorization_server_metadata,
    credential_issuer_metadata,
)
from ec_issuer.oid4vci.model import Award
from ec_issuer.oid4vci.service import Oid4vciIssuer

admin = APIBlueprint("offers", __name__, url_prefix="/api/v1/offers", tag="OID4VCI offers")
wallet = APIBlueprint("oid4vci", __name__, tag="OID4VCI (wallets)")
_JSON_OBJECT: dict[str, dict[str, Any]] = {"application/json": {"type": "object"}}
_NO_ISSUER = "No such credential issuer"
_NO_OFFER = "No such issuer or offer, or the offer expired"
_RESOURCE_ERRORS: dict[int, Any] = {
    **oauth_errors(
        {
            400: "invalid_credential_request, invalid_proof, invalid_nonce, ...",
            401: "invalid_token (with a WWW-Authenticate challenge, Bearer or DPoP)",
        }
    ),
    404: _NO_ISSUER,
}

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
_SLUG = "<string(maxlength=64):slug>"  # route converter: anything up to 64 characters; unknown slugs 404
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
P = ParamSpec("P")


def _issuer() -> Oid4vciIssuer:
    return services().oid4vci


def _offers() -> OfferDelivery:
    return services().offers


def _protocol_errors(view: Callable[P, Response]) -> Callable[P, Response]:
    """Answer ProtocolError as the OAuth / OID4VCI JSON error, never as a problem document."""

    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> Response:
        try:
            return view(*args, **kwargs)
        except ProtocolError as exc:
            headers = dict(NO_STORE)
            headers.update(exc.headers)
            if isinstance(exc, InvalidToken):
                headers["WWW-Authenticate"] = _challenge(exc)
            return json_response(exc.body(), exc.status, headers)

    return wrapped


def _challenge(exc: InvalidToken) -> str:
    challenge = f'{exc.scheme} error="{exc.error}", error_description="{exc.description}"'
    if exc.scheme == "DPoP":
        challenge += f', algs="{" ".join(DPOP_ALGORITHMS)}"'
    return challenge


def _known_issuer(slug: str) -> str:
    issuer = services().issuers.get(slug)
    if issuer is None or issuer.slug != slug:
        raise NotFound("no such credential issuer")
    return issuer.name


# --- admin API ------------------------------------------------------------------------------------------


@admin.post("")
@admin.auth_required(bearer_auth)
@documented_body(CreateOffer)
@admin.doc(
    summary="Make an OID4VCI credential offer (pre-authorized code)",
    description=(
        "Each award is an Open Badges IssueCredential request without `issuer`, `recipient` and `format`: it "
        "is signed when the wallet asks, for the holder's key. An award may name a credential `template` of the "
        "issuer instead of a `configuration`: the achievement and the wallet display come from it. Returns the "
        "offer by value and by reference, "
        "the `openid-credential-offer://` links and, when `tx_code` is asked for, the transaction code, once: "
        "send it to the learner over another channel than the offer. With an external agent configured "
        "(SSI_AGENT_URL), the agent makes the offer and `offerLink` is its link (502/503/504 when the agent "
        "fails; nothing is stored then)."
    ),
    responses=answers(
        {
            201: media_response("The offer", _JSON_OBJECT),
            403: "The client may not issue this for the issuer",
            404: "No such issuer, template or configuration",
            422: "Invalid input",
            502: "The external agent failed",
            503: "The external agent or a backend is unavailable",
            504: "The external agent timed out",
        }
    ),
)
def create_offer() -> Response:
    command = parse_command(CreateOffer, read_json_body())
    made = _offers().create_offer(caller(), command)
    body = _offer_out(made)
    if made.tx_code is not None:
        body["txCode"] = made.tx_code
    return json_response(body, 201, {"Location": f"/api/v1/offers/{made.offer.id}"})


@admin.get("/<string(maxlength=64):offer_id>")
@admin.auth_required(bearer_auth)
@admin.doc(
    summary="An offer's state: created, token_issued, credential_issued, notified or expired",
    responses=answers({200: media_response("The offer", _JSON_OBJECT), 404: "No such offer for this client"}),
)
def get_offer(offer_id: str) -> Response:
    return json_response(_offer_out(_offers().offer_for(caller(), offer_id)))


@admin.post("/<string(maxlength=64):offer_id>/release")
@admin.auth_required(bearer_auth)
@admin.doc(
    summary="Release an offer's deferred awards",
    description="Wallets waiting at the deferred credential endpoint get the credentials at their next request.",
    responses=answers({200: media_response("The offer", _JSON_OBJECT), 404: "No such offer for this client"}),
)
def release_offer(offer_id: str) -> Response:
    return json_response(_offer_out(_offers().release(caller(), offer_id)))


def _offer_out(view: OfferView) -> dict[str, Any]:
    offer = view.offer
    now = services().clock.now()
    return {
        "id": offer.id,
        "issuer": offer.issuer_slug,
        "state": offer.state_at(now).value,
        "credentialIssuer": view.credential_issuer,
        "credentialConfigurationIds": offer.configuration_ids,
        "awards": [_award_out(award) for award in offer.awards],
        "createdAt": offer.created_at,
        "expiresAt": offer.expires_at,
        "credentialsIssued": offer.credentials_issued,
        "notification": offer.notification_event,
        "deferredAwards": sum(1 for a in offer.awards if a.deferred),
        "releasedAt": offer.released_at,
        "offer": view.document,
        "offerUri": view.offer_uri,
        "offerLink": view.link,
        "offerLinkByValue": view.link_by_value,
        "qrCode": {"png": f"{view.qr_base}/qr.png", "svg": f"{view.qr_base}/qr.svg"},
        "delivery": {
            "by": view.wallet.delivered_by,
            "nonceEndpoint": view.wallet.nonce_endpoint,
            "credentialEndpoint": view.wallet.credential_endpoint,
        },
    }


def _award_out(award: Award) -> dict[str, Any]:
    configuration = configuration_named(award.configuration_id)
    return {
        "id": award.id,
        "configuration": award.configuration_id,
        "template": configuration.template_id if configuration else None,
        "deferred": award.deferred,
    }


# --- wallets: metadata --------------------------------------------------------------------------------------


@wallet.get(f"{CREDENTIAL_ISSUER_WELL_KNOWN}/issuers/{_SLUG}")
@wallet.get(f"/issuers/{_SLUG}{CREDENTIAL_ISSUER_WELL_KNOWN}")
@wallet.doc(
    summary="Credential Issuer metadata",
    description="At the path inserted before the issuer path (OID4VCI 1.0) and, for draft-era wallets, appended.",
)
def issuer_metadata(slug: str) -> Response:
    name = _known_issuer(slug)
    metadata = credential_issuer_metadata(_issuer().endpoints, slug, name, services().templates.listed(slug))
    return json_response(metadata, headers=_CACHEABLE)


@wallet.get(f"{AUTHORIZATION_SERVER_WELL_KNOWN}/issuers/{_SLUG}")
@wallet.get(f"/issuers/{_SLUG}{AUTHORIZATION_SERVER_WELL_KNOWN}")
@wallet.get(f"/.well-known/openid-configuration/issuers/{_SLUG}")
@wallet.get(f"/issuers/{_SLUG}/.well-known/openid-configuration")
@wallet.doc(summary="OAuth 2.0 Authorization Server metadata (RFC 8414)")
def authorization_server(slug: str) -> Response:
    _known_issuer(slug)
    return json_response(authorization_server_metadata(_issuer().endpoints, slug), headers=_CACHEABLE)


_CACHEABLE = {"Cache-Control": "public, max-age=300"}


# --- wallets: the offer -------------------------------------------------------------------------------------


@wallet.get(f"/issuers/{_SLUG}/oid4vci/offers/<string(maxlength=64):reference>")
@wallet.doc(summary="A credential offer by reference (credential_offer_uri); the same until it expires")
def offer_by_reference(slug: str, reference: str) -> Response:
    return json_response(_issuer().offer_document(slug, reference), headers=NO_STORE)


@wallet.get(f"/issuers/{_SLUG}/oid4vci/offers/<string(maxlength=64):reference>/qr.png")
@wallet.doc(
    summary="The offer link as a QR code (PNG)",
    responses=answers({200: media_response("The QR code", {"image/png": BINARY}), 404: _NO_OFFER}),
)
def offer_qr_png(slug: str, reference: str) -> Response:
    link = _link(slug, reference)
    return Response(qr_png(link), mimetype="image/png", headers=NO_STORE)


@wallet.get(f"/issuers/{_SLUG}/oid4vci/offers/<string(maxlength=64):reference>/qr.svg")
@wallet.doc(
    summary="The offer link as a QR code (SVG)",
    responses=answers({200: media_response("The QR code", {"image/svg+xml": TEXT}), 404: _NO_OFFER}),
)
def offer_qr_svg(slug: str, reference: str) -> Response:
    link = _link(slug, reference)
    return Response(qr_svg(link), mimetype="image/svg+xml", headers=NO_STORE)


def _link(slug: str, reference: str) -> str:
    return _offers().qr_link(slug, reference)  # 404 for an unknown or expired offer


# --- wallets: token, nonce, credential, notification --------------------------------------------------------


@wallet.post(f"/issuers/{_SLUG}/oid4vci/token")
@wallet.doc(
    summary="Token endpoint: a pre-authorized code (and tx_code), or an authorization code with PKCE",
    description="An `application/x-www-form-urlencoded` token request (RFC 6749 §4.1.3, OID4VCI 1.0 §6.1).",
    responses=answers(
        {
            200: media_response("The access token", _JSON_OBJECT),
            **oauth_errors({400: "invalid_request, invalid_grant, invalid_dpop_proof, use_dpop_nonce, ..."}),
            404: _NO_ISSUER,
        }
    ),
)
@documented_body(TokenRequest, FORM_MEDIA_TYPE)
@_protocol_errors
def token(slug: str) -> Response:
    _known_issuer(slug)
    form = _form("token request")
    dpop = _dpop_request(slug, "token")
    return json_response(_issuer().exchange(slug, form, dpop), headers=_with_dpop_nonce(NO_STORE, dpop))


@wallet.post(f"/issuers/{_SLUG}/oid4vci/par")
@wallet.doc(
    summary="Pushed authorization request (RFC 9126): PKCE S256 and the offer's issuer_state",
    responses=answers(
        {
            201: media_response("The request_uri and how long it lives", _JSON_OBJECT),
            **oauth_errors({400: "invalid_request, ..."}),
            404: _NO_ISSUER,
        }
    ),
)
@documented_body(PushedAuthorizationRequest, FORM_MEDIA_TYPE)
@_protocol_errors
def pushed_authorization_request(slug: str) -> Response:
    _known_issuer(slug)
    answer = _issuer().push_authorization_request(slug, _form("pushed authorization request"))
    return json_response(answer, 201, NO_STORE)


@wallet.get(f"/issuers/{_SLUG}/oid4vci/authorize")
@wallet.doc(
    summary="Authorization endpoint: redirects with a code for a pushed request",
    description="Only pushed requests (request_uri) are taken. The built-in server authorizes the offer the "
    "request's issuer_state names; it does not authenticate a person (docs/oid4vci.md).",
    responses=answers(
        {
            302: {"description": "To the client's redirect_uri, with the code and state"},
            **oauth_errors({400: "invalid_request: no such pushed request, or it expired"}),
            404: _NO_ISSUER,
        }
    ),
)
@_protocol_errors
def authorize(slug: str) -> Response:
    _known_issuer(slug)
    location = _issuer().authorize(slug, dict(request.args.items()))
    return Response(status=302, headers={"Location": location, **NO_STORE})


@wallet.post(f"/issuers/{_SLUG}/oid4vci/nonce")
@wallet.doc(
    summary="Nonce endpoint: a fresh c_nonce for key proofs",
    responses=answers({200: media_response("The c_nonce (and a DPoP-Nonce header)", _JSON_OBJECT), 404: _NO_ISSUER}),
)
def nonce(slug: str) -> Response:
    _known_issuer(slug)
    # RFC 9449 §8.2 / OID4VCI §7.2: the nonce endpoint may hand out a DPoP nonce too, saving a round trip.
    headers = {**NO_STORE, "DPoP-Nonce": _issuer().dpop_nonce()} if _issuer().dpop.nonce else NO_STORE
    return json_response({"c_nonce": _issuer().new_nonce()}, headers=headers)


@wallet.post(f"/issuers/{_SLUG}/oid4vci/credential")
@wallet.doc(
    summary="Credential endpoint: credentials bound to the keys the proofs show",
    description="An `application/json` credential request (OID4VCI 1.0 §8.2).",
    responses=answers(
        {
            200: media_response("The credentials", _JSON_OBJECT),
            202: media_response("Deferred: a transaction_id for the deferred credential endpoint", _JSON_OBJECT),
            **_RESOURCE_ERRORS,
        }
    ),
)
@documented_body(CredentialRequest)
@_protocol_errors
def credential(slug: str) -> Response:
    _known_issuer(slug)
    token = _access_token(slug, "credential")
    answer = _issuer().request_credential(slug, token, _protocol_json())
    return json_response(answer.body, answer.status, _with_dpop_nonce(NO_STORE, token.dpop if token else None))


@wallet.post(f"/issuers/{_SLUG}/oid4vci/deferred")
@wallet.doc(
    summary="Deferred credential endpoint: 202 while the award waits for its release, then the credentials",
    responses=answers(
        {
            200: media_response("The credentials", _JSON_OBJECT),
            202: media_response("Still waiting: ask again after `interval` seconds", _JSON_OBJECT),
            **_RESOURCE_ERRORS,
        }
    ),
)
@documented_body(DeferredCredentialRequest)
@_protocol_errors
def deferred(slug: str) -> Response:
    _known_issuer(slug)
    token = _access_token(slug, "deferred")
    answer = _issuer().deferred(slug, token, _protocol_json())
    return json_response(answer.body, answer.status, _with_dpop_nonce(NO_STORE, token.dpop if token else None))


@wallet.post(f"/issuers/{_SLUG}/oid4vci/notification")
@wallet.doc(
    summary="Notification endpoint: the wallet says what became of a credential (204)",
    responses=answers({204: {"description": "Noted"}, **_RESOURCE_ERRORS}),
)
@documented_body(NotificationRequest)
@_protocol_errors
def notification(slug: str) -> Response:
    _known_issuer(slug)
    _issuer().notify(slug, _access_token(slug, "notification"), _protocol_json())
    return Response(status=204, headers=NO_STORE)


def _form(what: str) -> dict[str, str]:
    if request.mimetype != FORM_MEDIA_TYPE:
        raise invalid_request(f"the {what} must be {FORM_MEDIA_TYPE}")
    return dict(request.form.items())


def _access_token(slug: str, endpoint: str) -> PresentedToken | None:
    """The access token of the Authorization header, Bearer (RFC 6750) or DPoP (RFC 9449), with the DPoP
    proof sent along. RFC 6750 also allows a token in a form body or the query; OID4VCI's security
    considerations and the OIDF suite want it refused there."""
    if "access_token" in request.args or "access_token" in request.form:
        raise ProtocolError("invalid_request", "send the access token in the Authorization header only")
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme not in ("bearer", "dpop") or not value.strip():
        return None
    dpop = _dpop_request(slug, endpoint)
    return PresentedToken(value.strip(), "dpop" if scheme == "dpop" else "bearer", dpop)


def _dpop_request(slug: str, endpoint: str) -> DpopRequest | None:
    proofs = tuple(request.headers.getlist("DPoP"))
    if not proofs:
        return None
    # htu is checked against the public URL of the endpoint, as metadata names it, not the URL this
    # process saw: behind a proxy the two differ.
    return DpopRequest(proofs, request.method, _issuer().endpoints.endpoint(slug, endpoint))


def _with_dpop_nonce(headers: dict[str, str], dpop: DpopRequest | None) -> dict[str, str]:
    if dpop is None or not _issuer().dpop.nonce:
        return headers
    return {**headers, "DPoP-Nonce": _issuer().dpop_nonce()}


def _protocol_json() -> Any:
    if request.mimetype != "application/json":
        raise ProtocolError("invalid_credential_request", "the request body must be application/json")
    try:
        return parse_json(request.get_data(cache=False))
    except MalformedInput as exc:
        raise ProtocolError("invalid_credential_request", str(exc)) from None
