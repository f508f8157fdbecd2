"""The dashboard in a test: a logged-in FastAPI TestClient over a store."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from signage.fleet.passwords import hash_password
from signage.fleet.web import WebSettings, create_app

PASSWORD = "correct horse battery"


def login(client: TestClient, password: str = PASSWORD):
    page = client.get("/login")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"password": password, "login_token": token}, follow_redirects=False)


def logged_in(store, publisher=None) -> TestClient:
    app = create_app(WebSettings(store=store, login_hash=hash_password(PASSWORD), publisher=publisher,
                                 poll_seconds=0.05))
    client = TestClient(app, base_url="http://testserver")
    assert login(client).status_code == 303
    return client
