"""Creating signing keys and choosing the one to sign with."""

from __future__ import annotations

from collections.abc import Mapping

from ec_issuer.core.errors import FieldError, InvalidInput, Unavailable
from ec_issuer.core.ports import Clock
from ec_issuer.core.unit_of_work import UnitOfWork, UnitOfWorkFactory
from ec_issuer.issuers.model import Issuer
from ec_issuer.keys.jwk import thumbprint
from ec_issuer.keys.model import Algorithm, KeyState, SigningKey
from ec_issuer.keys.ports import KeyCustody


class KeyService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        custodians: Mapping[str, KeyCustody],
        clock: Clock,
        default_custody: str = "local",
    ) -> None:
        self._uow = uow
        self._custodians = custodians
        self._clock = clock
        self._default_custody = default_custody

    def custody(self, name: str) -> KeyCustody:
        try:
            return self._custodians[name]
        except KeyError:
            raise Unavailable(f"key custody backend '{name}' is not configured") from None

    def generate(self, issuer: Issuer, algorithm: Algorithm, custody: str | None = None) -> SigningKey:
        backend = self.custody(custody or self._default_custody)
        generated = backend.generate(algorithm)
        key = SigningKey(
            kid=f"{issuer.did}#{thumbprint(generated.public_jwk)}",
            issuer_slug=issuer.slug,
            algorithm=algorithm,
            public_jwk=generated.public_jwk,
            custody=backend.name,
            key_ref=generated.key_ref,
            state=KeyState.ACTIVE,
            created_at=self._clock.now(),
        )
        with self._uow() as uow:
            uow.keys.add(key)
            uow.commit()
        return key

    def for_issuer(self, issuer_slug: str) -> list[SigningKey]:
        with self._uow() as uow:
            return uow.keys.for_issuer(issuer_slug)

    def all_published(self) -> list[SigningKey]:
        with self._uow() as uow:
            return uow.keys.all_published()

    def check_backends(self) -> dict[str, str | None]:
        """Each configured backend and the reason it is unusable, or None when it is fine."""
        problems: dict[str, str | None] = {}
        for name, backend in self._custodians.items():
            try:
                backend.check()
                problems[name] = None
            except Unavailable as exc:
                problems[name] = exc.detail
        return problems


def active_signing_key(uow: UnitOfWork, issuer: Issuer, algorithm: Algorithm, pointer: str) -> SigningKey:
    """The newest active key of the algorithm: after a rotation the new key signs."""
    candidates = [
        key for key in uow.keys.for_issuer(issuer.slug) if key.state is KeyState.ACTIVE and key.algorithm is algorithm
    ]
    if not candidates:
        raise InvalidInput(
            f"issuer '{issuer.slug}' has no active {algorithm.value} key",
            [FieldError(pointer, f"no active {algorithm.value} key; generate one first")],
        )
    return max(candidates, key=lambda key: (key.created_at is not None, key.created_at))
