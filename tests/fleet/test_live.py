"""The fleet page and its live stream stay bounded whatever the number of screens: the page
holds at most one page of screens; the stream sends only what changed, at most once per
interval, and ends when the session does."""

from __future__ import annotations

import json

from signage.fleet import queries
from signage.fleet.live import LiveFeed
from signage.fleet.parse import parse
from tests.fleet import factory as f
from tests.fleet.dashboard import csrf_of, login


def events(stream):
    """(name, data) of each server-sent event, as they come."""
    name, data = None, []
    for line in stream.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            data.append(line[len("data: "):])
        elif line == "" and name:
            yield name, "\n".join(data)
            name, data = None, []


def test_ten_thousand_forged_screens_make_a_page_of_a_hundred(web):
    client, store, _ = web
    login(client)
    forged = [parse("signage", f"signage/forged/x{i:05d}/status", f.encode(f.status(site="forged", device=f"x{i:05d}")))
              for i in range(10_000)]
    for offset in range(0, len(forged), 2000):
        store.write(forged[offset:offset + 2000])
    page = client.get("/")
    assert page.status_code == 200 and page.text.count("data-screen=") == queries.PAGE_SIZE
    assert "10002 screens, page 1 of 101" in page.text
    assert len(page.content) < 200_000, len(page.content)  # 10,000 rows were 7.6 MB
    # Problems first: the offline screen, then the forged ones (never online), then the one that is fine.
    shown = [r.split('"')[0] for r in page.text.split('data-screen="')[1:]]
    assert shown[:2] == ["mall/b", "forged/x00000"]
    last = client.get("/?page=101").text
    assert last.count("data-screen=") == 2 and 'id="page-next"' not in last
    assert [r.split('"')[0] for r in last.split('data-screen="')[1:]] == ["forged/x09999", "lab/a"]
    assert client.get("/?health=offline").text.count("data-screen=") == 1
    assert client.get("/?page=0").status_code == 400
    api = client.get("/api/screens?page=3")
    assert len(api.json()) == queries.PAGE_SIZE and api.headers["X-Total-Count"] == "10002"
    with client.stream("GET", "/events?view=fleet") as stream:
        name, html = next(events(stream))
    assert name == "live" and html.count("data-screen=") == queries.PAGE_SIZE


def test_the_live_stream_sends_only_what_changed(web):
    client, store, _ = web
    login(client)
    with client.stream("GET", "/events?view=fleet") as stream:
        received = events(stream)
        name, html = next(received)
        assert name == "live" and 'data-screen="lab/a"' in html and 'data-screen="mall/b"' in html
        store.write([parse("signage", "signage/lab/a/status", f.encode(f.status(playing="summer")))])
        name, data = next(received)
    assert name == "patch"
    changed = json.loads(data)
    assert list(changed) == ["screen lab/a"] and '<td data-label="Playing">summer</td>' in changed["screen lab/a"]


def test_the_live_stream_ends_at_logout(web):
    client, store, _ = web
    login(client)
    csrf = csrf_of(client)
    with client.stream("GET", "/events?view=screen&site=lab&device=a") as stream:
        received = events(stream)
        assert next(received)[0] == "live"
        client.post("/logout", data={"csrf": csrf})
        store.write([parse("signage", "signage/lab/a/status", f.encode(f.status(playing="summer")))])
        assert next(received) == ("end", "/login"), "nothing after the logout but its end"
        assert next(received, None) is None, "the stream ended"
    assert client.get("/events?view=fleet").status_code == 401


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_live_feed_sends_the_whole_first_then_changed_parts_at_most_once_per_interval():
    clock = Clock()
    feed = LiveFeed(interval=2.0, clock=clock)
    parts = {"summary": "<p>2</p>", "screen lab/a": "<tr>a</tr>", "screen lab/b": "<tr>b</tr>"}
    assert feed.update(parts, "WHOLE").startswith("event: live\ndata: WHOLE\n")
    # A flood of changes within the interval: nothing goes out.
    for n in range(100):
        clock.now += 0.01
        assert feed.update(parts | {"screen lab/a": f"<tr>a{n}</tr>"}, "…") is None
    assert feed.wait() > 0
    clock.now = 2.0
    out = feed.update(parts | {"screen lab/a": "<tr>a99</tr>"}, "…")
    assert out == 'event: patch\ndata: {"screen lab/a":"<tr>a99</tr>"}\n\n'
    clock.now = 4.0
    assert feed.update(parts | {"screen lab/a": "<tr>a99</tr>"}, "…") is None, "nothing changed: nothing sent"
    # Other parts, or another order: the whole fragment again.
    assert feed.update({"summary": "<p>1</p>", "screen lab/b": "<tr>b</tr>"}, "W2").startswith("event: live\n")
