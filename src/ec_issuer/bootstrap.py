"""The composition root: the only place that chooses adapters and wires services together.

The app factory, the CLI and the tests all build the service graph through `build`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine

from ec_issuer.access.http_policy import HttpPolicy
from ec_issuer.access.policy import AuthorizationPolicy, ScopePolicy
from ec_issuer.access.service import AccessService
from ec_issuer.attestations.document import ValidationUrls
from ec_issuer.attestations.service import ValidationAttestations
from ec_issuer.config import ConfigurationError, Settings, development_admin_token
from ec_issuer.core.ports import Clock, IdGenerator
from ec_issuer.core.system import SystemClock, TimeOrderedIds
from ec_issuer.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from ec_issuer.credentials.downloads import EuropeanFiles
from ec_issuer.credentials.issuing import CredentialIssuer
from ec_issuer.credentials.reading import CredentialReader, StoredStatuses
from ec_issuer.credentials.recipient import RecipientReferencer
from ec_issuer.credentials.schema import credential_schemas
from ec_issuer.credentials.verifying import CredentialVerifier
from ec_issuer.custody.eseal_config import ConfiguredSeal, LazySealSigner
from ec_issuer.custody.local import LocalKeyCustody
from ec_issuer.elm.issuing import EuropeanCredentialMaker
from ec_issuer.elm.verifying import SealedCredentialVerifier
from ec_issuer.events.ports import EventPublisher
from ec_issuer.events.relay import OutboxRelay
from ec_issuer.fetching.status_lists import HttpStatusLists
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.issuers.model import DidWebLayout
from ec_issuer.issuers.service import IssuerService
from ec_issuer.keys.model import Algorithm
from ec_issuer.keys.ports import KeyCustody
from ec_issuer.keys.resolution import KeyResolver, StoredKeyResolver
from ec_issuer.keys.service import KeyService
from ec_issuer.oid4vci.agent import SSI_AGENT, AgentDelivery
from ec_issuer.oid4vci.agent_events import AgentEvents
from ec_issuer.oid4vci.delivery import BuiltInDelivery, OfferDelivery, WalletEndpoints
from ec_issuer.oid4vci.dpop_binding import DpopPolicy
from ec_issuer.oid4vci.external_as import ExternalAuthorizationServer
from ec_issuer.oid4vci.metadata import IssuerEndpoints
from ec_issuer.oid4vci.service import Oid4vciIssuer
from ec_issuer.oid4vci.template_service import CredentialTemplates
from ec_issuer.public_verification.artefacts import DrawnArtefacts
from ec_issuer.status.lists import StatusListUrls
from ec_issuer.status.ports import StatusListSource
from ec_issuer.status.publication import StatusListPublisher
from ec_issuer.status.service import CredentialLifecycle, ExpirySweep
from ec_issuer.status.sources import LocalFirstStatusLists
from ec_issuer.storage.agent_store import SqlAgentOfferStore
from ec_issuer.storage.cache import ReadCache
from ec_issuer.storage.engine import make_engine
from ec_issuer.storage.migrate import current_revision, head_revision, upgrade
from ec_issuer.storage.oid4vci_store import SqlOfferStore
from ec_issuer.storage.outbox import SqlOutboxStore
from ec_issuer.storage.status_slots import SqlStatusSlotAllocator
from ec_issuer.storage.template_store import SqlTemplateStore
from ec_issuer.storage.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)

DEVELOPMENT_ISSUER_SLUG = "dev"


@dataclass(frozen=True, slots=True)
class Container:
    settings: Settings
    engine: Engine
    layout: DidWebLayout
    issuers: IssuerService
    keys: KeyService
    access: AccessService
    issuing: CredentialIssuer
    reading: CredentialReader
    european_files: EuropeanFiles  # sealed EDCs as downloads
    verifier: CredentialVerifier
    key_resolver: KeyResolver
    lifecycle: CredentialLifecycle
    expiry: ExpirySweep
    status_lists: StatusListPublisher
    status_source: StatusListSource
    outbox: SqlOutboxStore
    oid4vci: Oid4vciIssuer
    offers: OfferDelivery  # how offers reach wallets: the built-in issuer, or the external agent
    templates: CredentialTemplates  # credential templates: configurations per achievement
    attestations: ValidationAttestations  # ValidationCredentials for validation runs, and the privacy opt-in
    clock: Clock
    agent_events: AgentEvents | None = None  # with the external agent: its pushed events
    eseal: ConfiguredSeal | None = None  # the seal of European Digital Credentials, when configured
    # Relays running inside this process (RELAY_IN_SERVICE), whose counters GET /metrics reports.
    relays: list[OutboxRelay] = field(default_factory=list[OutboxRelay])
    # Certificates and badges drawn by this process, for the next request for the same drawing.
    drawn_artefacts: DrawnArtefacts = field(default_factory=DrawnArtefacts)


def derive_secret(master: str, purpose: str) -> bytes:
    """Independent keys for independent jobs, all from the one secret the operator manages."""
    return hmac.new(master.encode(), f"ec-issuer:{purpose}".encode(), hashlib.sha256).digest()


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    policy: AuthorizationPolicy | None = None,
) -> Container:
    clock = clock or SystemClock()
    ids = ids or TimeOrderedIds()
    engine = make_engine(settings.database_url)
    cache = ReadCache(settings.cache_ttl_seconds)

    def uow() -> UnitOfWork:
        return SqlUnitOfWork(engine, cache)

    if policy is None:
        policy = (
            HttpPolicy(settings.authz_policy_url, bearer_token=settings.authz_policy_token)
            if settings.authz_policy_url
            else ScopePolicy()
        )
    custodians = key_custodians(settings)
    keys = KeyService(uow, custodians, clock, settings.default_key_backend, ids)
    key_resolver = StoredKeyResolver(uow)
    layout = DidWebLayout(settings.issuer_base_url)
    recipients = RecipientReferencer(derive_secret(settings.keystore_secret, "recipient-references"))
    schema = credential_schemas()
    status_urls = StatusListUrls(settings.issuer_base_url)
    status_slots = SqlStatusSlotAllocator(engine, status_urls, clock, list_size=settings.status_list_size)
    status_publisher = StatusListPublisher(uow, custodians, clock, status_urls, settings.status_list_ttl_seconds)
    remote_lists = HttpStatusLists(allow_private=settings.status_fetch_allow_private) if settings.status_fetch else None
    status_source = LocalFirstStatusLists(status_urls, status_publisher, remote_lists)
    seal = ConfiguredSeal(settings.elm_seal, custodians) if settings.elm_seal is not None else None
    reader = CredentialReader(uow, recipients)
    stored_statuses = StoredStatuses(uow, clock)
    european = EuropeanCredentialMaker(LazySealSigner(seal) if seal is not None else None)
    issuing = CredentialIssuer(uow, policy, custodians, schema, recipients, clock, ids, status_slots, european)
    external_as = external_authorization_server(settings, clock)
    endpoints = IssuerEndpoints(settings.issuer_base_url, external_as.issuer if external_as else None)
    templates = CredentialTemplates(SqlTemplateStore(engine, cache), clock, ids)
    oid4vci = Oid4vciIssuer(
        uow,
        SqlOfferStore(engine),
        issuing,
        endpoints,
        clock,
        ids,
        derive_secret(settings.keystore_secret, "oid4vci"),
        templates=templates,
        deferred_notification_id=settings.oid4vci_deferred_notification_id,
        token_c_nonce=settings.oid4vci_token_c_nonce,
        dpop=DpopPolicy(required=settings.oid4vci_dpop == "required", nonce=settings.oid4vci_dpop_nonce),
        external_as=external_as,
    )
    offers, agent_events = offer_delivery(settings, uow, engine, BuiltInDelivery(oid4vci), endpoints, clock, ids)
    return Container(
        settings=settings,
        engine=engine,
        layout=layout,
        issuers=IssuerService(uow, layout, clock, keys),
        keys=keys,
        access=AccessService(uow, clock, ids),
        issuing=issuing,
        reading=reader,
        european_files=EuropeanFiles(uow, reader, clock),
        verifier=CredentialVerifier(
            key_resolver,
            schema,
            clock,
            stored_statuses,
            status_source,
            SealedCredentialVerifier(seal.trust_anchors if seal else list, clock, stored_statuses),
        ),
        key_resolver=key_resolver,
        lifecycle=CredentialLifecycle(uow, policy, clock, ids),
        expiry=ExpirySweep(uow, clock, ids),
        status_lists=status_publisher,
        status_source=status_source,
        outbox=SqlOutboxStore(engine),
        oid4vci=oid4vci,
        offers=offers,
        templates=templates,
        attestations=ValidationAttestations(uow, issuing, clock, ValidationUrls(settings.issuer_base_url)),
        clock=clock,
        agent_events=agent_events,
        eseal=seal,
    )


def external_authorization_server(settings: Settings, clock: Clock) -> ExternalAuthorizationServer | None:
    """OID4VCI_AUTHORIZATION_SERVER and how its tokens are checked; its HTTP adapter is imported only then."""
    configured = settings.oid4vci_authorization_server
    if configured is None:
        return None
    from ec_issuer.fetching.authorization_server import HttpIntrospection, HttpJwks, JwksFileError, StaticJwks
    from ec_issuer.oid4vci.external_tokens import ExternalTokenVerifier, JwksSource

    jwks: JwksSource | None = None
    if configured.jwks_url:
        jwks = HttpJwks(configured.jwks_url, clock, timeout_seconds=configured.timeout_seconds)
    elif configured.jwks_file:
        try:
            jwks = StaticJwks.from_file(configured.jwks_file)
        except JwksFileError as exc:
            raise ConfigurationError(f"OID4VCI_AS_JWKS_FILE: {exc}") from None
    introspection = None
    if configured.introspection_endpoint and configured.client_id and configured.client_secret:
        introspection = HttpIntrospection(
            configured.introspection_endpoint,
            configured.client_id,
            configured.client_secret,
            clock,
            timeout_seconds=configured.timeout_seconds,
            cache_seconds=configured.introspection_cache_seconds,
        )
    verifier = ExternalTokenVerifier(configured.issuer, clock, jwks=jwks, introspection=introspection)
    return ExternalAuthorizationServer(configured.issuer, verifier)


def offer_delivery(
    settings: Settings,
    uow: UnitOfWorkFactory,
    engine: Engine,
    built_in: BuiltInDelivery,
    endpoints: IssuerEndpoints,
    clock: Clock,
    ids: IdGenerator,
) -> tuple[OfferDelivery, AgentEvents | None]:
    """The built-in issuer, or with SSI_AGENT_URL the external agent (whose HTTP client is imported only then)."""
    agent = settings.ssi_agent
    if agent is None:
        return built_in, None
    from ec_issuer.ssi_agent.client import UniCoreAgent

    store = SqlAgentOfferStore(engine)
    wallet = WalletEndpoints(SSI_AGENT, agent.nonce_endpoint, agent.credential_endpoint)
    delivery = AgentDelivery(uow, store, UniCoreAgent(agent), built_in, endpoints, wallet, clock, ids)
    return delivery, AgentEvents(store, endpoints, clock, ids)


def key_custodians(settings: Settings) -> dict[str, KeyCustody]:
    """The local keystore always; each other backend when its settings are present. Adapters are
    imported only when configured, so an installation without an HSM never loads its library."""
    custodians: dict[str, KeyCustody] = {"local": LocalKeyCustody(settings.keystore_path, settings.keystore_secret)}
    if settings.pkcs11 is not None:
        from ec_issuer.custody.pkcs11 import Pkcs11Custody

        custodians["pkcs11"] = Pkcs11Custody(settings.pkcs11)
    if settings.vault is not None:
        from ec_issuer.custody.vault import VaultTransitCustody

        custodians["vault"] = VaultTransitCustody(settings.vault)
    if settings.kms is not None:
        from ec_issuer.custody.kms import KmsCustody

        custodians["kms"] = KmsCustody(settings.kms)
    if settings.default_key_backend not in custodians:
        raise ConfigurationError(
            f"KEY_BACKEND_DEFAULT={settings.default_key_backend!r} is not configured; "
            f"configured: {', '.join(sorted(custodians))}"
        )
    return custodians


def event_publisher(settings: Settings) -> EventPublisher:
    """The configured broker. Adapters are imported only when chosen, like key backends."""
    if settings.event_broker == "nats":
        from ec_issuer.brokers.nats import NatsPublisher

        return NatsPublisher(
            settings.nats_url, stream=settings.nats_stream, subject_prefix=settings.nats_subject_prefix
        )
    if settings.event_broker == "rabbitmq":
        from ec_issuer.brokers.rabbitmq import RabbitMqPublisher

        return RabbitMqPublisher(settings.rabbitmq_url, exchange=settings.rabbitmq_exchange)
    raise ConfigurationError("no event broker is configured: set EVENT_BROKER to nats or rabbitmq")


def prepare(container: Container) -> str | None:
    """Start-up tasks, run once before serving: migrations, bootstrap client, development data.

    Returns the development admin token when in development mode (for printing), else None.
    """
    settings = container.settings
    if settings.auto_upgrade:
        upgrade(container.engine)
    token = settings.admin_bootstrap_token
    if token is None and settings.is_development:
        token = development_admin_token(settings.data_dir)
    if token is not None:
        container.access.ensure_bootstrap_client(token)
    if not settings.is_development:
        if container.eseal is not None:
            # A production eSeal that cannot be opened stops the start, not the first EDC request.
            container.eseal.check()
        return None
    ensure_development_issuer(container)
    return token


def ensure_development_issuer(container: Container) -> None:
    issuer = container.issuers.get(DEVELOPMENT_ISSUER_SLUG)
    if issuer is None:
        issuer = container.issuers.create(
            CreateIssuer(
                slug=DEVELOPMENT_ISSUER_SLUG,
                name="Development Issuer (not for real credentials)",
                url=container.settings.issuer_base_url,
                root=container.issuers.root_document_issuer() is None,
            )
        )
        log.warning("created development issuer %s (%s)", issuer.slug, issuer.did)
    held = {key.algorithm for key in container.keys.for_issuer(issuer.slug)}
    for algorithm in Algorithm:
        if algorithm not in held:
            key = container.keys.generate(issuer, algorithm)
            log.warning("generated development %s key %s", algorithm.value, key.kid)


def readiness(container: Container) -> dict[str, str]:
    """Each dependency and "ok", or what is wrong with it."""
    checks: dict[str, str] = {}
    try:
        current, head = current_revision(container.engine), head_revision(container.engine)
        checks["database"] = "ok" if current == head else f"schema at {current}, code expects {head}"
    except Exception as exc:  # noqa: BLE001 - whatever stops us reaching the database means "not ready"
        checks["database"] = f"unreachable: {type(exc).__name__}"
    for backend, problem in container.keys.check_backends().items():
        checks[f"keys:{backend}"] = problem or "ok"
    return checks
