"""The Vault transit adapter against a real OpenBao server: signatures verify, versions stay pinned, and an
outage is a clean `Unavailable` that ends when the server is back."""

from __future__ import annotations

import base64
import dataclasses
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import hvac
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from ec_issuer.config import VaultSettings
from ec_issuer.core.errors import InvalidInput, Unavailable
from ec_issuer.custody import vault
from ec_issuer.custody.vault import VaultTransitCustody
from ec_issuer.keys.jwk import public_jwk
from ec_issuer.keys.model import Algorithm
from tests.backends.openbao import DurableOpenBao

ALGORITHMS = [Algorithm.ES256, Algorithm.EDDSA]
KEY_TYPES = {Algorithm.ES256: "ecdsa-p256", Algorithm.EDDSA: "ed25519"}
MESSAGE = b"eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJkaWQ6d2ViOmlzc3Vlci50ZXN0In0"


@pytest.fixture
def admin(openbao: VaultSettings) -> Iterator[hvac.Client]:
    """The root token, for what an operator does to Vault behind the adapter's back."""
    client = hvac.Client(url=openbao.url, token=openbao.token, timeout=10)
    yield client
    client.adapter.close()


@pytest.fixture
def custody(openbao: VaultSettings) -> VaultTransitCustody:
    return VaultTransitCustody(openbao)


def vault_public_key(
    admin: hvac.Client, name: str, version: int
) -> ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey:
    """The version's public key as Vault shows it, read here independently of the adapter's conversion."""
    key = admin.secrets.transit.read_key(name)["data"]
    public = key["keys"][str(version)]["public_key"]
    if key["type"] == "ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(base64.b64decode(public))
    loaded = load_pem_public_key(public.encode())
    assert isinstance(loaded, ec.EllipticCurvePublicKey)
    return loaded


def verifies(public: ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey, data: bytes, signature: bytes) -> bool:
    assert len(signature) == 64
    try:
        if isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(signature, data)
        else:
            r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
            public.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def jwk_key(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey:
    """The public key a verifier builds from the published JWK."""
    raw = {k: base64.urlsafe_b64decode(v + "=" * (-len(v) % 4)) for k, v in jwk.items() if k in ("x", "y")}
    if jwk["kty"] == "OKP":
        return ed25519.Ed25519PublicKey.from_public_bytes(raw["x"])
    numbers = ec.EllipticCurvePublicNumbers(
        int.from_bytes(raw["x"], "big"), int.from_bytes(raw["y"], "big"), ec.SECP256R1()
    )
    return numbers.public_key()


def split_ref(key_ref: str) -> tuple[str, int]:
    name, version = key_ref.rsplit("@", 1)
    return name, int(version)


# ---------------------------------------------------------------------------------------------------------------
# Keys and signatures


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_generated_key_signs_and_the_signature_verifies_with_the_published_jwk(
    custody: VaultTransitCustody, admin: hvac.Client, algorithm: Algorithm
) -> None:
    generated = custody.generate(algorithm)

    assert re.fullmatch(r"ec-issuer-[0-9a-f-]{36}@1", generated.key_ref)
    name, version = split_ref(generated.key_ref)
    assert generated.public_jwk == public_jwk(vault_public_key(admin, name, version))
    stored = admin.secrets.transit.read_key(name)["data"]
    assert (stored["type"], stored["exportable"], stored["allow_plaintext_backup"]) == (
        KEY_TYPES[algorithm],
        False,
        False,
    )

    signature = custody.sign(generated.key_ref, algorithm, MESSAGE)
    assert verifies(jwk_key(generated.public_jwk), MESSAGE, signature)
    assert not verifies(jwk_key(generated.public_jwk), MESSAGE + b".", signature)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sign_many_signs_each_input_in_order(custody: VaultTransitCustody, algorithm: Algorithm) -> None:
    generated = custody.generate(algorithm)
    items = [f"credential {i} ".encode() * (i + 1) for i in range(50)]

    signatures = custody.sign_many(generated.key_ref, algorithm, items)

    public = jwk_key(generated.public_jwk)
    assert len(signatures) == 50
    assert all(verifies(public, data, signature) for data, signature in zip(items, signatures, strict=True))
    assert custody.sign_many(generated.key_ref, algorithm, []) == []


def test_concurrent_signers_share_one_client(custody: VaultTransitCustody) -> None:
    generated = custody.generate(Algorithm.ES256)
    items = [f"item {i}".encode() for i in range(64)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        signatures = list(pool.map(lambda data: custody.sign(generated.key_ref, Algorithm.ES256, data), items))

    public = jwk_key(generated.public_jwk)
    assert all(verifies(public, data, signature) for data, signature in zip(items, signatures, strict=True))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_a_rotation_inside_vault_does_not_change_what_the_pinned_key_signs_with(
    custody: VaultTransitCustody, admin: hvac.Client, algorithm: Algorithm
) -> None:
    generated = custody.generate(algorithm)
    name, _ = split_ref(generated.key_ref)

    admin.secrets.transit.rotate_key(name)
    admin.secrets.transit.rotate_key(name)

    assert admin.secrets.transit.read_key(name)["data"]["latest_version"] == 3
    signature = custody.sign(generated.key_ref, algorithm, MESSAGE)
    [batched] = custody.sign_many(generated.key_ref, algorithm, [MESSAGE])
    assert verifies(jwk_key(generated.public_jwk), MESSAGE, signature)
    assert verifies(jwk_key(generated.public_jwk), MESSAGE, batched)
    assert not verifies(vault_public_key(admin, name, 3), MESSAGE, signature)


# ---------------------------------------------------------------------------------------------------------------
# Importing keys that Vault already holds


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_import_by_name_pins_the_latest_version_and_by_name_at_version_pins_that_one(
    custody: VaultTransitCustody, admin: hvac.Client, algorithm: Algorithm
) -> None:
    name = f"operator-made-{algorithm.value.lower()}"
    admin.secrets.transit.create_key(name, key_type=KEY_TYPES[algorithm])
    admin.secrets.transit.rotate_key(name)

    latest = custody.import_key(algorithm, f"  {name}\n")
    first = custody.import_key(algorithm, f"{name}@1")

    assert (latest.key_ref, first.key_ref) == (f"{name}@2", f"{name}@1")
    assert latest.public_jwk == public_jwk(vault_public_key(admin, name, 2))
    assert first.public_jwk == public_jwk(vault_public_key(admin, name, 1))
    for imported in (latest, first):
        signature = custody.sign(imported.key_ref, algorithm, MESSAGE)
        assert verifies(jwk_key(imported.public_jwk), MESSAGE, signature)
    admin.secrets.transit.rotate_key(name)
    assert verifies(jwk_key(latest.public_jwk), MESSAGE, custody.sign(latest.key_ref, algorithm, MESSAGE))


@pytest.fixture(scope="module")
def import_targets(openbao: VaultSettings) -> Iterator[None]:
    client = hvac.Client(url=openbao.url, token=openbao.token, timeout=10)
    client.secrets.transit.create_key("import-p256", key_type="ecdsa-p256")
    client.secrets.transit.create_key("import-ed25519-derived", key_type="ed25519", derived=True)
    client.secrets.transit.create_key("import-aes", key_type="aes256-gcm96")
    client.secrets.transit.create_key("import-p256-min3", key_type="ecdsa-p256")
    client.secrets.transit.rotate_key("import-p256-min3")
    client.secrets.transit.rotate_key("import-p256-min3")
    client.secrets.transit.update_key_configuration(
        "import-p256-min3", min_decryption_version=1, min_encryption_version=3
    )
    yield
    client.adapter.close()


@pytest.mark.usefixtures("import_targets")
@pytest.mark.parametrize(
    ("algorithm", "material", "reason"),
    [
        (Algorithm.EDDSA, "import-p256", "type is ecdsa-p256; EdDSA needs ed25519"),
        (Algorithm.ES256, "import-aes", "type is aes256-gcm96"),
        (Algorithm.EDDSA, "import-ed25519-derived", "derived"),
        (Algorithm.ES256, "no-such-key", "no key named 'no-such-key'"),
        (Algorithm.ES256, "import-p256@7", "no version 7"),
        (Algorithm.ES256, "import-p256-min3@2", "below the key's min_encryption_version"),
        (Algorithm.ES256, "../sys/seal", "<name>@<version>"),
        (Algorithm.ES256, "import-p256@0", "<name>@<version>"),
        (Algorithm.ES256, "", "<name>@<version>"),
    ],
)
def test_a_key_that_cannot_sign_as_asked_is_refused_at_material(
    custody: VaultTransitCustody, algorithm: Algorithm, material: str, reason: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        custody.import_key(algorithm, material)

    [error] = refused.value.errors
    assert error.pointer == "/material"
    assert reason in error.detail


@pytest.mark.parametrize("key_ref", ["ec-issuer-unpinned", "../../sys/seal@1", "ec-issuer-x@1@2"])
def test_a_malformed_key_ref_is_unavailable_not_a_crash(custody: VaultTransitCustody, key_ref: str) -> None:
    with pytest.raises(Unavailable, match="not a transit key reference"):
        custody.sign(key_ref, Algorithm.ES256, MESSAGE)


def test_signing_with_a_deleted_key_is_unavailable(custody: VaultTransitCustody, admin: hvac.Client) -> None:
    generated = custody.generate(Algorithm.EDDSA)
    name, _ = split_ref(generated.key_ref)
    admin.secrets.transit.update_key_configuration(name, deletion_allowed=True)
    admin.secrets.transit.delete_key(name)

    with pytest.raises(Unavailable, match="could not sign"):
        custody.sign(generated.key_ref, Algorithm.EDDSA, MESSAGE)
    with pytest.raises(Unavailable, match="could not sign"):
        custody.sign_many(generated.key_ref, Algorithm.EDDSA, [MESSAGE])


# ---------------------------------------------------------------------------------------------------------------
# Readiness, credentials and policy


def test_check_passes_on_a_reachable_server_with_a_valid_token(custody: VaultTransitCustody) -> None:
    custody.check()


def test_a_wrong_token_is_unavailable_and_never_named(openbao: VaultSettings) -> None:
    token = "s.wrong-token-" + "7" * 24
    custody = VaultTransitCustody(dataclasses.replace(openbao, token=token))

    for attempt in (custody.check, lambda: custody.generate(Algorithm.ES256)):
        with pytest.raises(Unavailable, match="permission denied") as refused:
            attempt()
        assert token not in str(refused.value)
        assert token not in repr(refused.value)
        assert token not in str(refused.value.__cause__)


def test_a_missing_transit_mount_is_unavailable(openbao: VaultSettings) -> None:
    custody = VaultTransitCustody(dataclasses.replace(openbao, transit_mount="no-such-transit"))

    with pytest.raises(Unavailable, match="no-such-transit"):
        custody.check()


def test_the_documented_least_privilege_policy_is_enough(openbao: VaultSettings, admin: hvac.Client) -> None:
    # The policy the adapter's documentation gives, so that the documentation cannot go stale.
    policy = "\n".join(line for line in (vault.__doc__ or "").splitlines() if line.strip().startswith("path "))
    assert policy.count("path ") == 3
    admin.sys.create_or_update_policy("ec-issuer", policy)
    token = admin.auth.token.create(policies=["ec-issuer"], no_default_policy=False, ttl="10m")["auth"]["client_token"]
    admin.secrets.transit.create_key("policy-import", key_type="ed25519")
    custody = VaultTransitCustody(dataclasses.replace(openbao, token=token))

    custody.check()
    generated = custody.generate(Algorithm.ES256)
    imported = custody.import_key(Algorithm.EDDSA, "policy-import")
    assert verifies(jwk_key(generated.public_jwk), MESSAGE, custody.sign(generated.key_ref, Algorithm.ES256, MESSAGE))
    [signature] = custody.sign_many(imported.key_ref, Algorithm.EDDSA, [MESSAGE])
    assert verifies(jwk_key(imported.public_jwk), MESSAGE, signature)


# ---------------------------------------------------------------------------------------------------------------
# Outages: a killed, a hung and a sealed server


def test_a_killed_server_is_unavailable_at_once_and_the_key_signs_again_after_restart_and_unseal(
    openbao_durable: DurableOpenBao,
) -> None:
    custody = VaultTransitCustody(openbao_durable.settings)
    generated = custody.generate(Algorithm.ES256)
    public = jwk_key(generated.public_jwk)
    assert verifies(public, MESSAGE, custody.sign(generated.key_ref, Algorithm.ES256, MESSAGE))

    openbao_durable.kill()
    started = time.monotonic()
    with pytest.raises(Unavailable, match="cannot be reached"):
        custody.sign(generated.key_ref, Algorithm.ES256, MESSAGE)
    assert time.monotonic() - started < openbao_durable.settings.timeout_seconds
    with pytest.raises(Unavailable, match="cannot be reached"):
        custody.check()

    openbao_durable.restart(unseal=False)
    with pytest.raises(Unavailable, match="sealed"):
        custody.check()
    with pytest.raises(Unavailable, match="sealed"):
        custody.sign_many(generated.key_ref, Algorithm.ES256, [MESSAGE])

    openbao_durable.unseal()
    custody.check()
    assert verifies(public, MESSAGE, custody.sign(generated.key_ref, Algorithm.ES256, MESSAGE))
    assert all(
        verifies(public, MESSAGE, s) for s in custody.sign_many(generated.key_ref, Algorithm.ES256, [MESSAGE] * 3)
    )


def test_a_hung_server_is_unavailable_after_the_timeout_not_a_hang(openbao_durable: DurableOpenBao) -> None:
    settings = dataclasses.replace(openbao_durable.settings, timeout_seconds=0.5)
    custody = VaultTransitCustody(settings)
    generated = custody.generate(Algorithm.EDDSA)

    openbao_durable.freeze()
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable, match=r"did not answer within 0\.5 s"):
            custody.sign(generated.key_ref, Algorithm.EDDSA, MESSAGE)
        # Far below a hang, with room for a loaded 2-core machine (a connect and a read timeout, retries off).
        assert time.monotonic() - started < 4.0
    finally:
        openbao_durable.thaw()

    assert verifies(jwk_key(generated.public_jwk), MESSAGE, custody.sign(generated.key_ref, Algorithm.EDDSA, MESSAGE))
