"""`signage run` as its own process, as systemd starts it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from signage.modelfiles import PROJECT_ROOT


def start_controller(folder: Path, broker_url: str, samples: Path, models_dir: Path, spool: Path | None = None,
                     extra_env: dict | None = None, args=(), extra_config: str = "",
                     loop: bool = False) -> subprocess.Popen:
    """`signage run` on the e2e playlist and the sample video, drawing with SDL's dummy
    driver, linked to `broker_url`, its spool at `spool` (else in `folder`); its output
    (stdout and stderr together) in process.stdout. `extra_config`: YAML lines appended
    to the config file written in `folder`. With `loop` the video plays again and again
    (--source plays it once, then the kiosk stops)."""
    config = folder / "config.yaml"
    video = samples / "WolfgangLanger_Pexels.mp4"
    config.write_text(f"site: lab\ndevice: sd\nplaylists: {PROJECT_ROOT / 'tests' / 'playlists' / 'e2e'}\n"
                      f"paths: {{spool: {spool or folder / 'spool.sqlite3'}}}\n"
                      "display: {fullscreen: false, size: [320, 180]}\n"
                      + (f"source: {{kind: video, path: '{video}', loop: true}}\n" if loop else "") + extra_config)
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SIGNAGE_MODELS_DIR=str(models_dir), **(extra_env or {}))
    return subprocess.Popen(
        [sys.executable, "-m", "signage.cli", "run", "--config", str(config), "--mqtt", broker_url,
         *(() if loop else ("--source", str(video))), *args],
        env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
