"""Registering and finding issuers."""

from __future__ import annotations

from ec_issuer.access.model import ApiClient
from ec_issuer.core.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from ec_issuer.core.ports import Clock
from ec_issuer.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.issuers.model import Address, DidWebLayout, Issuer
from ec_issuer.keys.model import Algorithm
from ec_issuer.keys.service import KeyService, NewKey


class IssuerService:
    def __init__(self, uow: UnitOfWorkFactory, layout: DidWebLayout, clock: Clock, keys: KeyService) -> None:
        self._uow = uow
        self._layout = layout
        self._clock = clock
        self._keys = keys

    def create(self, command: CreateIssuer) -> Issuer:
        address = None
        if command.address is not None:
            a = command.address
            address = Address(a.streetAddress, a.addressLocality, a.addressRegion, a.postalCode, a.addressCountry)
        first_key = None
        if command.didKey is None:
            did = self._layout.did_for(command.slug, is_root=command.root)
        else:
            options = NewKey(Algorithm(command.didKey.algorithm), command.didKey.backend)
            did, first_key = self._keys.key_for_new_did_key_issuer(command.slug, options)
        issuer = Issuer(
            slug=command.slug,
            did=did,
            name=command.name,
            url=command.url,
            email=command.email,
            image=command.image,
            description=command.description,
            address=address,
            is_root=command.root,
            default_format=command.defaultFormat,
            status_purposes=tuple(dict.fromkeys(command.statusPurposes)),
            created_at=self._clock.now(),
        )
        with self._uow() as uow:
            if uow.issuers.get(issuer.slug) is not None:
                raise Conflict(f"issuer '{issuer.slug}' exists", [FieldError("/slug", "already taken")])
            if issuer.is_root and uow.issuers.get_root() is not None:
                raise Conflict("a root issuer exists already", [FieldError("/root", "only one issuer can be the root")])
            if uow.issuers.get_by_did(issuer.did) is not None:
                raise Conflict(f"another issuer is {issuer.did}", [FieldError("/didKey", "key already in use")])
            uow.issuers.add(issuer)
            if first_key is not None:
                uow.keys.add(first_key)
            uow.commit()
        return issuer

    def get(self, reference: str) -> Issuer | None:
        with self._uow() as uow:
            return find_issuer(uow, reference)

    def all(self) -> list[Issuer]:
        with self._uow() as uow:
            return uow.issuers.all()

    def visible_to(self, client: ApiClient) -> list[Issuer]:
        return [issuer for issuer in self.all() if client.may_use_issuer(issuer.slug)]

    def get_visible(self, client: ApiClient, reference: str) -> Issuer:
        issuer = self.get(reference)
        if issuer is None or not client.may_use_issuer(issuer.slug):
            raise NotFound(f"no issuer '{reference}'")
        return issuer

    def root_document_issuer(self) -> Issuer | None:
        with self._uow() as uow:
            return uow.issuers.get_root()


def find_issuer(uow: UnitOfWork, reference: str) -> Issuer | None:
    """Callers name an issuer by its slug or by its DID."""
    if reference.startswith("did:"):
        return uow.issuers.get_by_did(reference)
    return uow.issuers.get(reference)


def require_issuer_for(uow: UnitOfWork, client: ApiClient, reference: str, pointer: str) -> Issuer:
    """Resolve the issuer a request names, without telling scoped clients which others exist."""
    issuer = find_issuer(uow, reference)
    if issuer is None:
        if client.issuer_scope is not None:
            raise Forbidden(f"client may not issue for issuer '{reference}'")
        raise InvalidInput(f"unknown issuer '{reference}'", [FieldError(pointer, "no such issuer")])
    return issuer
