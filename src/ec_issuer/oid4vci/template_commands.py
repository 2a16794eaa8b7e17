"""What an operator may ask of credential templates: publish one. The API, the CLI and the tests share it.

The display members are named as OID4VCI names them (`background_color`, `alt_text`): they are copied into the
metadata as they are.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints

from ec_issuer.core.errors import FieldError, InvalidInput
from ec_issuer.core.validation import LongText, Name, ShortText, parse_command, reject_control_characters
from ec_issuer.credentials.commands import Achievement
from ec_issuer.oid4vci.commands import StrictModel
from ec_issuer.oid4vci.configurations import FORMAT_NAMES, TEMPLATE_ID, FormatName

MAX_LOGO_URL = 2048
# The metadata, logos included, goes to every wallet that opens an offer: larger logos belong on a web server.
MAX_LOGO_DATA_URI = 65_536
# Base64 raster images only. oid4vc-ts 0.4 (Credo, Paradym) takes a data: URI only in this shape, and an
# inline SVG could carry script.
_DATA_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+={0,2}")
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*")


def is_display_image(uri: str) -> bool:
    """Whether wallets can show this image URI: an https URL, or a small base64 raster data: URI."""
    if uri.startswith("https://"):
        try:
            reject_control_characters(uri)
        except ValueError:
            return False
        return len(uri) <= MAX_LOGO_URL and bool(urlsplit(uri).hostname) and not any(c.isspace() for c in uri)
    return len(uri) <= MAX_LOGO_DATA_URI and _DATA_IMAGE.fullmatch(uri) is not None


def _display_image(uri: str) -> str:
    if not is_display_image(uri):
        raise ValueError(
            "must be an https URL, or a data: URI of a PNG, JPEG, GIF or WebP image in base64 "
            f"(data:image/png;base64,…) of at most {MAX_LOGO_DATA_URI // 1024} KiB"
        )
    return uri


def _matching(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"must be {what}")
        return value

    return AfterValidator(check)


DisplayImage = Annotated[str, AfterValidator(_display_image)]
Color = Annotated[str, _matching(_COLOR, "a colour as #RRGGBB")]
LanguageTag = Annotated[
    str, StringConstraints(max_length=35), _matching(_LANGUAGE_TAG, "a language tag (BCP 47) such as en or de-CH")
]
DisplayText = Annotated[
    str, StringConstraints(min_length=1, max_length=1000), AfterValidator(reject_control_characters)
]


class Logo(StrictModel):
    uri: DisplayImage
    alt_text: ShortText | None = None


class DisplayEntry(StrictModel):
    """How wallets show the credential in one language (OID4VCI 1.0 `credential_metadata.display`)."""

    name: ShortText
    locale: LanguageTag | None = None
    description: DisplayText | None = None
    logo: Logo | None = None
    background_color: Color | None = None
    text_color: Color | None = None


class PutCredentialTemplate(StrictModel):
    """Create or replace a credential template: an achievement the issuer awards again and again."""

    achievement: Achievement
    name: Name | None = Field(
        default=None, description="The credential's name, unless an award gives one; else the achievement's name"
    )
    description: LongText | None = Field(
        default=None, description="The credential's description, unless an award gives one"
    )
    display: list[DisplayEntry] = Field(
        default_factory=list[DisplayEntry],
        max_length=20,
        description="One entry per locale. Without any, wallets show the achievement's name, and its image as logo "
        "when that is an https URL or a small base64 data: URI",
    )
    formats: list[FormatName] = Field(
        default_factory=lambda: list(FORMAT_NAMES),
        min_length=1,
        max_length=len(FORMAT_NAMES),
        description="The formats the template is offered in: one credential configuration "
        "(<template id>_<format>) each",
    )

    def wallet_display(self) -> tuple[dict[str, Any], ...]:
        if self.display:
            return tuple(entry.model_dump(exclude_none=True) for entry in self.display)
        shown: dict[str, Any] = {"name": self.achievement.name}
        image = self.achievement.image
        if image is not None and is_display_image(image):
            shown["logo"] = {"uri": image, "alt_text": self.achievement.name}
        return (shown,)

    def credential_defaults(self) -> dict[str, Any]:
        return self.model_dump(include={"name", "description"}, exclude_none=True)


def parse_template(body: Any) -> PutCredentialTemplate:
    command = parse_command(PutCredentialTemplate, body)
    locales = [(entry.locale or "").lower() for entry in command.display]
    errors = [
        FieldError(f"/display/{position}/locale", "another display entry has the same locale (or none either)")
        for position, locale in enumerate(locales)
        if locale in locales[:position]
    ]
    errors += [
        FieldError(f"/formats/{position}", "listed twice")
        for position, name in enumerate(command.formats)
        if name in command.formats[:position]
    ]
    if errors:
        raise InvalidInput("the template is not valid", errors)
    return command


def checked_template_id(template_id: str) -> str:
    if not TEMPLATE_ID.fullmatch(template_id):
        raise InvalidInput(
            f"'{template_id[:80]}' is not a template id",
            [FieldError("templateId", "1 to 64 of a-z, 0-9 and '-', not starting or ending with '-'")],
        )
    return template_id
