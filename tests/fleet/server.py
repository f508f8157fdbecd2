"""A real `signage fleet` process (uvicorn, ingest, the settings file) for the tests that
need what only the running server does: the client address uvicorn sees, the proxy
headers it believes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from signage.fleet.passwords import hash_password
from signage.modelfiles import PROJECT_ROOT
from tests.broker import free_port
from tests.fleet.dashboard import PASSWORD
from tests.support.waiting import wait_for


class FleetServer:
    def __init__(self, folder: Path, broker_url: str, db: str | None = None, **settings):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder, self.port = folder, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = folder / "fleet.yaml"
        config.write_text(yaml.safe_dump({"login_hash": hash_password(PASSWORD)} | settings))
        self.log = folder / "fleet.log"
        env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), PYTHONDONTWRITEBYTECODE="1")
        self._handle = self.log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "signage.cli", "fleet", "--config", str(config), "--db",
             db or str(folder / "fleet.sqlite3"), "--broker", broker_url, "--port", str(self.port)],
            env=env, cwd=PROJECT_ROOT, stdout=self._handle, stderr=subprocess.STDOUT)

    def started(self) -> FleetServer:
        wait_for(lambda: "dashboard on" in self.output() or self.process.poll() is not None, "the dashboard",
                 timeout=60)
        if self.process.poll() is not None:
            raise AssertionError(f"signage fleet exited: {self.output()[-3000:]}")
        return self

    def output(self) -> str:
        return self.log.read_text()

    def client(self, source: str = "127.0.0.1") -> httpx.Client:
        """A client whose connections come from `source` (any 127.x.y.z is this machine)."""
        return httpx.Client(base_url=self.url, transport=httpx.HTTPTransport(local_address=source), timeout=60)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._handle.close()

