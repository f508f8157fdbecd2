"""`signage fleet provision` as an operator runs it: the files it keeps, what a second run
changes, and clear refusals. That Mosquitto takes its files is shown with a real broker in
tests/hostile/test_authority.py."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
import yaml

from signage.fleet.provision import password_line
from signage.modelfiles import PROJECT_ROOT


def provision(folder, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), XDG_CONFIG_HOME=str(folder / "cfg"))
    return subprocess.run([sys.executable, "-m", "signage.cli", "fleet", "provision", *args], env=env,
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)


def test_provisioning_again_rotates_the_password_and_keeps_one_line_per_user(tmp_path):
    mosquitto = tmp_path / "mosquitto"
    for name in ("fleet", "lab/k1", "lab/k2", "lab/k1"):
        done = provision(tmp_path, name, "--mosquitto", str(mosquitto))
        assert done.returncode == 0, done.stderr
    passwd = (mosquitto / "passwd").read_text().splitlines()
    assert sorted(line.split(":")[0] for line in passwd) == ["lab/k1", "lab/k2", "signage-fleet"]
    assert all(line.split(":", 1)[1].startswith("$7$101$") for line in passwd), "mosquitto_passwd's format"
    assert stat.S_IMODE((mosquitto / "passwd").stat().st_mode) == 0o600
    acl = (mosquitto / "acl").read_text()
    assert acl.count("user lab/k1\n") == 1 and "topic read signage/lab/k2/+/set" in acl
    assert ("user signage-fleet\ntopic read signage/#\ntopic write signage/+/+/+/set\n"
            "topic write signage/content/#") in acl
    assert ("user lab/k2\ntopic write signage/lab/k2/#\ntopic read signage/lab/k2/+/set\n"
            "topic read signage/content/screen/lab/k2\ntopic read signage/content/site/lab\n"
            "topic read signage/content/fleet") in acl, "each kiosk reads the content announcements for it only"
    devices = yaml.safe_load((tmp_path / "cfg" / "signage" / "devices.yaml").read_text())["devices"]
    assert [(d["site"], d["device"]) for d in devices] == [("lab", "k1"), ("lab", "k2")]
    config = tmp_path / "cfg" / "signage" / "fleet.yaml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600 and "password:" in config.read_text()
    printed = yaml.safe_load(done.stdout)
    assert printed["mqtt"]["username"] == "lab/k1" and len(printed["mqtt"]["commands"]["public_key"]) == 44
    assert printed["mqtt"]["password"] not in (mosquitto / "passwd").read_text(), "only its hash is kept"


def test_a_home_assistant_kiosk_may_also_publish_its_discovery(tmp_path):
    done = provision(tmp_path, "lab/k1", "--homeassistant")
    assert done.returncode == 0, done.stderr
    assert "topic write homeassistant/+/signage_lab_k1/+/config" in done.stdout
    assert "homeassistant: true" in done.stdout


@pytest.mark.parametrize("args,message", [
    ((), "provision what? `signage fleet provision SITE/DEVICE` for a kiosk"),
    (("lab",), "'lab': write SITE/DEVICE"),
    (("lab/k 1",), "'lab/k 1': write SITE/DEVICE, each 1-64 letters, digits, '_' or '-'"),
    (("lab/k1/x",), "write SITE/DEVICE"),
    (("../k1",), "write SITE/DEVICE"),
    (("content/k1",), "'content' is reserved: <root>/content/... carries the content announcements"),
])
def test_a_wrong_name_is_refused_with_what_to_write(tmp_path, args, message):
    done = provision(tmp_path, *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "cfg" / "signage" / "devices.yaml").exists()


def test_the_password_line_is_pbkdf2_sha512_as_mosquitto_writes_it():
    """The same salt and password give the line `mosquitto_passwd` itself wrote (captured
    from Mosquitto 2.0.11: `mosquitto_passwd -b passwd lab/k1 secret1`)."""
    import base64

    captured = ("lab/k1:$7$101$RX0Qux37ZUGsqjsE$hndayX/6w2APJSJ5xpWHG7lWAZpGnF6C5xLl3OyYRQG5bmStQtvyB5C9ChC+dh2rMxPpL2h"
                "DCk5pgIhmyIuYeQ==")
    salt = base64.b64decode(captured.split("$")[3])
    assert password_line("lab/k1", "secret1", salt) == captured
    with pytest.raises(ValueError, match="no ':'"):
        password_line("lab:k1", "secret1")
