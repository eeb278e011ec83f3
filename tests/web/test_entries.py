"""The pure parts of the dashboard, with Redis stopped: entry keys, payload decoding with
the "invalid" fallback, search patterns, the history chart's geometry."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import fakeredis
import pytest

from jobkit import payload as pl
from jobkit.web.charts import history_chart, nice_max
from jobkit.web.entries import Entry, glob_for, make_key, parse_key
from jobkit.web.stats import days_back


def _job(**extra: object) -> bytes:
    job = pl.build("shop.Charge", [7, "x"], queue="critical", retry=True, now=1_800_000_000.0)
    job.update(extra)
    return pl.encode(job)


def test_an_entry_key_names_its_score_and_payload_exactly() -> None:
    raw = _job()
    key = make_key(1_800_000_000.123456, raw)
    assert parse_key(key) == (1_800_000_000.123456, Entry.load("dead", raw).digest)
    assert make_key(1.0, raw) != make_key(1.0, _job(jid="other"))
    for bad in ("", "1.0", "1.0-xyz", "nan-" + "0" * 20, "inf-" + "0" * 20, "a-" + "0" * 20,
                "1.0-" + "0" * 19):
        assert parse_key(bad) is None, bad


def test_a_valid_payload_shows_its_fields_times_and_backtrace() -> None:
    raw = _job(error_class="KeyError", error_message="sku", failed_at=1_800_000_100.0,
               retry_count=2, error_backtrace=pl.compress_backtrace(["a.py:1", "b.py:2"]),
               tags=["vip"], enqueued_at=1_800_000_050_000)
    entry = Entry.load("retry", raw, 5.0)
    assert entry.valid and entry.job_class == "shop.Charge" and entry.queue == "critical"
    assert entry.args_json == '[7, "x"]' and entry.error == "KeyError: sku"
    assert entry.backtrace() == ["a.py:1", "b.py:2"]
    # Sidekiq 8 writes milliseconds; they read as seconds.
    assert dict(entry.times())["enqueued_at"] == 1_800_000_050.0
    assert ("tags", '["vip"]') in entry.other_fields()
    assert entry.matches("charge") and entry.matches("sku") and entry.matches('"x"')
    assert not entry.matches("critical")  # the queue is not searched


def test_a_malformed_payload_keeps_its_raw_bytes_and_says_why() -> None:
    for raw, problem in ((b"\xff\xfe<b>", "not valid JSON"), (b"[1, 2]", "not an object"),
                         (b'{"class": 5, "args": []}', "class=5"),
                         (b'{"class":"A","args":[],"jid":"j","queue":"q","enqueued_at":"x"}',
                          "enqueued_at")):
        entry = Entry.load("dead", raw, 1.0)
        assert not entry.valid and problem in entry.error, raw
        assert entry.raw_text.encode("utf-8", "backslashreplace") or entry.raw_text
    assert Entry.load("dead", b"\xff\xfe<b>").raw_text == "\\xff\\xfe<b>"
    assert Entry.load("dead", b"\xff<b>").matches("<b>")
    assert Entry.load("dead", _job(error_backtrace="%%%")).backtrace()[0].startswith(
        "(backtrace cannot be read")


@pytest.mark.parametrize("term", ["Charge", "SKU", 'say "hi"', "a*b?[c]", "back\\slash",
                                  "émile", "<script>"])
def test_the_search_pattern_finds_the_term_in_any_case_and_nothing_else(term: str) -> None:
    r = fakeredis.FakeRedis()
    hit = pl.encode({"class": "X", "args": [f"pre {term.swapcase()} post"], "jid": "1",
                     "queue": "q"})
    miss = pl.encode({"class": "X", "args": ["nothing here"], "jid": "2", "queue": "q"})
    r.zadd("s", {hit: 1, miss: 2})
    found = [raw for raw, _ in r.zscan_iter("s", match=glob_for(term))
             if Entry.load("s", raw).matches(term.lower())]
    assert found == [hit]
    assert json.loads(found[0])["args"][0].lower().count(term.lower()) == 1


def test_the_history_chart_scales_to_a_round_maximum_and_labels_the_days() -> None:
    assert [nice_max(n) for n in (0, 1, 3, 7, 11, 500, 501)] == [1, 1, 5, 10, 20, 500, 1000]
    days = [(d, 100 + i, i % 3) for i, d in enumerate(days_back(dt.date(2026, 3, 2), 30))]
    assert days[0][0] == "2026-02-01" and days[-1][0] == "2026-03-02"
    chart = history_chart(days)
    assert [label for _, label in chart.y_ticks] == ["0", "50", "100", "150", "200"]
    assert chart.x_labels[-1][1] == "03-02" and chart.x_labels[0][1] == "02-01"
    xs = [x for x, _ in chart.x_labels]
    assert all(b - a >= 40 for a, b in itertools.pairwise(xs))
    processed = chart.series[0][1].split()
    assert len(processed) == 30 and processed[0] == "56.0,102.0"
    assert chart.points[-1][2] == "2026-03-02: 129 processed, 2 failed"
