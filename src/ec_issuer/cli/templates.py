"""`ec-issuer templates …`: credential templates from the command line, the same service calls as the admin API."""

from __future__ import annotations

from pathlib import Path

import click

from ec_issuer.api.presenters import template_out
from ec_issuer.cli.common import container_for_command, issuer_for_command, issuer_option, print_json
from ec_issuer.core.encoding import loads
from ec_issuer.oid4vci.template_commands import parse_template


@click.group()
def templates() -> None:
    """Credential templates: achievements offered under credential configurations of their own."""


@templates.command("put")
@issuer_option
@click.argument("template_id")
@click.argument("template_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def templates_put(issuer_ref: str, template_id: str, template_file: Path) -> None:
    """Create or replace a template from a JSON file holding the body of
    PUT /api/v1/issuers/{issuer}/credential-templates/{id}."""
    container = container_for_command()
    try:
        body = loads(template_file.read_bytes())
    except ValueError as exc:
        raise click.ClickException(f"{template_file} is not valid JSON: {exc}") from None
    issuer = issuer_for_command(issuer_ref)
    operator = container.access.operator_client()
    published = container.templates.publish(operator, issuer, template_id, parse_template(body))
    print_json(template_out(published.template))


@templates.command("list")
@issuer_option
def templates_list(issuer_ref: str) -> None:
    """The issuer's templates that are not retired."""
    templates_of = container_for_command().templates.active(issuer_for_command(issuer_ref))
    print_json([template_out(template) for template in templates_of])


@templates.command("retire")
@issuer_option
@click.argument("template_id")
def templates_retire(issuer_ref: str, template_id: str) -> None:
    """No new offers from the template; those made already stay redeemable."""
    container = container_for_command()
    container.templates.retire(container.access.operator_client(), issuer_for_command(issuer_ref), template_id)
    click.echo(f"retired credential template '{template_id}'")
