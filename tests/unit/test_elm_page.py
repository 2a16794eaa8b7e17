"""The rendered page image of a European Digital Credential (ec_issuer.elm.page)."""

from __future__ import annotations

import io
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date

import pytest
from PIL import Image, ImageChops, ImageDraw

from ec_issuer.core.errors import InvalidInput
from ec_issuer.elm.page import (
    DEFAULT_TEMPLATE,
    MAX_IMAGE_BYTES,
    PageContent,
    PageTemplate,
    UnusableImage,
    clean_text,
    format_date,
    render_page,
)

WHITE = (255, 255, 255)


def encode(image: Image.Image, kind: str = "PNG", **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def red_badge(size: int = 300) -> bytes:
    """A red disc on a transparent background: red appears nowhere else on the default page."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((0, 0, size - 1, size - 1), fill=(220, 20, 20, 255))
    return encode(image)


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares `width` x `height`: decoding it for real would need gigabytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def content(**changes: object) -> PageContent:
    base = PageContent(
        title="Data Science Fundamentals",
        learner_name="Maria Jansen",
        awarding_body="Example University",
        awarded_on=date(2026, 11, 24),
        description="A micro-credential in the foundations of data science.",
        facts=[("Credits", "5 ECTS"), ("EQF level", "6"), ("Mode", "Online")],
    )
    return replace(base, **changes)


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def rgb(data: bytes) -> Image.Image:
    return decoded(data).convert("RGB")


def content_box(template: PageTemplate) -> tuple[int, int, int, int]:
    """Inside the inner line of the default double frame."""
    inner = template.margin + template.border_width + 7
    return inner, inner, template.width - inner, template.height - inner


def inside(box: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> bool:
    return box[0] >= outer[0] and box[1] >= outer[1] and box[2] <= outer[2] and box[3] <= outer[3]


# --- size, format, determinism --------------------------------------------------------------------------------------


def test_default_page_is_an_a4_png_at_96_dpi() -> None:
    page = render_page(content())
    image = decoded(page.data)
    assert (page.width, page.height) == (794, 1123)
    assert image.size == (794, 1123)
    assert image.format == "PNG"
    assert page.media_type == "image/png"


def test_custom_template_size() -> None:
    template = PageTemplate(width=1240, height=1754)  # A4 at 150 dpi
    page = render_page(content(), template)
    assert decoded(page.data).size == (1240, 1754) == (page.width, page.height)
    landscape = PageTemplate(width=1123, height=794)
    assert decoded(render_page(content(), landscape).data).size == (1123, 794)


@pytest.mark.parametrize(
    ("template", "kind", "media_type"),
    [
        (DEFAULT_TEMPLATE, "PNG", "image/png"),
        (replace(DEFAULT_TEMPLATE, png_palette=False), "PNG", "image/png"),
        (replace(DEFAULT_TEMPLATE, output_format="JPEG"), "JPEG", "image/jpeg"),
        (replace(DEFAULT_TEMPLATE, output_format="JPEG", jpeg_quality=60), "JPEG", "image/jpeg"),
    ],
)
def test_png_and_jpeg_output_decode(template: PageTemplate, kind: str, media_type: str) -> None:
    page = render_page(content(badge_image=red_badge()), template)
    image = decoded(page.data)
    assert image.format == kind
    assert page.media_type == media_type
    assert image.size == (794, 1123)


def test_rendering_is_deterministic() -> None:
    for template in (DEFAULT_TEMPLATE, replace(DEFAULT_TEMPLATE, output_format="JPEG")):
        first = render_page(content(badge_image=red_badge()), template)
        second = render_page(content(badge_image=red_badge()), template)
        assert first.data == second.data


def test_palette_png_keeps_the_template_colours_exact() -> None:
    image = rgb(render_page(content(badge_image=red_badge())).data)
    colours = {colour for _count, colour in image.getcolors(1 << 16) or []}
    assert image.getpixel((5, 5)) == WHITE
    assert (0x1D, 0x3F, 0x73) in colours  # accent: frame and heading
    assert (0x1F, 0x23, 0x28) in colours  # text: learner name


# --- what is drawn --------------------------------------------------------------------------------------------------


def test_page_is_not_blank() -> None:
    image = rgb(render_page(content()).data)
    colours = image.getcolors(1 << 16) or []
    assert len(colours) >= 8
    background = next(count for count, colour in colours if colour == WHITE)
    assert image.width * image.height - background > 10_000


def test_learner_name_is_drawn_in_the_upper_middle_of_the_page() -> None:
    one = rgb(render_page(content(learner_name="Maria Jansen")).data)
    other = rgb(render_page(content(learner_name="Pieter de Vries")).data)
    box = ImageChops.difference(one, other).getbbox()
    assert box is not None
    assert inside(box, content_box(DEFAULT_TEMPLATE))
    assert box[3] < one.height // 2
    assert abs((box[0] + box[2]) / 2 - one.width / 2) < 20  # centred
    name_region = one.crop(box)
    assert (name_region.getcolors(1 << 16) or []) != [(name_region.width * name_region.height, WHITE)]


def red_area(image: Image.Image) -> tuple[tuple[int, int, int, int] | None, int]:
    """Bounding box and count of the strongly red pixels."""
    red, green, blue = image.split()
    high = [255 if value > 180 else 0 for value in range(256)]
    low = [255 if value < 80 else 0 for value in range(256)]
    mask = ImageChops.multiply(ImageChops.multiply(red.point(high), green.point(low)), blue.point(low))
    return mask.getbbox(), mask.histogram()[255]


def test_badge_is_drawn_centred_in_the_lower_part() -> None:
    without = rgb(render_page(content()).data)
    with_badge = rgb(render_page(content(badge_image=red_badge())).data)
    assert red_area(without) == (None, 0)
    box, count = red_area(with_badge)
    assert box is not None
    assert box[1] > without.height // 2
    assert inside(box, content_box(DEFAULT_TEMPLATE))
    assert abs((box[0] + box[2]) / 2 - without.width / 2) <= 2
    assert box[2] - box[0] >= 100
    assert count > 0.7 * (box[2] - box[0]) * (box[3] - box[1])  # a disc fills pi/4 of its box


def test_badge_is_left_out_when_the_template_says_so() -> None:
    plain = render_page(content()).data
    template = replace(DEFAULT_TEMPLATE, draw_badge=False)
    assert render_page(content(badge_image=red_badge()), template).data == render_page(content(), template).data
    assert render_page(content(), template).data == plain


def test_issuer_logo_is_drawn_at_the_top() -> None:
    logo = encode(Image.new("RGB", (400, 100), (20, 160, 60)))
    without = rgb(render_page(content()).data)
    with_logo = rgb(render_page(content(issuer_logo=logo)).data)
    box = ImageChops.difference(without, with_logo).getbbox()
    assert box is not None
    assert with_logo.getpixel((without.width // 2, box[1] + 5)) == (20, 160, 60)


@pytest.mark.parametrize(
    "image",
    [
        Image.new("P", (64, 64), 3),
        Image.new("LA", (80, 40), (128, 200)),
        Image.new("L", (1, 1), 0),
        Image.new("1", (50, 50), 1),
        Image.new("I;16", (60, 60), 40000),
        Image.new("RGB", (4000, 3), (0, 0, 255)),
        Image.new("RGBA", (3, 4000), (0, 0, 255, 128)),
    ],
    ids=["palette", "grey-alpha", "one-pixel", "bilevel", "16-bit", "wide", "tall"],
)
def test_image_modes_and_shapes_are_drawn(image: Image.Image) -> None:
    page = render_page(content(badge_image=encode(image)))
    assert decoded(page.data).size == (794, 1123)


@pytest.mark.parametrize(
    ("kind", "options", "mode"),
    [
        ("JPEG", {"quality": 90}, "RGB"),
        ("JPEG", {}, "CMYK"),
        ("GIF", {"transparency": 0}, "P"),
        ("WEBP", {"lossless": True}, "RGBA"),
    ],
)
def test_jpeg_gif_and_webp_are_drawn(kind: str, options: dict[str, object], mode: str) -> None:
    source = Image.new("RGB", (200, 200), (220, 20, 20))
    if mode == "P":
        source = source.convert("P")
    elif mode != "RGB":
        source = source.convert(mode)
    without = rgb(render_page(content()).data)
    with_badge = rgb(render_page(content(badge_image=encode(source, kind, **options))).data)
    assert ImageChops.difference(without, with_badge).getbbox() is not None


# --- untrusted text -------------------------------------------------------------------------------------------------


def test_long_text_is_wrapped_and_cut_inside_the_frame() -> None:
    long_word = "Supercalifragilisticexpialidocious" * 20
    crowded = content(
        learner_name="Maria Magdalena Johanna Wilhelmina van der Berg-Jansen " * 10,
        title="Advanced Interdisciplinary Programme in Computational Data Science " * 10,
        awarding_body="Rijksuniversiteit Groningen, Faculty of Science and Engineering " * 10,
        awarded_on="24 November 2026, on behalf of the board of examiners " * 5,
        description=f"{long_word} " + "lorem ipsum dolor sit amet " * 200,
        facts=[(f"Label {index} " * 8, "value " * 200) for index in range(40)],
        footer="urn:credential:" + "x" * 5000,
        badge_image=red_badge(),
    )
    short = content(badge_image=red_badge())
    for template in (DEFAULT_TEMPLATE, PageTemplate(width=1123, height=794), PageTemplate(width=400, height=566)):
        one = rgb(render_page(crowded, template).data)
        other = rgb(render_page(short, template).data)
        box = ImageChops.difference(one, other).getbbox()
        assert box is not None
        assert inside(box, content_box(template))


def test_odd_unicode_does_not_break_rendering() -> None:
    odd = (
        "\ud800 lone surrogate \udfff, NUL \x00, bell \x07, bidi \u202eoverride\u202c, zero width \u200b\u200d, "
        "combining e\u0301\u0301\u0301\u0301, emoji \U0001f393\U0001f9d1\u200d\U0001f393, CJK 中文, Greek Ελληνικά, "
        "Cyrillic Кириллица, Arabic العربية, private \ue000, unassigned \U000e0fff, tab\tnew\nline\r\n"
    )
    page = render_page(content(learner_name=odd, title=odd, awarding_body=odd, description=odd, footer=odd))
    assert decoded(page.data).size == (794, 1123)


def test_huge_text_costs_no_more_than_a_page_of_it() -> None:
    huge = "word " * 200_000
    start = time.perf_counter()
    render_page(content(learner_name=huge, title=huge, description=huge, facts=[(huge, huge)] * 1000))
    assert time.perf_counter() - start < 2.0


def test_clean_text_drops_controls_and_caps_the_length() -> None:
    assert clean_text("  Maria\x00\u202e  \t Jansen \n", 100) == "Maria Jansen"
    assert clean_text("line one\n\n\nline two", 100, multiline=True) == "line one\nline two"
    assert clean_text("e\u0301", 10) == "\u00e9"
    cut = clean_text("x" * 50, 10)
    assert len(cut) == 10
    assert cut.endswith("\u2026")


def test_letters_the_bundled_font_lacks_fall_back_to_their_base_letters() -> None:
    # Pillow's bundled font covers ASCII only: accented letters would be empty boxes, so they are drawn unaccented.
    bundled = PageTemplate(font_path=None)
    accented = render_page(content(learner_name="José Müller-Łukasiewicz", title="Straße"), bundled).data
    plain = render_page(content(learner_name="Jose Muller-Lukasiewicz", title="Strasse"), bundled).data
    assert accented == plain


def test_the_default_font_draws_the_letters_of_eu_languages() -> None:
    for name, plain in (
        ("José Müller-Łukasiewicz", "Jose Muller-Lukasiewicz"),
        ("Ελένη Παπαδοπούλου", "?"),
        ("Иван Петров", "?"),
    ):
        drawn = render_page(content(learner_name=name)).data
        assert drawn != render_page(content(learner_name=plain)).data, name


def test_award_date_is_written_in_english() -> None:
    assert format_date(date(2026, 11, 24)) == "24 November 2026"
    assert format_date(date(2027, 1, 1)) == "1 January 2027"
    as_date = render_page(content(awarded_on=date(2026, 11, 24))).data
    as_text = render_page(content(awarded_on="24 November 2026")).data
    assert as_date == as_text


# --- unusable images ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
        red_badge()[:200],  # a real PNG, cut short
        encode(Image.new("RGB", (10, 10)), "BMP"),  # decodable, but not a format we open
        encode(Image.new("RGB", (10, 10)), "TIFF"),
    ],
    ids=["empty", "text", "bad-header", "truncated", "bmp", "tiff"],
)
def test_corrupt_or_unsupported_image_is_a_clear_error(data: bytes) -> None:
    with pytest.raises(UnusableImage) as caught:
        render_page(content(badge_image=data))
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.field == "badge_image"
    assert caught.value.errors[0].pointer == "/badge_image"
    assert "badge image cannot be drawn" in caught.value.detail


def test_corrupt_logo_names_the_logo() -> None:
    with pytest.raises(UnusableImage) as caught:
        render_page(content(issuer_logo=b"GIF89a broken"))
    assert caught.value.field == "issuer_logo"


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (5000, 5000),  # over our limit, under Pillow's
        (4096, 4097),
        (10_000, 10_000),  # over Pillow's warning threshold
        (100_000, 100_000),  # over Pillow's error threshold
        (2**31 - 1, 2**31 - 1),
    ],
)
def test_oversized_image_is_refused_before_decoding(width: int, height: int) -> None:
    start = time.perf_counter()
    with pytest.raises(UnusableImage) as caught:
        render_page(content(badge_image=png_header_only(width, height)))
    assert time.perf_counter() - start < 1.0
    assert "pixels" in caught.value.reason


def test_image_over_the_byte_limit_is_refused() -> None:
    with pytest.raises(UnusableImage) as caught:
        render_page(content(badge_image=b"\x89PNG" + b"\x00" * MAX_IMAGE_BYTES))
    assert "MiB" in caught.value.reason


def test_largest_allowed_image_is_drawn() -> None:
    page = render_page(content(badge_image=encode(Image.new("RGB", (4096, 4096), (220, 20, 20)), "JPEG")))
    assert decoded(page.data).size == (794, 1123)


# --- templates ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"width": 10},
        {"height": 100_000},
        {"margin": -1},
        {"padding": 400},
        {"accent": "not a colour"},
        {"jpeg_quality": 0},
        {"output_format": "GIF"},
        {"border": "dotted"},
    ],
)
def test_invalid_template_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"."):
        replace(DEFAULT_TEMPLATE, **changes)


def test_template_text_and_colours_are_used() -> None:
    template = replace(DEFAULT_TEMPLATE, heading="Diploma", accent="#7a1f3d", border="single", background="#fffdf5")
    image = rgb(render_page(content(), template).data)
    colours = {colour for _count, colour in image.getcolors(1 << 16) or []}
    assert image.getpixel((5, 5)) == (0xFF, 0xFD, 0xF5)
    assert (0x7A, 0x1F, 0x3D) in colours
    no_frame = rgb(render_page(content(), replace(template, border="none")).data)
    assert ImageChops.difference(image, no_frame).getbbox() is not None


def test_threads_render_the_same_bytes() -> None:
    pages = [content(learner_name=f"Learner {index}", badge_image=red_badge()) for index in range(16)]
    expected = [render_page(page).data for page in pages]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(lambda page: render_page(page).data, pages)) == expected
