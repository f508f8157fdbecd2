"""A screen's content rollout in words (fleet/rollout.py), as the fleet page and
`signage monitor` say it: every state, and the reason wherever the screen gave one."""

from __future__ import annotations

import json

import pytest

from signage.fleet.rollout import content_summary


def state(**fields) -> dict:
    return {"state": "active", "version": 3, "target": "site/hq", "next_version": None, "done_bytes": 0,
            "total_bytes": 0, "reason": None} | fields


@pytest.mark.parametrize("fields, words", [
    ({}, "v3 (site/hq)"),
    ({"version": None, "target": None, "state": "none"}, "none yet"),
    ({"state": "downloading", "next_version": 4, "done_bytes": 50, "total_bytes": 200},
     "v3 (site/hq) · v4 downloading 25%"),
    ({"state": "pending", "next_version": 4, "reason": "cannot reach the fleet"},
     "v3 (site/hq) · v4 pending: cannot reach the fleet"),
    ({"state": "refused", "next_version": 4, "reason": "bad signature"}, "v3 (site/hq) · v4 refused: bad signature"),
    ({"state": "expired", "reason": "version 3 expired; publish again"},
     "v3 (site/hq) expired: version 3 expired; publish again"),
    ({"state": "expired"}, "v3 (site/hq) expired"),
])
def test_each_state_in_words_as_stored_and_as_received(fields, words):
    assert content_summary(json.dumps(state(**fields))) == words  # the dashboard's stored JSON
    assert content_summary(state(**fields)) == words  # a status as monitor receives it


@pytest.mark.parametrize("stored", [None, "", "{", "[]", json.dumps({"state": "hijacked"}),
                                    json.dumps(state(extra=1))])
def test_anything_else_is_no_rollout(stored):
    assert content_summary(stored) is None
