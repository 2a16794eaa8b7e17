"""Render the example page of a European Digital Credential to docs/images/elm-page-example.png.

    uv run python bench/render_elm_page_example.py [--out PATH] [--jpeg]

The badge and the issuer logo are drawn here, so the example needs no files and no network.
"""

from __future__ import annotations

import argparse
import io
import math
from dataclasses import replace
from datetime import date
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ec_issuer.elm.page import DEFAULT_TEMPLATE, PageContent, render_page

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTION = "Render the example page of a European Digital Credential."


def example_badge(size: int = 400) -> bytes:
    """A round medal with a star on a transparent background, as an Open Badges image often is."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    centre = size / 2
    pen.ellipse((8, 8, size - 8, size - 8), fill=(29, 63, 115, 255))
    pen.ellipse((30, 30, size - 30, size - 30), fill=(244, 186, 52, 255))
    pen.ellipse((44, 44, size - 44, size - 44), outline=(255, 255, 255, 255), width=4)
    outer, inner = size * 0.30, size * 0.13
    points = [
        (
            centre + (outer if i % 2 == 0 else inner) * math.sin(math.pi * i / 5),
            centre - (outer if i % 2 == 0 else inner) * math.cos(math.pi * i / 5),
        )
        for i in range(10)
    ]
    pen.polygon(points, fill=(255, 255, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def example_logo() -> bytes:
    """A word mark with a square emblem, wider than high like most issuer logos."""
    image = Image.new("RGBA", (520, 120), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    pen.rounded_rectangle((0, 10, 100, 110), radius=14, fill=(29, 63, 115, 255))
    pen.text((50, 60), "EU", font=ImageFont.load_default(size=48), fill=(255, 255, 255, 255), anchor="mm")
    pen.text(
        (120, 60), "Example University", font=ImageFont.load_default(size=46), fill=(29, 63, 115, 255), anchor="lm"
    )
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def example_content() -> PageContent:
    return PageContent(
        title="Data Science Fundamentals",
        learner_name="Maria Jansen",
        awarding_body="Example University",
        awarded_on=date(2026, 11, 24),
        description=(
            "A micro-credential in the foundations of data science: collecting and cleaning data, exploratory "
            "analysis and visualisation, statistical inference and an introduction to machine learning with Python."
        ),
        facts=[
            ("Credits", "5 ECTS"),
            ("EQF level", "6"),
            ("Workload", "140 hours"),
            ("Mode", "Online"),
            ("Assessment", "Graded project, supervised online exam"),
            (
                "Learning outcomes",
                "Prepares and explores data sets; applies statistical tests; builds and evaluates predictive models; "
                "communicates findings to non-specialists.",
            ),
        ],
        badge_image=example_badge(),
        issuer_logo=example_logo(),
        footer="Credential urn:credential:6f1f7c1e-3b0d-4d6e-9a8f-2f1c5b7e9d10 · sealed by Example University",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "elm-page-example.png")
    parser.add_argument("--jpeg", action="store_true", help="encode as JPEG (the service's default) instead of PNG")
    args = parser.parse_args()
    template = replace(DEFAULT_TEMPLATE, output_format="JPEG" if args.jpeg else "PNG")
    page = render_page(example_content(), template)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(page.data)
    print(f"{args.out}: {page.width}x{page.height} {page.media_type}, {len(page.data)} bytes")


if __name__ == "__main__":
    main()
