"""The alerts as `signage fleet` runs them: the alerter on a supervised thread (a fault in
one evaluation is logged and the next one runs), the courier on its own, where each
delivery's outcome is written, and the lease that lets one process per database evaluate."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from signage.fleet.alerter import LEASE, Alerter, Notice
from signage.fleet.alert_config import AlertsConfig
from signage.fleet.alert_delivery import Channel, Courier, Email, Webhook
from signage.fleet.database import UNAVAILABLE
from signage.fleet.lease import Lease
from signage.fleet.tables import alerts
from signage.fleet.times import now_utc
from signage.threads import SupervisedThread

logger = logging.getLogger(__name__)

# The lease lasts this many evaluations: a leader that misses two in a row (stopped, hung,
# cut off from the database) hands over at the third.
LEASE_ROUNDS = 3


def channels_of(config: AlertsConfig) -> list[Channel]:
    found: list[Channel] = []
    if config.webhook:
        found.append(Webhook(config.webhook))
    if config.email:
        found.append(Email(config.email))
    return found


def delivery_recorder(engine: sa.Engine) -> Callable[[Notice, str], None]:
    """Writes how a notice went beside its alert (the newest 500 characters)."""

    def record(notice: Notice, outcome: str) -> None:
        with engine.begin() as conn:
            current = conn.execute(sa.select(alerts.c.delivery).where(alerts.c.row == notice.row)).scalar() or ""
            text = f"{current} | {outcome}" if current else outcome
            conn.execute(sa.update(alerts).where(alerts.c.row == notice.row).values(delivery=text[-500:]))

    return record


class AlertService:
    def __init__(self, engine: sa.Engine, reader: sa.Engine, config: AlertsConfig,
                 clock: Callable[[], datetime] = now_utc, first_wait: float = 1.0, holder: str | None = None):
        self.courier = Courier(channels_of(config), delivery_recorder(engine), first_wait=first_wait)
        lease = Lease(LEASE, LEASE_ROUNDS * config.every_s, holder)
        self.alerter = Alerter(engine, reader, config, self.courier.post, lease, clock)
        self.thread = SupervisedThread("fleet-alerts", self._evaluate, interval=config.every_s)

    def _evaluate(self) -> None:
        self.alerter.evaluate()  # the notices it returns are already posted to the courier

    def start(self) -> AlertService:
        """The courier, then the evaluations (the first of which, taking the lease, sends
        again what a stop left undelivered)."""
        self.courier.start()
        self.thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """The evaluations, the courier (what it could not deliver stays marked undelivered),
        then the lease, so that another process takes over at its next evaluation."""
        self.thread.stop(timeout)
        self.courier.stop(timeout)
        try:
            self.alerter.release()
        except UNAVAILABLE as exc:  # the lease then expires by itself
            logger.warning("alerts: the lease was not released (%s); it expires in %g s",
                           type(exc).__name__, self.alerter.lease.seconds)
