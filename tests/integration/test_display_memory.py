"""What the screen holds stays bounded: on the GL path (SDL's offscreen driver, Mesa's
GL through EGL), presents do not pile up in the driver, a buffer the size of a picture
is given back when freed, a display loss releases its renderer, textures, threads and
files, and a playlist edited again and again keeps only its own creatives' pictures.
Counts of bytes, objects and handles, never time."""

from __future__ import annotations

import gc
import os

import pytest

from signage.cli.measure import malloc_now, open_files, threads
from signage.display import readback
from signage.display.content import Content
from signage.display.events import RenderObserver
from signage.display.gl import GL_RENDER_DRIVERS
from tests.fakes import FakeClock
from tests.support.renderers import make_renderer

MB = 1024 * 1024
PRESENTS = 400
# Unflushed, each composed present of a fade (two full-layout textures and the notice)
# kept about 130 KB queued in Mesa: 400 of them about 50 MB.
QUEUED_BOUND_MB = 10
BUFFERS = 40  # of 2 MB


class Watch(RenderObserver):
    """Counts presents; raises the display's own error from the present hook when told
    to (the path a dead X server or DRM device takes)."""

    def __init__(self):
        self.presents = 0
        self.lose_next = False
        self.holding = (0, 0, 0)

    def presented(self, t, spent_s, late):
        self.presents += 1
        if self.lose_next:
            from signage.display.renderer import DisplayError

            self.lose_next = False
            raise DisplayError("injected by the test")

    def held(self, pictures_bytes, pictures, frames_bytes):
        self.holding = (pictures_bytes, pictures, frames_bytes)


@pytest.fixture
def gl(monkeypatch):
    """Renderers on SDL's offscreen driver (GL through EGL, no window system), closed after the test."""
    monkeypatch.setenv("SDL_VIDEODRIVER", "offscreen")
    monkeypatch.delenv("SDL_RENDER_DRIVER", raising=False)
    made = []

    def factory(**kwargs):
        renderer = make_renderer(**kwargs)
        made.append(renderer)
        if renderer.screen.backend.driver not in GL_RENDER_DRIVERS:
            pytest.fail(f"SDL's offscreen driver gave no GL renderer ({renderer.screen.backend.driver}): "
                        "install Mesa's EGL and GL drivers (libegl-mesa0, libgl1-mesa-dri)")
        return renderer

    yield factory
    for renderer in made:
        renderer.close()


def cards() -> tuple[Content, Content]:
    return (Content(id="a", type="card", text="A", background="#224466", transition="fade", fade_seconds=0.2),
            Content(id="b", type="card", text="B", background="#664422", transition="fade", fade_seconds=0.2))


def present(renderer, watch: Watch, count: int, clock: FakeClock) -> None:
    """Fade between two cached cards until `count` more presents went out."""
    a, b = cards()
    target = watch.presents + count
    turn = 0
    while watch.presents < target:
        renderer.show((a, b)[turn % 2])
        turn += 1
        for _ in range(20):
            clock.now += 0.02
            renderer.frame()


def test_presents_on_the_gl_path_do_not_pile_up_in_the_driver(gl):
    clock, watch = FakeClock(), Watch()
    renderer = gl(clock=clock, observer=watch, notice=True)
    present(renderer, watch, 60, clock)  # both cards cached, the driver's shaders compiled
    before = malloc_now()
    if before is None:
        pytest.fail("this C library has no mallinfo2 (glibc >= 2.33 is what the kiosk runs on)")
    present(renderer, watch, PRESENTS, clock)
    grown = (malloc_now().in_use - before.in_use) / MB
    assert grown < QUEUED_BOUND_MB, f"{PRESENTS} presents left {grown:.1f} MB in the heap"


def test_freed_picture_size_buffers_leave_no_holes_in_the_heap(headless):
    """Once a renderer exists, buffers of 2 MB, each made beside a small allocation that
    stays (as pictures and frames are made beside everything else), leave no free memory
    behind in the heap when they are freed (past what the heap had free already). With
    glibc's moving threshold they came from the heap once one was freed, and the small
    allocations between them pinned the holes."""
    make_renderer().close()
    previous = bytearray(2 * MB)  # one made and freed first, as the previous creative's picture was
    del previous
    before = malloc_now()
    buffers, kept = [], []
    for _ in range(BUFFERS):
        buffers.append(bytearray(2 * MB))
        kept.append(bytearray(200 * 1024))  # larger than the heap's free holes: it goes between the buffers
    buffers.clear()
    held = (malloc_now().free_held - before.free_held) / MB
    assert held < 8, f"{held:.1f} MB of freed picture-size buffers stay in the heap"


def live(kind) -> int:
    gc.collect()
    return sum(1 for thing in gc.get_objects() if isinstance(thing, kind))


def test_each_display_loss_releases_its_renderer_textures_threads_and_files(gl, tmp_path, h264_clip):
    """Eight losses, each while a video plays over a cached image and card: after each
    reopen (same creative, same picture) the live SDL renderers and textures, the
    process's threads and its open files are what they were after the first open."""
    from pygame._sdl2 import video as sdl2

    from signage.display.renderer import REOPEN_AFTER_S
    from tests.support.renderers import image

    clock, watch = FakeClock(), Watch()
    renderer = gl(clock=clock, observer=watch, notice=True)
    picture = Content(id="picture", type="image", path=image(tmp_path, "p.png", 800, 450, (0, 0, 255)))
    card = Content(id="card", type="card", text="Card", background="#224466")
    video = Content(id="video", type="video", path=h264_clip, loop=True)

    def settle(content: Content) -> None:
        renderer.show(content)
        for _ in range(400):
            clock.now += 0.02
            renderer.frame()
            if renderer.stats.showing == content.id and renderer.screen is not None and \
                    (content.type != "video" or readback.has_video_frame(renderer)):
                return
        raise AssertionError(f"{content.id} never came on screen: {renderer.stats.errors}")

    def counts() -> dict[str, int]:
        settle(picture)
        settle(card)
        settle(video)
        assert watch.holding[1] >= 2 and watch.holding[2] > 0, "the cached pictures and the video's ring are told"
        return {"renderers": live(sdl2.Renderer), "textures": live(sdl2.Texture), "threads": threads(),
                "files": open_files()}

    first = counts()
    for loss in range(8):
        watch.lose_next = True
        while renderer.screen is not None:
            clock.now += 0.02
            renderer.frame()
        assert renderer.stats.state == "lost"
        assert live(sdl2.Renderer) == 0 and live(sdl2.Texture) == 0, "the lost display's renderer is gone"
        clock.now += REOPEN_AFTER_S
        renderer.frame()
        assert renderer.screen is not None, f"reopened after loss {loss + 1}"
        assert counts() == first, f"after loss {loss + 1}"


def test_a_playlist_edited_again_and_again_keeps_only_its_own_pictures(tmp_path):
    """A running kiosk (privacy on: no camera) whose one card is replaced by a new one 8
    times: the picture cache the renderer reports never holds more than the card on
    screen, the one it replaces and the fallback. A picture edited away is forgotten, not
    kept until the cache's byte bound (256 MB by default) is full."""
    from signage.kiosk.app import Kiosk, Observer
    from tests.kiosk import make_config, run_with
    from tests.support.waiting import wait_for

    playlists = tmp_path / "playlists"
    playlists.mkdir()

    def write(version: int) -> None:
        temporary = playlists / "p.tmp"
        temporary.write_text("creatives:\n"
                             f"  - {{id: offer-{version}, type: card, text: 'Offer {version}', background: '#224466', "
                             f"duration: 1}}\ndefault: [offer-{version}]\n")
        os.replace(temporary, playlists / "p.yaml")  # whole, as an operator's tool should write it

    write(0)
    most = {"pictures": 0}
    shown: list[str | None] = []

    class Screen(RenderObserver):
        def held(self, pictures_bytes, pictures, frames_bytes):
            most["pictures"] = max(most["pictures"], pictures)

    class Watching(Observer):
        screen = Screen()

        def showing(self, creative, t):
            shown.append(creative)

    config, path = make_config(tmp_path, "mqtt://127.0.0.1:9", privacy="{start_in_privacy: true}")

    def script(kiosk):
        for version in range(1, 9):
            write(version)
            wait_for(lambda version=version: f"offer-{version}" in shown, f"version {version} on screen")

    run_with(Kiosk(config, config_path=path, observer=Watching()), script)
    assert 2 <= most["pictures"] <= 3, f"the cache held up to {most['pictures']} pictures"
