"""Debian's headless Chromium driven by Selenium through /usr/bin/chromedriver (no browser
download), for the tests that look at the dashboard as a browser draws it."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def chromium_driver(profile: Path, width: int = 1440, height: int = 1000, downloads: Path | None = None):
    """A browser with its own profile folder; `downloads`: where the files it downloads go
    (then `driver.downloads`), without asking."""
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        pytest.fail("chromium and chromium-driver are not installed: apt-get install chromium chromium-driver "
                    "(the CI script does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--hide-scrollbars", f"--window-size={width},{height}",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    if downloads is not None:
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                                  "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    if downloads is not None:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        driver.downloads = downloads
    return driver


def as_phone(driver, width: int = 375, height: int = 812) -> None:
    """Emulate a phone's viewport (a mobile layout viewport, touch-sized pixels)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                                  "deviceScaleFactor": 2, "mobile": True})
