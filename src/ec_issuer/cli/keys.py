"""`ec-issuer keys …`: the key lifecycle from the command line, the same service calls as the admin API."""

from __future__ import annotations

from pathlib import Path

import click

from ec_issuer.api.presenters import key_out
from ec_issuer.cli.common import container_for_command, issuer_for_command, issuer_option, print_json
from ec_issuer.core.validation import parse_command
from ec_issuer.keys.commands import AddKey, RevokeKey
from ec_issuer.keys.model import Algorithm

_ALGORITHMS = click.Choice([a.value for a in Algorithm])
_key_option = click.option("--key", "key_id", required=True, help="The key's kid or its fragment (after '#').")
_backend_option = click.option(
    "--backend", help="local, pkcs11, vault or kms (configured ones only; default KEY_BACKEND_DEFAULT)."
)


@click.group()
def keys() -> None:
    """Issuer signing keys: generate, import, rotate, activate, retire, revoke."""


@keys.command("generate")
@issuer_option
@click.option("--algorithm", type=_ALGORITHMS, default=Algorithm.ES256.value)
@_backend_option
@click.option("--activate", is_flag=True, default=None, help="Sign with it at once; the current key retires.")
def keys_generate(issuer_ref: str, algorithm: str, backend: str | None, activate: bool | None) -> None:
    """Generate a key: active if the issuer has none of its algorithm, else pending (published, not signing)."""
    _add(issuer_ref, {"algorithm": algorithm, "backend": backend, "activate": activate})


@keys.command("import")
@issuer_option
@click.option("--algorithm", type=_ALGORITHMS, default=Algorithm.ES256.value)
@_backend_option
@click.option("--reference", help="pkcs11 label, vault transit key (name[@version]) or kms key id/ARN/alias.")
@click.option(
    "--private-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="local backend: an unencrypted PEM private key or a private JWK; read, then kept encrypted.",
)
@click.option("--activate", is_flag=True, default=None, help="Sign with it at once; the current key retires.")
def keys_import(
    issuer_ref: str,
    algorithm: str,
    backend: str | None,
    reference: str | None,
    private_key_file: Path | None,
    activate: bool | None,
) -> None:
    """Take over a key that exists already."""
    if (reference is None) == (private_key_file is None):
        raise click.UsageError("give exactly one of --reference or --private-key-file")
    material = reference if reference is not None else (private_key_file or Path()).read_text()
    _add(issuer_ref, {"algorithm": algorithm, "backend": backend, "material": material, "activate": activate})


@keys.command("list")
@issuer_option
def keys_list(issuer_ref: str) -> None:
    """List an issuer's keys (public parts), in every state."""
    issuer = issuer_for_command(issuer_ref)
    print_json([key_out(k) for k in container_for_command().keys.for_issuer(issuer.slug)])


@keys.command("rotate")
@issuer_option
@click.option("--algorithm", type=_ALGORITHMS, default=Algorithm.ES256.value)
@_backend_option
def keys_rotate(issuer_ref: str, algorithm: str, backend: str | None) -> None:
    """A new key signs from now on; the current one retires and stays published."""
    issuer = issuer_for_command(issuer_ref)
    print_json(key_out(container_for_command().keys.rotate(issuer, Algorithm(algorithm), backend)))


@keys.command("activate")
@issuer_option
@_key_option
def keys_activate(issuer_ref: str, key_id: str) -> None:
    """Make a pending or retired key the signer; the current one retires."""
    print_json(key_out(container_for_command().keys.activate(issuer_for_command(issuer_ref), key_id)))


@keys.command("retire")
@issuer_option
@_key_option
def keys_retire(issuer_ref: str, key_id: str) -> None:
    """Stop signing with a key; it stays published so its credentials verify."""
    print_json(key_out(container_for_command().keys.retire(issuer_for_command(issuer_ref), key_id)))


@keys.command("revoke")
@issuer_option
@_key_option
@click.option("--reason", required=True, help="Why, for the record.")
def keys_revoke(issuer_ref: str, key_id: str, reason: str) -> None:
    """Revoke a compromised key: unpublished, and its credentials no longer verify."""
    command = parse_command(RevokeKey, {"reason": reason})
    print_json(key_out(container_for_command().keys.revoke(issuer_for_command(issuer_ref), key_id, command.reason)))


def _add(issuer_ref: str, fields: dict[str, object]) -> None:
    issuer = issuer_for_command(issuer_ref)
    command = parse_command(AddKey, {k: v for k, v in fields.items() if v is not None})
    print_json(key_out(container_for_command().keys.add(issuer, command.to_new_key())))
