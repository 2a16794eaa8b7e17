"""The application factory."""

from __future__ import annotations

from apiflask import APIFlask
from werkzeug.middleware.proxy_fix import ProxyFix

from ec_issuer import __version__
from ec_issuer.api import (
    routes_admin,
    routes_agent,
    routes_attestations,
    routes_credentials,
    routes_elm,
    routes_keys,
    routes_metrics,
    routes_oid4vci,
    routes_public,
    routes_status,
    routes_templates,
    routes_vc_api,
    routes_verification,
)
from ec_issuer.api.context import EXTENSION_KEY, bearer_auth
from ec_issuer.api.http import refuse_control_characters_in_url
from ec_issuer.api.openapi import describe_answers
from ec_issuer.api.problems import apiflask_error, register_error_handlers
from ec_issuer.api.rate_limits import EXTENSION_KEY as RATE_LIMITS_KEY
from ec_issuer.api.rate_limits import Allowances, TokenBuckets
from ec_issuer.api.shared_allowances import SharedTokenBuckets
from ec_issuer.bootstrap import Container
from ec_issuer.config import Settings


def create_app(container: Container) -> APIFlask:
    app = APIFlask(
        "ec_issuer",
        title="ec-issuer",
        version=__version__,
        spec_path="/openapi.json",
        docs_path="/docs",
    )
    app.config.update(  # pyright: ignore[reportUnknownMemberType] - Flask types its config loosely
        OPENAPI_VERSION="3.1.0",
        MAX_CONTENT_LENGTH=container.settings.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=container.settings.max_request_bytes,
        SYNC_LOCAL_SPEC=False,
        VALIDATION_ERROR_STATUS_CODE=422,
        JSON_SORT_KEYS=False,
        INFO={
            "description": (
                "Issues, stores and verifies Open Badges 3.0 credentials secured as VC-JOSE (`vc+jwt`). "
                "Errors are RFC 9457 problem details (`application/problem+json`) whose `errors[].pointer` "
                "names the offending field."
            )
        },
    )
    app.spec_processor(describe_answers)  # pyright: ignore[reportUnknownMemberType] - typed with a bare dict
    app.extensions[EXTENSION_KEY] = container
    settings = container.settings
    if settings.public_rate_per_minute > 0:
        app.extensions[RATE_LIMITS_KEY] = _allowances(settings)
    if settings.trusted_proxy_hops > 0:
        # Only the client's address is taken from the proxies: public URLs come from ISSUER_BASE_URL.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_hops)
    app.before_request(refuse_control_characters_in_url)
    app.register_blueprint(routes_public.blueprint)
    app.register_blueprint(routes_admin.blueprint)
    app.register_blueprint(routes_keys.blueprint)
    app.register_blueprint(routes_templates.blueprint)
    app.register_blueprint(routes_status.admin)  # before credentials: its /<id>/history is more specific
    app.register_blueprint(routes_elm.admin)  # before credentials too: /<id>/elm
    app.register_blueprint(routes_elm.public)
    app.register_blueprint(routes_credentials.blueprint)
    app.register_blueprint(routes_status.public)
    app.register_blueprint(routes_metrics.blueprint)
    app.register_blueprint(routes_vc_api.blueprint)
    app.register_blueprint(routes_verification.blueprint)
    app.register_blueprint(routes_oid4vci.admin)
    app.register_blueprint(routes_oid4vci.wallet)
    app.register_blueprint(routes_agent.blueprint)
    app.register_blueprint(routes_attestations.admin)
    app.register_blueprint(routes_attestations.public)
    app.error_processor(apiflask_error)
    bearer_auth.error_processor(apiflask_error)
    # After error_processor, which re-registers APIFlask's own handler for Werkzeug's HTTP errors:
    # ours keeps the field pointers of 413 and 415 answers.
    register_error_handlers(app)
    return app


def _allowances(settings: Settings) -> Allowances:
    per_minute, burst = settings.public_rate_per_minute, settings.public_rate_burst
    if settings.public_rate_store:
        return SharedTokenBuckets(settings.public_rate_store, per_minute, burst)
    return TokenBuckets(per_minute, burst)
