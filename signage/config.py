"""Configuration models (pydantic). Every field has a default that works on a
fresh machine; unknown keys are errors so a typo never passes silently.

Whatever `signage run` would trip over is validated here, so `signage check` reports
it with file:line:col: broker URLs, TLS files, window sizes, spool and state paths.
What only the running service can know (may its user create and write the spool?)
is checked by `check_runtime_paths` before anything starts.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from signage.contentconfig import ContentConfig
from signage.errors import ConfigError
from signage.imageinfo import DEFAULT_MAX_PIXELS
from signage.modelfiles import DetectorModel
from signage.fields import DailyWindow, Section
from signage.fields import ed25519_public_bytes, printable_text
from signage.patterns import COLOUR_PATTERN, EDGETPU_DEVICE_PATTERN, NAME_PATTERN, TOPIC_PATTERN

BROKER_FORM = "mqtt://host:port or mqtts://host:port (e.g. mqtt://broker.local:1883)"
BROKER_SCHEMES = {"mqtt": False, "tcp": False, "mqtts": True, "ssl": True}
_HOST = re.compile(r"^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?"
                   r"|\[[0-9A-Fa-f:.]+\])$")


class AttentionConfig(Section):
    max_yaw: float = Field(30.0, ge=0, le=90, title="Looking: max |yaw|",
                           description="Degrees a head may turn sideways and still count as looking at the screen.")
    max_pitch: float = Field(30.0, ge=0, le=90, title="Looking: max |pitch|",
                             description="Degrees a head may tilt up or down and still count as looking.")


class TrackerSettings(Section):
    confirm_hits: int = Field(3, ge=1, le=30, description="Consecutive detections before a face counts as a person.")
    max_gap: float = Field(0.7, ge=0, le=10, description="Seconds a person may be missed and keep their track.")


class VisionConfig(Section):
    backend: Literal["litert", "mediapipe"] = Field(
        "litert", description="litert: our BlazeFace processing on LiteRT (the only one for Coral); "
        "mediapipe: MediaPipe Tasks FaceDetector on the same model.")
    model: DetectorModel = Field(
        "full", description="BlazeFace variant: full range for viewers 1-6 m away, short range for selfie distance; "
        "*_int8: the full-integer models `signage models quantize` makes (litert backend; the Edge TPU needs them "
        "compiled, see docs/cameras.md).")
    threads: int = Field(2, ge=1, le=16, description="Interpreter threads (XNNPACK).")
    delegate: Literal["none", "edgetpu"] = Field(
        "none", description="edgetpu: run the detector on a Coral Edge TPU. It needs an *_int8 model compiled "
        "with edgetpu_compiler (<model>_edgetpu.tflite in the models folder, see docs/cameras.md); without one, "
        "or when the device does not open, the CPU model runs and status says why.")
    edgetpu_device: str = Field(
        "auto", pattern=EDGETPU_DEVICE_PATTERN,
        description="Which Edge TPU: auto (the first found), usb, pci, or usb:N / pci:N for the N-th of that kind.")
    inference_timeout: float = Field(
        10.0, ge=1, le=600, description="Seconds a frame may wait for its inference result before the camera "
        "state becomes 'stalled' (a stuck USB accelerator does this); the systemd watchdog restarts the kiosk "
        "if it lasts.")
    min_score: float = Field(0.5, gt=0, lt=1,
                             description="Detections below this are ignored; faces are counted from it.")
    start_score: float = Field(0.7, gt=0, lt=1,
                               description="A person's track starts only from a detection this confident.")
    expressions: bool = Field(
        True, description="Classify facial expressions. Switch off where emotion recognition is not allowed "
        "(workplaces and schools under the EU AI Act): the model is then not even loaded.")
    camera_hfov: float = Field(66.0, gt=10, lt=180,
                               description="Camera horizontal field of view in degrees, for distance.")
    attention: AttentionConfig = AttentionConfig()
    tracker: TrackerSettings = TrackerSettings()

    @model_validator(mode="after")
    def _start_above_min(self) -> VisionConfig:
        if self.start_score < self.min_score:
            raise ValueError(f"vision.start_score ({self.start_score}) must be >= vision.min_score ({self.min_score})")
        if self.backend == "mediapipe" and self.model.endswith("_int8"):
            raise ValueError(f"vision.model: {self.model} runs on the litert backend only (MediaPipe needs the "
                             "float model's metadata); set vision.backend: litert or a float model")
        return self


class NoticeConfig(Section):
    enabled: bool = Field(True, description="Tell people audience measurement is active (the EU AI Act requires it "
                          "where emotion recognition runs). Shown while the camera is in use.")
    text: str = Field("Audience measurement active: no images are stored", max_length=200)
    _printable = field_validator("text")(printable_text)
    corner: Literal["top-left", "top-right", "bottom-left", "bottom-right"] = "bottom-right"
    size: int = Field(28, ge=10, le=200, description="Text height in pixels.")


class FallbackConfig(Section):
    text: str = Field("Welcome", max_length=200,
                      description="Shown when nothing else can be: the screen is never black.")
    background: str = Field("#202020", pattern=COLOUR_PATTERN)
    color: str = Field("#ffffff", pattern=COLOUR_PATTERN)
    _printable = field_validator("text")(printable_text)


class PowerConfig(Section):
    off: list[DailyWindow] = Field([], description="Times of day when the screen is blanked (may cross midnight).")
    command_off: list[str] = Field([], description="argv run when going off, e.g. [vcgencmd, display_power, '0'].")
    command_on: list[str] = Field([], description="argv run when coming back on.")


Side = Annotated[int, Field(ge=16, le=16384)]


class DisplayConfig(Section):
    fullscreen: bool = Field(True, description="Full-screen at the display's native resolution; false: a window.")
    size: tuple[Side, Side] | None = Field(None, examples=[[1920, 1080]], description=(
        "Window size [width, height], each 16 to 16384 pixels; default: 1280x720 windowed, native full-screen."))
    display: int = Field(0, ge=0, le=8, description="Which display, for machines with more than one.")
    fps: int = Field(60, ge=1, le=240, description="Frame rate cap.")
    rotation: Literal[0, 90, 180, 270] = Field(0, description="Degrees clockwise, for portrait-mounted panels.")
    cache_mb: int = Field(256, ge=16, le=4096, description="Memory for prepared images.")
    max_image_pixels: int = Field(DEFAULT_MAX_PIXELS, ge=1_000_000, le=400_000_000, description=(
        "Largest image (width x height, read from the file's header before decoding) or video frame accepted: "
        "larger ones are refused by `signage check` and never decoded. Decoding costs about 3 bytes per pixel "
        "(40 MP is 120 MB, safe on a 1 GB Raspberry Pi)."))
    video_decode: Literal["auto", "software", "v4l2m2m"] = Field("auto", description=(
        "How videos are decoded. auto: H.264 in the hardware decoder where there is one (Raspberry Pi 4, "
        "h264_v4l2m2m), else in software; software: always on the CPU; v4l2m2m: ask for the hardware decoder "
        "(software when it does not open, said once in the log)."))
    notice: NoticeConfig = NoticeConfig()
    fallback: FallbackConfig = FallbackConfig()
    power: PowerConfig = PowerConfig()


class TlsConfig(Section):
    ca: str | None = Field(None, description="CA certificate file that signed the broker's certificate.")
    cert: str | None = Field(None, description="Client certificate file, for brokers that require one.")
    key: str | None = Field(None, description="Client private key file.")
    insecure: bool = Field(False, description="Skip the broker hostname check (testing only).")

    @field_validator("ca", "cert", "key")
    @classmethod
    def _readable_file(cls, value: str | None) -> str | None:
        if value is not None:
            readable_file(value)
        return value


def readable_file(value: str) -> None:
    """A file the controller will open at start: it must exist and be readable now."""
    path = Path(value)
    if not path.exists():
        raise ValueError(f"'{value}' does not exist; give the path of a PEM file")
    if not path.is_file():
        raise ValueError(f"'{value}' is not a file; give the path of a PEM file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"'{value}' is not readable by this user; fix its permissions")


def parse_broker_url(url: str) -> tuple[str, int, bool]:
    """(host, port, tls) from mqtt://host[:port], mqtts://host[:port] or host[:port];
    ValueError naming what is wrong and the allowed form."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "mqtt", url
    if scheme.lower() not in BROKER_SCHEMES:
        raise ValueError(f"{url!r}: the scheme {scheme + '://'!r} is not a broker's; use {BROKER_FORM}")
    tls = BROKER_SCHEMES[scheme.lower()]
    rest = rest.removesuffix("/")
    if "@" in rest:
        # Not quoted: the part before '@' is a secret.
        raise ValueError(f"a broker URL with a user name or password; put them in mqtt.username and"
                         f" mqtt.password and use {BROKER_FORM}")
    if "/" in rest or "?" in rest or "#" in rest:
        raise ValueError(f"{url!r}: a broker address has no path; use {BROKER_FORM}")
    host, port_text = rest, ""
    if rest.startswith("["):
        end = rest.find("]")
        host, port_text = rest[:end + 1], rest[end + 1:].removeprefix(":")
    elif ":" in rest:
        host, _, port_text = rest.rpartition(":")
    if not host or not _HOST.match(host):
        raise ValueError(f"{url!r}: {host!r} is not a host name or IP address; use {BROKER_FORM}")
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"{url!r}: the port {port_text!r} is not a number from 1 to 65535; use {BROKER_FORM}")
        port = int(port_text)
    else:
        port = 8883 if tls else 1883
    return host.strip("[]"), port, tls


class CommandsConfig(Section):
    public_key: str | None = Field(None, description=(
        "The fleet's command key (base64, from `signage fleet provision`): commands signed with its private "
        "key are accepted, once, while fresh. Without it no signed command can be checked."))
    accept_unsigned: bool = Field(False, description=(
        "Also act on unsigned commands (plain ON/OFF, e.g. from Home Assistant). Any client that may publish "
        "on this kiosk's command topics can then command it: only with a broker ACL that lets no one else."))
    max_age: int = Field(120, ge=10, le=3600, description=(
        "Seconds a signed command stays valid either side of this kiosk's clock: delivery delay plus the "
        "clock difference with the fleet. Until NTP has set the clock, signed commands are refused."))

    @field_validator("public_key")
    @classmethod
    def _ed25519_public_key(cls, value: str | None) -> str | None:
        if value is not None:
            ed25519_public_bytes(value)
        return value


class MqttConfig(Section):
    url: str = Field("mqtt://localhost:1883", description="mqtt://host:port, or mqtts://host:port for TLS.")

    @field_validator("url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        parse_broker_url(value)
        return value
    protocol: Literal["5", "3.1.1"] = Field("5", description="MQTT protocol version.")
    username: str | None = None
    password: str | None = Field(None, description="Never logged.")
    tls: TlsConfig | None = None
    keepalive: int = Field(30, ge=5, le=3600, description="Seconds; the broker declares the device offline "
                           "after 1.5 times this without traffic.")
    topic_root: str = Field("signage", pattern=TOPIC_PATTERN, description="First topic level.")
    interval: float = Field(60.0, ge=1, le=86400, description="Seconds between metrics messages.")
    homeassistant: bool = Field(False, description="Publish Home Assistant MQTT discovery.")
    discovery_prefix: str = Field("homeassistant", description="Home Assistant's discovery prefix.")
    commands: CommandsConfig = Field(CommandsConfig(), description="Which commands from the broker this kiosk "
                                     "acts on: by default only those the fleet signed.")


class PrivacyConfig(Section):
    min_group: int = Field(3, ge=1, le=100, description="Counts of people below this (passers, viewers, peak "
                           "faces; 0 included) are published as null, and a breakdown (expressions, attention, dwell, "
                           "distance) with a non-empty cell of fewer people as {suppressed: true}.")
    schedule: list[DailyWindow] = Field([], description="Times of day with the camera off (may cross midnight); "
                                        "a remote command can add privacy, never lift it.")
    start_in_privacy: bool = Field(False, description="Keep the camera off from the start, whatever the schedule, "
                                   "until this setting changes: no remote command can turn the camera on.")


class SourceConfig(Section):
    kind: Literal["auto", "camera", "picamera", "video", "images"] = Field(
        "video", description="auto: camera 0 if it delivers, else a Pi camera if one does, else `fallback`; "
        "camera: a V4L2 device (USB webcam); "
        "picamera: a Raspberry Pi Camera Module through picamera2 (sudo apt install python3-picamera2); "
        "video: a file (the demo); images: a folder.")
    device: str = Field("0", description="Camera index or /dev/videoN; for picamera, the camera number (0, 1).")
    path: str = Field("samples/WolfgangLanger_Pexels.mp4", description="Video file or image folder.")
    fallback: str | None = Field("samples/WolfgangLanger_Pexels.mp4", description="Video for `auto` without camera.")
    loop: bool = Field(True, description="Loop a video file or image folder.")
    width: int | None = Field(None, ge=16, le=8192)
    height: int | None = Field(None, ge=16, le=8192)
    fps: float | None = Field(None, gt=0, le=240)
    format: Literal["auto", "mjpeg", "yuyv"] = Field(
        "auto", description="Pixel format a V4L2 camera is asked for. auto: MJPEG when the size and rate exceed "
        "640x480 at 30 fps (raw YUYV over USB 2 cannot carry more), else the camera's default.")

    @model_validator(mode="after")
    def _picamera_number(self) -> SourceConfig:
        if self.kind == "picamera" and not self.device.isdigit():
            raise ValueError(f"source.device: {self.device!r} is not a Pi camera number; write 0 (or 1 on a "
                             "Compute Module with two cameras)")
        return self

    def spec(self) -> str:
        return {"auto": "auto", "camera": self.device, "picamera": f"picamera:{self.device}",
                "video": self.path, "images": self.path}[self.kind]


class PathsConfig(Section):
    spool: str = Field("spool/telemetry.sqlite3", description="Telemetry spool (SQLite): messages wait here until "
                       "the broker acknowledges them.")
    spool_max_mb: float = Field(64.0, gt=0, le=100000, description="When full, the oldest messages are dropped "
                                "(and counted in status).")
    models: str | None = Field(None, description="Model folder; default models/ of this checkout.")
    state: str | None = Field(None, description="Folder for what survives a restart (the last good playlist); "
                              "default: the spool's folder.")

    @field_validator("spool")
    @classmethod
    def _spool_is_a_file(cls, value: str) -> str:
        path = Path(value)
        if not value.strip() or path.is_dir():
            raise ValueError(f"'{value}' is a folder; give a file name inside it, e.g. {path / 'telemetry.sqlite3'}")
        _folder_can_exist(path.parent, value)
        return value

    @field_validator("state")
    @classmethod
    def _state_is_a_folder(cls, value: str | None) -> str | None:
        if value is not None:
            path = Path(value)
            if path.exists() and not path.is_dir():
                raise ValueError(f"'{value}' is a file; give a folder (the last good playlist is kept in it)")
            _folder_can_exist(path, value)
        return value

    @property
    def state_dir(self) -> Path:
        return Path(self.state) if self.state is not None else Path(self.spool).parent

    @property
    def last_good_playlist(self) -> Path:
        """Where the last playlist that loaded is kept, for the next boot."""
        return self.state_dir / LAST_GOOD_NAME


LAST_GOOD_NAME = "last-good-playlist.json"


def _folder_can_exist(folder: Path, value: str) -> None:
    for parent in (folder, *folder.parents):
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"'{value}': {parent} is a file, so no folder can be made there")
            return


class AnalysisConfig(VisionConfig):
    max_fps: float = Field(15.0, gt=0, le=120, description="Analysed frames per second at most (saves CPU).")


class Config(Section):
    """config.yaml: everything has a default that works on a fresh machine."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, title="signage config")

    site: str = Field("demo", pattern=NAME_PATTERN, description="Site id (MQTT topic level).")
    device: str = Field("kiosk-1", pattern=NAME_PATTERN, description="Device id (MQTT topic level).")
    source: SourceConfig = SourceConfig()
    vision: AnalysisConfig = AnalysisConfig()
    playlists: str = Field("playlists", description="Folder of playlist files.")
    display: DisplayConfig = DisplayConfig(fullscreen=False)
    mqtt: MqttConfig = MqttConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    paths: PathsConfig = PathsConfig()
    content: ContentConfig = Field(ContentConfig(), description="Releases from the fleet: signed playlists and "
                                   "media, downloaded, checked and swapped in (docs/content.md).")

    @model_validator(mode="after")
    def _content_plays_from_its_folder(self) -> Config:
        if self.content.url is None:
            return self
        current = self.content_folder / "current"
        if Path(self.playlists) != current:
            raise ValueError(f"playlists is {self.playlists!r}, but with content.url the screen plays the releases "
                             f"it downloads: set playlists: {current}")
        return self

    @property
    def content_folder(self) -> Path:
        folder = self.content.folder
        return Path(folder) if folder is not None else self.paths.state_dir / "content"


CONFIG_KEYS = frozenset(Config.model_fields)


def load_config(path: Path) -> Config:
    """config.yaml validated, with file:line:col in every message (ProblemsError)."""
    from signage.validation import validate
    from signage.yamlread import load

    return validate(Config, load(path))


WRITABLE_HINT = ("set {key} in the config to a writable place, e.g. {example} (the systemd unit's"
                 " StateDirectory=signage makes /var/lib/signage writable for the service)")


def check_runtime_paths(config: Config, created: list[Path] | None = None) -> None:
    """What only the running user can know: can it create and write the spool and the
    state folder? Creates the folders; raises ConfigError with one clear message (the
    key, the cause, the fix) instead of a traceback later. Call before starting.
    `created` collects the folders this call made (deepest last), so that a caller
    that does not go on (a rejected reload) can take them away again: `remove_created`."""
    paths = config.paths
    _writable_folder(Path(paths.spool).parent, "paths.spool", "/var/lib/signage/telemetry.sqlite3", created)
    spool = Path(paths.spool)
    if spool.exists() and not os.access(spool, os.R_OK | os.W_OK):
        raise ConfigError(f"paths.spool: {spool} exists but this user cannot read and write it; fix its owner"
                          f" (chown) or " + WRITABLE_HINT.format(key="paths.spool",
                                                                 example="/var/lib/signage/telemetry.sqlite3"))
    _writable_folder(paths.state_dir, "paths.state", "/var/lib/signage", created)
    if config.content.url is not None:
        _writable_folder(config.content_folder, "content.folder", "/var/lib/signage/content", created)


def remove_created(created: list[Path]) -> None:
    """Take away the folders check_runtime_paths made, deepest first, if still empty."""
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            pass  # something was put there meanwhile: it stays
    created.clear()


def _writable_folder(folder: Path, key: str, example: str, created: list[Path] | None = None) -> None:
    folder = folder if str(folder) else Path(".")
    hint = WRITABLE_HINT.format(key=key, example=example)
    if created is not None:
        missing = [parent for parent in (folder, *folder.parents) if not parent.exists()]
        created.extend(reversed(missing))  # outermost first
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{key}: cannot create the folder {folder} ({exc.strerror or exc}); {hint}") from None
    try:  # os.access cannot see read-only mounts (ProtectSystem=strict) for root: try it
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ConfigError(f"{key}: cannot write in {folder} ({exc.strerror or exc}); {hint}") from None
