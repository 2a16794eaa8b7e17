"""`ec-issuer` commands. Each builds the service graph through the composition root, like the app."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from ec_issuer.access.commands import CreateClient
from ec_issuer.api.presenters import (
    client_out,
    credential_full,
    history_out,
    issuer_out,
    lifecycle_change_out,
    verification_out,
)
from ec_issuer.bootstrap import prepare
from ec_issuer.cli.common import container_for_command, print_json
from ec_issuer.cli.events import events, relay
from ec_issuer.cli.keys import keys
from ec_issuer.cli.templates import templates
from ec_issuer.core.encoding import loads
from ec_issuer.core.errors import DomainError
from ec_issuer.core.validation import parse_command
from ec_issuer.credentials.commands import parse_issue_request
from ec_issuer.credentials.reading import normalize_credential_id
from ec_issuer.elm.verifying import is_sealed_file
from ec_issuer.issuers.commands import CreateIssuer
from ec_issuer.keys.model import Algorithm
from ec_issuer.status.model import LifecycleAction, RevocationReason
from ec_issuer.storage.migrate import current_revision, head_revision, upgrade


class _DomainErrorsAsMessages(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DomainError as exc:
            fields = "".join(f"\n  {e.pointer or '(body)'}: {e.detail}" for e in exc.errors)
            raise click.ClickException(f"{exc.detail}{fields}") from None


@click.group(cls=_DomainErrorsAsMessages)
def cli() -> None:
    """ec-issuer: issue, store and verify verifiable educational credentials."""


@cli.command()
@click.option("--dev", is_flag=True, help="Development mode: SQLite, generated secrets, a ready issuer and token.")
@click.option("--workers", type=int, default=None, help="Worker processes (default SERVER_WORKERS or 2).")
def serve(dev: bool, workers: int | None) -> None:
    """Prepare the database and keys, then serve the API with granian."""
    container = container_for_command(dev)
    settings = container.settings
    token = prepare(container)
    container.engine.dispose()
    click.echo(f"ec-issuer {settings.mode} server on http://{settings.server_host}:{settings.server_port}")
    click.echo(f"  public base URL:  {settings.issuer_base_url}")
    click.echo(f"  OpenAPI docs:     {settings.issuer_base_url}/docs")
    if dev and token:
        click.echo(f"  admin token (DEVELOPMENT ONLY): {token}")
        click.echo(f"  try: curl -H 'Authorization: Bearer {token}' {settings.issuer_base_url}/api/v1/issuers")
    sys.stdout.flush()
    env = dict(os.environ, EC_ISSUER_ENV=settings.mode, DB_AUTO_UPGRADE="false")
    argv = [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--factory",
        "--host",
        settings.server_host,
        "--port",
        str(settings.server_port),
        "--workers",
        str(workers or settings.server_workers),
        "--blocking-threads",
        str(settings.server_threads),
        # Bounds: a slow client gets 10 s to send its headers; each worker queues at most 64 requests.
        "--http1-header-read-timeout",
        "10000",
        "--backpressure",
        "64",
        "--log-level",
        "warning",
        "ec_issuer.api.wsgi:create",
    ]
    os.execve(sys.executable, argv, env)  # noqa: S606 - our own interpreter and a fixed argument vector


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    container = container_for_command()
    upgrade(container.engine)
    click.echo(f"database at revision {current_revision(container.engine)}")


@db.command("current")
def db_current() -> None:
    """Show the applied and the latest revision."""
    container = container_for_command()
    click.echo(f"applied: {current_revision(container.engine)}  latest: {head_revision(container.engine)}")


@cli.group()
def issuers() -> None:
    """Issuing organisations."""


@issuers.command("create")
@click.option("--slug", required=True)
@click.option("--name", required=True)
@click.option("--url")
@click.option("--email")
@click.option("--image")
@click.option("--root", is_flag=True, help="Identify this issuer as did:web:<host> itself.")
@click.option(
    "--did-key",
    type=click.Choice([a.value for a in Algorithm]),
    help="Identify the issuer by the did:key of a new key of this algorithm (it can never rotate).",
)
@click.option("--key-backend", help="With --did-key: where that key lives (default KEY_BACKEND_DEFAULT).")
@click.option(
    "--default-format",
    type=click.Choice(["vc+jwt", "data-integrity", "both"]),
    default="vc+jwt",
    help="How credentials are secured when a request does not say.",
)
def issuers_create(
    slug: str,
    name: str,
    url: str | None,
    email: str | None,
    image: str | None,
    root: bool,
    did_key: str | None,
    key_backend: str | None,
    default_format: str,
) -> None:
    """Register an issuer (did:web under ISSUER_BASE_URL, or did:key with --did-key)."""
    container = container_for_command()
    did_key_options = (
        None if did_key is None else {k: v for k, v in (("algorithm", did_key), ("backend", key_backend)) if v}
    )
    fields = {
        "slug": slug,
        "name": name,
        "url": url,
        "email": email,
        "image": image,
        "root": root,
        "didKey": did_key_options,
        "defaultFormat": default_format,
    }
    command = parse_command(CreateIssuer, {k: v for k, v in fields.items() if v is not None})
    print_json(issuer_out(container.issuers.create(command), container.layout))


@issuers.command("list")
def issuers_list() -> None:
    """List every issuer."""
    container = container_for_command()
    print_json([issuer_out(i, container.layout) for i in container.issuers.all()])


@cli.group()
def clients() -> None:
    """API clients and their tokens."""


@clients.command("create")
@click.option("--name", required=True)
@click.option("--issuer", "issuer_scope", multiple=True, help="Limit to this issuer slug (repeatable).")
@click.option("--achievement", "achievement_scope", multiple=True, help="Limit to this achievement id (repeatable).")
@click.option("--admin", is_flag=True, help="May register issuers, keys and clients.")
def clients_create(name: str, issuer_scope: tuple[str, ...], achievement_scope: tuple[str, ...], admin: bool) -> None:
    """Register a client and print its token. The token is not stored and cannot be shown again."""
    container = container_for_command()
    command = parse_command(
        CreateClient,
        {
            "name": name,
            "issuers": list(issuer_scope) or None,
            "achievements": list(achievement_scope) or None,
            "admin": admin,
        },
    )
    registered = container.access.create(command)
    print_json(client_out(registered.client, registered.token))


@cli.group()
def credentials() -> None:
    """Issued credentials."""


@credentials.command("issue")
@click.argument("request_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--idempotency-key")
def credentials_issue(request_file: Path, idempotency_key: str | None) -> None:
    """Issue from a JSON file holding the same body as POST /api/v1/credentials."""
    container = container_for_command()
    try:
        body = loads(request_file.read_bytes())
    except ValueError as exc:
        raise click.ClickException(f"{request_file} is not valid JSON: {exc}") from None
    operator = container.access.operator_client()
    outcome = container.issuing.issue(operator, parse_issue_request(body), idempotency_key)
    shown = credential_full(outcome.credential, container.clock.now())
    european = outcome.credential if outcome.credential.is_sealed_file else outcome.companion
    if european is not None:
        shown["europass"] = {"credentialId": european.id, "export": f"ec-issuer credentials export --elm {european.id}"}
    print_json(shown)


@credentials.command("show")
@click.argument("credential_id")
@click.option("--jws", "as_jws", is_flag=True, help="Print only the compact JWS (vc+jwt credentials).")
def credentials_show(credential_id: str, as_jws: bool) -> None:
    """Show a stored credential."""
    container = container_for_command()
    credential = container.reading.get(container.access.operator_client(), credential_id)
    if as_jws:
        if credential.jws is None:
            raise click.ClickException(f"this credential is secured as {credential.format}: it has no JWS")
        click.echo(credential.jws)
    else:
        print_json(credential_full(credential, container.clock.now()))


@credentials.command("export")
@click.argument("credential_id")
@click.option("--elm", "as_elm", is_flag=True, help="Export the sealed European Digital Credential.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=True, path_type=Path),
    help="A file, or a directory for <title>.jsonld; default: standard output.",
)
def credentials_export(credential_id: str, as_elm: bool, output: Path | None) -> None:
    """Export the sealed EDC (ELM 3.2) of a credential, or of the Open Badge issued with it, for Europass."""
    if not as_elm:
        raise click.UsageError("only --elm exports exist")
    container = container_for_command()
    sealed = container.european_files.for_admin(container.access.operator_client(), credential_id)
    if output is None:
        click.echo(sealed.content.decode("utf-8"))
        return
    target = output / sealed.file_name if output.is_dir() else output
    target.write_bytes(sealed.content)
    click.echo(str(target))


@credentials.command("verify")
@click.argument("source")
def credentials_verify(source: str) -> None:
    """Verify a credential: a file holding a compact JWS, a credential with an embedded proof or a sealed
    European Digital Credential, or the id of a stored credential (every artefact it has)."""
    container = container_for_command()
    path = Path(source)
    if path.is_file():
        text = path.read_text().strip()
        if text.startswith("{"):
            try:
                document = loads(text)
            except ValueError as exc:
                raise click.ClickException(f"{source} is not valid JSON: {exc}") from None
            result = (
                container.verifier.verify_sealed(text)
                if is_sealed_file(document)
                else container.verifier.verify_document(document)
            )
        else:
            result = container.verifier.verify(text)
    else:
        stored = container.reading.get(container.access.operator_client(), source)
        result = container.verifier.verify_stored(stored)
    print_json(verification_out(result))
    if not result.verified:
        sys.exit(1)


def _lifecycle_change(
    credential_id: str, action: LifecycleAction, reason: str | None, reason_code: str | None = None
) -> None:
    container = container_for_command()
    outcome = container.lifecycle.change(
        container.access.operator_client(),
        normalize_credential_id(credential_id),
        action,
        reason_code=RevocationReason.parse(reason_code, pointer="--reason-code") if reason_code else None,
        reason=reason,
    )
    print_json(lifecycle_change_out(outcome, container.clock.now()))


@credentials.command("revoke")
@click.argument("credential_id")
@click.option(
    "--reason-code", default="unspecified", show_default=True, help="Why, from a fixed list (docs/status.md)."
)
@click.option("--reason", help="Free text kept in the history.")
def credentials_revoke(credential_id: str, reason_code: str, reason: str | None) -> None:
    """Revoke a credential, permanently. Revoking a revoked credential changes nothing."""
    _lifecycle_change(credential_id, LifecycleAction.REVOKE, reason, reason_code)


@credentials.command("suspend")
@click.argument("credential_id")
@click.option("--reason", help="Free text kept in the history.")
def credentials_suspend(credential_id: str, reason: str | None) -> None:
    """Suspend a credential until it is reinstated."""
    _lifecycle_change(credential_id, LifecycleAction.SUSPEND, reason)


@credentials.command("reinstate")
@click.argument("credential_id")
@click.option("--reason", help="Free text kept in the history.")
def credentials_reinstate(credential_id: str, reason: str | None) -> None:
    """Reinstate a suspended credential."""
    _lifecycle_change(credential_id, LifecycleAction.REINSTATE, reason)


@credentials.command("history")
@click.argument("credential_id")
def credentials_history(credential_id: str) -> None:
    """A credential's lifecycle history, oldest first."""
    container = container_for_command()
    credential_id = normalize_credential_id(credential_id)
    events = container.lifecycle.history(container.access.operator_client(), credential_id)
    print_json(history_out(credential_id, events))


@credentials.command("expire")
def credentials_expire() -> None:
    """Write down that credentials past their validUntil are expired (the service also does this every
    EXPIRY_SWEEP_SECONDS). Safe to run while the service and other sweeps run."""
    container = container_for_command()
    print_json({"expired": container.expiry.run()})


cli.add_command(keys)
cli.add_command(relay)
cli.add_command(events)
cli.add_command(templates)
