"""SIGHUP: the configuration again, applied all at once or not at all.

A reload first builds every new part the new configuration needs (the telemetry link
and its spool folder, the vision pipeline and a new frame source, the playlist folder's
playlists) while the running ones keep going; only when all of them are ready does it
hand each to its owner. The window is the one part that cannot exist twice: it is
reopened with the new settings first, and if that fails the old window comes back.
Any failure keeps the running configuration and parts, and status says where
(file:line:col and the key, never a value: the file lies outside the playlist folder
and may hold secrets, and status is published and retained); the log says what is wrong.

All of it runs on the main thread, so the screen holds its last picture (a video
pauses) while the new parts are built; only what changed is built (`signage bench`
measures how long that takes). The kiosk (`Kiosk.reload_config`) asks `prepare` for
the new parts, `retire`s what ends with the running configuration, has `commit` hand
the new parts to their owners, and then takes the new configuration itself: each step
runs behind the kiosk's fault barrier, so a step that fails unexpectedly is counted and
shown in status, and the steps after it still run.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from signage.config import Config, check_runtime_paths, remove_created
from signage.errors import ConfigError, SignageError
from signage.kiosk import playlists, releases
from signage.kiosk.problems import Problems
from signage.kiosk.releases import Releases
from signage.kiosk.uplink import Uplink
from signage.kiosk.vision import Prepared, VisionStage
from signage.playlist.loader import Playlist
from signage.playlist.watcher import PlaylistWatcher
from signage.telemetry.mqtt import Telemetry

if TYPE_CHECKING:
    from signage.content.updater import ContentUpdater
    from signage.kiosk.app import Kiosk

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
    telemetry: Telemetry | None = None
    vision: Prepared | None = None
    watcher: PlaylistWatcher | None = None
    playlist: Playlist | None = None
    content_changed: bool = False  # the content thread is made again: `content` (None: no content.url)
    content: ContentUpdater | None = None
    created: list[Path] = field(default_factory=list)  # folders the paths check made

    def discard(self) -> None:
        """A link never started holds no socket, thread or file, and a watcher that only
        booted no thread: only the vision parts hold something (models, a camera), and
        the folders checked for the new paths are taken away again."""
        if self.vision is not None:
            self.vision.close()
        remove_created(self.created)


def prepare(kiosk: Kiosk) -> Staged | None:
    """The configuration file again, with every new part it needs built (the window
    already switched); None when it is rejected (status says where, the log what) or
    changes nothing."""
    if kiosk.reread is None:  # started without a configuration file: nothing to read again
        return None
    try:
        config = kiosk.reread()  # the file again, with the same command-line overrides
    except SignageError as exc:
        reject(kiosk.problems, where_only(exc), "does not load", str(exc))
        return None
    try:
        staged = stage(kiosk.config, config, kiosk.uplink, kiosk.vision, kiosk.privacy.on, kiosk.releases)
        switch_display(kiosk, staged)
    except Rejected as exc:
        reject(kiosk.problems, where_key(kiosk.config_path, exc.key), exc.why, exc.detail)
        return None
    kiosk.problems.clear("config")
    if not staged.changed and staged.telemetry is None:
        logger.info("configuration unchanged")
        return None
    return staged


def reject(problems: Problems, where: str, why: str, detail: str) -> None:
    problems.set("config", f"config reload rejected: {where}: {why}; the running configuration stays "
                       "(the log says what is wrong)")
    logger.error("config reload rejected; keeping the running configuration:\n%s", detail)


def changed_sections(old: Config, new: Config) -> list[str]:
    return [name for name in Config.model_fields if getattr(old, name) != getattr(new, name)]


def stage(old: Config, config: Config, uplink: Uplink, vision: VisionStage, privacy_on: bool,
          content: Releases) -> Staged:
    """Every new part `config` needs, built beside the running ones (`old`'s); Rejected if one cannot be."""
    staged = Staged(config, changed_sections(old, config), content_changed=releases.changed(old, config))
    try:
        relink = new_link(old, config)
        if "paths" in staged.changed or relink or staged.content_changed:
            try:
                check_runtime_paths(config, staged.created)
            except ConfigError as exc:
                match = _KEY.match(str(exc))
                raise Rejected(match.group(1) if match else "paths", "this user cannot create or write it",
                               str(exc)) from None
        if relink or uplink.unstarted:  # a link that could not be made is tried again (its files may be fixed)
            try:
                staged.telemetry = uplink.make(config, privacy_on, open_spool=False)
            except Exception as exc:  # noqa: BLE001 - ConfigError, or whatever else the files break
                if relink:
                    raise Rejected("mqtt", "the MQTT link cannot be made with it", str(exc)) from None
                logger.error("telemetry still cannot start (%s)", exc)  # unchanged settings: nothing to refuse
        if new_vision(old, config) and not privacy_on and not turns_privacy_on(old, config):
            staged.vision = prepare_vision(vision, old, config, "vision" in staged.changed)
        if new_playlists(old, config):
            watcher = playlists.watcher_for(config, keep_last_good=False)
            loaded = watcher.boot()
            if loaded.playlist is None and playlists.first_release(config) is None:  # (else: plays on meanwhile)
                raise Rejected("playlists", "the playlists there do not load",
                               f"playlists: the playlists there do not load:\n{loaded.problems}")
            staged.watcher, staged.playlist = watcher, loaded.playlist
        if staged.content_changed:
            try:
                staged.content = content.make(config)
            except OSError as exc:
                raise Rejected("content.folder", "the content folder cannot be made", f"content.folder: {exc}") \
                    from None
    except BaseException:
        staged.discard()
        raise
    return staged


def prepare_vision(vision: VisionStage, old: Config, config: Config, vision_changed: bool) -> Prepared:
    """The pipeline and, unless it is the device running now, the frame source; Rejected
    naming the part that failed."""
    same_device = vision.running and config.source.spec() == old.source.spec()
    pipeline_changed = old.vision != config.vision or old.paths.models != config.paths.models
    part = "vision" if vision_changed and pipeline_changed else "paths.models"
    prepared = None
    try:
        prepared = vision.prepare(config, with_source=False)
        if same_device:
            return prepared
        part = "source"  # the models loaded: now the source is the part that can fail
        return Prepared(prepared.pipeline, vision.open_source(config))
    except Exception as exc:  # noqa: BLE001 - a driver's own error (cv2.error, RuntimeError) too
        if prepared is not None:
            prepared.close()
        raise Rejected(part, "vision cannot start with it", f"{part}: {type(exc).__name__}: {exc}") from None


def turns_privacy_on(old: Config, new: Config) -> bool:
    return new.privacy.start_in_privacy and not old.privacy.start_in_privacy


def new_link(old: Config, new: Config) -> bool:
    """A link made again: its names, broker or spool changed, or it must (not) read content announcements."""
    return old.site != new.site or old.device != new.device or old.mqtt != new.mqtt \
        or old.paths.spool != new.paths.spool or old.paths.spool_max_mb != new.paths.spool_max_mb \
        or (old.content.url is None) != (new.content.url is None)


def new_vision(old: Config, new: Config) -> bool:
    return old.vision != new.vision or old.source != new.source or old.paths.models != new.paths.models


def new_playlists(old: Config, new: Config) -> bool:
    return old.playlists != new.playlists or old.paths.last_good_playlist != new.paths.last_good_playlist \
        or old.display.max_image_pixels != new.display.max_image_pixels


def switch_display(kiosk: Kiosk, staged: Staged) -> None:
    """The window with the new display settings; if it cannot open, the old one again and Rejected."""
    if "display" not in staged.changed:
        return
    screen, notice = kiosk.screen, kiosk.vision.running
    current = kiosk.player.current
    creative = current.play.creative if current and current.play.creative else None
    try:
        refused = screen.reopen_with(staged.config.display, kiosk.config.display)
        if refused is not None:  # the old window is back: its notice and picture too
            screen.set_notice(notice)
            screen.show(creative)
    except BaseException:  # even if the old window fails too (the frame loop's display step retries it)
        staged.discard()
        raise
    if refused is not None:
        staged.discard()
        raise Rejected("display", "the display cannot be opened with it", f"{type(refused).__name__}: {refused}")
    kiosk.barrier.run("reload: display notice", screen.set_notice, notice)
    kiosk.barrier.run("reload: display show", screen.show, creative)


def retire(kiosk: Kiosk, staged: Staged) -> None:
    """What ends with the running configuration, under its names: the interval counted so
    far, and a link the staged one replaces (what it cannot save and its spool's unsent
    rows go on to the new one; then its final status). Behind the fault barrier."""
    step = kiosk.barrier.run
    logger.info("configuration changed: %s", ", ".join(staged.changed) or "none (the telemetry link is made again)")
    if recounts(kiosk.config, staged):
        step("reload: count", kiosk.counter.count, kiosk.vision.dropped_since_last())
        step("reload: plays", kiosk.counter.send_plays, kiosk.player, True, kiosk.vision.running)  # what is held
        step("reload: metrics", kiosk.counter.send_metrics)  # the old interval, under the old name
    if staged.telemetry is not None:
        step("reload: telemetry stop", kiosk.uplink.hand_over_to, staged.telemetry, kiosk.status)


def recounts(old: Config, staged: Staged) -> bool:
    """The interval begins again: under a new link's names, or with another minimum group."""
    return staged.telemetry is not None or old.privacy.min_group != staged.config.privacy.min_group


def commit(kiosk: Kiosk, staged: Staged) -> None:
    """Hand the staged parts to their owners, each with the new configuration (the window
    already is, the old link retired): nothing here is refused. The kiosk takes the new
    configuration once all of them have, so status shows it all at once. Each step runs
    behind the fault barrier: one that fails unexpectedly shows in status (fault:reload:
    ...) and costs that step only; the others still run, so no part is left half-swapped
    (a watcher that never started would read as a dead thread)."""
    config = staged.config
    step = kiosk.barrier.run
    if staged.telemetry is not None:
        step("reload: telemetry start", kiosk.uplink.adopt, staged.telemetry, config)
    step("reload: counting", kiosk.counter.follow, config, recounts(kiosk.config, staged))
    step("reload: creative faults", kiosk.creative_faults.follow, config.privacy.min_group)
    step("reload: privacy", kiosk.privacy.follow_settings, config.privacy)  # first: no frame analysed meanwhile
    step("reload: vision settings", kiosk.vision.follow, config)
    step("reload: playlists settings", kiosk.playlists.follow, config)
    if staged.content_changed:
        step("reload: content", kiosk.releases.replace, staged.content, config)
    if staged.vision is not None:
        if kiosk.privacy.on:
            step("reload: vision close", staged.vision.close)
        else:
            step("reload: vision stop", kiosk.vision.stop)
            step("reload: vision start", kiosk.vision.start, staged.vision)
    replaced = step("reload: playlist watcher", kiosk.playlists.replace, staged.watcher) if staged.watcher else None
    if replaced is not None:
        step("reload: old playlist watcher", replaced.stop)
        step("reload: last good playlist", playlists.keep_last_good, kiosk.playlists.watcher,
             staged.playlist, config.paths.last_good_playlist)
        kiosk.problems.clear("playlist")
        if staged.playlist is not None:
            step("reload: playlists", kiosk.playlists.adopt, staged.playlist)
        else:  # a new content folder, its first release still to come: what plays now plays on
            step("reload: playlists", kiosk.playlists.await_first_release, config)


def where_only(exc: SignageError) -> str:
    """Where a config problem is, never the value: the file lies outside the playlist
    folder and may hold secrets (mqtt.password), and status is published and retained."""
    problems = getattr(exc, "problems", None)
    if not problems:
        return "the configuration"
    places = [f"{p.file}:{p.line}:{p.column}" + (f" ({key_of(p.path)})" if p.path else "") for p in problems[:5]]
    return ", ".join(places) + (f" and {len(problems) - 5} more" if len(problems) > 5 else "")


def where_key(config_path: Path | None, key: str) -> str:
    """file:line:col (key) of a key in the config file (its nearest ancestor when the key is
    not written there: a default, or a command-line override)."""
    if config_path is None:
        return key
    from signage.yamlread import load

    try:
        line, column = load(config_path).position(tuple(key.split(".")), key=True)
    except SignageError:
        return f"{config_path} ({key})"
    return f"{config_path}:{line}:{column} ({key})"


_SEGMENT = re.compile(r"\[(\d+)\]|([^.\[]+)")


def key_of(path: str) -> str:
    """The key of a problem's path as status may show it: its segments only while they
    are fields of the config models (and list indices); past that, "unknown key" (a
    typo such as `password:hunter2` is one key, secret and all) or nothing (a key
    inside a free-form value)."""
    from signage.validation import fields_at

    shown = ""
    walked: list[str | int] = []
    for match in _SEGMENT.finditer(path):
        index, name = match.groups()
        if index is not None:
            shown += f"[{index}]"
            walked.append(int(index))
            continue
        known = fields_at(Config, tuple(walked))
        if name not in known:
            if known:  # a mapping of the models, and this is none of its fields
                return f"{shown}: unknown key" if shown else "unknown key"
            return shown or "?"  # inside a free-form value: no further
        shown += f".{name}" if shown else name
        walked.append(name)
    return shown
