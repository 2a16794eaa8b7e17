"""Vendored official data files (schemas, contexts); see PROVENANCE.md."""

from __future__ import annotations

from importlib import resources
from typing import Any

from ec_issuer.core.encoding import loads


def load_json(relative_path: str) -> Any:
    return loads(resources.files(__name__).joinpath(relative_path).read_bytes())
