"""A spool or state folder the service cannot create or write (docs/install.md's
default under a read-only /opt/signage with ProtectSystem=strict) is one clear
message naming the key and the fix, exit 2, no traceback. The read-only filesystem is
real: a tmpfs mounted read-only, as systemd does."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from signage.config import Config, PathsConfig, check_runtime_paths
from signage.errors import ConfigError
from signage.modelfiles import PROJECT_ROOT
from tests.disks import tmpfs


@pytest.fixture
def read_only(tmp_path):
    yield from tmpfs(tmp_path / "opt-signage", "ro,size=64k")


def test_writable_paths_are_created(tmp_path):
    config = Config(paths=PathsConfig(spool=str(tmp_path / "var" / "spool.sqlite3"), state=str(tmp_path / "state")))
    check_runtime_paths(config)
    assert (tmp_path / "var").is_dir() and (tmp_path / "state").is_dir()
    assert not any((tmp_path / "var").iterdir()), "the write test leaves nothing behind"


@pytest.mark.parametrize("paths,key", [
    ({"spool": "{ro}/spool/telemetry.sqlite3"}, "paths.spool: cannot create the folder {ro}/spool"),
    ({"spool": "{ro}/telemetry.sqlite3"}, "paths.spool: cannot write in {ro}"),
    ({"spool": "{tmp}/spool.sqlite3", "state": "{ro}/state"}, "paths.state: cannot create the folder {ro}/state"),
    ({"spool": "{tmp}/spool.sqlite3", "state": "{ro}"}, "paths.state: cannot write in {ro}"),
])
def test_read_only_places_are_one_clear_error(read_only, tmp_path, paths, key):
    values = {k: v.format(ro=read_only, tmp=tmp_path) for k, v in paths.items()}
    with pytest.raises(ConfigError) as caught:
        check_runtime_paths(Config(paths=PathsConfig(**values)))
    message = str(caught.value)
    assert message.startswith(key.format(ro=read_only)) and "Read-only file system" in message
    assert "/var/lib/signage" in message, "the fix is named"


def test_run_exits_2_with_the_message_and_no_traceback(read_only, tmp_path):
    config = tmp_path / "kiosk.yaml"
    config.write_text(f"playlists: {PROJECT_ROOT / 'tests' / 'playlists' / 'e2e'}\n"
                      f"paths: {{spool: {read_only / 'spool' / 'telemetry.sqlite3'}}}\n")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "SDL_VIDEODRIVER": "dummy"}
    result = subprocess.run([sys.executable, "-m", "signage.cli", "run", "--config", str(config), "--duration", "5"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "paths.spool: cannot create the folder" in errors[0]
    assert "set paths.spool in the config to a writable place" in errors[0]


@pytest.mark.parametrize("name", ["mqtt-url-ftp.yaml", "mqtt-url-port-not-a-number.yaml", "mqtt-tls-ca-missing.yaml",
                                  "display-size-zero.yaml", "paths-spool-a-folder.yaml"])
def test_run_with_a_hostile_config_exits_2_with_its_messages(tmp_path, name):
    from tests.hostile.gallery import EXPECTED, HERE

    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "SDL_VIDEODRIVER": "dummy"}
    result = subprocess.run([sys.executable, "-m", "signage.cli", "run", "--config", f"configs/{name}",
                             "--duration", "5"], cwd=HERE, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    for message in EXPECTED["configs"][name]:
        assert message in result.stderr
