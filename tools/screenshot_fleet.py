"""The dashboard screenshots of docs/fleet.md: `signage fleet demo` into a temp database, the
dashboard on it, Debian's headless Chromium (through /usr/bin/chromedriver) on the fleet,
screen and creatives pages, into docs/fleet-*.png. Run from the repository root:
`python tools/screenshot_fleet.py`. Needs chromium and chromium-driver."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from signage.fleet.passwords import hash_password

PASSWORD = "screenshot-password"


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="signage-fleet-shots-") as name:
        folder = Path(name)
        (folder / "fleet.yaml").write_text(yaml.safe_dump({"login_hash": hash_password(PASSWORD)}))
        env = dict(os.environ, PYTHONPATH=str(root))
        base_args = [sys.executable, "-m", "signage.cli", "--log-level", "WARNING", "fleet", "--config",
                     str(folder / "fleet.yaml"), "--db", str(folder / "fleet.sqlite3")]
        subprocess.run(base_args + ["demo"], env=env, check=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen(base_args + ["--port", str(port), "--broker", "mqtt://127.0.0.1:9"], env=env)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--hide-scrollbars", "--window-size=1440,1000", f"--user-data-dir={folder / 'profile'}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            driver.get(base + "/login")
            driver.find_element(By.ID, "password").send_keys(PASSWORD)
            driver.find_element(By.ID, "login").click()
            time.sleep(1)
            yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).date().isoformat()
            pages = {"fleet": "/", "screen": f"/screen/station/hall-1?day={yesterday}",
                     "creatives": "/creatives?span=week"}
            for name, path in pages.items():
                driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
                driver.get(base + path)
                time.sleep(1.5)
                height = driver.execute_script("return document.documentElement.scrollHeight")
                driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                    "width": 1440, "height": min(max(height, 600), 2000), "deviceScaleFactor": 1, "mobile": False})
                time.sleep(0.5)
                driver.save_screenshot(str(root / "docs" / f"fleet-{name}.png"))
                print(f"wrote docs/fleet-{name}.png")
        finally:
            driver.quit()
            server.terminate()
            server.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
