"""Content announcements: `<mqtt.topic_root>/content/<target>`, retained, QoS 1, where the
fleet says a release is out (docs/content.md). The topics a screen reads, and the one
payload, bounded; the release itself is signed and checked by the kiosk (signage/content/)."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from signage.wire.messages import MAX_CONTENT_VERSION, Message


class ContentAnnouncement(Message):
    """Topic <root>/content/fleet, <root>/content/site/<site> or <root>/content/screen/<site>/<device>
    (`content_topics`), retained, QoS 1: a release is published. Only a hint (anyone who may
    publish there could lie): the kiosk fetches the signed manifest and checks it."""

    model_config = ConfigDict(strict=True)  # added to Message's

    version: int = Field(ge=1, le=MAX_CONTENT_VERSION, description="The newest release's version.")


MAX_ANNOUNCEMENT_BYTES = 128


def announcement_topic(topic_root: str, target: str) -> str:
    """Where a release for `target` (fleet, site/<site>, screen/<site>/<device>) is announced."""
    return f"{topic_root}/content/{target}"


def content_topics(topic_root: str, site: str, device: str) -> tuple[str, str, str]:
    """The announcement topics a screen reads, the most specific first. `content` is not a
    site name the fleet provisions, so no kiosk's own topics overlap them."""
    return (f"{topic_root}/content/screen/{site}/{device}", f"{topic_root}/content/site/{site}",
            f"{topic_root}/content/fleet")
