"""A throw-away PostgreSQL cluster (Debian's `postgresql` package) for the tests: a temp
dir, 127.0.0.1 on a free port, trust auth, no fsync; it can be paused and resumed (an
outage). PostgreSQL refuses to run as root, so as root it runs as the `postgres` user."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or (
        [shutil.which(name)] if shutil.which(name) else [])
    if not found:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (the CI script does)")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TempPostgres:
    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="signage-pg-"))
        self.port = _free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres"
            entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        subprocess.run(prefix + list(command), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> TempPostgres:
        data = self.folder / "data"
        self._run(_bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        self.resume()
        return self

    def pause(self) -> None:
        """Stop the server, keeping its data (an outage; `resume` ends it). A fast stop, not
        an immediate one: without fsync and synchronous commit, a crash would lose the
        last commits."""
        self._run(_bin("pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")

    def resume(self) -> None:
        options = (f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=50")
        self._run(_bin("pg_ctl"), "-D", str(self.folder / "data"), "-o", options, "-l", str(self.folder / "log"),
                  "-w", "start")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(_bin("pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
