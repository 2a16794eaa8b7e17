"""Independent status list decoders: npm packages in a separate Node process, offline.

`tests/e2e/js/decode-status-list.mjs` decodes

- a W3C Bitstring Status List ``encodedList`` with Digital Bazaar's @digitalbazaar/vc-bitstring-status-list
  (``decodeList``, then ``getStatus`` per index);
- an IETF Token Status List ``lst`` with the OpenWallet Foundation's @sd-jwt/jwt-status-list
  (``StatusList.decompressStatusList``), or a whole Status List Token JWT (``getListFromStatusListJWT``; the
  signature is not checked, only the payload is read).

Neither package shares code with ours, so agreement between our encoders and these decoders checks the bit
order, the compression and the base64url/multibase framing against a second reading of the specifications.
Like the other Node helpers, they skip when Node.js or the npm packages are missing, and fail in CI.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.services import require_node, unavailable

JS_DIR = Path(__file__).resolve().parent / "js"
STATUS_DECODER = JS_DIR / "decode-status-list.mjs"
NODE_TIMEOUT_SECONDS = 60
STATUS_PACKAGES = ("@digitalbazaar/vc-bitstring-status-list", "@sd-jwt/jwt-status-list")


def require_node_status_decoders() -> str:
    """`node`, with the npm packages of the status list decoders installed (skip locally, fail in CI)."""
    node = require_node()
    missing = [package for package in STATUS_PACKAGES if not (JS_DIR / "node_modules" / package).is_dir()]
    if missing:
        unavailable(f"npm packages {', '.join(missing)}", "run `just dependencies` (npm ci --prefix tests/e2e/js)")
    return node


def _decode(request: dict[str, Any]) -> dict[str, Any]:
    completed = subprocess.run(
        [require_node_status_decoders(), str(STATUS_DECODER)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, f"decode-status-list.mjs failed: {completed.stderr}"
    answer = json.loads(completed.stdout)
    assert isinstance(answer, dict), completed.stdout
    return answer


def _by_index(answer: dict[str, Any], field: str, indices: list[int]) -> dict[int, Any]:
    """The answer's per-index map with integer keys; every asked index must be there, nothing else."""
    values: dict[str, Any] = answer[field]
    by_index = {int(key): value for key, value in values.items()}
    assert set(by_index) == set(indices), f"asked for {sorted(set(indices))}, got {sorted(by_index)}"
    return by_index


def node_decode_bitstring(encoded_list: str, indices: list[int]) -> dict[str, Any]:
    """Decode a Bitstring Status List ``encodedList`` with @digitalbazaar/vc-bitstring-status-list.

    Returns ``{"length": <entries>, "bits": {index: bool}, "setCount": <set bits in the whole list>}``, the
    ``bits`` keys being the asked indices (as ints).
    """
    answer = _decode({"kind": "bitstring", "encodedList": encoded_list, "indices": list(indices)})
    answer["bits"] = _by_index(answer, "bits", indices)
    return answer


def node_decode_token_list(lst: str, bits: int, indices: list[int]) -> dict[str, Any]:
    """Decode a Token Status List ``lst`` of ``bits``-bit entries with @sd-jwt/jwt-status-list.

    Returns ``{"length": <entries>, "bitsPerStatus": bits, "values": {index: int}, "nonZeroCount": <n>}``;
    ``length`` counts every entry the byte array holds (padding of the last byte included).
    """
    answer = _decode({"kind": "token", "lst": lst, "bits": bits, "indices": list(indices)})
    answer["values"] = _by_index(answer, "values", indices)
    return answer


def node_decode_token_jwt(jwt: str, indices: list[int]) -> dict[str, Any]:
    """Read a Status List Token (compact JWS) with @sd-jwt/jwt-status-list, without checking its signature.

    Returns what `node_decode_token_list` returns, plus ``"claims": {"sub", "iat", "ttl"}`` and
    ``"header": {"alg", "typ"}`` (None for an absent claim or header parameter).
    """
    answer = _decode({"kind": "token-jwt", "jwt": jwt, "indices": list(indices)})
    answer["values"] = _by_index(answer, "values", indices)
    return answer
