"""The fleet dashboard as a user sees it: Mosquitto, two real `signage run` kiosks on a
sample video (under Xvfb), `signage fleet` with its alerts on a local webhook, and
Debian's headless Chromium driven by Selenium through /usr/bin/chromedriver (no browser
download).

Set SIGNAGE_FLEET_SCREENSHOTS=docs to refresh the screenshots of docs/fleet.md."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from signage.fleet.passwords import hash_password
from signage.modelfiles import PROJECT_ROOT
from signage.wire.envelope import Signer
from tests.broker import free_port
from tests.fleet.receivers import WebhookReceiver
from tests.subscriber import Subscriber
from tests.support.chromium import chromium_driver
from tests.support.waiting import wait_for

PASSWORD = "fleet-e2e-password"
KIOSKS = [("north", "door"), ("south", "hall")]


class Child:
    def __init__(self, args: list[str], env: dict, log: Path):
        self.log = log
        self.handle = log.open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "signage.cli", *args], env=env, cwd=PROJECT_ROOT,
                                        stdout=self.handle, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text()

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.handle.close()


def kiosk_config(folder: Path, site: str, device: str, samples: Path, broker_url: str, public_key: str) -> Path:
    config = {"site": site, "device": device,
              "display": {"fullscreen": False, "size": [320, 180], "notice": {"enabled": False}},
              "vision": {"max_fps": 5},
              # One face in the video: below the default min_group its count is withheld (null).
              "privacy": {"min_group": 1},
              "source": {"kind": "video", "path": str(samples / "noface_face.mov"), "loop": True},
              "paths": {"spool": str(folder / f"{device}.sqlite3")},
              "mqtt": {"url": broker_url, "interval": 2, "keepalive": 5, "commands": {"public_key": public_key}}}
    path = folder / f"{device}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def until(predicate, timeout: float, what: str, every: float = 0.25):
    """wait_for, where an exception from the page (mid-update) means "not yet"."""
    failed: list[Exception] = []

    def attempt():
        try:
            return predicate()
        except Exception as exc:  # noqa: BLE001 - the page may be mid-update
            failed[:] = [exc]
            return None

    try:
        return wait_for(attempt, what, timeout, every)
    except AssertionError as exc:
        raise AssertionError(f"{exc} (last failure: {failed[-1]!r})" if failed else str(exc)) from None


@pytest.fixture
def chromium(tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = chromium_driver(tmp_path / "profile", downloads=downloads)
    yield driver
    driver.quit()


def test_a_fleet_team_watches_two_kiosks_switches_privacy_and_exports_proof_of_play(
        xvfb, broker, tmp_path, models_dir, samples, chromium):
    from selenium.webdriver.common.by import By

    (tmp_path / "cfg").mkdir()
    fleet_config = tmp_path / "cfg" / "fleet.yaml"
    hook = WebhookReceiver()  # the alerts' webhook: offline after a minute, checked every 5 s
    fleet_config.write_text(yaml.safe_dump({"login_hash": hash_password(PASSWORD), "alerts": {
        "every_s": 5, "offline_minutes": 1, "webhook": {"url": hook.url}}}))
    # the fleet's, as provision makes it
    public_key = Signer.load_or_create(tmp_path / "cfg" / "command.key").public_text
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), DISPLAY=xvfb, SDL_VIDEODRIVER="x11",
               SIGNAGE_MODELS_DIR=str(models_dir), PYTHONDONTWRITEBYTECODE="1", XDG_CACHE_HOME=str(tmp_path))
    wire = Subscriber(broker.url, "signage/#")
    fleet = Child(["fleet", "--config", str(fleet_config), "--db", str(tmp_path / "fleet.sqlite3"),
                   "--broker", broker.url, "--port", str(port)], env, tmp_path / "fleet.log")
    kiosks = {}
    driver = chromium
    try:
        # The kiosks start once the dashboard listens and has its subscription: a play sent
        # before that is on the wire but was never the dashboard's to store.
        until(lambda: "dashboard on" in fleet.output() and "subscribed to" in fleet.output(), 60,
              "the dashboard started")
        kiosks = {device: Child(["run", "--config", str(kiosk_config(tmp_path, site, device, samples, broker.url,
                                                                     public_key)),
                                 "--playlists", str(PROJECT_ROOT / "tests" / "playlists" / "e2e")],
                                env, tmp_path / f"{device}.log") for site, device in KIOSKS}
        # Log in.
        driver.get(base + "/")
        assert driver.current_url.endswith("/login")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "login").click()
        until(lambda: driver.find_elements(By.CSS_SELECTOR, "table.fleet"), 10, "the fleet page")
        driver.execute_script("window.__notReloaded = true")

        # Both screens online, their counts live (server-sent events, no reload).
        def row(device):
            return driver.find_element(By.CSS_SELECTOR, f'tr[data-screen$="/{device}"]')

        for site, device in KIOSKS:
            until(lambda device=device: "online" in row(device).find_element(By.CSS_SELECTOR, ".availability").text,
                  120, f"{site}/{device} online")
        until(lambda: all(int(row(d).find_element(By.CSS_SELECTOR, ".plays").text) >= 1 for _, d in KIOSKS), 60,
              "plays counted for both screens")
        # The sum of the intervals that published passers (the others are said to be withheld).
        until(lambda: int(row("door").find_element(By.CSS_SELECTOR, ".passers").text.split()[0]) >= 1, 90,
              "a passer counted (the face in the video)")
        assert driver.execute_script("return window.__notReloaded === true"), "the page reloaded"
        shots = {"fleet": tmp_path / "fleet.png"}
        driver.save_screenshot(str(shots["fleet"]))

        # A creative's plays appear on the creatives page.
        driver.get(base + "/creatives?span=day")

        def idle_plays():
            driver.refresh()
            return int(driver.find_element(By.CSS_SELECTOR, 'tr[data-creative="idle-a"] .plays').text) >= 2

        until(idle_plays, 60, "idle-a plays on the creatives page", every=1.0)
        shots["creatives"] = tmp_path / "creatives.png"
        driver.save_screenshot(str(shots["creatives"]))

        # Privacy on for one screen: the device's state echo shows on the page.
        driver.get(base + "/screen/north/door")
        # "Play now" offers the creatives of the screen's playlist, as its status lists them.
        until(lambda: [o.text for o in driver.find_elements(By.CSS_SELECTOR, "#creative-choice option")] ==
              ["idle-a", "idle-b", "look"], 10, "the playlist's creatives offered")
        driver.find_element(By.ID, "privacy-on").click()
        until(lambda: "Sent privacy ON" in driver.page_source, 10, "the command confirmation")
        until(lambda: driver.find_element(By.ID, "privacy").text == "ON", 30, "privacy ON from the device's status")
        until(lambda: "done: privacy = ON" in driver.find_element(By.ID, "command-log").text, 30,
              "the device's state echo")
        assert wire.wait_for(lambda m: m.topic == "signage/north/door/privacy/state").payload == b"ON"
        assert not any(m.topic.startswith("signage/south/hall/") and m.topic.endswith("/set") for m in wire.messages)
        assert not any(m.topic == "signage/south/hall/privacy/state" and m.payload == b"ON" for m in wire.messages)
        shots["screen"] = tmp_path / "screen.png"
        driver.save_screenshot(str(shots["screen"]))

        # Proof of play: the CSV's rows are the play messages on the wire.
        with wire.lock:
            sent = {m.json()["id"]: m.json() for m in wire.messages if m.topic.endswith("/play")}
        assert sent

        def stored_all():  # the JSON export, fetched by the logged-in page
            text = driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "fetch('/export/plays.json').then(r => r.text()).then(done, e => done(String(e)));")
            return set(sent) <= {row["id"] for row in json.loads(text)["plays"]}

        until(stored_all, 30, "every play on the wire stored", every=0.5)
        driver.get(base + "/creatives?span=day")
        driver.find_element(By.ID, "export-csv").click()
        path = until(lambda: next((p for p in driver.downloads.glob("*.csv")), None), 30, "the CSV downloaded")
        rows = list(csv.DictReader(line for line in path.open() if not line.startswith("#")))
        with wire.lock:
            on_wire = {m.json()["id"]: m.json() for m in wire.messages if m.topic.endswith("/play")}
        assert set(sent) <= {r["id"] for r in rows} <= set(on_wire)
        for r in rows:
            message = on_wire[r["id"]]
            assert (r["site"], r["device"], r["creative"], r["ended"]) == (
                message["site"], message["device"], message["creative"], message["ended"])
            assert float(r["seconds"]) == round(message["seconds"], 2)  # exports round to 0.01
            assert r["start"].endswith("Z") and r["start"][:19] == message["start"][:19]

        # SIGKILL a kiosk: offline on the page within the broker's keep-alive (5 s x 1.5).
        driver.get(base + "/")
        kiosks["hall"].stop(signal.SIGKILL)
        until(lambda: "offline" in row("hall").find_element(By.CSS_SELECTOR, ".availability").text, 30,
              "south/hall offline")
        assert "online" in row("door").find_element(By.CSS_SELECTOR, ".availability").text
        first = driver.find_element(By.CSS_SELECTOR, "table.fleet tbody tr").get_attribute("data-screen")
        assert first == "south/hall", "problems first"
        # A screen that is away takes no command: the page says so, its buttons are off.
        driver.get(base + "/screen/south/hall")
        until(lambda: "commands are refused until it is back online" in
              driver.find_element(By.ID, "commands-offline").text, 10, "the page says why")
        until(lambda: not driver.find_element(By.ID, "privacy-on").is_enabled(), 10, "its buttons off")

        # A minute offline: the webhook hears the alert; the kiosk returns: it hears the recovery.
        def heard(event):
            return [b for b in hook.bodies if b["event"] == event and b["device"] == "hall"]

        until(lambda: heard("alert"), 120, "the offline alert on the webhook", every=1.0)
        assert [(b["event"], b["rule"], b["site"]) for b in hook.bodies] == [("alert", "offline", "south")]
        kiosks["hall"] = Child(["run", "--config", str(tmp_path / "hall.yaml"), "--playlists",
                                str(PROJECT_ROOT / "tests" / "playlists" / "e2e")], env, tmp_path / "hall-2.log")
        until(lambda: heard("recovered"), 120, "the recovery on the webhook", every=1.0)
        driver.get(base + "/alerts")
        history = driver.find_element(By.ID, "alert-history").text
        assert "south / hall" in history and "offline for" in history
        assert "alert: webhook delivered | recovered: webhook delivered" in history
        shots["alerts"] = tmp_path / "alerts.png"
        driver.save_screenshot(str(shots["alerts"]))

        # The day's availability: the screen that stayed up was online all along, the other not.
        driver.get(base + "/availability?span=day")
        share = {d: driver.find_element(By.CSS_SELECTOR, f'tr[data-screen$="/{d}"] td.online').text
                 for _, d in KIOSKS}
        assert share["door"] == "100.00 %" and 0 < float(share["hall"].split()[0]) < 100, share
        driver.find_element(By.ID, "export-availability").click()
        path = until(lambda: next(driver.downloads.glob("availability*.csv"), None), 30, "the availability CSV")
        assert {(r["site"], r["device"]) for r in csv.DictReader(path.open())} == set(KIOSKS)
        shots["availability"] = tmp_path / "availability.png"
        driver.save_screenshot(str(shots["availability"]))

        # Logging out in one tab ends the live page in another: it goes to the login by itself.
        driver.get(base + "/")
        fleet_tab = driver.current_window_handle
        driver.switch_to.new_window("tab")
        driver.get(base + "/creatives")
        driver.find_element(By.CSS_SELECTOR, "form.logout button").click()
        driver.switch_to.window(fleet_tab)
        until(lambda: driver.current_url.endswith("/login"), 30, "the live page sent to the login")
    finally:
        for child in kiosks.values():
            child.stop()
        fleet.stop()
        wire.close()
        hook.close()
    assert "Traceback" not in fleet.output(), fleet.output()[-3000:]
    target = os.environ.get("SIGNAGE_FLEET_SCREENSHOTS")
    if target:
        for name, shot in shots.items():
            shutil.copy(shot, Path(target) / f"fleet-{name}.png")
