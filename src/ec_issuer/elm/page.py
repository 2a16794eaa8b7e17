"""The rendered page of a European Digital Credential: the image in `displayParameter.individualDisplay
.displayDetail.image`, the human-readable face of the credential (by default 794 x 1123 px, A4 at 96 dpi, as in the
official samples).

Everything on the page is untrusted input. Text is cleaned (control and format characters dropped, whitespace
collapsed), capped in length, wrapped, and cut with an ellipsis so that nothing leaves its box. Embedded images are
raster data the caller has already taken out of a `data:` URI; only PNG, JPEG, GIF and WebP are opened, and their
declared size is checked before any pixel is decoded.

Fonts: Roboto Regular (Apache-2.0, from the `font-roboto` package), which covers the Latin, Greek and Cyrillic
scripts of the EU's official languages, unless the template names another TrueType file; with `font_path=None`,
Pillow's bundled font. A character the font lacks is replaced by its base letters where Unicode has a decomposition
or there is a usual transliteration ("é" → "e", "ß" → "ss", "Ł" → "L"); anything else (CJK, emoji with Roboto) is
drawn as the font's empty box. The credential's data, not its page, is authoritative for the exact spelling.

The default output is a PNG with a 256-colour palette built from the template's colours and the embedded images: about
a quarter of the size of a JPEG of the same page, lossless for the text, and fast to encode (see
bench/elm_page.py).
"""

from __future__ import annotations

import hashlib
import io
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from typing import Final, Literal

from PIL import Image, ImageColor, ImageDraw, ImageFont, UnidentifiedImageError

from ec_issuer.core.errors import FieldError, InvalidInput

A4_WIDTH: Final = 794
A4_HEIGHT: Final = 1123

MAX_IMAGE_BYTES: Final = 8 * 1024 * 1024
MAX_IMAGE_SIDE: Final = 4096
MAX_IMAGE_PIXELS: Final = MAX_IMAGE_SIDE * MAX_IMAGE_SIDE

# Caps on what is read at all, far above what fits on a page: they bound the work of cleaning and wrapping.
MAX_TITLE_CHARS: Final = 300
MAX_NAME_CHARS: Final = 200
MAX_AWARDING_BODY_CHARS: Final = 300
MAX_DATE_CHARS: Final = 100
MAX_DESCRIPTION_CHARS: Final = 2000
MAX_FACTS: Final = 24
MAX_FACT_LABEL_CHARS: Final = 100
MAX_FACT_VALUE_CHARS: Final = 600
MAX_FOOTER_CHARS: Final = 400
MAX_TEMPLATE_TEXT_CHARS: Final = 120

_ELLIPSIS: Final = "\u2026"
_RASTER_FORMATS: Final = ("PNG", "JPEG", "GIF", "WEBP")
_MONTHS: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


# A font with the scripts of every EU official language; Pillow's bundled one has ASCII only.
DEFAULT_FONT: Final[str] = str(resources.files("font_roboto").joinpath("files/Roboto-Regular.ttf"))


@dataclass(frozen=True, slots=True)
class PageContent:
    """What the page shows. `awarded_on` as a date is written in English ("24 November 2026"); as a string it is
    shown as given. Images are raster bytes (PNG, JPEG, GIF, WebP), never URLs."""

    title: str
    learner_name: str
    awarding_body: str
    awarded_on: date | str
    description: str | None = None
    facts: Sequence[tuple[str, str]] = ()
    badge_image: bytes | None = None
    issuer_logo: bytes | None = None
    footer: str | None = None


@dataclass(frozen=True, slots=True)
class PageTemplate:
    """The look of the page; data only, so that it can later come from an issuer's configuration.

    Colours are anything `PIL.ImageColor.getrgb` reads ("#1d3f73", "navy"). `margin` (page edge to frame),
    `border_width` and `padding` (frame to text) are pixels at the template's size; type sizes scale with the page
    against A4 at 96 dpi in either orientation. `png_palette` makes a PNG with 256 colours instead of true colour.
    `font_path` names a TrueType/OpenType file used instead of the bundled font; it is read on first use in each
    thread, so a missing or unreadable file surfaces as OSError from `render_page`.
    """

    width: int = A4_WIDTH
    height: int = A4_HEIGHT
    margin: int = 30
    border_width: int = 3
    padding: int = 40
    border: Literal["none", "single", "double"] = "double"
    background: str = "#ffffff"
    accent: str = "#1d3f73"
    text: str = "#1f2328"
    muted: str = "#5b6573"
    rule: str = "#d5dae1"
    heading: str = "Certificate"
    intro: str = "This is to certify that"
    completion: str = "has successfully completed"
    awarding_body_label: str = "Awarding body"
    date_label: str = "Date of award"
    draw_badge: bool = True
    draw_logo: bool = True
    output_format: Literal["PNG", "JPEG"] = "PNG"
    png_palette: bool = True
    jpeg_quality: int = 85
    font_path: str | None = DEFAULT_FONT

    def __post_init__(self) -> None:
        if not (256 <= self.width <= MAX_IMAGE_SIDE and 256 <= self.height <= MAX_IMAGE_SIDE):
            raise ValueError(f"page width and height must be between 256 and {MAX_IMAGE_SIDE} pixels")
        if min(self.margin, self.border_width, self.padding) < 0:
            raise ValueError("margin, border_width and padding must not be negative")
        frame = self.margin + self.border_width + 7 + self.padding
        if 4 * frame > min(self.width, self.height):
            raise ValueError("margin, border and padding must leave at least half the page for content")
        if self.output_format not in ("PNG", "JPEG"):
            raise ValueError("output_format must be PNG or JPEG")
        if self.border not in ("none", "single", "double"):
            raise ValueError("border must be none, single or double")
        if not 1 <= self.jpeg_quality <= 95:
            raise ValueError("jpeg_quality must be between 1 and 95")
        for name in ("background", "accent", "text", "muted", "rule"):
            ImageColor.getrgb(getattr(self, name))


DEFAULT_TEMPLATE: Final = PageTemplate()


@dataclass(frozen=True, slots=True)
class RenderedPage:
    """The encoded image, ready to be base64-encoded into a MediaObject with the matching file-type concept."""

    data: bytes
    media_type: Literal["image/png", "image/jpeg"]
    width: int
    height: int


class UnusableImage(InvalidInput):
    """An embedded image cannot be drawn. `field` names the PageContent field ("badge_image" or "issuer_logo") so
    that the caller can point at its own input instead; `reason` is the sentence fragment that says why."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(
            f"the {field_name.replace('_', ' ')} cannot be drawn on the credential page: {reason}",
            [FieldError(f"/{field_name}", reason)],
        )
        self.field = field_name
        self.reason = reason


def render_page(content: PageContent, template: PageTemplate = DEFAULT_TEMPLATE) -> RenderedPage:
    """Draw the page and encode it as the template asks. Deterministic: the same input gives the same bytes.
    Raises UnusableImage for an embedded image that cannot be drawn."""
    layout = _Layout(template, _fonts_for(template.font_path))
    badge = None
    if template.draw_badge and content.badge_image is not None:
        badge = _decoded(content.badge_image, "badge_image", layout.badge_box)
    logo = None
    if template.draw_logo and content.issuer_logo is not None:
        logo = _decoded(content.issuer_logo, "issuer_logo", layout.logo_box)
    page, image_boxes = layout.draw(content, badge, logo)
    out = io.BytesIO()
    if template.output_format == "JPEG":
        # 4:4:4: chroma subsampling smears the thin coloured strokes of small text.
        page.save(out, "JPEG", quality=template.jpeg_quality, subsampling=0)
        return RenderedPage(out.getvalue(), "image/jpeg", template.width, template.height)
    if template.png_palette:
        page = _to_palette(page, template, image_boxes)
    page.save(out, "PNG", compress_level=6)
    return RenderedPage(out.getvalue(), "image/png", template.width, template.height)


def format_date(value: date) -> str:
    """English long form, independent of the process locale: '24 November 2026'."""
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


# --- text ---------------------------------------------------------------------------------------------------------

_FOLDS: Final = {
    "ß": "ss",
    "ẞ": "SS",
    "æ": "ae",
    "Æ": "AE",
    "œ": "oe",
    "Œ": "OE",
    "ø": "o",
    "Ø": "O",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ð": "d",
    "Ð": "D",
    "þ": "th",
    "Þ": "Th",
    "\u0131": "i",
    "ħ": "h",
    "Ħ": "H",
    "ŧ": "t",
    "Ŧ": "T",
    "ĸ": "k",
    "ŋ": "ng",
    "Ŋ": "NG",
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u201a": ",",
    "\u201e": '"',
    "\u2032": "'",
    "\u2033": '"',
    "\u2022": "\u00b7",
    "€": "EUR",
    "\u00d7": "x",
}


def clean_text(value: str, limit: int, *, multiline: bool = False) -> str:
    """Untrusted text made safe to lay out: NFC; no control, format, surrogate, private-use or unassigned code
    points; whitespace collapsed (line breaks kept as paragraph breaks when `multiline`); at most `limit`
    characters, the last an ellipsis when cut."""
    # Cut before the per-character work so that a megabyte of input costs no more than a page of it.
    raw = value[: limit * 2 + 16]
    kept: list[str] = []
    for char in raw:
        if char in "\n\r\u2028\u2029":
            kept.append("\n" if multiline else " ")
        elif char.isspace():
            kept.append(" ")
        elif unicodedata.category(char)[0] != "C":
            kept.append(char)
    text = unicodedata.normalize("NFC", "".join(kept))
    paragraphs = (" ".join(part.split()) for part in text.split("\n"))
    text = "\n".join(part for part in paragraphs if part)
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + _ELLIPSIS
    return text


class _Fonts:
    """One font source: FreeType faces by pixel size, measured text widths, and which characters the face has."""

    _MAX_WIDTHS = 20_000

    def __init__(self, font_path: str | None) -> None:
        self._path = font_path
        self._by_size: dict[int, ImageFont.FreeTypeFont] = {}
        self._widths: dict[tuple[int, str], float] = {}
        self._probe = self.get(20)
        # FreeType maps a character the face lacks to glyph 0, the 'notdef' box: a character is missing when it
        # renders exactly as a code point no font defines does.
        self._notdef = self._signature("\U0010fffd")
        self._known: dict[str, bool] = {}

    def get(self, size: int) -> ImageFont.FreeTypeFont:
        font = self._by_size.get(size)
        if font is None:
            if self._path is None:
                loaded = ImageFont.load_default(size=size)
                if not isinstance(loaded, ImageFont.FreeTypeFont):  # pragma: no cover - Pillow without FreeType
                    raise RuntimeError("Pillow was built without FreeType; the credential page cannot be drawn")
                font = loaded
            else:
                font = ImageFont.truetype(self._path, size=size, layout_engine=ImageFont.Layout.BASIC)
            self._by_size[size] = font
        return font

    def width(self, font: ImageFont.FreeTypeFont, text: str) -> float:
        """Advance width of `text`, remembered: measuring is most of the cost of laying out a page."""
        key = (int(font.size), text)
        known = self._widths.get(key)
        if known is None:
            if len(self._widths) >= self._MAX_WIDTHS:
                self._widths.clear()
            known = self._widths[key] = font.getlength(text)
        return known

    def _signature(self, char: str) -> tuple[tuple[int, int], bytes]:
        left, top, right, bottom = self._probe.getbbox(char)
        canvas = Image.new("L", (max(1, int(right - left)), max(1, int(bottom - top))))
        ImageDraw.Draw(canvas).text((-left, -top), char, font=self._probe, fill=255)
        return canvas.size, canvas.tobytes()

    def has(self, char: str) -> bool:
        known = self._known.get(char)
        if known is None:
            known = char == " " or self._signature(char) != self._notdef
            if len(self._known) < 4096:
                self._known[char] = known
        return known

    def displayable(self, text: str) -> str:
        """`text` with the characters this face lacks replaced by base letters where there are some."""
        if text.isascii():
            return text
        return "".join(char if self.has(char) else self._fallback(char) for char in text)

    def _fallback(self, char: str) -> str:
        folded = _FOLDS.get(char)
        if folded is None:
            decomposed = unicodedata.normalize("NFKD", char)
            folded = "".join(part for part in decomposed if not unicodedata.combining(part))
        if folded and folded != char and all(self.has(part) for part in folded):
            return folded
        return char


# FreeType faces must not be used by two threads at once, and one costs about 0.1 ms to load: a cache per thread.
_per_thread = threading.local()


def _fonts_for(font_path: str | None) -> _Fonts:
    cache: dict[str | None, _Fonts] | None = getattr(_per_thread, "fonts", None)
    if cache is None:
        cache = _per_thread.fonts = {}
    fonts = cache.get(font_path)
    if fonts is None:
        fonts = cache[font_path] = _Fonts(font_path)
    return fonts


def _fit_prefix(text: str, font: ImageFont.FreeTypeFont, width: float, suffix: str = "") -> int:
    """Length of the longest prefix of `text` that, followed by `suffix`, is at most `width` wide."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if font.getlength(text[:middle] + suffix) <= width:
            low = middle
        else:
            high = middle - 1
    return low


def _ellipsize(text: str, font: ImageFont.FreeTypeFont, width: float) -> str:
    cut = _fit_prefix(text, font, width, _ELLIPSIS)
    return text[:cut].rstrip(" ,;:-") + _ELLIPSIS


def _wrapped(text: str, fonts: _Fonts, font: ImageFont.FreeTypeFont, width: float) -> Iterator[str]:
    """Greedy word wrap; a word wider than the line is broken between characters. Lines are measured as the sum of
    their words and spaces (kerning across a space is ignored), so a pixel of slack is kept."""
    width -= 2
    space = fonts.width(font, " ")
    for paragraph in text.split("\n"):
        words: list[str] = []
        used = 0.0
        for word in paragraph.split(" "):
            length = fonts.width(font, word)
            if words and used + space + length <= width:
                words.append(word)
                used += space + length
                continue
            if words:
                yield " ".join(words)
            rest = word
            while length > width:
                cut = max(1, _fit_prefix(rest, font, width))
                yield rest[:cut]
                rest = rest[cut:]
                length = fonts.width(font, rest)
            words, used = [rest], length
        if words:
            yield " ".join(words)


def _wrap(text: str, fonts: _Fonts, font: ImageFont.FreeTypeFont, width: float, max_lines: int) -> list[str]:
    """At most `max_lines` lines; when text is left over, the last line ends in an ellipsis."""
    lines: list[str] = []
    for line in _wrapped(text, fonts, font, width):
        if len(lines) == max_lines:
            lines[-1] = _ellipsize(f"{lines[-1]} {line}", font, width - 2)
            break
        lines.append(line)
    return lines


# --- images -------------------------------------------------------------------------------------------------------

_decode_lock = threading.Lock()
_decode_cache: OrderedDict[tuple[bytes, str, tuple[int, int]], Image.Image] = OrderedDict()
_DECODE_CACHE_SIZE: Final = 32


def _decoded(data: bytes, field_name: str, box: tuple[int, int]) -> Image.Image:
    """`_decode_image`, remembered by content: one achievement's badge is on every page issued for it. Cached images
    are only ever read (pasted), so threads can share them."""
    key = (hashlib.sha256(data).digest(), field_name, box)
    with _decode_lock:
        image = _decode_cache.get(key)
        if image is not None:
            _decode_cache.move_to_end(key)
            return image
    image = _decode_image(data, field_name, box)
    with _decode_lock:
        _decode_cache[key] = image
        while len(_decode_cache) > _DECODE_CACHE_SIZE:
            _decode_cache.popitem(last=False)
    return image


def _decode_image(data: bytes, field_name: str, box: tuple[int, int]) -> Image.Image:
    """Decode an embedded raster image into RGB or RGBA that fits `box`. The declared size is checked before any
    pixel is decoded, so a small file that claims to be huge costs nothing."""
    if len(data) > MAX_IMAGE_BYTES:
        raise UnusableImage(field_name, f"the image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB")
    try:
        with Image.open(io.BytesIO(data), formats=_RASTER_FORMATS) as image:
            width, height = image.size
            if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
                raise UnusableImage(
                    field_name, f"the image is {width} x {height} pixels, more than {MAX_IMAGE_SIDE} on a side"
                )
            if image.format == "JPEG":
                # libjpeg decodes straight at 1/2, 1/4 or 1/8 scale, far cheaper than decoding and then shrinking.
                image.draft("RGB", box)
            image.load()
            converted = _to_rgb_or_rgba(image)
    except UnusableImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own, process-wide limit fired before ours could; with warnings as errors the warning is raised.
        raise UnusableImage(field_name, "the image declares more pixels than allowed") from None
    except UnidentifiedImageError:
        raise UnusableImage(field_name, "the data is not a PNG, JPEG, GIF or WebP image") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise UnusableImage(field_name, f"the image cannot be decoded ({type(exc).__name__})") from None
    # Small badges are enlarged a little so they do not look lost on the page, but not so much that they blur.
    scale = min(box[0] / converted.width, box[1] / converted.height, 3.0)
    size = (max(1, round(converted.width * scale)), max(1, round(converted.height * scale)))
    if size == converted.size:
        return converted
    # reducing_gap first shrinks a large image by a whole factor, much faster than resampling all of it.
    return converted.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)  # pyright: ignore[reportUnknownMemberType]


def _to_rgb_or_rgba(image: Image.Image) -> Image.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if image.mode.startswith("I"):
        # 16-bit greyscale PNG: scale to 8 bits, as a plain conversion would clip everything above 255 to white.
        image = image.convert("I").point(lambda value: value / 256, "L")  # pyright: ignore[reportUnknownMemberType]
    return image.convert("RGBA" if has_alpha else "RGB")


_INK_STEPS: Final = 15
# Pillow maps pixels to a palette through a cache of coarse colour cells, each resolved to the entry nearest the
# cell's middle: an entry this close to a template colour would capture it (the white page would come out grey).
_CLEARANCE: Final = 6


def _to_palette(page: Image.Image, template: PageTemplate, image_boxes: list[tuple[int, int, int, int]]) -> Image.Image:
    """256 colours chosen for this page rather than by a general quantizer: the template's colours exactly, 15
    steps from the background to each ink for anti-aliased text (no visible difference from true colour), and the
    rest for the embedded images, which are mapped with dithering so that photographs do not band. Faster than
    Pillow's fastest quantizer, which also posterizes a photographic badge and turns the white background grey."""
    background = _rgb(template.background)
    inks = (_rgb(template.text), _rgb(template.accent), _rgb(template.muted), _rgb(template.rule))
    exact = (background, *inks)
    colours: dict[tuple[int, int, int], None] = dict.fromkeys(exact)

    def admit(colour: tuple[int, int, int]) -> None:
        red, green, blue = colour
        for other_red, other_green, other_blue in exact:
            if (
                abs(red - other_red) <= _CLEARANCE
                and abs(green - other_green) <= _CLEARANCE
                and abs(blue - other_blue) <= _CLEARANCE
            ):
                return
        colours[colour] = None

    for ink in inks:
        for step in range(1, _INK_STEPS):
            admit(_blend(background, ink, step / _INK_STEPS))
    if image_boxes:
        regions = [page.crop(box) for box in image_boxes]
        strip = Image.new("RGB", (sum(region.width for region in regions), max(r.height for r in regions)))
        x = 0
        for region in regions:
            strip.paste(region, (x, 0))
            x += region.width
        room = 256 - len(colours)
        quantized = strip.quantize(room, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        flat = quantized.getpalette() or []
        for _count, index in quantized.getcolors(room) or []:
            if isinstance(index, int):
                admit((flat[3 * index], flat[3 * index + 1], flat[3 * index + 2]))
    entries = list(colours)[:256]
    palette = Image.new("P", (1, 1))
    palette.putpalette([channel for colour in entries for channel in colour] + [0, 0, 0] * (256 - len(entries)))
    paletted = page.quantize(palette=palette, dither=Image.Dither.NONE)
    for box in image_boxes:
        paletted.paste(page.crop(box).quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG), box[:2])
    return paletted


# --- layout -------------------------------------------------------------------------------------------------------


def _rgb(value: str) -> tuple[int, int, int]:
    colour = ImageColor.getrgb(value)
    return colour[0], colour[1], colour[2]


def _blend(base: tuple[int, int, int], ink: tuple[int, int, int], share: float) -> tuple[int, int, int]:
    return (
        round(base[0] + (ink[0] - base[0]) * share),
        round(base[1] + (ink[1] - base[1]) * share),
        round(base[2] + (ink[2] - base[2]) * share),
    )


@dataclass(slots=True)
class _Block:
    """A stretch of the page's body: its height and how to draw it at a given top."""

    height: int
    paint: Callable[[int], None]
    space_after: int = 0


@dataclass(slots=True)
class _Layout:
    template: PageTemplate
    fonts: _Fonts
    scale: float = field(init=False)
    left: int = field(init=False)
    right: int = field(init=False)
    top: int = field(init=False)
    bottom: int = field(init=False)
    badge_box: tuple[int, int] = field(init=False)
    logo_box: tuple[int, int] = field(init=False)
    image_boxes: list[tuple[int, int, int, int]] = field(init=False, default_factory=list[tuple[int, int, int, int]])

    def __post_init__(self) -> None:
        t = self.template
        # Against A4 in either orientation: a landscape page keeps the type size of a portrait one.
        short, long = sorted((t.width, t.height))
        self.scale = min(short / A4_WIDTH, long / A4_HEIGHT)
        frame = t.margin + self._frame_thickness() + t.padding
        self.left, self.right = frame, t.width - frame
        self.top, self.bottom = frame, t.height - frame
        self.badge_box = (self.px(150), self.px(150))
        self.logo_box = (self.px(220), self.px(64))

    def px(self, value: float) -> int:
        return max(1, round(value * self.scale))

    def _frame_thickness(self) -> int:
        t = self.template
        if t.border == "double":
            return t.border_width + 7
        return t.border_width if t.border == "single" else 0

    def font(self, size: float) -> ImageFont.FreeTypeFont:
        return self.fonts.get(self.px(size))

    @staticmethod
    def pitch(font: ImageFont.FreeTypeFont, leading: float = 1.25) -> int:
        ascent, descent = font.getmetrics()
        return round((ascent + descent) * leading)

    def text(self, value: str, limit: int, *, multiline: bool = False) -> str:
        return self.fonts.displayable(clean_text(value, limit, multiline=multiline))

    def wrap(self, text: str, font: ImageFont.FreeTypeFont, width: float, max_lines: int) -> list[str]:
        return _wrap(text, self.fonts, font, width, max_lines)

    def draw(
        self, content: PageContent, badge: Image.Image | None, logo: Image.Image | None
    ) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
        """The page, and the boxes where images were pasted."""
        t = self.template
        self.image_boxes = []
        page = Image.new("RGB", (t.width, t.height), _rgb(t.background))
        pen = ImageDraw.Draw(page)
        self._draw_frame(pen)
        header_bottom = self._draw_header(page, pen, logo)
        footer_top = self._draw_footer(pen, content.footer)
        band_top = self._draw_signatures(page, pen, content, badge, footer_top)
        self._draw_body(pen, content, header_bottom + self.px(36), band_top - self.px(24))
        return page, self.image_boxes

    def _paste(self, page: Image.Image, image: Image.Image, position: tuple[int, int]) -> None:
        if image.mode == "RGBA":
            page.paste(image, position, image)
        else:
            page.paste(image, position)
        self.image_boxes.append((position[0], position[1], position[0] + image.width, position[1] + image.height))

    def _draw_frame(self, pen: ImageDraw.ImageDraw) -> None:
        t = self.template
        if t.border == "none" or t.border_width == 0:
            return
        accent = _rgb(t.accent)
        outer = t.margin
        pen.rectangle((outer, outer, t.width - 1 - outer, t.height - 1 - outer), outline=accent, width=t.border_width)
        if t.border == "double":
            inner = outer + t.border_width + 6
            pen.rectangle((inner, inner, t.width - 1 - inner, t.height - 1 - inner), outline=accent, width=1)

    def _draw_header(self, page: Image.Image, pen: ImageDraw.ImageDraw, logo: Image.Image | None) -> int:
        """Logo, letter-spaced heading and a short rule under it; returns the y below the rule."""
        t = self.template
        centre = (self.left + self.right) // 2
        width = self.right - self.left
        y = self.top
        if logo is not None:
            self._paste(page, logo, (centre - logo.width // 2, y + (self.logo_box[1] - logo.height) // 2))
            y += self.logo_box[1] + self.px(20)
        heading = self.text(t.heading, MAX_TEMPLATE_TEXT_CHARS).upper()
        if heading:
            font = self.font(40)
            tracking = self.px(6)
            advances = [self.fonts.width(font, char) for char in heading]
            total = sum(advances) + tracking * (len(heading) - 1)
            if total > width:
                # Too long to letter-space: set it as one run, cut if even that does not fit.
                line = self.wrap(heading, font, width, 1)[0]
                pen.text((centre, y), line, font=font, fill=_rgb(t.accent), anchor="ma")
            else:
                x = centre - total / 2
                for char, advance in zip(heading, advances, strict=True):
                    pen.text((x, y), char, font=font, fill=_rgb(t.accent))
                    x += advance + tracking
            y += self.pitch(font, 1.0) + self.px(12)
        half = self.px(40)
        pen.rectangle((centre - half, y, centre + half, y + self.px(2) - 1), fill=_rgb(t.accent))
        return y + self.px(2)

    def _draw_footer(self, pen: ImageDraw.ImageDraw, footer: str | None) -> int:
        """Small print at the foot of the page; returns the y above which the rest must stay."""
        text = self.text(footer, MAX_FOOTER_CHARS) if footer else ""
        if not text:
            return self.bottom
        font = self.font(11)
        lines = self.wrap(text, font, self.right - self.left, 2)
        pitch = self.pitch(font)
        y = self.bottom - pitch * len(lines)
        centre = (self.left + self.right) // 2
        for index, line in enumerate(lines):
            pen.text((centre, y + index * pitch), line, font=font, fill=_rgb(self.template.muted), anchor="ma")
        return y - self.px(16)

    def _draw_signatures(
        self,
        page: Image.Image,
        pen: ImageDraw.ImageDraw,
        content: PageContent,
        badge: Image.Image | None,
        bottom: int,
    ) -> int:
        """The lower band, laid out like the signatures of a diploma: awarding body and date over ruled lines on
        either side, the badge between them as the seal. Returns the band's top."""
        t = self.template
        gap = self.px(16)
        centre = (self.left + self.right) // 2
        column = min((self.right - self.left - self.badge_box[0] - 2 * gap) // 2, self.px(240))
        left_x = centre - self.badge_box[0] // 2 - gap - column
        right_x = centre + self.badge_box[0] // 2 + gap
        value_font, label_font = self.font(15), self.font(11)
        value_pitch, label_pitch = self.pitch(value_font), self.pitch(label_font)
        awarded_on = content.awarded_on
        date_text = format_date(awarded_on) if isinstance(awarded_on, date) else awarded_on
        label_y = bottom - label_pitch
        line_y = label_y - self.px(6)
        columns = (
            (left_x, self.text(content.awarding_body, MAX_AWARDING_BODY_CHARS), t.awarding_body_label),
            (right_x, self.text(date_text, MAX_DATE_CHARS), t.date_label),
        )
        for x, value, label in columns:
            middle = x + column // 2
            lines = self.wrap(value, value_font, column, 3)
            for index, line in enumerate(reversed(lines), start=1):
                position = (middle, line_y - self.px(6) - index * value_pitch)
                pen.text(position, line, font=value_font, fill=_rgb(t.text), anchor="ma")
            pen.line((x, line_y, x + column - 1, line_y), fill=_rgb(t.muted), width=1)
            caption = self.wrap(self.text(label, MAX_TEMPLATE_TEXT_CHARS), label_font, column, 1)
            if caption:
                pen.text((middle, label_y), caption[0], font=label_font, fill=_rgb(t.muted), anchor="ma")
        band_top = line_y - self.px(6) - 3 * value_pitch
        if badge is not None:
            box_top = bottom - self.badge_box[1]
            self._paste(page, badge, (centre - badge.width // 2, box_top + (self.badge_box[1] - badge.height) // 2))
            band_top = min(band_top, box_top)
        return band_top

    def _draw_body(self, pen: ImageDraw.ImageDraw, content: PageContent, top: int, bottom: int) -> None:
        """Intro, learner, title, description and facts, centred in the space between header and lower band. When
        space is short the facts (credits, level, workload) go before the description, which is cut to what is left;
        on a page too small even for the names, the intro lines go and names and title keep one line each."""
        room = bottom - top
        for compact in (False, True):
            blocks = self._heading_blocks(pen, content, compact=compact)
            if sum(block.height + block.space_after for block in blocks) <= room or compact:
                break
        width = self.right - self.left
        font = self.font(14)
        pitch = self.pitch(font, 1.35)
        description = self.text(content.description or "", MAX_DESCRIPTION_CHARS, multiline=True)
        description_gap, facts_gap = self.px(22), self.px(26)
        used = sum(block.height + block.space_after for block in blocks)
        reserved = description_gap + 2 * pitch if description else 0
        facts = self._facts_block(pen, content.facts, room - used - reserved - facts_gap)
        if facts is not None:
            used += facts_gap + facts.height
        if description:
            max_lines = min(5, (room - used - description_gap) // pitch)
            lines = self.wrap(description, font, width * 0.88, max_lines) if max_lines > 0 else []
            if lines:
                if blocks:
                    blocks[-1].space_after = description_gap
                blocks.append(self._centred(pen, lines, font, self.template.text, 1.35, 0))
        if facts is not None:
            if blocks:
                blocks[-1].space_after = facts_gap
            blocks.append(facts)
        total = sum(block.height + block.space_after for block in blocks)
        # A little above the middle of the free space, where a printed certificate sets its text.
        y = top + max(0, (room - total) * 2 // 5)
        for block in blocks:
            block.paint(y)
            y += block.height + block.space_after

    def _heading_blocks(self, pen: ImageDraw.ImageDraw, content: PageContent, *, compact: bool) -> list[_Block]:
        t = self.template
        width = self.right - self.left
        small = self.font(15)
        blocks: list[_Block] = []
        if not compact:
            intro = self.wrap(self.text(t.intro, MAX_TEMPLATE_TEXT_CHARS), small, width, 1)
            blocks.append(self._centred(pen, intro, small, t.muted, 1.25, 10))
        name = self.text(content.learner_name, MAX_NAME_CHARS)
        name_font, name_lines = self._largest_fit(name, (44, 40, 36, 32), width, 1 if compact else 2)
        blocks.append(self._centred(pen, name_lines, name_font, t.text, 1.15, 14))
        if not compact:
            completion = self.wrap(self.text(t.completion, MAX_TEMPLATE_TEXT_CHARS), small, width, 1)
            blocks.append(self._centred(pen, completion, small, t.muted, 1.25, 10))
        title = self.text(content.title, MAX_TITLE_CHARS)
        title_font, title_lines = self._largest_fit(title, (30, 27, 24), width, 1 if compact else 3)
        blocks.append(self._centred(pen, title_lines, title_font, t.accent, 1.2, 0))
        return [block for block in blocks if block.height > 0]

    def _centred(
        self,
        pen: ImageDraw.ImageDraw,
        lines: list[str],
        font: ImageFont.FreeTypeFont,
        colour: str,
        leading: float,
        space_after: int,
    ) -> _Block:
        centre = (self.left + self.right) // 2
        pitch = self.pitch(font, leading)
        fill = _rgb(colour)

        def paint(y: int) -> None:
            for index, line in enumerate(lines):
                pen.text((centre, y + index * pitch), line, font=font, fill=fill, anchor="ma")

        return _Block(pitch * len(lines), paint, self.px(space_after) if lines else 0)

    def _largest_fit(
        self, text: str, sizes: tuple[int, ...], width: float, max_lines: int
    ) -> tuple[ImageFont.FreeTypeFont, list[str]]:
        """The largest size at which `text` fits on one line; failing that, the smallest size on up to `max_lines`."""
        for size in sizes:
            font = self.font(size)
            if self.fonts.width(font, text) <= width - 2:
                return font, [text] if text else []
        font = self.font(sizes[-1])
        return font, self.wrap(text, font, width, max_lines)

    def _facts_block(self, pen: ImageDraw.ImageDraw, facts: Sequence[tuple[str, str]], room: int) -> _Block | None:
        """Label/value rows in a centred two-column table with hairlines between rows. Rows that do not fit in
        `room` are left out, and a row with an ellipsis says so."""
        t = self.template
        rows = [
            (self.text(label, MAX_FACT_LABEL_CHARS), self.text(value, MAX_FACT_VALUE_CHARS))
            for label, value in list(facts)[:MAX_FACTS]
        ]
        rows = [(label, value) for label, value in rows if label or value]
        if not rows:
            return None
        font = self.font(13)
        pitch = self.pitch(font, 1.3)
        padding = self.px(7)
        table = min(self.right - self.left, self.px(520))
        gap = self.px(18)
        label_width = min(max(self.fonts.width(font, label) for label, _ in rows) + 2, table * 0.38)
        value_width = table - label_width - gap
        laid: list[tuple[list[str], list[str]]] = []
        height = 0
        for index, (label, value) in enumerate(rows):
            label_lines = self.wrap(label, font, label_width, 2)
            value_lines = self.wrap(value, font, value_width, 3)
            row_height = max(len(label_lines), len(value_lines)) * pitch + 2 * padding
            marker = pitch + 2 * padding if index < len(rows) - 1 else 0
            if height + row_height + marker > room:
                break
            laid.append((label_lines, value_lines))
            height += row_height
        omitted = len(laid) < len(rows)
        if omitted:
            height += pitch + 2 * padding
        if height > room:
            return None
        left = (self.left + self.right - table) // 2
        value_x = left + label_width + gap

        def paint(y: int) -> None:
            rule, muted, text = _rgb(t.rule), _rgb(t.muted), _rgb(t.text)
            pen.line((left, y, left + table - 1, y), fill=rule, width=1)
            for label_lines, value_lines in laid:
                for index, line in enumerate(label_lines):
                    pen.text((left, y + padding + index * pitch), line, font=font, fill=muted)
                for index, line in enumerate(value_lines):
                    pen.text((value_x, y + padding + index * pitch), line, font=font, fill=text)
                y += max(len(label_lines), len(value_lines)) * pitch + 2 * padding
                pen.line((left, y, left + table - 1, y), fill=rule, width=1)
            if omitted:
                pen.text((left + table // 2, y + padding), _ELLIPSIS, font=font, fill=muted, anchor="ma")

        return _Block(height, paint)
