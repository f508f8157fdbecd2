"""`signage bench fleet`'s export round: /export/plays.csv of 100,000 and of 1,000,000
plays, through the real app (in process, logged in, the body read piece by piece), with
rows/s and the process's peak memory growth while each downloads. The export streams, so
the growth for 1,000,000 plays stays within a small factor of 100,000's instead of ten
times it. The plays are written straight into the table (bulk_plays.py): 10 screens x 10
days, one day of them the 100,000."""

from __future__ import annotations

import gc
import re
import time
from datetime import date, datetime, timedelta

from signage.cli.measure import PeakGrowth, Spread, verdict

PLAYS = 1_000_000
SCREENS = 10
DAYS = 10  # the smaller export is the first day: a tenth of the plays
BOUNDED = 2.0  # the larger export's growth may be at most this many times the smaller's
NOISE_MB = 8.0  # below this, growth is the allocator's noise: the smaller export counts as at least this


def sizes(plays: int) -> dict[str, int]:
    return {"a day": plays // DAYS, "all days": plays}


def download(client, path: str) -> tuple[int, float, PeakGrowth, int]:
    """(rows, seconds, peak memory, body bytes) of one export."""
    gc.collect()
    lines = size = 0
    with PeakGrowth() as peak:
        began = time.perf_counter()
        with client.stream("GET", path) as response:
            if response.status_code != 200:
                raise RuntimeError(f"{path}: HTTP {response.status_code}")
            for piece in response.iter_bytes():
                lines += piece.count(b"\n")
                size += len(piece)
        seconds = time.perf_counter() - began
    return lines - 2, seconds, peak, size  # less the definitions line and the header


def export_round(store, plays: int = PLAYS, repeats: int = 3) -> tuple[list[str], bool]:
    """(report lines, bounded) of the export round on `store`, an empty fleet schema;
    `plays` is taken down to a multiple of SCREENS x DAYS, so that each day holds a tenth."""
    plays -= plays % (SCREENS * DAYS)
    from fastapi.testclient import TestClient

    from signage.fleet import bulk_plays
    from signage.fleet.passwords import hash_password
    from signage.fleet.web import WebSettings, create_app

    first_day = date.today() - timedelta(days=DAYS + 1)
    first = datetime.combine(first_day, datetime.min.time())
    began = time.perf_counter()
    bulk_plays.fill(store.engine, plays, SCREENS, DAYS, first)
    filled = time.perf_counter() - began
    last_day = first_day + timedelta(days=DAYS - 1)
    paths = {"a day": f"/export/plays.csv?start={first_day}&end={first_day}",
             "all days": f"/export/plays.csv?start={first_day}&end={last_day}"}
    app = create_app(WebSettings(store=store, login_hash=hash_password("bench-password")))
    rates: dict[str, list[float]] = {name: [] for name in paths}
    growth: dict[str, list[float]] = {name: [] for name in paths}
    highest: dict[str, list[float]] = {name: [] for name in paths}
    body: dict[str, int] = {}
    how = ""
    with TestClient(app) as client:
        found = re.search(r'name="login_token" value="([^"]+)"', client.get("/login").text)
        if found is None:
            raise RuntimeError("the login page has no login_token")
        client.post("/login", data={"password": "bench-password", "login_token": found.group(1)})
        download(client, paths["a day"])  # warm up: the first request compiles and caches
        for _ in range(repeats):
            for name, path in paths.items():
                rows, seconds, peak, body[name] = download(client, path)
                if rows != sizes(plays)[name]:
                    raise RuntimeError(f"{path}: {rows} rows, expected {sizes(plays)[name]}")
                rates[name].append(rows / seconds)
                growth[name].append(peak.bytes / 2**20)
                highest[name].append(peak.peak / 2**20)
                how = peak.how
    app.state.writes.close()
    small, large = (Spread.of(growth[name]).median for name in paths)
    bounded = large <= BOUNDED * max(small, NOISE_MB)
    lines = [f"  {plays:,} plays written in {filled:.0f} s; memory: the peak growth by {how}"
             + (", and the resident high-water mark" if how == "rss" else "")]
    for name in paths:
        lines.append(f"  {sizes(plays)[name]:>9,} plays ({body[name] / 2**20:5.0f} MiB of CSV): "
                     f"{Spread.of(rates[name]).format('6.0f')} rows/s, growth "
                     f"{Spread.of(growth[name]).format('5.1f')} MiB"
                     + (f", high-water {Spread.of(highest[name]).median:.0f} MiB" if how == "rss" else ""))
    lines.append(f"  (min / median / max of {repeats}) growth {large:.1f} MiB for {plays:,} vs {small:.1f} MiB for "
                 f"{plays // DAYS:,} (at most {BOUNDED:g} x max({small:.1f}, {NOISE_MB:g})): "
                 f"bounded {verdict(bounded)}")
    return lines, bounded
