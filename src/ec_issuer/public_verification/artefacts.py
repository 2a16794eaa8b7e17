"""Printable faces of a validation credential: an A4 certificate (PDF) and a square badge (PNG), each with a QR
code of the credential's verification page.

The certificate is drawn by the European Digital Credential page renderer (`elm/page.py`) from a template of its
own, at twice the renderer's 96 dpi so that text and QR code stay sharp in print, and wrapped in a PDF by Pillow.
Both show the credential's status at the time they are drawn: a revoked, suspended, expired or unverifiable
credential gets the word stamped across it, so that a copy printed after revocation does not look valid.
They carry no more than the public verification page shows.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Final

import segno
from PIL import Image, ImageDraw, ImageFont

from ec_issuer.core.encoding import format_datetime
from ec_issuer.elm.page import (
    A4_HEIGHT,
    A4_WIDTH,
    DEFAULT_FONT,
    PageContent,
    PageTemplate,
    clean_text,
    format_date,
    render_page,
)
from ec_issuer.public_verification.facts import PublicFacts, ValidationFacts
from ec_issuer.public_verification.service import Verdict

_SCALE: Final = 2  # against the renderer's A4 at 96 dpi
PDF_DPI: Final = 96.0 * _SCALE
_QR_BOX: Final = 150 * _SCALE  # the renderer's badge box at this scale
BADGE_SIZE: Final = 600
_MAX_FACT: Final = 300

CERTIFICATE_TEMPLATE: Final = PageTemplate(
    width=A4_WIDTH * _SCALE,
    height=A4_HEIGHT * _SCALE,
    margin=30 * _SCALE,
    border_width=3 * _SCALE,
    padding=40 * _SCALE,
    heading="Validation certificate",
    intro="This certifies that a file passed the validation workflow",
    completion="in the validation run",
    awarding_body_label="Issuer",
    date_label="Issued on",
    draw_logo=False,
    png_palette=False,
)

_VERDICT_COLOURS: Final = {
    Verdict.VALID: "#1a7f37",
    Verdict.REVOKED: "#c62828",
    Verdict.SUSPENDED: "#b26a00",
    Verdict.EXPIRED: "#b26a00",
    Verdict.INVALID: "#c62828",
    Verdict.UNKNOWN: "#5b6573",
}


def artefact_tag(name: str, credential_id: str, verdict: Verdict, day: date) -> str:
    """What a drawing depends on, as an entity tag: the artefact, the credential, the status it shows, and the
    day (a certificate dates the status it shows). Bump the trailing version when the drawing changes."""
    return hashlib.sha256(f"{name}|{credential_id}|{verdict.value}|{day}|1".encode()).hexdigest()[:32]


class DrawnArtefacts:
    """Certificates and badges drawn already, by their entity tag (`artefact_tag`).

    Drawing a certificate costs about a tenth of a second of CPU, and the same few links are opened again and
    again (the QR code and shared links point at them): without this, anyone could keep a worker busy by
    reloading one certificate. A tag names everything the drawing depends on, so a drawing found here is the
    one that would be drawn now. Bounded by total size; the least recently used drawing goes first."""

    def __init__(self, max_bytes: int = 32 * 1024 * 1024) -> None:
        self._max_bytes = max_bytes
        self._held_bytes = 0
        self._drawings: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, tag: str, draw: Callable[[], bytes]) -> bytes:
        with self._lock:
            drawn = self._drawings.get(tag)
            if drawn is not None:
                self._drawings.move_to_end(tag)
                return drawn
        drawn = draw()  # outside the lock: two first requests for one tag may both draw, and that is harmless
        if len(drawn) > self._max_bytes:
            return drawn
        with self._lock:
            if tag not in self._drawings:
                self._drawings[tag] = drawn
                self._held_bytes += len(drawn)
            while self._held_bytes > self._max_bytes:
                _, forgotten = self._drawings.popitem(last=False)
                self._held_bytes -= len(forgotten)
        return drawn


def certificate_pdf(facts: PublicFacts, verdict: Verdict, page_url: str, now: datetime) -> bytes:
    validation = facts.validation
    if validation is None:
        raise ValueError("certificates are drawn for validation credentials only")
    issued = facts.valid_from
    content = PageContent(
        title=f"Run {validation.run_id or 'unnamed'}",
        learner_name=validation.workflow or validation.workflow_id or "Unnamed workflow",
        awarding_body=facts.issuer_name or facts.issuer_id or "Unnamed issuer",
        awarded_on=issued.date() if issued else "",
        facts=_certificate_facts(facts, validation, verdict, page_url, now),
        badge_image=qr_png(page_url, _QR_BOX),
        footer=f"Verify at {page_url} - the signed credential, not this page, is authoritative.",
    )
    rendered = render_page(content, CERTIFICATE_TEMPLATE)
    with Image.open(io.BytesIO(rendered.data)) as decoded:
        page = decoded.convert("RGB")
    if verdict is not Verdict.VALID:
        _stamp(page, verdict)
    out = io.BytesIO()
    # Pillow embeds RGB pages as JPEG: full chroma resolution keeps thin coloured strokes and QR modules crisp.
    page.save(
        out,
        "PDF",
        resolution=PDF_DPI,
        quality=90,
        subsampling=0,
        title=f"Validation certificate {facts.credential_id}",
        creator="ec-issuer",
    )
    return out.getvalue()


def _certificate_facts(
    facts: PublicFacts, validation: ValidationFacts, verdict: Verdict, page_url: str, now: datetime
) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = [("Result", validation.result or "not stated")]
    if validation.completed_at is not None:
        rows.append(("Completed", format_datetime(validation.completed_at)))
    content_hash = validation.content_hash
    rows.append(("Content SHA-256", content_hash.hex if content_hash else validation.hash_problem or "not stated"))
    if validation.media_type:
        rows.append(("Media type", validation.media_type))
    if validation.filename:
        rows.append(("File name", validation.filename))
    if validation.size is not None:
        rows.append(("File size", f"{validation.size:,} bytes"))
    if validation.validators:
        rows.append(("Validators", _validator_list(validation)))
    rows.append(("Credential", facts.credential_id))
    rows.append(("Status", f"{verdict.label} on {format_date(now.date())}"))
    rows.append(("Verify at", page_url))
    return [(label, clean_text(value, _MAX_FACT)) for label, value in rows]


def _validator_list(validation: ValidationFacts) -> str:
    names = [" ".join(part for part in (v.code, v.version) if part) for v in validation.validators]
    if validation.more_validators:
        names.append(f"and {validation.more_validators} more")
    return ", ".join(names)


def badge_png(facts: PublicFacts, verdict: Verdict, page_url: str) -> bytes:
    """A square badge: what was validated, the outcome, and the QR code of the verification page."""
    validation = facts.validation
    if validation is None:
        raise ValueError("badges are drawn for validation credentials only")
    size = BADGE_SIZE
    colour = _VERDICT_COLOURS[verdict]
    image = Image.new("RGB", (size, size), "#ffffff")
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle((6, 6, size - 7, size - 7), radius=36, outline=colour, width=8)
    heading = "VALIDATED" if verdict is Verdict.VALID else verdict.label.upper()
    band = 96
    pen.rounded_rectangle((6, 6, size - 7, band), radius=36, fill=colour, corners=(True, True, False, False))
    _centred(pen, heading, _font(44), size // 2, 30, size - 80, "#ffffff")
    lines: Sequence[tuple[str, int, str]] = (
        (validation.workflow or validation.workflow_id or "Unnamed workflow", 30, "#1f2328"),
        (_outcome_line(validation, facts), 20, "#5b6573"),
        (f"Issued by {facts.issuer_name or facts.issuer_id or 'an unnamed issuer'}", 18, "#5b6573"),
    )
    y = band + 22
    for text, font_size, fill in lines:
        font = _font(font_size)
        _centred(pen, text, font, size // 2, y, size - 80, fill)
        y += round(font_size * 1.45)
    qr_side = size - y - 70
    qr = Image.open(io.BytesIO(qr_png(page_url, qr_side)))
    image.paste(qr.convert("RGB"), ((size - qr.width) // 2, y + 4))
    _centred(pen, "Scan to verify", _font(18), size // 2, size - 52, size - 80, "#5b6573")
    out = io.BytesIO()
    image.save(out, "PNG", optimize=False, compress_level=6)
    return out.getvalue()


def _outcome_line(validation: ValidationFacts, facts: PublicFacts) -> str:
    when = validation.completed_at or facts.valid_from
    result = validation.result or "not stated"
    return f"{result} on {format_date(when.date())}" if when else result


def qr_png(text: str, side: int) -> bytes:
    """A QR code of `text` as a PNG exactly `side` pixels square: the largest whole number of pixels per module
    that fits, and the rest of the square left white (a wider quiet zone), so that no resampling blurs a module."""
    code = segno.make(text, error="m", micro=False)
    modules = code.symbol_size(scale=1, border=4)[0]
    scale = max(1, side // modules)
    raw = io.BytesIO()
    code.save(raw, kind="png", scale=scale, border=4)
    with Image.open(io.BytesIO(raw.getvalue())) as drawn:
        symbol = drawn.convert("L")
    square = Image.new("L", (max(side, symbol.width), max(side, symbol.height)), 255)
    square.paste(symbol, ((square.width - symbol.width) // 2, (square.height - symbol.height) // 2))
    out = io.BytesIO()
    square.save(out, "PNG")
    return out.getvalue()


def _stamp(page: Image.Image, verdict: Verdict) -> None:
    """The verdict in large letters across the page, at an angle, half transparent so the page stays legible."""
    word = verdict.label.upper()
    font = _font(page.width // 7)
    left, top, right, bottom = (round(edge) for edge in font.getbbox(word))
    layer = Image.new("RGBA", (right - left + 80, bottom - top + 80), (0, 0, 0, 0))
    ImageDraw.Draw(layer).text((40 - left, 40 - top), word, font=font, fill=(*_rgb(_VERDICT_COLOURS[verdict]), 110))
    rotated = layer.rotate(30, expand=True, resample=Image.Resampling.BICUBIC)
    position = ((page.width - rotated.width) // 2, (page.height - rotated.height) // 2)
    page.paste(rotated, position, rotated)


def _centred(
    pen: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, x: int, y: int, width: int, fill: str
) -> None:
    line = text
    while line and font.getlength(line) > width:
        line = line[:-2] + "\u2026"
    pen.text((x, y), line, font=font, fill=fill, anchor="ma")


_fonts = threading.local()


def _font(size: int) -> ImageFont.FreeTypeFont:
    # One FreeType face per thread, as in elm/page.py: a face is not safe to draw with from two threads at once.
    cache: dict[int, ImageFont.FreeTypeFont] | None = getattr(_fonts, "by_size", None)
    if cache is None:
        cache = _fonts.by_size = {}
    font = cache.get(size)
    if font is None:
        font = cache[size] = ImageFont.truetype(DEFAULT_FONT, size)
    return font


def _rgb(value: str) -> tuple[int, int, int]:
    return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))
