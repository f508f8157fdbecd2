"""A real Mosquitto on loopback for the telemetry tests (`.ci/run` installs it)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Broker:
    def __init__(self, folder: Path, password: tuple[str, str] | None = None, tls: dict | None = None,
                 settings: str | None = None, port: int | None = None,
                 max_queued: int = 10000):
        """`settings`: a whole configuration of our own (its listener on `port`, 127.0.0.1),
        to which only the test's log file and user are added. `max_queued`: messages held per
        client past its in-flight window before the broker drops them (0: no limit)."""
        if shutil.which("mosquitto") is None:
            raise RuntimeError("mosquitto is not installed: apt-get install mosquitto (the CI script does)")
        self.folder, self.port = folder, port or free_port()
        self.process: subprocess.Popen | None = None
        if settings is not None:
            (folder / "mosquitto.conf").write_text(f"user root\nlog_dest file {folder}/mosquitto.log\n{settings}")
            self.url = f"{'mqtts' if tls else 'mqtt'}://127.0.0.1:{self.port}"
            return
        lines = [f"listener {self.port} 127.0.0.1", "user root", "persistence true",
                 f"persistence_location {folder}/", f"log_dest file {folder}/mosquitto.log",
                 f"max_queued_messages {max_queued}"]
        if password:
            passwords = folder / "passwords"
            passwords.write_text("")
            subprocess.run(["mosquitto_passwd", "-b", str(passwords), *password], check=True)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        if tls:
            lines += [f"cafile {tls['ca']}", f"certfile {tls['cert']}", f"keyfile {tls['key']}"]
        (folder / "mosquitto.conf").write_text("\n".join(lines) + "\n")
        self.url = f"{'mqtts' if tls else 'mqtt'}://127.0.0.1:{self.port}"

    def start(self) -> Broker:
        self.process = subprocess.Popen(["mosquitto", "-c", str(self.folder / "mosquitto.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError((self.folder / "mosquitto.log").read_text()[-2000:]) from None
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


def self_signed_tls(folder: Path) -> dict[str, Path]:
    """A test CA and a server certificate for 127.0.0.1 made with openssl in `folder`:
    the `tls` files a Broker listens with (the CA is `ca`)."""
    def run(*args):
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
        "-keyout", "ca.key", "-out", "ca.crt")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "san.ext", "-out", "server.crt")
    return {"ca": folder / "ca.crt", "cert": folder / "server.crt", "key": folder / "server.key"}
