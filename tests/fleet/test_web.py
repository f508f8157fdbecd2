"""The dashboard's pages and its security, through FastAPI's TestClient, with a real
Mosquitto for the commands."""

from __future__ import annotations

from fastapi.testclient import TestClient

from signage.fleet.parse import parse
from signage.fleet.passwords import hash_password, verify_password
from tests.fleet import factory as f
from tests.fleet.dashboard import PASSWORD, csrf_of, csv_rows, login, routes
from tests.subscriber import Subscriber

def test_password_hashes():
    stored = hash_password("s3cret-pass")
    assert stored.startswith("scrypt$") and "s3cret" not in stored
    assert verify_password("s3cret-pass", stored) and not verify_password("s3cret-pasS", stored)
    assert not verify_password("x", None) and not verify_password("x", "garbage")


def test_nothing_is_reachable_without_login(web):
    client, _, _ = web
    paths = {route.path for route in routes(client.app)}
    concrete = {p.replace("{site}", "lab").replace("{device}", "a") for p in paths}
    assert {"/", "/creatives", "/export/plays.csv", "/events", "/screen/lab/a/command"} <= concrete
    for path in sorted(concrete - {"/login", "/releases/{path:path}"}):  # releases: public by design (test_releases.py)
        for method in ("GET", "POST"):
            response = client.request(method, path, follow_redirects=False)
            assert response.status_code in (401, 303, 405), (method, path, response.status_code)
            if response.status_code == 303:
                assert response.headers["location"] == "/login"
            assert "spring" not in response.text and "lab" not in response.text
    page = client.get("/", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"


def test_login_sets_a_strict_httponly_cookie_and_wrong_passwords_are_rate_limited(web):
    client, _, _ = web
    response = login(client)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert client.get("/").status_code == 200
    other = TestClient(client.app)
    # The limiter's clock stands still: a loaded machine's slow password checks must not
    # outlast the 1 s back-off the sixth guess meets (tests/fleet/test_auth.py walks time).
    client.app.state.dashboard.limiter.clock = lambda: 1000.0
    results = [login(other, "wrong").status_code for _ in range(6)]
    assert results[:5] == [401] * 5 and results[5] == 429
    assert login(other).status_code == 429  # even the right password waits
    assert "Too many" in login(other).text


def test_login_form_needs_its_own_token(web):
    client, _, _ = web
    response = client.post("/login", data={"password": PASSWORD, "login_token": "forged"}, follow_redirects=False)
    assert response.status_code == 403 and "fleet_session" not in response.headers.get("set-cookie", "")


def test_forged_cross_site_posts_are_refused(web):
    client, _, broker = web
    login(client)
    subscriber = Subscriber(broker.url, "signage/+/+/+/set")
    token = csrf_of(client)
    form = {"feature": "privacy", "value": "ON"}
    # No token, a wrong token, the right token from another origin: all refused, nothing sent.
    assert client.post("/screen/lab/a/command", data=form, follow_redirects=False).status_code == 403
    assert client.post("/screen/lab/a/command", data=form | {"csrf": "x" * 43},
                       follow_redirects=False).status_code == 403
    assert client.post("/screen/lab/a/command", data=form | {"csrf": token}, follow_redirects=False,
                       headers={"origin": "http://evil.example"}).status_code == 403
    assert client.post("/logout", follow_redirects=False).status_code == 403
    ok = client.post("/screen/lab/a/command", data=form | {"csrf": token}, follow_redirects=False,
                     headers={"origin": "http://testserver"})
    assert ok.status_code == 303
    sent = subscriber.wait_for(lambda m: m.topic.endswith("/set"))
    assert (sent.topic, sent.json()["value"]) == ("signage/lab/a/privacy/set", "ON"), "sealed by the fleet"
    assert len(subscriber.messages) == 1
    subscriber.close()


def test_commands_for_unknown_screens_creatives_or_values_are_refused_with_a_message(web):
    client, store, broker = web
    login(client)
    subscriber = Subscriber(broker.url, "signage/+/+/+/set")
    token = csrf_of(client)
    unknown_screen = client.post("/screen/lab/zz/command", data={"feature": "privacy", "value": "ON", "csrf": token})
    assert unknown_screen.status_code == 400 and "unknown screen lab/zz" in unknown_screen.text
    for feature, value, expected in [("creative", "nope", "is not in the current playlist of lab/a"),
                                     ("privacy", "MAYBE", "send ON or OFF"),
                                     ("camera", "ON", "unknown feature"),
                                     ("creative", "x" * 300, "payload of")]:
        page = client.post("/screen/lab/a/command", data={"feature": feature, "value": value, "csrf": token})
        assert page.status_code == 200 and expected in page.text, (feature, value, page.text[:2000])
    played = client.post("/screen/lab/a/command", data={"feature": "creative", "value": "spring", "csrf": token})
    assert "Sent creative spring" in played.text and "sent, no answer yet" in played.text
    sent = subscriber.wait_for(lambda m: m.topic.endswith("/set"))
    assert (sent.topic, sent.json()["value"]) == ("signage/lab/a/creative/set", "spring")
    assert len(subscriber.messages) == 1
    # The device's answer shows up next to the command.
    store.write([parse("signage", "signage/lab/a/creative/state", b"spring")])
    assert "done: creative = spring" in client.get("/screen/lab/a").text
    # A refusal by the device (its playlist no longer has the creative) shows as such.
    client.post("/screen/lab/a/command", data={"feature": "playlist", "value": "RELOAD", "csrf": token})
    refusal = {"schema": 1, "site": "lab", "device": "a", "topic": "signage/lab/a/playlist/set",
               "error": "playlist: reload failed: broken.yaml:3:1"}
    store.write([parse("signage", "signage/lab/a/error", f.encode(refusal))])
    page = client.get("/screen/lab/a").text
    assert "refused: playlist: reload failed: broken.yaml:3:1" in page
    subscriber.close()


def test_pages_render_what_was_stored(web):
    client, _, _ = web
    login(client)
    fleet = client.get("/").text
    assert fleet.index("mall") < fleet.index("/ <b>a</b>")  # the offline screen comes first
    assert client.get("/?site=lab").text.count("data-screen=") == 1
    screen = client.get("/screen/lab/a").text
    assert "<svg" in screen and "Passers per hour" in screen and "spring" in screen
    assert "1 of 2 intervals had fewer passers than the privacy minimum" in screen
    assert "1 of 2 intervals had fewer viewers than the privacy minimum" in screen
    week = client.get("/screen/lab/a?span=week").text
    assert "Passers per day" in week
    creatives = client.get("/creatives?span=day").text
    assert 'data-creative="spring"' in creatives and "3.0 s" in creatives  # mean of 2, 3, 4
    assert client.get("/creatives?end=not-a-date").status_code == 400
    assert client.get("/screen/nowhere/x").status_code == 404
    screens = client.get("/api/screens").json()
    assert {s["device"]: s["health"] for s in screens} == {"a": "ok", "b": "offline"}


def test_exports_one_row_per_play_in_utc(web):
    client, _, _ = web
    login(client)
    text = client.get("/export/plays.csv").text
    rows = csv_rows(text)
    assert len(rows) == 3 and {r["creative"] for r in rows} == {"spring"}
    assert all(r["start"].endswith("Z") for r in rows)
    data = client.get("/export/plays.json").json()["plays"]
    assert sorted(r["id"] for r in data) == sorted(r["id"] for r in rows)
    daily = csv_rows(client.get("/export/daily.csv").text)
    assert daily[0]["plays"] == "3" and daily[0]["creative"] == "spring"
    assert client.get("/export/plays.csv?site=elsewhere").text.count("\n") == 2  # definitions and header only


def test_live_page_streams_server_sent_events(web):
    client, store, _ = web
    login(client)
    with client.stream("GET", "/events?view=fleet") as stream:
        lines = stream.iter_lines()
        first = next(line for line in lines if line.startswith("data:") and "data-screen" in line)
        assert "lab" in first or "mall" in first


def test_each_screen_shows_its_build_and_a_fleet_of_mixed_builds_says_so(web):
    client, store, _ = web
    login(client)
    store.write([parse("signage", "signage/lab/a/status", f.encode(f.status(lock="25eae7c3ad2e")))])
    fleet = client.get("/").text
    assert "lock 25eae7c3ad2e" in fleet and "builds in this fleet" not in fleet, "one build: nothing to warn about"
    assert "(lock 25eae7c3ad2e)" in client.get("/screen/lab/a").text
    store.write([parse("signage", "signage/mall/b/status", f.encode(f.status(site="mall", device="b",
                                                                             lock="0123456789ab")))])
    fleet = client.get("/").text
    assert "2 builds in this fleet" in fleet
    assert "0.1.0 · lock 25eae7c3ad2e: 1" in fleet and "0.1.0 · lock 0123456789ab: 1" in fleet


def test_a_url_no_route_has_answers_like_one_that_exists(web):
    """Nothing tells a stranger which URLs exist: without a login an unknown URL asks for
    one, a cross-site form to it is refused, and only a person logged in learns it is not
    there."""
    client, _, _ = web
    for path in ("/nowhere", "/screen/lab/a/nothing", "/api/none"):
        page = client.get(path, headers={"accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login", path
        assert client.get(path).status_code == 401 and client.post(path).status_code == 401
        assert client.post(path, headers={"origin": "http://evil.example"}).status_code == 403
    assert client.get("/static/fleet.css").status_code == 200
    assert client.get("/static/nothing.css").status_code == 404  # public: no login asked
    login(client)
    missing = client.get("/nowhere", headers={"accept": "text/html"})
    assert missing.status_code == 404 and "Request refused" in missing.text
    assert client.delete("/").status_code == 405
