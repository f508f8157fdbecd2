"""The pictures the screen is drawn from, and what is remembered about them.

Cards are drawn here (main thread) and uploaded once; images are decoded and fitted by
the loader's worker thread and uploaded once their pixels are ready; both are kept in
a cache bounded in bytes (display.cache_mb) by file version, fit and layout. A video
gets a texture to stream its frames into and its own decoder (video.py). A file
version that failed is remembered (failures.py) and not tried again until it changes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import pygame

from signage.config import DisplayConfig
from signage.display.content import FALLBACK_ID, Content, fallback_content, plain_colour
from signage.display.failures import Failures, reason_of
from signage.display.media import ImageCache, Loader, file_key, render_card, render_notice
from signage.display.scene import Showing
from signage.display.video import VideoPlayback

if TYPE_CHECKING:
    from signage.display.window import Screen

logger = logging.getLogger(__name__)


class Pictures:
    def __init__(self, config: DisplayConfig, wake: Callable[[], None], failure_level: int = logging.ERROR):
        self._config = config
        self._wake = wake  # called when an image is decoded or a video frame is ready
        self._cache = ImageCache(config.cache_mb * 1024 * 1024)
        self._loader = Loader()
        self.failures = Failures(failure_level)

    def prepare(self, showing: Showing, screen: Screen, display_gone: Callable[[BaseException], bool]) -> None:
        """Give `showing` what it is drawn from (why not: showing.failed). Raises what drawing
        a card or starting a video raised; the fallback card never fails: when its text
        cannot be drawn, its background alone still says "alive" (unless the display went)."""
        kind = showing.content.type
        if kind == "image":
            self._image(showing, screen.logical)
        elif kind == "video":
            self._video(showing, screen.backend)
        elif kind == "card":
            try:
                self._card(showing, screen.backend, screen.logical)
            except Exception as exc:
                if showing.content.id != FALLBACK_ID or display_gone(exc):
                    raise
                logger.error("fallback card text cannot be drawn (%s); showing its background only", reason_of(exc))
                showing.colour = plain_colour(showing.content.background)

    def _card(self, showing: Showing, backend, logical: tuple[int, int]) -> None:
        """The card's picture, from the cache or drawn and uploaded now (raises if it cannot be)."""
        key = ("card", showing.content, logical)
        showing.picture = self._cache.get(key)
        if showing.picture is None:
            surface = render_card(showing.content, logical, pygame)
            showing.picture = backend.upload_surface(surface)
            self._cache.put(key, showing.picture, logical[0] * logical[1] * 4)

    def _image(self, showing: Showing, logical: tuple[int, int]) -> None:
        """The image's picture from the cache, or its pixels asked of the loader."""
        found = self._version(showing)
        if found is None:
            return
        path, version = found
        showing.key = key = (*version, showing.content.fit, logical)
        showing.picture = self._cache.get(key)
        if showing.picture is None:
            future = self._loader.submit(path, logical, showing.content.fit, self._config.max_image_pixels)
            future.add_done_callback(lambda _: self._wake())
            showing.future = future

    def _video(self, showing: Showing, backend) -> None:
        """A texture to stream the video's frames into, and its decoder started."""
        found = self._version(showing)
        if found is None:
            return
        showing.key = found[1]
        showing.stream = backend.stream()
        showing.video = VideoPlayback(showing.content, self._config.max_image_pixels, self._config.video_decode,
                                      on_frame=self._wake)

    def upload(self, showing: Showing, backend) -> None:
        """Upload the pixels the loader prepared for `showing` (raises what the decode raised)."""
        future, key = showing.future, showing.key
        assert future is not None and key is not None  # only an image given to the loader waits for this
        pixels = future.result()
        showing.picture = backend.upload(pixels)
        self._cache.put(key, showing.picture, pixels.shape[0] * pixels.shape[1] * 4)

    def _version(self, showing: Showing) -> tuple[Path, tuple[str, int, int]] | None:
        """The media file and its current version; None (and why, in showing.failed) when
        there is none, it is gone, or this version failed before."""
        path = showing.content.path
        if path is None:
            showing.failed = "no media file given"
            return None
        try:
            version = file_key(path)
        except OSError as exc:
            showing.failed = f"{path}: {exc.strerror}"
            return None
        showing.failed = self.failures.known(version)
        return None if showing.failed is not None else (path, version)

    def notice(self, backend, logical: tuple[int, int]) -> tuple | None:
        """The measurement notice as (picture, logical rect), or None when switched off."""
        if not self._config.notice.enabled:
            return None
        surface, rect = render_notice(self._config.notice, logical, pygame)
        return backend.upload_surface(surface, alpha=True), rect

    def keep_only(self, contents: Iterable[Content], logical: tuple[int, int]) -> None:
        """Forget the cached pictures of everything but `contents` and the fallback."""
        keys: set[tuple] = {("card", fallback_content(self._config.fallback), logical)}
        for content in contents:
            if content.type == "card":
                keys.add(("card", content, logical))
            elif content.type == "image" and content.path is not None:
                try:
                    keys.add((*file_key(content.path), content.fit, logical))
                except OSError:
                    continue  # gone: nothing of it to keep
        self._cache.retain(keys)

    @property
    def held(self) -> tuple[int, int]:
        """(decoded bytes, entries) of the cached pictures."""
        return self._cache.bytes, len(self._cache)

    def forget(self) -> None:
        """Drop every cached picture (their renderer is going away)."""
        self._cache.clear()

    def close(self) -> None:
        self._loader.close()
