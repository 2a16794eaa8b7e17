"""AWS KMS for the tests: moto's in-process double, because real AWS KMS cannot run here.

moto (`mock_aws`) answers boto3 calls from memory: keys are created, described, aliased and used for
`MessageType=RAW` ECDSA P-256 signatures that verify. Where it is not faithful to KMS, tests must not
trust it, and the adapter must not be bent to suit it:

- `MessageType=DIGEST`: moto hashes the digest again, so its signature does not verify; real KMS signs
  the digest as given. The DIGEST path is tested with a botocore Stubber instead.
- Key spec `ECC_NIST_EDWARDS25519` / `ED25519_SHA_512`: rejected by moto (real KMS has supported them
  since 2025). EdDSA is tested with a Stubber, against the request shapes of the AWS API reference.
- Disabled and pending-deletion keys still sign under moto; real KMS answers `DisabledException` and
  `KMSInvalidStateException`. Those answers are tested with a Stubber.
- The 4096-byte limit of RAW messages is not enforced, and `DisableKey` accepts only a key id, not an
  ARN. A key created without `KeyUsage` is described without one, and moto lets ECC keys have
  `ENCRYPT_DECRYPT` usage, which real KMS refuses: tests spell out realistic key specs and usages.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any, NamedTuple

import boto3
import pytest
from moto import mock_aws

from ec_issuer.config import KmsSettings

REGION = "eu-west-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


class MotoKms(NamedTuple):
    settings: KmsSettings
    client: Any  # a boto3 KMS client; boto3 has no types


def use_fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials that can never reach a real AWS account, and no profile or instance metadata."""
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(name="moto_kms")
def moto_kms_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoKms]:
    """(settings, client) of an empty moto KMS; every boto3 client made meanwhile talks to it."""
    use_fake_credentials(monkeypatch)
    with mock_aws():
        yield MotoKms(KmsSettings(region=REGION), boto3.client("kms", region_name=REGION))


def closed_port() -> int:
    """A local TCP port nothing listens on (it was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
