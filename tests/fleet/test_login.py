"""The login against the real `signage fleet` server (uvicorn as `signage fleet` configures
it): the client address is the one uvicorn saw unless a configured proxy forwarded it;
guesses are booked before they are checked; a flood from one client never locks out
another."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from signage.fleet.auth import LoginLimiter
from tests.broker import Broker
from tests.fleet.dashboard import PASSWORD, login_token
from tests.fleet.server import FleetServer

FREE = LoginLimiter().free  # wrong guesses a client gets before it waits


@pytest.fixture(scope="module")
def broker_url(tmp_path_factory):
    running = Broker(tmp_path_factory.mktemp("broker")).start()
    yield running.url
    running.stop()


@pytest.fixture
def fleet(tmp_path, broker_url):
    """Default settings: no trusted proxy."""
    server = FleetServer(tmp_path / "fleet", broker_url).started()
    yield server
    server.stop()
    assert "Traceback" not in server.output(), server.output()[-3000:]


def guess(client, password: str = "wrong guess", token: str | None = None, forwarded: str | None = None) -> int:
    headers = {"x-forwarded-for": forwarded} if forwarded else {}
    return client.post("/login", data={"password": password, "login_token": token or login_token(client)},
                       headers=headers).status_code


def test_x_forwarded_for_is_not_believed_from_a_client_that_is_no_configured_proxy(fleet):
    with fleet.client("127.0.0.1") as attacker:  # uvicorn's own default believes this address
        # Each guess claims another address: without a configured proxy, it is still one client.
        results = [guess(attacker, forwarded=f"198.51.100.{i}") for i in range(FREE + 3)]
    assert results == [401] * FREE + [429] * 3


def test_x_forwarded_for_is_believed_from_a_configured_proxy(tmp_path, broker_url):
    server = FleetServer(tmp_path / "proxied", broker_url, trusted_proxies=["127.0.0.0/8"]).started()
    try:
        with server.client() as proxy:
            assert [guess(proxy, forwarded="203.0.113.9") for _ in range(FREE + 1)] == [401] * FREE + [429]
            # Another client behind the same proxy is another client.
            assert guess(proxy, PASSWORD, forwarded="203.0.113.10") == 303
    finally:
        server.stop()
    assert "Traceback" not in server.output()


def test_parallel_guesses_from_one_client_check_at_most_the_allowed_number(fleet):
    with fleet.client("127.0.0.3") as attacker:
        token = login_token(attacker)
        start = threading.Barrier(64)

        def one(_):
            start.wait()
            return guess(attacker, token=token)

        with ThreadPoolExecutor(64) as pool:
            results = list(pool.map(one, range(64)))
    assert results.count(401) == FREE and results.count(429) == 64 - FREE, results


def test_a_flood_of_wrong_guesses_never_locks_the_operator_out(fleet):
    enough, done, guesses = threading.Event(), threading.Event(), []

    def flood():
        with fleet.client("127.0.0.1") as attacker:
            token = login_token(attacker)
            while not done.is_set():
                sent = time.monotonic()
                answer = guess(attacker, token=token, forwarded=f"192.0.2.{len(guesses) % 250}")
                guesses.append((answer, sent, time.monotonic()))
                if len(guesses) >= 60:
                    enough.set()

    attacker = threading.Thread(target=flood)
    attacker.start()
    try:
        assert enough.wait(120), "the flood did not get going"
        with fleet.client("127.0.0.5") as operator:  # still flooding meanwhile
            assert guess(operator, PASSWORD) == 303
            assert operator.get("/").status_code == 200
    finally:
        done.set()
        attacker.join(timeout=120)
    answers = [answer for answer, _, _ in guesses]
    assert set(answers) <= {401, 429} and answers[:FREE + 1] == [401] * FREE + [429], answers
    # A slow machine stretches the flood past the back-off: a wrong guess then gets checked
    # again, but never before its wait (1 s, 2 s, ...) after the one before could have ended.
    checked = [(sent, received) for answer, sent, received in guesses if answer == 401]
    for extra, ((sent, _), (_, received)) in enumerate(zip(checked[FREE - 1:], checked[FREE:])):
        assert received - sent >= 2.0 ** extra, checked
