"""QR codes of offer links, drawn with segno (pure Python, no imaging library)."""

from __future__ import annotations

import io

import segno

# Medium error correction survives a phone camera at an angle; a scale of 6 px per module keeps a link of
# about 200 characters legible on screen and in print.
_ERROR = "m"
_SCALE = 6
_BORDER = 4  # the quiet zone the QR specification asks for


def qr_png(text: str) -> bytes:
    out = io.BytesIO()
    segno.make(text, error=_ERROR, micro=False).save(out, kind="png", scale=_SCALE, border=_BORDER)
    return out.getvalue()


def qr_svg(text: str) -> bytes:
    out = io.BytesIO()
    segno.make(text, error=_ERROR, micro=False).save(
        out, kind="svg", scale=_SCALE, border=_BORDER, xmldecl=False, title="Credential offer"
    )
    return out.getvalue()
