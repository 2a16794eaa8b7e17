"""Certificates and badges are drawn once per entity tag, within a bound on the bytes held."""

from __future__ import annotations

from datetime import date

from ec_issuer.public_verification.artefacts import DrawnArtefacts, artefact_tag
from ec_issuer.public_verification.service import Verdict


class Drawer:
    def __init__(self, size: int) -> None:
        self.size = size
        self.drawn: list[str] = []

    def __call__(self, tag: str) -> bytes:
        self.drawn.append(tag)
        return tag.encode()[:1] * self.size


def test_a_tag_is_drawn_once_and_then_served() -> None:
    drawer = Drawer(100)
    drawings = DrawnArtefacts(max_bytes=1_000)
    first = drawings.get("a", lambda: drawer("a"))
    again = drawings.get("a", lambda: drawer("a"))
    other = drawings.get("b", lambda: drawer("b"))
    assert first == again == b"a" * 100 and other == b"b" * 100
    assert drawer.drawn == ["a", "b"]


def test_the_least_recently_used_drawing_goes_first_when_the_bytes_run_out() -> None:
    drawer = Drawer(400)
    drawings = DrawnArtefacts(max_bytes=1_000)  # room for two
    for tag in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" comes
        drawings.get(tag, lambda tag=tag: drawer(tag))
    assert drawer.drawn == ["a", "b", "c"]
    drawings.get("a", lambda: drawer("a"))
    assert drawer.drawn == ["a", "b", "c"]
    drawings.get("b", lambda: drawer("b"))
    assert drawer.drawn == ["a", "b", "c", "b"]


def test_a_drawing_larger_than_the_bound_is_served_but_not_kept() -> None:
    drawer = Drawer(2_000)
    drawings = DrawnArtefacts(max_bytes=1_000)
    assert drawings.get("a", lambda: drawer("a")) == b"a" * 2_000
    drawings.get("a", lambda: drawer("a"))
    assert drawer.drawn == ["a", "a"]


def test_the_tag_changes_with_everything_the_drawing_shows() -> None:
    day = date(2026, 12, 6)
    tag = artefact_tag("certificate.pdf", "urn:uuid:1", Verdict.VALID, day)
    assert len(tag) == 32
    assert tag == artefact_tag("certificate.pdf", "urn:uuid:1", Verdict.VALID, day)
    others = {
        artefact_tag("badge.png", "urn:uuid:1", Verdict.VALID, day),
        artefact_tag("certificate.pdf", "urn:uuid:2", Verdict.VALID, day),
        artefact_tag("certificate.pdf", "urn:uuid:1", Verdict.REVOKED, day),
        artefact_tag("certificate.pdf", "urn:uuid:1", Verdict.VALID, date(2026, 12, 7)),
    }
    assert tag not in others and len(others) == 4
