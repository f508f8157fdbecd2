"""Configuration models (pydantic). Every field has a default that works on a
fresh machine; unknown keys are errors so a typo never passes silently."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    model: Literal["short", "full", "full_sparse"] = Field(
        "full", description="BlazeFace variant: full range for viewers 1-6 m away, short range for selfie distance.")
    threads: int = Field(2, ge=1, le=16, description="Interpreter threads (XNNPACK).")
    delegate: Literal["none", "edgetpu"] = Field(
        "none", description="edgetpu loads libedgetpu.so.1 and falls back to the CPU when it is absent.")
    min_score: float = Field(0.5, gt=0, lt=1, description="Detections below this are ignored; faces are counted from it.")
    start_score: float = Field(0.7, gt=0, lt=1, description="A person's track starts only from a detection this confident.")
    expressions: bool = Field(
        True, description="Classify facial expressions. Switch off where emotion recognition is not allowed "
        "(workplaces and schools under the EU AI Act): the model is then not even loaded.")
    camera_hfov: float = Field(66.0, gt=10, lt=180, description="Camera horizontal field of view in degrees, for distance.")
    attention: AttentionConfig = AttentionConfig()
    tracker: TrackerSettings = TrackerSettings()

    @model_validator(mode="after")
    def _start_above_min(self) -> "VisionConfig":
        if self.start_score < self.min_score:
            raise ValueError(f"vision.start_score ({self.start_score}) must be >= vision.min_score ({self.min_score})")
        return self


class NoticeConfig(Section):
    enabled: bool = Field(True, description="Tell people audience measurement is active (the EU AI Act requires it "
                          "where emotion recognition runs). Shown while the camera is in use.")
    text: str = Field("Audience measurement active: no images are stored", max_length=200)
    corner: Literal["top-left", "top-right", "bottom-left", "bottom-right"] = "bottom-right"
    size: int = Field(28, ge=10, le=200, description="Text height in pixels.")


class FallbackConfig(Section):
    text: str = Field("Welcome", max_length=200, description="Shown when nothing else can be: the screen is never black.")
    background: str = Field("#202020", pattern=r"^#[0-9a-fA-F]{6}$")
    color: str = Field("#ffffff", pattern=r"^#[0-9a-fA-F]{6}$")


class DailyWindow(Section):
    """A time of day window, [start, end); it crosses midnight when end < start."""

    start: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM it begins.")
    end: str = Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="HH:MM it ends.")

    @property
    def minutes(self) -> tuple[int, int]:
        return minutes_of_day(self.start), minutes_of_day(self.end)


def minutes_of_day(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def within(windows: list[DailyWindow], hour: int, minute: int) -> bool:
    """Whether a time of day falls in any of the windows."""
    now = hour * 60 + minute
    for window in windows:
        start, end = window.minutes
        if start <= now < end or (end < start and (now >= start or now < end)):
            return True
    return False


class PowerConfig(Section):
    off: list[DailyWindow] = Field([], description="Times of day when the screen is blanked (may cross midnight).")
    command_off: list[str] = Field([], description="argv run when going off, e.g. [vcgencmd, display_power, '0'].")
    command_on: list[str] = Field([], description="argv run when coming back on.")


class DisplayConfig(Section):
    fullscreen: bool = Field(True, description="Full-screen at the display's native resolution; false: a window.")
    size: tuple[int, int] | None = Field(None, description="Window size [width, height]; default: 1280x720 windowed, "
                                         "native full-screen.")
    display: int = Field(0, ge=0, le=8, description="Which display, for machines with more than one.")
    fps: int = Field(60, ge=1, le=240, description="Frame rate cap.")
    rotation: Literal[0, 90, 180, 270] = Field(0, description="Degrees clockwise, for portrait-mounted panels.")
    cache_mb: int = Field(256, ge=16, le=4096, description="Memory for prepared images.")
    max_image_pixels: int = Field(
        50_000_000, ge=1_000_000, le=1_000_000_000,
        description="Largest image (width x height, read from the file's header before decoding) or video frame "
        "accepted. Decoding needs about 3 bytes per pixel: 50 MP is 150 MB, safe on a 1 GB Raspberry Pi. "
        "Larger files are refused with a message.")
    notice: NoticeConfig = NoticeConfig()
    fallback: FallbackConfig = FallbackConfig()
    power: PowerConfig = PowerConfig()


class TlsConfig(Section):
    ca: str | None = Field(None, description="CA certificate file that signed the broker's certificate.")
    cert: str | None = Field(None, description="Client certificate file, for brokers that require one.")
    key: str | None = Field(None, description="Client private key file.")
    insecure: bool = Field(False, description="Skip the broker hostname check (testing only).")


class MqttConfig(Section):
    url: str = Field("mqtt://localhost:1883", description="mqtt://host:port, or mqtts://host:port for TLS.")
    protocol: Literal["5", "3.1.1"] = Field("5", description="MQTT protocol version.")
    username: str | None = None
    password: str | None = Field(None, description="Never logged.")
    tls: TlsConfig | None = None
    keepalive: int = Field(30, ge=5, le=3600, description="Seconds; the broker declares the device offline "
                           "after 1.5 times this without traffic.")
    topic_root: str = Field("signage", pattern=r"^[^#+/][^#+]*$", description="First topic level.")
    interval: float = Field(60.0, ge=1, le=86400, description="Seconds between metrics messages.")
    homeassistant: bool = Field(False, description="Publish Home Assistant MQTT discovery.")
    discovery_prefix: str = Field("homeassistant", description="Home Assistant's discovery prefix.")


class PrivacyConfig(Section):
    min_group: int = Field(3, ge=1, le=100, description="Breakdowns (expressions, attention, dwell, distance) over "
                           "fewer people than this are published as {suppressed: true}.")
    schedule: list[DailyWindow] = Field([], description="Times of day with the camera off (may cross midnight).")
    start_in_privacy: bool = Field(False, description="Start with the camera off until a command turns it on.")


class SourceConfig(Section):
    kind: Literal["auto", "camera", "video", "images"] = Field(
        "video", description="auto: the camera if one opens, else `fallback`; camera: a V4L2 device; "
        "video: a file (the demo); images: a folder.")
    device: str = Field("0", description="Camera index or /dev/videoN.")
    path: str = Field("samples/WolfgangLanger_Pexels.mp4", description="Video file or image folder.")
    fallback: str | None = Field("samples/WolfgangLanger_Pexels.mp4", description="Video for `auto` without camera.")
    loop: bool = Field(True, description="Loop a video file or image folder.")
    width: int | None = Field(None, ge=16, le=8192)
    height: int | None = Field(None, ge=16, le=8192)
    fps: float | None = Field(None, gt=0, le=240)

    def spec(self) -> str:
        return {"auto": "auto", "camera": self.device, "video": self.path, "images": self.path}[self.kind]


class PathsConfig(Section):
    spool: str = Field("spool/telemetry.sqlite3", description="Telemetry spool (SQLite): messages wait here until "
                       "the broker acknowledges them.")
    spool_max_mb: float = Field(64.0, gt=0, le=100000, description="When full, the oldest messages are dropped "
                                "(and counted in status).")
    models: str | None = Field(None, description="Model folder; default models/ of this checkout.")


class AnalysisConfig(VisionConfig):
    max_fps: float = Field(15.0, gt=0, le=120, description="Analysed frames per second at most (saves CPU).")


class Config(Section):
    """config.yaml: everything has a default that works on a fresh machine."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="signage config")

    site: str = Field("demo", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Site id (MQTT topic level).")
    device: str = Field("kiosk-1", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Device id (MQTT topic level).")
    source: SourceConfig = SourceConfig()
    vision: AnalysisConfig = AnalysisConfig()
    playlists: str = Field("playlists", description="Folder of playlist files.")
    display: DisplayConfig = DisplayConfig(fullscreen=False)
    mqtt: MqttConfig = MqttConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    paths: PathsConfig = PathsConfig()


def load_config(path: Path) -> Config:
    """config.yaml validated, with file:line:col in every message (ProblemsError)."""
    from signage.validation import validate
    from signage.yamlfile import load

    return validate(Config, load(path))
