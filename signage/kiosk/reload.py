"""SIGHUP: the configuration again, applied all at once or not at all.

A reload first builds every new part the new configuration needs (the telemetry link
and its spool folder, the vision pipeline and a new frame source, the playlist folder's
playlists) while the running ones keep going; only when all of them are ready does it
swap them in. The window is the one part that cannot exist twice: it is reopened with
the new settings first, and if that fails the old window comes back. Any failure
keeps the running configuration and parts, and status says where (file:line:col and
the key, never a value: the file lies outside the playlist folder and may hold
secrets, and status is published and retained); the log says what is wrong.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from signage.config import Config, check_runtime_paths
from signage.errors import ConfigError, SignageError
from signage.kiosk import playlists, uplink
from signage.kiosk.counting import count_audience, send_metrics
from signage.telemetry.metrics import Aggregator

logger = logging.getLogger(__name__)

_KEY = re.compile(r"^([a-z_]+(?:\.[a-z_]+)*): ")


class Rejected(Exception):
    def __init__(self, key: str, why: str, detail: str):
        super().__init__(f"{key}: {why}")
        self.key, self.why, self.detail = key, why, detail


@dataclass
class Staged:
    """The new parts, built and not started."""

    config: Config
    changed: list[str]
    telemetry: object | None = None
    vision: object | None = None  # kiosk.vision.Prepared
    watcher: object | None = None
    playlist: object | None = None

    def discard(self) -> None:
        """A link never started holds no socket, thread or file, and a watcher that only
        booted no thread: only the vision parts hold something (models, a camera)."""
        if self.vision is not None:
            self.vision.close()


def reload_config(kiosk) -> None:
    """A loop step: re-read config.yaml and apply every change, or none; then the playlists."""
    logger.info("SIGHUP: reloading the configuration and playlists")
    if kiosk.reread is not None:
        try:
            config = kiosk.reread()  # the file again, with the same command-line overrides
        except SignageError as exc:
            reject(kiosk, where_only(exc), "does not load", str(exc))
        else:
            try:
                staged = stage(kiosk, config)
                switch_display(kiosk, staged)
            except Rejected as exc:
                reject(kiosk, where_key(kiosk.config_path, exc.key), exc.why, exc.detail)
            else:
                kiosk.problems.clear("config")
                commit(kiosk, staged)
    kiosk.watcher.request_reload()
    if not kiosk.privacy.on and kiosk.problems.get("vision"):
        kiosk.stop_vision()  # a vision stage that failed is retried (the model may be fixed)
        kiosk.start_vision()


def reject(kiosk, where: str, why: str, detail: str) -> None:
    kiosk.problems.set("config", f"config reload rejected: {where}: {why}; the running configuration stays "
                       "(the log says what is wrong)")
    logger.error("config reload rejected; keeping the running configuration:\n%s", detail)


def changed_sections(old: Config, new: Config) -> list[str]:
    return [name for name in Config.model_fields if getattr(old, name) != getattr(new, name)]


def stage(kiosk, config: Config) -> Staged:
    """Every new part `config` needs, built beside the running ones; Rejected if one cannot be."""
    old = kiosk.config
    staged = Staged(config, changed_sections(old, config))
    try:
        if "paths" in staged.changed or new_link(old, config):
            try:
                check_runtime_paths(config)
            except ConfigError as exc:
                match = _KEY.match(str(exc))
                raise Rejected(match.group(1) if match else "paths", "this user cannot create or write it",
                               str(exc)) from None
        if new_link(old, config):
            try:
                staged.telemetry = uplink.make(config, kiosk.on_command, kiosk.privacy.on, open_spool=False)
            except ConfigError as exc:
                raise Rejected("mqtt", "the MQTT link cannot be made with it", str(exc)) from None
        if new_vision(old, config) and not kiosk.privacy.on:
            same_device = kiosk.vision.running and config.source.spec() == old.source.spec()
            try:
                staged.vision = kiosk.vision.prepare(config, with_source=not same_device)
            except SignageError as exc:
                key = next((k for k in ("source", "vision") if k in staged.changed), "paths.models")
                raise Rejected(key, "vision cannot start with it", f"{key}: {exc}") from None
        if new_playlists(old, config):
            watcher = playlists.watcher_for(config, keep_last_good=False)
            loaded = watcher.boot()
            if loaded.playlist is None:
                raise Rejected("playlists", "the playlists there do not load",
                               f"playlists: the playlists there do not load:\n{loaded.problems}")
            staged.watcher, staged.playlist = watcher, loaded.playlist
    except BaseException:
        staged.discard()
        raise
    return staged


def new_link(old: Config, new: Config) -> bool:
    return old.site != new.site or old.device != new.device or old.mqtt != new.mqtt \
        or old.paths.spool != new.paths.spool or old.paths.spool_max_mb != new.paths.spool_max_mb


def new_vision(old: Config, new: Config) -> bool:
    return old.vision != new.vision or old.source != new.source or old.paths.models != new.paths.models


def new_playlists(old: Config, new: Config) -> bool:
    return old.playlists != new.playlists or old.paths.last_good_playlist != new.paths.last_good_playlist \
        or old.display.max_image_pixels != new.display.max_image_pixels


def switch_display(kiosk, staged: Staged) -> None:
    """The window with the new display settings; if it cannot open, the old one again and Rejected."""
    if "display" not in staged.changed:
        return
    current = kiosk.player.current
    kiosk.renderer.close()
    renderer = kiosk.new_renderer(staged.config.display)
    try:
        renderer.open()
    except Exception as exc:  # noqa: BLE001 - whatever the new settings break, the old window comes back
        renderer.close()
        kiosk.open_display()  # kiosk.config is still the running one
        kiosk.renderer.set_notice_visible(kiosk.vision.running)
        kiosk.show(current.play.creative if current and current.play.creative else None)
        staged.discard()
        raise Rejected("display", "the display cannot be opened with it", f"{type(exc).__name__}: {exc}") from None
    kiosk.renderer = renderer
    renderer.set_notice_visible(kiosk.vision.running)
    kiosk.show(current.play.creative if current and current.play.creative else None)


def commit(kiosk, staged: Staged) -> None:
    """Swap the staged parts in (the window already is): nothing here can be refused."""
    old, config, changed = kiosk.config, staged.config, staged.changed
    if not changed:
        logger.info("configuration unchanged")
        return
    logger.info("configuration changed: %s", ", ".join(changed))
    recount = staged.telemetry is not None or old.privacy.min_group != config.privacy.min_group
    if recount:
        count_audience(kiosk)
        send_metrics(kiosk)  # the old interval, under the old name
    if staged.telemetry is not None and kiosk.telemetry is not None:
        kiosk.telemetry.hand_over_to(staged.telemetry)  # what it cannot save, and its spool's rows, go on
        uplink.stop(kiosk.telemetry, kiosk.status, clean=True)  # its final status still says the old names
    kiosk.config = config
    if staged.telemetry is not None:
        staged.telemetry.start()
        kiosk.telemetry = staged.telemetry
    if recount:
        kiosk.aggregator = Aggregator(config.site, config.device, config.privacy.min_group, now=kiosk.wall())
    if config.privacy.start_in_privacy and not old.privacy.start_in_privacy:
        kiosk.privacy.forced = True
    if staged.vision is not None:
        kiosk.stop_vision()
        kiosk.start_vision(staged.vision)
    if staged.watcher is not None:
        kiosk.watcher.stop()
        kiosk.watcher = staged.watcher
        playlists.keep_last_good(kiosk.watcher, staged.playlist, config.paths.last_good_playlist)
        kiosk.problems.clear("playlist")
        playlists.adopt(kiosk, staged.playlist)
        kiosk.watcher.start()
    kiosk.publish_status(force=True)


def where_only(exc: SignageError) -> str:
    """Where a config problem is, never the value: the file lies outside the playlist
    folder and may hold secrets (mqtt.password), and status is published and retained."""
    problems = getattr(exc, "problems", None)
    if not problems:
        return "the configuration"
    places = [f"{p.file}:{p.line}:{p.column}" + (f" ({p.path})" if p.path else "") for p in problems[:5]]
    return ", ".join(places) + (f" and {len(problems) - 5} more" if len(problems) > 5 else "")


def where_key(config_path: Path | None, key: str) -> str:
    """file:line:col (key) of a key in the config file (its nearest ancestor when the key is
    not written there: a default, or a command-line override)."""
    if config_path is None:
        return key
    from signage.yamlfile import load

    try:
        line, column = load(config_path).position(tuple(key.split(".")), key=True)
    except SignageError:
        return f"{config_path} ({key})"
    return f"{config_path}:{line}:{column} ({key})"
