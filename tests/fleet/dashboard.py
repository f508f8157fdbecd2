"""The dashboard in a test: logging in and reading its forms, through FastAPI's TestClient
or an httpx client (they share the interface), and a logged-in TestClient over a store."""

from __future__ import annotations

import csv
import re

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from signage.fleet.passwords import hash_password
from signage.fleet.web import WebSettings, create_app

PASSWORD = "correct horse battery"


def login_token(client) -> str:
    """A fresh login form's token (its cookie stays in the client)."""
    return re.search(r'name="login_token" value="([^"]+)"', client.get("/login").text).group(1)


def login(client, password: str = PASSWORD):
    return client.post("/login", data={"password": password, "login_token": login_token(client)},
                       follow_redirects=False)


def csrf_of(client, path: str = "/") -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def routes(app) -> list:
    """Every route the app serves, with its path, methods and parameters (`dependant`).
    FastAPI keeps included routers as a tree in `app.routes`; this flattens it."""
    return [route for route in iter_route_contexts(app.routes) if route.methods]


def get_routes(app) -> list[tuple[str, list[str]]]:
    """(path with lab/a for its {site}/{device}, its query parameters) of every GET route."""
    found = []
    for route in routes(app):
        if "GET" in route.methods and hasattr(route, "dependant"):
            path = route.path.replace("{site}", "lab").replace("{device}", "a")
            found.append((path, [p.name for p in route.dependant.query_params]))
    return found


def answer(client, path: str, query: dict) -> tuple[int, str]:
    with client.stream("GET", path, params=query, headers={"accept": "text/html"}) as response:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return response.status_code, ""  # a live stream: its first answer is enough
        return response.status_code, response.read().decode()


def logged_in(store, publisher=None) -> TestClient:
    app = create_app(WebSettings(store=store, login_hash=hash_password(PASSWORD), publisher=publisher,
                                 live_seconds=0.05))
    client = TestClient(app, base_url="http://testserver")
    assert login(client).status_code == 303
    return client


def csv_rows(text: str) -> list[dict]:
    """An export's rows by column, past its "# " definitions line (what pandas'
    comment="#" skips)."""
    return list(csv.DictReader(line for line in text.splitlines(keepends=True) if not line.startswith("#")))
