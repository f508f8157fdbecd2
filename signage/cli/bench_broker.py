"""A throwaway Mosquitto on a free loopback port, for the benches that need a broker."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


def start_mosquitto(folder: Path, settings: str = "") -> tuple[subprocess.Popen, str]:
    """Mosquitto listening on 127.0.0.1 (its config written in `folder`, plus `settings`
    lines), and its URL once it accepts connections. The caller terminates it."""
    if shutil.which("mosquitto") is None:
        raise SystemExit("this bench needs a broker: install mosquitto (or pass --broker URL where offered)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (folder / "m.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nuser root\n{settings}")
    process = subprocess.Popen(["mosquitto", "-c", str(folder / "m.conf")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return process, f"mqtt://127.0.0.1:{port}"
