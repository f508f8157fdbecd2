"""`signage doctor` against the real things here: a broker, the sample video, the
models; and as a command, which exits 1 while any check finds a problem."""

from __future__ import annotations

import os
import subprocess
import sys

from signage.modelfiles import PROJECT_ROOT


def test_broker_check_against_a_real_broker_and_a_closed_port(broker):
    from signage.config import Config, MqttConfig
    from signage.kiosk.doctor import broker_check

    assert broker_check(Config(mqtt=MqttConfig(url=broker.url))).ok
    closed = broker_check(Config(mqtt=MqttConfig(url="mqtt://127.0.0.1:9")))
    assert not closed.ok and "127.0.0.1:9" in closed.detail and "mqtt.url" in closed.fix


def test_doctor_command_prints_one_line_per_check_and_exits_1_on_a_problem(tmp_path, broker, samples, models_dir):
    config = tmp_path / "config.yaml"
    config.write_text(f"source: {{kind: video, path: {samples / 'single_face.mp4'}}}\nmqtt: {{url: '{broker.url}'}}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    env["SIGNAGE_MODELS_DIR"] = str(models_dir)  # and no display: kmsdrm is checked
    result = subprocess.run([sys.executable, "-m", "signage.cli", "doctor", "--config", str(config)],
                            capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=60)
    lines = {line.split(":")[0].split(maxsplit=1)[1]: line.split()[0] for line in result.stdout.splitlines()
             if line and not line.startswith(" ")}
    assert lines["camera"] == lines["models"] == lines["broker"] == lines["edge tpu"] == "ok", result.stdout
    # This machine has no DRM device: the display check is the one problem, with its fix.
    assert lines["display"] == "PROBLEM" and "no DRM device" in result.stdout and "fix:" in result.stdout
    assert result.returncode == 1 and "Traceback" not in result.stderr
