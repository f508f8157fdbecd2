"""`signage fleet` as a person runs it: no arguments on a fresh machine, passwd, migrate,
and clear errors instead of tracebacks."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import threading

import httpx
import pytest

from signage.fleet import database
from signage.modelfiles import PROJECT_ROOT
from tests.broker import free_port
from tests.support.waiting import wait_for


@pytest.fixture
def home(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"),
               XDG_DATA_HOME=str(tmp_path / "data"))
    return tmp_path, env


def fleet(env, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "signage.cli", "fleet", *args], env=env, cwd=PROJECT_ROOT,
                          input=stdin, capture_output=True, text=True, timeout=120)


def test_no_arguments_on_a_fresh_machine_runs_with_defaults_and_a_printed_password(home, broker):
    folder, env = home
    port = free_port()
    # Only the port and the broker differ from the defaults (the test machine is shared).
    process = subprocess.Popen([sys.executable, "-m", "signage.cli", "fleet", "--port", str(port), "--broker",
                                broker.url], env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("dashboard on http://127.0.0.1:" in line for line in lines), "the dashboard", timeout=60)
        password = next(re.search(r"password is (\S+)", line).group(1) for line in lines if "password is" in line)
        config = folder / "cfg" / "signage" / "fleet.yaml"
        assert stat.S_IMODE(config.stat().st_mode) == 0o600 and "login_hash: scrypt$" in config.read_text()
        assert password not in config.read_text()
        key = folder / "cfg" / "signage" / "command.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, "the command key, made at first start, is the fleet's own"
        assert (folder / "data" / "signage" / "fleet.sqlite3").exists()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            assert client.get("/").status_code == 401
            token = re.search(r'name="login_token" value="([^"]+)"', client.get("/login").text).group(1)
            assert client.post("/login", data={"password": password, "login_token": token}).status_code == 303
            assert "Fleet" in client.get("/").text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        reader.join(timeout=5)
    assert process.returncode == 0
    assert any("stopped: received" in line for line in lines) and not any("Traceback" in line for line in lines)


def test_passwd_and_migrate(home):
    folder, env = home
    assert fleet(env, "passwd", "--password-stdin", stdin="short\n").returncode == 1
    result = fleet(env, "passwd", "--password-stdin", stdin="a long enough password\n")
    assert result.returncode == 0, result.stderr
    config = (folder / "cfg" / "signage" / "fleet.yaml").read_text()
    assert "scrypt$" in config and "long enough" not in config
    result = fleet(env, "migrate", "--db", str(folder / "x.sqlite3"))
    head = database.head_revision()
    assert result.returncode == 0 and f"empty → {head}" in result.stdout
    assert f"{head} → {head}" in fleet(env, "migrate", "--db", str(folder / "x.sqlite3")).stdout


@pytest.mark.parametrize("content, expected", [
    ("port: [1\n", "YAML syntax"),
    ("port: 99999\n", "port"),
    ("colour: blue\n", "colour"),
    ("port: 8080\nport: 8081\n", "fleet.yaml:2:1: port: duplicate key 'port' (first defined at line 1)"),
    ("broker: ftp://broker\n", "fleet.yaml:1:9: broker: 'ftp://broker': the scheme 'ftp://' is not a broker's"),
])
def test_a_broken_settings_file_is_a_clear_error(home, content, expected):
    folder, env = home
    path = folder / "fleet.yaml"
    path.write_text(content)
    result = fleet(env, "migrate", "--config", str(path), "--db", str(folder / "x.sqlite3"))
    assert result.returncode == 2 and expected in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("content", ["", "\n\n", "# settings come later\n"])
def test_an_empty_settings_file_or_devices_list_holds_the_defaults(tmp_path, content):
    from signage.fleet.config import FleetConfig, load
    from signage.fleet.identities import load_devices

    (tmp_path / "fleet.yaml").write_text(content)
    (tmp_path / "devices.yaml").write_text(content)
    assert load(tmp_path / "fleet.yaml") == FleetConfig()
    assert load_devices(tmp_path / "devices.yaml") == []


def test_settings_written_are_read_back_the_same(tmp_path):
    from signage.fleet.config import FleetConfig, load, save

    config = FleetConfig(broker="mqtts://broker.lan", port=8443, trusted_proxies=["10.0.0.0/8"], share_group="dash")
    save(tmp_path / "fleet.yaml", config)
    assert load(tmp_path / "fleet.yaml") == config


def test_an_unreachable_database_is_a_clear_error(home):
    _, env = home
    result = fleet(env, "migrate", "--db", f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    assert result.returncode == 2 and "database postgresql" in result.stderr and "Traceback" not in result.stderr
