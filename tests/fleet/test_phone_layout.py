"""The dashboard on a 375×812 phone, in the headless Chromium: no page scrolls sideways
(tables become cards, each value under its column's name), and the charts keep their
size, scrolling inside their own box, so their labels stay readable. Screenshots are
kept under the test's tmp_path."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta

import pytest

from signage.fleet.database import database_url
from signage.fleet.demo import SimulatedFleet, encode
from signage.fleet.parse import parse
from signage.fleet.store import Store
from signage.fleet.times import now_utc
from tests.support.chromium import as_phone, chromium_driver
from tests.fleet.dashboard import PASSWORD
from tests.support.waiting import wait_for
from tests.fleet.server import FleetServer

PHONE = 375
TODAY = now_utc().date()
PAGES = {"fleet": "/", "screen": "/screen/station/hall-1", "creatives": "/creatives?span=week",
         "availability": "/availability?span=week", "alerts": "/alerts"}


@pytest.fixture
def dashboard(tmp_path, broker):
    """`signage fleet` on an hour of the demo fleet's data (12 screens, their troubles)."""
    db = tmp_path / "fleet.sqlite3"
    store = Store(database_url(str(db)))
    store.migrate()
    fleet = SimulatedFleet.demo()
    start = now_utc().replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    store.write([parse(fleet.root, topic, encode(body), now=start + timedelta(hours=1))
                 for topic, body in fleet.messages(start, start + timedelta(hours=1))]
                + [parse(fleet.root, t, encode(b)) for t, b in fleet.states()])
    store.close()
    server = FleetServer(tmp_path / "server", broker.url, db=str(db), alerts={"every_s": 5}).started()
    yield server
    server.stop()


def test_no_page_scrolls_sideways_on_a_phone_and_charts_stay_readable(tmp_path, dashboard):
    from selenium.webdriver.common.by import By

    driver = chromium_driver(tmp_path / "profile", 400, 900)
    try:
        as_phone(driver)
        driver.get(dashboard.url + "/login")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "login").click()
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "table.fleet tbody tr[data-screen]"), "the fleet page",
                 timeout=30)
        wait_for(lambda: dashboard_alerts(driver), "an alert evaluated", timeout=60)
        for name, path in PAGES.items():
            driver.get(dashboard.url + path)
            wait_for(lambda: driver.execute_script("return document.readyState") == "complete", name, timeout=30)
            assert driver.execute_script("return screen.width") == PHONE
            width = driver.execute_script("return document.documentElement.scrollWidth")
            driver.save_screenshot(str(tmp_path / f"phone-{name}.png"))
            assert width <= PHONE, f"{name} scrolls sideways: {width} px wide"
            for table in driver.find_elements(By.CSS_SELECTOR, "main table"):
                assert driver.execute_script("return getComputedStyle(arguments[0].tHead).display", table) == "none"
            labelled = driver.execute_script(
                "return [...document.querySelectorAll('main td[data-label]')].filter("
                "td => getComputedStyle(td, '::before').content.includes(td.dataset.label)).length")
            assert labelled > 0, f"{name}: no value shows its column's name"
            for chart in driver.find_elements(By.CSS_SELECTOR, "svg.chart"):
                drawn, designed = driver.execute_script(
                    "return [arguments[0].getBoundingClientRect().width, arguments[0].viewBox.baseVal.width]", chart)
                assert drawn >= designed * 0.9, f"{name}: a chart shrunk to {drawn:.0f} of {designed:.0f} px"
        assert (tmp_path / "phone-screen.png").stat().st_size > 0
        if os.environ.get("SIGNAGE_PHONE_SHOTS"):  # to look at them
            for shot in tmp_path.glob("phone-*.png"):
                shutil.copy(shot, os.environ["SIGNAGE_PHONE_SHOTS"])
    finally:
        driver.quit()


def dashboard_alerts(driver) -> bool:
    text = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/alerts').then(r => r.text()).then(done, e => done(String(e)));")
    return "camera gone" in text
