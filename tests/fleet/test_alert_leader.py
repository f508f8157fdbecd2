"""One alert evaluator per database: two alert services, each with its own engines as two
`signage fleet` processes would have, on one SQLite file and on one PostgreSQL database.
Each alert is sent once, whichever evaluates first or both at once; the other takes over
when the leader stops (sending what the leader left undelivered) or when its lease
expires (it hung or died), and the old leader then stands down."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from signage.fleet.alert_config import AlertsConfig
from signage.fleet.alert_history import alerts_view
from signage.fleet.alert_service import LEASE_ROUNDS, AlertService
from signage.fleet.database import database_url
from signage.fleet.store import Store
from signage.fleet.tables import alerts, leases
from tests.fleet.receivers import WebhookReceiver
from tests.fleet.alerting import Clock, online
from tests.fleet.dashboard import logged_in
from tests.support.waiting import wait_for

LEASE = timedelta(seconds=LEASE_ROUNDS * AlertsConfig().every_s)


@pytest.fixture
def hook():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def other(db_url, store):
    """A second process's store on the same database (`store` has migrated it)."""
    opened = Store(database_url(db_url))
    yield opened
    opened.close()


def service(store, hook, clock, holder: str, courier: bool = True) -> AlertService:
    config = AlertsConfig.model_validate({"builds": None, "webhook": {"url": hook.url, "timeout_s": 2, "retries": 0}})
    made = AlertService(store.engine, store.reader, config, clock=clock, first_wait=0.01, holder=holder)
    if courier:
        made.courier.start()
    return made


def deliveries(store) -> list[tuple[str, str, str]]:
    with store.engine.begin() as conn:
        return [tuple(r) for r in conn.execute(sa.select(alerts.c.device, alerts.c.rule, alerts.c.delivery)
                                               .order_by(alerts.c.row))]


def test_two_services_on_one_database_send_each_alert_once(store, other, hook):
    clock = Clock()
    online(store, "a", display="lost")
    online(store, "b")
    one, two = service(store, hook, clock, "one"), service(other, hook, clock, "two")
    try:
        start, results = threading.Barrier(2), {}

        def evaluate(name, alerts_):
            start.wait()
            results[name] = alerts_.alerter.evaluate()

        threads = [threading.Thread(target=evaluate, args=item) for item in (("one", one), ("two", two))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted([n.rule for n in notices] for notices in results.values()) == [[], ["display"]]
        leader, follower = (one, two) if results["one"] else (two, one)
        assert (leader.alerter.leading, follower.alerter.leading) == (True, False)
        online(store, "b", 1, camera="lost")
        clock.at(1)
        assert follower.alerter.evaluate() == []
        assert [(n.device, n.rule) for n in leader.alerter.evaluate()] == [("b", "camera")]
        assert follower.alerter.evaluate() == []
        wait_for(lambda: all(d for _, _, d in deliveries(store)), what="both alerts delivered")
        assert deliveries(store) == [("a", "display", "alert: webhook delivered"),
                                     ("b", "camera", "alert: webhook delivered")]
        assert sorted((b["device"], b["rule"]) for b in hook.bodies) == [("a", "display"), ("b", "camera")]
        page = logged_in(store).get("/alerts").text  # the page's clock is today's: the lease ran out
        assert f"now: {'one' if leader is one else 'two'} did last" in page
    finally:
        one.stop()
        two.stop()


def test_the_follower_takes_over_when_the_leader_stops_and_sends_what_it_left(store, other, hook):
    clock = Clock()
    online(store, "a", display="lost")
    leader = service(store, hook, clock, "leader", courier=False)  # stops before delivering anything
    follower = service(other, hook, clock, "follower")
    try:
        assert [n.rule for n in leader.alerter.evaluate()] == ["display"]
        assert follower.alerter.evaluate() == []
        leader.stop()
        assert [(n.kind, n.rule) for n in follower.alerter.evaluate()] == [("alert", "display")]
        wait_for(lambda: deliveries(store)[0][2], what="the alert delivered")
        assert deliveries(store) == [("a", "display", "alert: webhook delivered")]
        assert [b["rule"] for b in hook.bodies] == ["display"]
        assert follower.alerter.evaluate() == [], "sent again once, at the takeover"
    finally:
        follower.stop()


def test_the_follower_takes_over_when_the_leaders_lease_expires(store, other, hook):
    clock = Clock()
    online(store, "a", display="lost")
    leader, follower = service(store, hook, clock, "leader"), service(other, hook, clock, "follower")
    try:
        assert [n.rule for n in leader.alerter.evaluate()] == ["display"]
        wait_for(lambda: deliveries(store)[0][2], what="the alert delivered")
        online(store, "b", 0.5, display="lost")  # the leader hangs from here: it evaluates no more
        lease = LEASE.total_seconds() / 60
        clock.at(lease - 0.1)
        assert follower.alerter.evaluate() == [], "the leader's lease still holds"
        clock.at(lease + 0.1)
        assert [(n.device, n.rule) for n in follower.alerter.evaluate()] == [("b", "display")]
        assert (leader.alerter.evaluate(), leader.alerter.leading) == ([], False), "the old leader stands down"
        with store.engine.begin() as conn:
            assert conn.execute(sa.select(leases.c.name, leases.c.holder)).all() == [("alerts", "follower")]
        assert alerts_view(store.reader, now=clock.now)["evaluator"].startswith("Evaluated by the dashboard follower")
        wait_for(lambda: len(hook.bodies) == 2 and all(d for _, _, d in deliveries(store)),
                 what="the second alert delivered")
        assert sorted((b["device"], b["rule"]) for b in hook.bodies) == [("a", "display"), ("b", "display")]
        follower.stop()
        assert alerts_view(store.reader, now=clock.now)["evaluator"].startswith(
            "No dashboard evaluates the alerts now: follower did last")
    finally:
        leader.stop()
        follower.stop()
