"""`signage bench content` runs a real rollout from a real `signage fleet` and says what it
measured. No timing is asserted: only that every screen got the release and the figures
are there."""

from __future__ import annotations

import re

from signage.cli.bench_content import run


def test_the_content_bench_rolls_a_release_out_and_reports_the_fleets_cost():
    report = run(screens=3, mb=2, rate_mb_s=50, screen=False)
    assert "3 of 3 screens active" in report, report
    assert re.search(r"time to full rollout \d+\.\d s", report), report
    assert re.search(r"signage fleet: CPU \d+ % of one core during the rollout, peak resident memory \d+ MiB",
                     report), report
    assert "not active" not in report
