"""Renders per second of the EDC page image (ec_issuer.elm.page), by output format.

    uv run python bench/elm_page.py [--renders 50]

One thread, the example content of bench/render_elm_page_example.py (logo, 400 px badge, six facts). Rows: the
default palette PNG, true-colour PNG and JPEG (quality 85, 4:4:4) with the decoded badge and logo cached, as in a
run of awards for one achievement; then palette PNG and JPEG with a different badge on every page (decoded each
time). Wall-clock columns include whatever else the machine runs; "CPU p50" is this thread's CPU time per page.
The last column is the length of the base64 text that goes into the credential.
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from render_elm_page_example import example_badge, example_content

from ec_issuer.elm.page import DEFAULT_TEMPLATE, PageContent, PageTemplate, RenderedPage, render_page

DESCRIPTION = "Renders per second of the EDC page image, by output format."


def distinct_badges(count: int) -> list[bytes]:
    """The example badge with one pixel changed per copy: same cost to decode, never a cache hit."""
    base = Image.open(io.BytesIO(example_badge()))
    badges: list[bytes] = []
    for index in range(count):
        copy = base.copy()
        copy.putpixel((index % copy.width, 0), (index % 256, 0, 0, 255))
        out = io.BytesIO()
        copy.save(out, "PNG")
        badges.append(out.getvalue())
    return badges


def measure(label: str, renders: int, make: Callable[[int], tuple[PageContent, PageTemplate]]) -> None:
    content, template = make(-1)
    render_page(content, template)  # warm-up: fonts, caches
    times: list[float] = []
    cpu: list[float] = []
    page: RenderedPage | None = None
    for index in range(renders):
        content, template = make(index)
        start, start_cpu = time.perf_counter(), time.thread_time()
        page = render_page(content, template)
        cpu.append(time.thread_time() - start_cpu)
        times.append(time.perf_counter() - start)
    assert page is not None
    mean = statistics.fmean(times)
    p95 = sorted(times)[max(0, round(0.95 * len(times)) - 1)]
    base64_length = len(base64.b64encode(page.data))
    print(
        f"{label:<32} {1 / mean:8.1f} {mean * 1000:8.2f} {statistics.median(times) * 1000:8.2f} {p95 * 1000:8.2f}"
        f" {statistics.median(cpu) * 1000:8.2f} {len(page.data):9,d} {base64_length:9,d}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--renders", type=int, default=50)
    args = parser.parse_args()
    content = example_content()
    true_colour = replace(DEFAULT_TEMPLATE, output_format="PNG", png_palette=False)
    jpeg = replace(DEFAULT_TEMPLATE, output_format="JPEG")
    badges = distinct_badges(args.renders + 1)
    print(f"{args.renders} renders each, {DEFAULT_TEMPLATE.width}x{DEFAULT_TEMPLATE.height}")
    print(
        f"{'':<32} {'pages/s':>8} {'mean ms':>8} {'p50 ms':>8} {'p95 ms':>8} {'CPU p50':>8} {'bytes':>9} {'base64':>9}"
    )
    measure("PNG, 256-colour palette", args.renders, lambda _: (content, DEFAULT_TEMPLATE))
    measure("PNG, true colour", args.renders, lambda _: (content, true_colour))
    measure("JPEG q85", args.renders, lambda _: (content, jpeg))
    measure(
        "PNG palette, new badge each page",
        args.renders,
        lambda index: (replace(content, badge_image=badges[index + 1]), DEFAULT_TEMPLATE),
    )
    measure(
        "JPEG q85, new badge each page",
        args.renders,
        lambda index: (replace(content, badge_image=badges[index + 1]), jpeg),
    )


if __name__ == "__main__":
    main()
