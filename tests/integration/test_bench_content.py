"""`signage bench content` runs a real rollout from a real `signage fleet` and says what it
measured. No timing is asserted: only that every screen got the release and the figures
are there."""

from __future__ import annotations

import re

from signage.cli.bench_content import run


def test_the_content_bench_rolls_a_release_out_and_reports_the_fleets_cost():
    report = run(screens=3, mb=2, rate_mb_s=50, screen=False, rounds=2)
    assert "6 of 6 screen rollouts active" in report, report
    assert re.search(r"time to full rollout +[\d.]+ / [\d.]+ / [\d.]+ x one screen's download", report), report
    assert re.search(r"signage fleet CPU +\d+ / \d+ / \d+ % of one core", report), report
    assert re.search(r"peak resident \d+ MiB over all rollouts", report), report
    assert "not active" not in report


def test_the_screen_round_plays_a_video_while_a_kiosk_downloads_and_counts_its_frames(xvfb):
    report = run(screens=1, mb=1, rate_mb_s=2, screen=True, rounds=2)
    assert "screen: SDL video driver x11" in report, report
    assert "niced (active, active); 2 rounds" in report, report
    for name in ("without a download", "while downloading"):
        shown = re.search(rf"{name} +(\d+) / (\d+) / (\d+) +(\d+) / (\d+) / (\d+)", report)
        assert shown is not None, report
        assert int(shown.group(1)) > 0, report  # frames were shown in every round
    assert re.search(r"while downloading .* (met|MISSED)$", report, re.MULTILINE), report
