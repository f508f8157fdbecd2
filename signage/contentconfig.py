"""The kiosk's `content:` section: where releases come from (docs/content.md) and how
they are checked. Apart from config.py so the content code and `signage publish` can read
the URL rules without the whole configuration."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from signage.fields import Section, ed25519_public_bytes

CONTENT_URL_FORM = "http://host[:port]/path or https://host[:port]/path (e.g. https://fleet.example/releases)"


class ContentConfig(Section):
    url: str | None = Field(None, description=(
        "Where releases are published (the fleet's /releases, or any static host), http(s)://host[:port]/path. "
        "Unset: playlists are local files only."))
    public_key: str | None = Field(None, description=(
        "The publisher's release key (base64, as `signage keygen` prints it): only releases it signed are played."))
    folder: str | None = Field(None, description="Where releases are kept and staged; default: content/ in the "
                               "state folder (paths.state). `playlists` must then be its `current` link.")
    budget_mb: float = Field(1024.0, ge=1, le=1_000_000, description=(
        "Disk the releases may use, the one playing included: a release that needs more is refused before "
        "anything is downloaded."))
    check_every: int = Field(600, ge=10, le=86400, description=(
        "Seconds between looks for a new release (an MQTT announcement looks at once): a screen that was "
        "offline catches up."))
    rate_mb_s: float = Field(4.0, gt=0, le=1000, description="Download rate cap, MB/s, so the screen never drops "
                             "a video frame for it.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None:
            content_url(value)
        return value

    @field_validator("public_key")
    @classmethod
    def _ed25519_public_key(cls, value: str | None) -> str | None:
        if value is not None:
            ed25519_public_bytes(value, printed_by="signage keygen")
        return value

    @model_validator(mode="after")
    def _a_key_to_verify_with(self) -> ContentConfig:
        if self.url is not None and self.public_key is None:
            raise ValueError("url is set but public_key is not: a screen plays only releases it "
                             "can verify; add the public key `signage keygen` printed")
        return self


def content_url(url: str) -> str:
    """The base URL, without a trailing '/'; ValueError naming what is wrong and the form."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ValueError(f"{url[:100]!r}: {exc}; use {CONTENT_URL_FORM}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{url[:100]!r}: the scheme must be http or https; use {CONTENT_URL_FORM}")
    if "@" in parts.netloc:
        raise ValueError(f"a content URL with a user name or password; use {CONTENT_URL_FORM}")
    if not parts.hostname:
        raise ValueError(f"{url[:100]!r}: no host name; use {CONTENT_URL_FORM}")
    if parts.query or parts.fragment:
        raise ValueError(f"{url[:100]!r}: a base URL has no '?' or '#'; use {CONTENT_URL_FORM}")
    return url.rstrip("/")
