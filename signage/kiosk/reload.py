"""SIGHUP: the configuration again, applied all at once or not at all.

A reload first builds every new part the new configuration needs (the telemetry link
and its spool folder, the vision pipeline and a new frame source, the playlist folder's
playlists) while the running ones keep going; only when all of them are ready does it
swap them in. The window is the one part that cannot exist twice: it is reopened with
the new settings first, and if that fails the old window comes back. Any failure
keeps the running configuration and parts, and status says where (file:line:col and
the key, never a value: the file lies outside the playlist folder and may hold
secrets, and status is published and retained); the log says what is wrong.

All of it runs on the main thread, so the screen holds its last picture (a video
pauses) while the new parts are built. Only what changed is built: on the 2-core x86
development machine loading the vision models and opening the sample video took
0.03 s (0.17 s the first time) and booting the e2e playlists 3 ms; opening a USB
camera or probing a folder of videos takes longer, and a Pi is slower. The swap
itself (`commit`) runs each step behind the kiosk's fault barrier: a step that fails
unexpectedly is counted and shown in status, and the steps after it still run.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from signage.config import Config, check_runtime_paths, remove_created
from signage.errors import ConfigError, SignageError
from signage.kiosk import playlists, privacy, uplink
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
    created: list[Path] = field(default_factory=list)  # folders the paths check made

    def discard(self) -> None:
        """A link never started holds no socket, thread or file, and a watcher that only
        booted no thread: only the vision parts hold something (models, a camera), and
        the folders checked for the new paths are taken away again."""
        if self.vision is not None:
            self.vision.close()
        remove_created(self.created)


def reload_config(kiosk) -> None:
    """A loop step: re-read config.yaml and apply every change, or none; then the playlists."""
    logger.info("SIGHUP: reloading the configuration and playlists")
    began = time.monotonic()
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
        logger.info("the configuration reload held the screen for %.2f s", time.monotonic() - began)
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
        relink = new_link(old, config)
        if "paths" in staged.changed or relink:
            try:
                check_runtime_paths(config, staged.created)
            except ConfigError as exc:
                match = _KEY.match(str(exc))
                raise Rejected(match.group(1) if match else "paths", "this user cannot create or write it",
                               str(exc)) from None
        unstarted = isinstance(kiosk.telemetry, uplink.Unstarted)
        if relink or unstarted:  # a link that could not be made is tried again (its files may be fixed)
            try:
                staged.telemetry = uplink.make(config, kiosk.on_command, kiosk.privacy.on, open_spool=False)
            except Exception as exc:  # noqa: BLE001 - ConfigError, or whatever else the files break
                if relink:
                    raise Rejected("mqtt", "the MQTT link cannot be made with it", str(exc)) from None
                logger.error("telemetry still cannot start (%s)", exc)  # unchanged settings: nothing to refuse
        if new_vision(old, config) and not kiosk.privacy.on and not turns_privacy_on(old, config):
            same_device = kiosk.vision.running and config.source.spec() == old.source.spec()
            part = "paths.models"
            try:
                pipeline_changed = old.vision != config.vision or old.paths.models != config.paths.models
                part = "vision" if "vision" in staged.changed and pipeline_changed else part
                staged.vision = kiosk.vision.prepare(config, with_source=False)
                if not same_device:
                    part = "source"  # the models loaded: now the source is the part that can fail
                    staged.vision.source = kiosk.vision.open_source(config)
            except Exception as exc:  # noqa: BLE001 - a driver's own error (cv2.error, RuntimeError) too
                if staged.vision is not None:
                    staged.vision.close()
                    staged.vision = None
                raise Rejected(part, "vision cannot start with it", f"{part}: {type(exc).__name__}: {exc}") from None
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


def turns_privacy_on(old: Config, new: Config) -> bool:
    return new.privacy.start_in_privacy and not old.privacy.start_in_privacy


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
    creative = current.play.creative if current and current.play.creative else None
    kiosk.renderer.close()
    renderer = kiosk.new_renderer(staged.config.display)
    try:
        renderer.open()
    except Exception as exc:  # noqa: BLE001 - whatever the new settings break, the old window comes back
        try:
            renderer.close()
            kiosk.open_display()  # kiosk.config is still the running one
            kiosk.renderer.set_notice_visible(kiosk.vision.running)
            kiosk.show(creative)
        finally:  # even if the old window fails too (the frame loop's display step retries it)
            staged.discard()
        raise Rejected("display", "the display cannot be opened with it", f"{type(exc).__name__}: {exc}") from None
    kiosk.renderer = renderer
    kiosk.barrier.run("reload: display notice", renderer.set_notice_visible, kiosk.vision.running)
    kiosk.barrier.run("reload: display show", kiosk.show, creative)


def commit(kiosk, staged: Staged) -> None:
    """Swap the staged parts in (the window already is): nothing here is refused. Each
    step runs behind the fault barrier: one that fails unexpectedly shows in status
    (fault:reload: ...) and costs that step only; the others still run, so no part is
    left half-swapped (a watcher that never started would read as a dead thread)."""
    old, config, changed = kiosk.config, staged.config, staged.changed
    step = kiosk.barrier.run
    if not changed and staged.telemetry is None:
        logger.info("configuration unchanged")
        return
    logger.info("configuration changed: %s", ", ".join(changed) or "none (the telemetry link is made again)")
    recount = staged.telemetry is not None or old.privacy.min_group != config.privacy.min_group
    if recount:
        step("reload: count", count_audience, kiosk)
        step("reload: metrics", send_metrics, kiosk)  # the old interval, under the old name
    if staged.telemetry is not None and kiosk.telemetry is not None \
            and not isinstance(kiosk.telemetry, uplink.Unstarted):
        # what the old link cannot save, and its spool's unsent rows, go on to the new one
        step("reload: telemetry hand-over", kiosk.telemetry.hand_over_to, staged.telemetry)
        step("reload: telemetry stop", uplink.stop, kiosk.telemetry, kiosk.status, True)  # its final status: old names
    kiosk.config = config
    if staged.telemetry is not None:
        step("reload: telemetry start", uplink.adopt, kiosk, staged.telemetry)
    if recount:
        kiosk.aggregator = Aggregator(config.site, config.device, config.privacy.min_group, now=kiosk.wall(),
                                      t=kiosk.clock())
    if turns_privacy_on(old, config):  # first: no frame is analysed with privacy asked for
        if not kiosk.privacy.on:
            step("reload: privacy", privacy.switch, kiosk, True)
    if staged.vision is not None:
        if kiosk.privacy.on:
            step("reload: vision close", staged.vision.close)
        else:
            step("reload: vision stop", kiosk.stop_vision)
            step("reload: vision start", kiosk.start_vision, staged.vision)
    replaced = step("reload: playlist watcher", swap_watcher, kiosk, staged) if staged.watcher else None
    if replaced is not None:
        step("reload: old playlist watcher", replaced.stop)
        step("reload: last good playlist", playlists.keep_last_good, kiosk.watcher, staged.playlist,
             config.paths.last_good_playlist)
        kiosk.problems.clear("playlist")
        step("reload: playlists", playlists.adopt, kiosk, staged.playlist)
    step("reload: status", kiosk.publish_status, True)


def swap_watcher(kiosk, staged: Staged):
    """The new watcher, started, becomes the kiosk's; the old one is returned, to stop.
    If the new one cannot start, the old one goes on with the old playlists (and the
    fault shows in status)."""
    staged.watcher.start()
    old, kiosk.watcher = kiosk.watcher, staged.watcher
    kiosk.retired_faults += kiosk.watcher_faults  # the new watcher counts from zero; status, since start
    kiosk.watcher_faults = 0
    return old


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

    shown, walked = "", []
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
