"""`signage bench content`: a release rolled out from one `signage fleet` to many screens.

Round 1, the rollout: a release of `mb` MB (a playlist and media files of random bytes,
which compress to nothing) is published; `screens` simulated screens (each an updater of
its own, its own content folder, the kiosk's rate cap) fetch it at once from a real
`signage fleet` (a subprocess, with a throwaway Mosquitto). Reported over `rounds`
rollouts (min / median / max): the time until the last screen plays it, as a ratio to one
screen's download at the cap, and the fleet process's CPU (% of one core over the
rollout); and its peak resident memory over them all.

Round 2, the screen: one kiosk's renderer plays a 30 fps 1080p H.264 video while its
updater downloads the release (niced, rate-capped, as on a kiosk), against the same
video without a download, `rounds` times in the same run. Reported: dropped video frames
in both (the target is none while downloading, in every round). Run it under X or Xvfb at
1920x1080 (SDL's dummy driver flatters it).

Every screen keeps its own copy: the bench needs `screens x mb` of free disk in TMPDIR
and refuses to start without it.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from signage.cli.bench_broker import start_mosquitto
from signage.cli.measure import Spread, verdict

FILE_MB = 10
VIDEO_SIZE = (1920, 1080)
DROPPED_TARGET = 0


def _repo(folder: Path, mb: int) -> Path:
    repo = folder / "repo" / "fleet"
    (repo / "media").mkdir(parents=True)
    (repo / "lobby.yaml").write_text("creatives:\n  - {id: hello, type: card, text: Hello}\ndefault: [hello]\n")
    left, index = mb, 0
    while left > 0:
        size = min(FILE_MB, left)
        (repo / "media" / f"part-{index:04d}.bin").write_bytes(os.urandom(size << 20))
        left, index = left - size, index + 1
    return repo.parent


def _fleet(folder: Path, releases: Path, broker: str) -> tuple[subprocess.Popen, str, Path]:
    import socket

    from signage.fleet.passwords import hash_password

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = folder / "fleet.yaml"
    config.write_text(f"login_hash: '{hash_password('bench-only')}'\nreleases: {releases}\n")
    log = folder / "fleet.log"
    process = subprocess.Popen([sys.executable, "-m", "signage.cli", "fleet", "--config", str(config), "--db",
                                str(folder / "fleet.sqlite3"), "--broker", broker, "--port", str(port)],
                               stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while "dashboard on" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"signage fleet did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)
    return process, f"http://127.0.0.1:{port}/releases", log


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _updater(key, url: str, folder: Path, mb: int, rate_mb_s: float):
    from signage.content.updater import ContentUpdater, Settings
    from signage.display.videoinfo import video_length

    settings = Settings(base_url=url, key=key.public_key(), folder=folder, site="bench", device=folder.name,
                        budget_bytes=(mb + 64) << 20, check_every=3600, rate_bytes_s=rate_mb_s * 1e6)
    updater = ContentUpdater(settings, video_length)
    updater.folder.prepare()
    return updater


def _rollout(key, url: str, folder: Path, screens: int, mb: int, rate_mb_s: float) -> tuple[float, list[str]]:
    """Seconds until every screen has the release, and the refusals if any screen did not."""
    updaters = [_updater(key, url, folder / f"screen-{i:04d}", mb, rate_mb_s) for i in range(screens)]
    threads = [threading.Thread(target=u.step, name=f"screen-{i}", daemon=True) for i, u in enumerate(updaters)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    spent = time.monotonic() - started
    failed = [f"{u.settings.device}: {u.state.state} {u.state.reason}" for u in updaters if u.state.state != "active"]
    return spent, failed


def _frames_while(renderer, watch, seconds: float, during=None) -> tuple[int, int]:
    """(shown, dropped) video frames over `seconds`, with `during` running in a thread meanwhile."""
    thread = threading.Thread(target=during, name="content", daemon=True) if during else None
    watch.reset()
    if thread:
        thread.start()
    started = time.monotonic()
    while time.monotonic() - started < seconds or (thread is not None and thread.is_alive()):
        renderer.frame()
    return watch.shown, watch.dropped


def _screen_round(key, url: str, folder: Path, mb: int, rate_mb_s: float, rounds: int) -> list[str]:
    from signage.config import DisplayConfig, NoticeConfig
    from signage.display.content import Content
    from signage.display.events import RenderObserver
    from signage.display.readback import has_video_frame
    from signage.display.renderer import Renderer
    from signage.display.synthetic import encode_h264

    class Watch(RenderObserver):
        shown = dropped = 0

        def reset(self):
            self.shown = self.dropped = 0

        def video_frames(self, shown, dropped):
            self.shown += shown
            self.dropped += dropped

    seconds = (mb << 20) / (rate_mb_s * 1e6)  # the download's length at the cap
    video = encode_h264(folder / "clip.mp4", 10, VIDEO_SIZE, 30)
    watch = Watch()
    renderer = Renderer(DisplayConfig(fullscreen=False, size=VIDEO_SIZE, notice=NoticeConfig(enabled=False)),
                        observer=watch)
    renderer.open()
    idle, busy, states = [], [], []
    try:
        renderer.show(Content(id="clip", type="video", path=video, loop=True))
        deadline = time.monotonic() + 20
        while not has_video_frame(renderer) and time.monotonic() < deadline:
            renderer.frame()
        for n in range(rounds):
            idle.append(_frames_while(renderer, watch, min(seconds, 30)))
            kiosk = _updater(key, url, folder / f"kiosk-{n}", mb, rate_mb_s)
            busy.append(_frames_while(renderer, watch, 0, during=kiosk.step))
            states.append(kiosk.state.state)
            shutil.rmtree(folder / f"kiosk-{n}", ignore_errors=True)
        driver = renderer.screen.driver if renderer.screen is not None else "none"
    finally:
        renderer.close()
    lines = [f"screen: SDL video driver {driver}, a 30 fps 1080p H.264 video; the download at {rate_mb_s:g} MB/s, "
             f"niced ({', '.join(states)}); {rounds} rounds",
             f"  {'':20} {'frames shown':>22}   {'dropped':>16}",
             f"  {'':20} {'min / median / max':>22}   {'min / median / max':>16}"]
    for name, counts in (("without a download", idle), ("while downloading", busy)):
        shown = Spread.of([float(s) for s, _ in counts])
        dropped = Spread.of([float(d) for _, d in counts])
        met = verdict(dropped.high <= DROPPED_TARGET) if name == "while downloading" else ""
        lines.append(f"  {name:20} {shown.format('.0f'):>22}   {dropped.format('.0f'):>16} {met}".rstrip())
    lines.append(f"target: {DROPPED_TARGET} frames dropped while downloading, in every round")
    return lines


def run(screens: int = 50, mb: int = 200, rate_mb_s: float = 4.0, screen: bool = True,
        rounds: int = 3) -> str:
    from signage.content import release, signing
    from signage.display.videoinfo import video_length

    with tempfile.TemporaryDirectory(prefix="signage-bench-content-") as temp:
        folder = Path(temp)
        needed = (screens + 3) * mb << 20
        free = shutil.disk_usage(folder).free
        if needed > free:
            raise SystemExit(f"bench content needs {needed / 2**30:.1f} GiB free in {folder.parent} ({screens} "
                             f"screens x {mb} MB, each its own copy), and it has {free / 2**30:.1f} GiB: give "
                             "fewer --screens, a smaller --mb, or TMPDIR on a larger disk")
        key = signing.generate(folder / "release.pem")
        releases = folder / "releases"
        release.publish(_repo(folder, mb), releases, key, video_length=video_length, simulate_days=0)
        mosquitto, broker = start_mosquitto(folder)
        fleet, url, _ = _fleet(folder, releases, broker)
        content_log = logging.getLogger("signage.content")
        quiet_before = content_log.level
        content_log.setLevel(logging.WARNING)  # one line per screen and step otherwise; set back after
        try:
            alone = (mb << 20) / (rate_mb_s * 1e6)  # one screen's download at the cap
            ratios, cpus, failed = [], [], []
            for n in range(rounds):
                cpu = _cpu_seconds(fleet.pid)
                spent, failed_now = _rollout(key, url, folder / f"screens-{n}", screens, mb, rate_mb_s)
                cpus.append(100 * (_cpu_seconds(fleet.pid) - cpu) / spent)
                ratios.append(spent / alone)
                failed += failed_now
                shutil.rmtree(folder / f"screens-{n}", ignore_errors=True)
            ratio, cpu_share = Spread.of(ratios), Spread.of(cpus)
            lines = [f"rollout: {screens} screens fetch a {mb} MB release from one signage fleet, each capped at "
                     f"{rate_mb_s:g} MB/s; {rounds} rollouts, min / median / max",
                     f"  time to full rollout      {ratio.format()} x one screen's download at the cap "
                     f"({alone:.1f} s): {ratio.median * alone:.1f} s (median)",
                     f"  signage fleet CPU         {cpu_share.format('.0f')} % of one core during the rollout",
                     f"  signage fleet memory      peak resident {_peak_rss_mb(fleet.pid):.0f} MiB over all rollouts",
                     f"  {rounds * screens - len(failed)} of {rounds * screens} screen rollouts active"]
            lines += [f"  not active: {line}" for line in failed[:5]]
            if screen:
                lines += _screen_round(key, url, folder, mb, rate_mb_s, rounds)
        finally:
            content_log.setLevel(quiet_before)
            fleet.terminate()
            fleet.wait(30)
            mosquitto.terminate()
            mosquitto.wait(10)
    return "\n".join(lines)
