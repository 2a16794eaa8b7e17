"""What every command shares: one service graph per invocation, and JSON output."""

from __future__ import annotations

import logging
from typing import Any

import click

from ec_issuer.bootstrap import Container, build
from ec_issuer.config import DEVELOPMENT, ConfigurationError, load_settings
from ec_issuer.core.encoding import dumps
from ec_issuer.issuers.model import Issuer

_CONTAINER = "ec_issuer.container"


def container_for_command(dev: bool = False) -> Container:
    """The service graph, built once per command invocation through the composition root, like the app."""
    root = click.get_current_context().find_root()
    container = root.meta.get(_CONTAINER)
    if isinstance(container, Container):
        return container
    try:
        settings = load_settings(mode=DEVELOPMENT if dev else None)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    try:
        built = build(settings)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    root.meta[_CONTAINER] = built
    root.call_on_close(built.engine.dispose)
    return built


issuer_option = click.option("--issuer", "issuer_ref", required=True, help="Issuer slug or DID.")


def issuer_for_command(issuer_ref: str) -> Issuer:
    issuer = container_for_command().issuers.get(issuer_ref)
    if issuer is None:
        raise click.ClickException(f"no issuer '{issuer_ref}'")
    return issuer


def print_json(value: Any) -> None:
    click.echo(dumps(value).decode())
