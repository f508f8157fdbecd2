"""Alerts on both databases, against a local webhook receiver and a local SMTP server
(aiosmtpd), with a fake clock: each rule fires once, a quiet period holds back a repeat
(and sends it when it ends, if it still holds), a recovery is sent for what was sent, a
receiver that fails is retried and one that hangs delays no evaluation; the settings
refuse what they cannot use, with where and why."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from signage.errors import ConfigError
from signage.fleet.alert_config import AlertsConfig
from signage.fleet.alert_history import alerts_view
from signage.fleet.alert_service import AlertService
from signage.fleet.config import load
from tests.fleet import factory as f
from tests.fleet.alerting import LOCK, OTHER_LOCK, T, Clock, online, said
from tests.fleet.dashboard import logged_in, login
from tests.support.waiting import wait_for
from tests.fleet.publisher import Publisher
from tests.fleet.receivers import SmtpReceiver, WebhookReceiver
from tests.fleet.server import FleetServer


@pytest.fixture
def receivers():
    hook, smtp = WebhookReceiver(), SmtpReceiver()
    yield hook, smtp
    hook.close()
    smtp.close()


def service(store, receivers, clock, **rules) -> AlertService:
    """The alerts with their courier running; the test calls each evaluation itself."""
    hook, smtp = receivers
    config = AlertsConfig.model_validate({
        "quiet_minutes": 30, "offline_minutes": 5, "builds": [LOCK],
        "webhook": {"url": hook.url, "timeout_s": 2, "retries": 1},
        "email": {"host": "127.0.0.1", "port": smtp.port, "sender": "fleet@example.org",
                  "to": ["ops@example.org"], "retries": 1}} | rules)
    made = AlertService(store.engine, store.reader, config, clock=clock, first_wait=0.01)
    made.courier.start()
    return made


def test_offline_alert_quiet_period_and_recovery_by_webhook_and_email(store, receivers):
    hook, smtp = receivers
    clock = Clock()
    online(store, "a")
    online(store, "b")
    alerts = service(store, receivers, clock)
    try:
        said(store, "b", "available", b"offline", 1)  # the broker's last will: b died
        clock.at(5.5)
        assert alerts.alerter.evaluate() == []  # offline 4.5 min: not yet
        clock.at(6)
        [sent] = alerts.alerter.evaluate()
        assert (sent.kind, sent.rule, sent.device) == ("alert", "offline", "b")
        wait_for(lambda: len(hook.bodies) == 1 and len(smtp.messages) == 1, what="the alert delivered")
        assert hook.bodies[0] | {"alert": 0} == {
            "event": "alert", "site": "lab", "device": "b", "rule": "offline", "alert": 0,
            "detail": f"offline for 5 min (since {T + timedelta(minutes=1):%Y-%m-%d %H:%M} UTC)",
            "started_at": f"{T + timedelta(minutes=1):%Y-%m-%dT%H:%M:%S}.000000Z", "recovered_at": None,
            "content_type": "application/json"}
        rcpt, message = smtp.messages[0]
        assert rcpt == ["ops@example.org"] and message["From"] == "fleet@example.org"
        assert smtp.subjects()[0].startswith("[signage] ALERT lab/b: offline for 5 min")
        clock.at(8)
        assert alerts.alerter.evaluate() == []  # still offline: no repeat
        said(store, "b", "available", b"online", 10)
        clock.at(10)
        assert [n.kind for n in alerts.alerter.evaluate()] == ["recovered"]
        wait_for(lambda: len(hook.bodies) == 2 and len(smtp.messages) == 2, what="the recovery delivered")
        assert hook.bodies[1]["event"] == "recovered" and hook.bodies[1]["recovered_at"].startswith(
            f"{T + timedelta(minutes=10):%Y-%m-%dT%H:%M}")
        assert smtp.subjects()[1].startswith("[signage] recovered lab/b: offline")
        # Offline again within the quiet period: kept on the page, not sent...
        said(store, "b", "available", b"offline", 12)
        clock.at(18)
        assert alerts.alerter.evaluate() == []
        view = alerts_view(store.reader)
        assert [(a["device"], a["rule"], a["notified_at"]) for a in view["open_alerts"]] == [("b", "offline", None)]
        page = logged_in(store).get("/alerts").text
        assert "not sent (quiet period)" in page and "webhook delivered; email delivered" in page
        # ... and sent once the quiet period is over, since it still holds.
        clock.at(37)
        assert [(n.kind, n.rule) for n in alerts.alerter.evaluate()] == [("alert", "offline")]
        wait_for(lambda: len(hook.bodies) == 3, what="the held-back alert delivered")
        view = alerts_view(store.reader)
        assert len(view["history"]) == 1 and view["history"][0]["delivery"] == (
            "alert: webhook delivered; email delivered | recovered: webhook delivered; email delivered")
    finally:
        alerts.stop()


def test_each_rule_fires_once_and_recovers(store, receivers):
    hook, _ = receivers
    clock = Clock()
    online(store, "a")
    online(store, "c", display="lost", camera="gone", spool_depth=5000, lock=OTHER_LOCK)
    said(store, "c", "error", {"schema": 1, "site": "lab", "device": "c", "topic": "signage/lab/c/creative/set",
                               "error": "creative: unknown id 'x'"}, 1)
    online(store, "d", privacy=True, camera="off", display="off")  # privacy and the power schedule: fine
    said(store, "e", "available", b"stopped", 0)  # a clean stop: no alert
    alerts = service(store, receivers, clock)
    try:
        clock.at(2)
        sent = alerts.alerter.evaluate()
        assert sorted((n.device, n.rule) for n in sent) == [("c", "build"), ("c", "camera"), ("c", "display"),
                                                            ("c", "refused")]  # a spool is a trend: not yet
        details = {n.rule: n.detail for n in sent}
        assert details["build"] == f"old build: 0.1.0 · lock {OTHER_LOCK}, not {LOCK}"
        assert details["refused"] == "refused signage/lab/c/creative/set: creative: unknown id 'x'"
        clock.at(3)
        assert alerts.alerter.evaluate() == []  # nothing new, the refusal included
        said(store, "c", "status", f.status(device="c", lock=LOCK), 4)
        clock.at(4)
        assert sorted(n.rule for n in alerts.alerter.evaluate()) == ["build", "camera", "display"]
        wait_for(lambda: len(hook.bodies) == 7, what="four alerts and three recoveries delivered")
    finally:
        alerts.stop()


def test_a_growing_spool_alerts_and_a_draining_one_does_not(store, receivers):
    clock = Clock()
    online(store, "grows", spool_depth=1500)
    online(store, "drains", spool_depth=9000)  # back from a day offline: its uplink catches up
    alerts = service(store, receivers, clock)
    try:
        clock.at(1)
        assert alerts.alerter.evaluate() == []  # one status each: a level, not a trend
        online(store, "grows", 2, spool_depth=1800)
        online(store, "drains", 2, spool_depth=4000)
        clock.at(2)
        [sent] = alerts.alerter.evaluate()
        assert (sent.device, sent.rule, sent.detail) == (
            "grows", "spool", "spool growing: 1800 messages waiting for the broker (was 1500)")
        clock.at(3)
        assert alerts.alerter.evaluate() == []  # no new status: the verdict stands, nothing repeated
        online(store, "grows", 4, spool_depth=1800)  # level, not draining: still an alert, not repeated
        online(store, "drains", 4, spool_depth=200)
        clock.at(4)
        assert alerts.alerter.evaluate() == []
        online(store, "grows", 5, spool_depth=900)  # draining now
        clock.at(5)
        assert [(n.kind, n.device, n.rule) for n in alerts.alerter.evaluate()] == [("recovered", "grows", "spool")]
    finally:
        alerts.stop()


def test_a_failing_receiver_is_retried_and_a_hanging_one_holds_back_no_evaluation(store, receivers):
    hook, smtp = receivers
    clock = Clock()
    online(store, "a")
    alerts = service(store, receivers, clock, offline_minutes=1)
    try:
        hook.failures = 1  # the first attempt gets a 500
        said(store, "a", "available", b"offline", 1)
        clock.at(3)
        assert len(alerts.alerter.evaluate()) == 1
        wait_for(lambda: alerts_view(store.reader)["open_alerts"][0]["delivery"], what="the outcome recorded")
        assert alerts_view(store.reader)["open_alerts"][0]["delivery"] == (
            "alert: webhook delivered at attempt 2; email delivered")
        hook.hanging = True  # the receiver takes the request and does not answer
        said(store, "a", "available", b"online", 4)
        clock.at(4)
        assert [n.kind for n in alerts.alerter.evaluate()] == ["recovered"]
        wait_for(lambda: hook.received == 3, what="the recovery's request taken, and left unanswered")
        said(store, "a", "available", b"offline", 5)
        clock.at(7)
        assert alerts.alerter.evaluate() == []  # quiet (30 min); it returned while the webhook hangs
        assert hook.received == 3 and len(hook.bodies) == 1, "the receiver is still holding the recovery"
        wait_for(lambda: "webhook failed: " in (alerts_view(store.reader)["history"][0]["delivery"] or ""),
                 what="the hanging webhook given up after its timeout and retry")
        assert len(smtp.messages) == 2  # e-mail went on regardless
    finally:
        hook.hold.set()
        alerts.stop()


def test_an_alert_of_a_screen_that_retires_closes_without_a_recovery(store, receivers):
    hook, _ = receivers
    clock = Clock()
    online(store, "a")
    said(store, "a", "available", b"offline", 1)
    alerts = service(store, receivers, clock)
    try:
        clock.at(10)
        assert [n.rule for n in alerts.alerter.evaluate()] == ["offline"]
        wait_for(lambda: alerts_view(store.reader)["open_alerts"][0]["delivery"], what="the alert delivered")
        store.retire_after_days = 1
        assert store.purge(now=T + timedelta(days=2))["screens (retired)"] == 1
        clock.at(60 * 24 * 2)
        assert alerts.alerter.evaluate() == []
        [closed] = alerts_view(store.reader)["history"]
        assert closed["delivery"] == "alert: webhook delivered; email delivered | closed: the screen retired"
        assert [b["event"] for b in hook.bodies] == ["alert"]
    finally:
        alerts.stop()


def test_an_alert_a_stop_left_undelivered_is_sent_at_the_next_start(store, receivers):
    hook, _ = receivers
    clock = Clock()
    online(store, "a", display="lost")
    config = AlertsConfig.model_validate({"webhook": {"url": hook.url}})
    stopped = AlertService(store.engine, store.reader, config, clock=clock)  # its courier never runs
    assert [n.rule for n in stopped.alerter.evaluate()] == ["display"]
    assert hook.bodies == []
    stopped.stop()  # hands the evaluations over (the lease)
    again = AlertService(store.engine, store.reader, config, clock=clock).start()
    try:
        wait_for(lambda: [b["rule"] for b in hook.bodies] == ["display"], what="the alert sent at start")
        wait_for(lambda: alerts_view(store.reader)["open_alerts"][0]["delivery"] == "alert: webhook delivered",
                 what="its delivery recorded")
        assert len(hook.bodies) == 1, "sent once"
    finally:
        again.stop()


def test_the_service_evaluates_on_its_own_thread(store, receivers):
    hook, _ = receivers
    online(store, "a", display="lost")
    alerts = service(store, receivers, Clock())
    alerts.thread.start()  # its first evaluation runs at once
    try:
        wait_for(lambda: [b["rule"] for b in hook.bodies] == ["display"], what="the display alert sent")
    finally:
        alerts.stop()


@pytest.mark.parametrize("text, expected", [
    ("alerts: {offline_minutes: 0}", "fleet.yaml:1:27: alerts.offline_minutes: must be from 1 to 10080, got 0"),
    ("alerts: {webhook: {url: 'ftp://x'}}", "alerts.webhook.url: 'ftp://x' is not an http:// or https:// URL"),
    ("alerts: {webhook: {url: 'http://h', retries: 11}}", "alerts.webhook.retries: must be from 0 to 10, got 11"),
    ("alerts: {email: {host: h, sender: x, to: [a@b.org]}}", "alerts.email.sender: 'x' is not an e-mail address"),
    ("alerts: {email: {host: h, sender: a@b.org, to: []}}", "alerts.email.to"),
    ("alerts: {builds: [abc]}", "alerts.builds: 'abc' is not a lock hash: 12 lower-case hex digits"),
    ("alerts: {quiet: 5}", "fleet.yaml:1:10: alerts.quiet: unknown key 'quiet'"),
])
def test_settings_refuse_what_they_cannot_use_saying_where_and_why(tmp_path: Path, text: str, expected: str):
    path = tmp_path / "fleet.yaml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError) as refused:
        load(path)
    assert expected in str(refused.value)


def test_signage_fleet_runs_the_alerts_from_its_settings(tmp_path, broker, receivers):
    """The real process: a screen's status over MQTT says its display is lost; the
    webhook hears it, and the alerts page lists it."""
    hook, _ = receivers
    server = FleetServer(tmp_path / "fleet", broker.url, alerts={"every_s": 5, "webhook": {"url": hook.url}}).started()
    try:
        sender = Publisher(broker.url)
        sender.send([("signage/lab/k1/available", b"online"),
                     ("signage/lab/k1/status", f.encode(f.status(device="k1", display="lost")))], retain=True)
        sender.close()
        wait_for(lambda: [(b["device"], b["rule"]) for b in hook.bodies] == [("k1", "display")], "the display alert",
                 timeout=60)
        with server.client() as client:
            login(client)
            assert "display lost" in client.get("/alerts").text
    finally:
        server.stop()
