"""What an operator or the fleet asks of a running kiosk: MQTT commands, SIGHUP reload
of the configuration (all of it: the parts that need it are restarted), and the
playlist at boot. Functions of the kiosk, called on the main thread only."""

from __future__ import annotations

import logging
from pathlib import Path
from signage import __version__
from signage.config import Config
from signage.errors import SignageError
from signage.playlist.loader import Playlist
from signage.playlist.watcher import PlaylistWatcher

logger = logging.getLogger(__name__)


# ----- the playlist at boot ---------------------------------------------------------------------

def boot_playlist(kiosk) -> Playlist:
    """The playlist files if they load; else the last good playlist persisted by an
    earlier run; else nothing (the fallback card). Never raises: the screen is lit and
    status says what is wrong."""
    kiosk.watcher = watcher_for(kiosk.config)
    try:
        boot = kiosk.watcher.boot()
    except Exception as exc:  # noqa: BLE001 - a loader bug must not keep the kiosk from starting
        logger.exception("the playlists cannot be loaded (unexpected fault); showing the fallback")
        kiosk.problems.set("playlist", f"rejected: unexpected {type(exc).__name__} while loading: {str(exc)[:200]}")
        return Playlist.nothing()
    if boot.source == "last-good":
        kiosk.problems.set("playlist", f"rejected: {boot.problems}\n(playing the last good playlist saved earlier)")
    elif boot.problems:
        kiosk.problems.set("playlist", f"rejected: {boot.problems}")
    return boot.playlist if boot.playlist is not None else Playlist.nothing()


def watcher_for(config: Config) -> PlaylistWatcher:
    from signage.display.videoinfo import video_length

    return PlaylistWatcher([Path(config.playlists)], video_length=video_length,
                           state_file=config.paths.last_good_playlist, max_image_pixels=config.display.max_image_pixels)


# ----- telemetry ----------------------------------------------------------------------------------

def start_telemetry(kiosk):
    from signage.telemetry.homeassistant import discovery
    from signage.telemetry.mqtt import Telemetry

    config = kiosk.config
    telemetry = Telemetry(config.mqtt, config.site, config.device, config.paths.spool,
                          spool_max_bytes=int(config.paths.spool_max_mb * 1024 * 1024), on_command=kiosk.on_command)
    if config.mqtt.homeassistant:
        for topic, payload in discovery(telemetry.root, config.site, config.device, __version__,
                                        config.mqtt.discovery_prefix).items():
            telemetry.publish_retained(topic, payload)
    telemetry.set_state("privacy", "ON" if kiosk.privacy else "OFF")
    telemetry.start()
    return telemetry


def stop_telemetry(kiosk, clean: bool) -> None:
    """Drain, publish the true final status, then `stopped` (clean) or nothing (the
    broker's will says `offline` for a crash)."""
    kiosk.telemetry.stop(timeout=2.0, final_status=kiosk.status, clean=clean)


# ----- commands -----------------------------------------------------------------------------------

def apply_commands(kiosk) -> None:
    """Commands queued by paho's thread, checked against the running state and answered
    here: a state echo when applied, a refusal on `<root>/error` when not."""
    while not kiosk.commands.empty():
        command = kiosk.commands.get()
        if command.feature == "creative" and command.value not in kiosk.player.playlist.creatives:
            kiosk.telemetry.refuse(command, f"creative: unknown id {command.value!r}; the running playlist has "
                                   f"{', '.join(sorted(kiosk.player.playlist.creatives)) or 'no creatives'}"[:400])
            continue
        logger.info("command: %s %s", command.feature, command.value)
        if command.feature == "privacy":
            kiosk.privacy_forced = command.value == "ON"
        elif command.feature == "playlist":
            kiosk.watcher.request_reload()
        elif command.feature == "creative":
            kiosk.player.play_now(command.value, kiosk._now())
            kiosk.show(command.value)
        kiosk.telemetry.set_state(command.feature, command.value)


# ----- SIGHUP -------------------------------------------------------------------------------------

def reload_config(kiosk) -> None:
    """Re-read config.yaml and apply every change; a broken file changes nothing and
    says why until a later reload succeeds."""
    logger.info("SIGHUP: reloading the configuration and playlists")
    if kiosk.reread is not None:
        try:
            config = kiosk.reread()  # the file again, with the same command-line overrides
        except SignageError as exc:
            kiosk.problems.set("config", f"config reload rejected: {where_only(exc)}; the running configuration "
                               "stays (the log says what is wrong)")
            logger.error("config reload rejected; keeping the running configuration:\n%s", exc)
        else:
            kiosk.problems.clear("config")
            apply_config(kiosk, config)
    kiosk.watcher.request_reload()
    if not kiosk.privacy and kiosk.problems.get("vision"):
        kiosk.stop_vision()  # a vision stage that failed is retried (the model may be fixed)
        kiosk.start_vision()


def where_only(exc: SignageError) -> str:
    """Where a config problem is, never the value: the file lies outside the playlist
    folder and may hold secrets (mqtt.password), and status is published and retained."""
    problems = getattr(exc, "problems", None)
    if not problems:
        return "the configuration cannot be read"
    places = [f"{p.file}:{p.line}:{p.column}" + (f" ({p.path})" if p.path else "") for p in problems[:5]]
    return ", ".join(places) + (f" and {len(problems) - 5} more" if len(problems) > 5 else "")


def changed_sections(old: Config, new: Config) -> list[str]:
    return [name for name in Config.model_fields if getattr(old, name) != getattr(new, name)]


def apply_config(kiosk, config: Config) -> None:
    old = kiosk.config
    changed = changed_sections(old, config)
    if not changed:
        logger.info("configuration unchanged")
        return
    logger.info("configuration changed: %s", ", ".join(changed))
    identity = {"site", "device", "mqtt"} & set(changed) or old.paths.spool != config.paths.spool \
        or old.paths.spool_max_mb != config.paths.spool_max_mb
    if identity or old.privacy.min_group != config.privacy.min_group:
        kiosk._count_audience()
        kiosk._send("metrics", kiosk.aggregator.flush(kiosk._wall()))  # the old interval, under the old name
    kiosk.config = config
    if identity:
        kiosk.telemetry.stop(timeout=2.0, final_status=kiosk.status, clean=True)
        kiosk.telemetry = start_telemetry(kiosk)
    if identity or old.privacy.min_group != config.privacy.min_group:
        from signage.telemetry.metrics import Aggregator

        kiosk.aggregator = Aggregator(config.site, config.device, config.privacy.min_group, now=kiosk._wall())
    if old.privacy.start_in_privacy != config.privacy.start_in_privacy and config.privacy.start_in_privacy:
        kiosk.privacy_forced = True
    if "display" in changed:
        current = kiosk.player.current
        kiosk.renderer.close()
        kiosk.open_display()
        kiosk.renderer.set_notice_visible(kiosk.vision.running)
        kiosk.show(current.play.creative if current and current.play.creative else None)
    if {"vision", "source"} & set(changed) or old.paths.models != config.paths.models:
        if not kiosk.privacy:
            kiosk.stop_vision()
            kiosk.start_vision()
    if "playlists" in changed or old.paths.last_good_playlist != config.paths.last_good_playlist \
            or old.display.max_image_pixels != config.display.max_image_pixels:
        kiosk.watcher.stop()
        kiosk.adopt_playlist(boot_playlist(kiosk))
        kiosk.watcher.start()
    kiosk.publish_status(force=True)
