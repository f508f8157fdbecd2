"""The login back-off on its own, on an injected clock (the real server's behaviour is in
test_login.py)."""

from __future__ import annotations

from signage.fleet.auth import LoginLimiter, client_key


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_each_failure_after_the_free_ones_doubles_the_wait_and_a_quiet_client_starts_afresh():
    clock = Clock()
    limiter = LoginLimiter(free=3, longest=60.0, clock=clock)
    assert [limiter.begin("10.0.0.1") for _ in range(3)] == [0.0, 0.0, 0.0]
    waits = []
    for _ in range(8):
        wait = limiter.begin("10.0.0.1")
        waits.append(wait)
        clock.now += wait
        assert limiter.begin("10.0.0.1") == 0.0
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    clock.now += 60.0 + 59.0  # the last wait, then quiet for not quite `longest`
    assert limiter.begin("10.0.0.1") == 0.0 and limiter.begin("10.0.0.1") == 60.0
    clock.now += 60.0 + 60.0  # the last wait, then quiet for `longest`: forgotten
    assert [limiter.begin("10.0.0.1") for _ in range(3)] == [0.0, 0.0, 0.0]


def test_a_client_in_back_off_never_delays_another_and_success_forgives():
    clock = Clock()
    limiter = LoginLimiter(free=2, clock=clock)
    for _ in range(20):
        limiter.begin("10.0.0.66")
    assert limiter.begin("10.0.0.66") > 0
    assert limiter.begin("10.0.0.7") == 0.0
    limiter.succeeded("10.0.0.7")
    assert [limiter.begin("10.0.0.7") for _ in range(2)] == [0.0, 0.0]


def test_memory_is_bounded_whatever_the_number_of_addresses():
    limiter = LoginLimiter(clients=100, clock=Clock())
    for i in range(10_000):
        limiter.begin(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(limiter._records) == 100


def test_an_ipv6_host_is_its_64_and_a_mapped_ipv4_address_is_the_ipv4_address():
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.1") == client_key("192.0.2.1") == "192.0.2.1"
    assert client_key("testclient") == "testclient"
