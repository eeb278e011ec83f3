"""The pure payload codec: validation, encoding, decoding, with Redis stopped."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import uuid

import pytest

from jobkit import ArgumentError, PayloadError
from jobkit import payload as pl


class Order:
    def __init__(self, id: int) -> None:
        self.id = id

    def __repr__(self) -> str:
        return f"Order(id={self.id})"


def test_new_jid_is_24_lowercase_hex_characters() -> None:
    jid = pl.new_jid()
    assert len(jid) == 24
    assert int(jid, 16) >= 0
    assert jid == jid.lower()


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (Order(7), "args[0]=Order(id=7) is not JSON-native (Order): pass its id"),
        (dt.datetime(2030, 1, 1), "isoformat()"),
        (dt.date(2030, 1, 1), "isoformat()"),
        (decimal.Decimal("1.10"), "pass str(value)"),
        (uuid.UUID(int=1), "pass str(value)"),
        ({1, 2}, "pass a list"),
        ((1, 2), "pass a list"),
        (b"raw", "base64"),
        (math.nan, "NaN and infinity"),
        (math.inf, "NaN and infinity"),
        (print, "pass the name of what to call"),
    ],
)
def test_non_json_argument_is_rejected_with_position_type_and_fix(value: object,
                                                                   fragment: str) -> None:
    with pytest.raises(ArgumentError, match="args\\[0\\]") as info:
        pl.check_args([value])
    assert fragment in str(info.value)


def test_nested_bad_value_is_named_by_its_path() -> None:
    with pytest.raises(ArgumentError) as info:
        pl.check_args([1, {"when": [1, dt.date(2030, 1, 1)]}])
    assert str(info.value).startswith("args[1]['when'][1]=datetime.date(2030, 1, 1)")


def test_dict_with_non_string_key_is_rejected() -> None:
    with pytest.raises(ArgumentError, match="key 1 of type int"):
        pl.check_args([{1: "a"}])


def test_an_argument_that_contains_itself_is_rejected_naming_it() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ArgumentError, match=r"args\[1\] is nested too deeply or contains itself"):
        pl.check_args([1, loop])
    with pytest.raises(PayloadError, match="'X' cannot be encoded: it is nested too deeply"):
        pl.encode({"class": "X", "args": [loop]})


def test_encode_writes_what_the_standard_encoder_writes() -> None:
    job = {"class": "X", "args": [1, -2.5, 1e300, "é\u2028\"", None, {"k": [True]}],
           "created_at": 1764600000.0}
    expected = json.dumps(job, separators=(",", ":"), allow_nan=False).encode()
    assert pl.encode(job) == expected
    with pytest.raises(PayloadError, match="set is not JSON serializable"):
        pl.encode({"class": "X", "args": [{1}]})


def test_json_native_arguments_pass() -> None:
    args = ["s", 1, 1.5, True, None, [1, [2]], {"a": {"b": [None]}}]
    assert pl.check_args(args) == args


def test_encoded_times_keep_their_decimal_point() -> None:
    raw = pl.encode(pl.build("X", [1], queue="q", retry=True, now=1732800000))
    assert b'"created_at":1732800000.0' in raw


def test_build_writes_sidekiq_fields() -> None:
    job = pl.build("X", [1], queue="q", retry=3, now=10.0)
    assert set(job) == {"class", "args", "queue", "retry", "jid", "created_at"}
    assert job["retry"] == 3 and job["queue"] == "q" and job["args"] == [1]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1,2]", "JSON list, not an object"),
        (b'{"args":[],"jid":"a","queue":"q"}', "class=None"),
        (b'{"class":"X","args":{},"jid":"a","queue":"q"}', "args={}"),
        (b'{"class":"X","args":[],"jid":5,"queue":"q"}', "jid=5"),
        (b'{"class":"X","args":[],"jid":"a","queue":""}', "queue=''"),
        (b'{"class":"X","args":[],"jid":"a","queue":"q","retry":"yes"}', "retry='yes'"),
        (b'{"class":"X","args":[],"jid":"a","queue":"q","retry_count":"2"}', "retry_count='2'"),
        (b'{"class":"X","args":[NaN],"jid":"a","queue":"q"}', "NaN is not valid JSON"),
        (b'{"class":"X","args":[-Infinity],"jid":"a","queue":"q"}', "Infinity is not valid"),
        (b'{"class":"X","args":[1e999],"jid":"a","queue":"q"}', "out of range"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"class":"X","args":[],"jid":"a","queue":"q","created_at":"now"}', "created_at"),
        (b'{"class":"","args":[],"jid":"a","queue":"q"}', "class=''"),
        (b'{"class":"X","args":[],"jid":"","queue":"q"}', "jid=''"),
        (b'{"class":"X","args":[],"jid":"a","queue":"q","retry":-1}', "retry=-1"),
        (b'{"class":"X","args":[],"jid":"a","queue":"q","retry":1.5}', "retry=1.5"),
        (b'{"class":"X","args":[],"jid":"a","queue":"q","retry_count":true}', "retry_count=True"),
        (b'{"class":"X","args":[],"jid":"a","queue":"q"} {}', "Extra data"),
        (b'{"class":"X","args":[1,]}', "not valid JSON"),
        *[(b'{"class":"X","args":[],"jid":"a","queue":"q","%s":true}' % f.encode(),
           f"field {f}: time value True") for f in pl.TIME_FIELDS],
    ],
)
def test_decode_rejects_bad_payloads_naming_the_field(raw: bytes, message: str) -> None:
    with pytest.raises(PayloadError, match=message.replace("[", "\\[")):
        pl.decode(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b' {"class":"X","args":[],"jid":"a","queue":"q"}\n',
        b'{"class":"X","args":[],"jid":"a","queue":"q","retry":0,"at":null,"created_at":17e8}',
        b'{"class":"X","args":[],"jid":"a","queue":"q","retry":true,"enqueued_at":1700000000000}',
    ],
)
def test_decode_accepts_valid_payloads_in_every_form(raw: bytes) -> None:
    assert pl.decode(raw)["class"] == "X"


def test_validate_accepts_subclassed_values_built_in_python() -> None:
    class Name(str):
        pass

    pl.validate({"class": Name("X"), "args": [], "jid": "a", "queue": "q", "retry": 2,
                 "created_at": 1.0})


def test_sidekiq_retry_now_negative_retry_count_is_accepted() -> None:
    raw = b'{"class":"X","args":[],"jid":"a","queue":"q","retry_count":-1}'
    assert pl.decode(raw)["retry_count"] == -1


def test_invalid_payload_moves_badly_typed_fields_aside() -> None:
    from jobkit.processor import invalid_payload

    raw = (b'{"class":"X","args":[],"jid":"a","queue":"q","created_at":"yesterday",'
           b'"enqueued_at":[1],"retry_count":"x","custom":7}')
    job = invalid_payload(raw, "q", PayloadError("bad"), 100.0)
    assert job["invalid_fields"] == {"created_at": "yesterday", "enqueued_at": [1],
                                     "retry_count": "x"}
    assert job["created_at"] == 100.0 and job["custom"] == 7 and "enqueued_at" not in job
    assert pl.decode(pl.encode(job))["class"] == "X"


def test_decode_preserves_unknown_fields() -> None:
    raw = json.dumps({"class": "X", "args": [], "jid": "a", "queue": "q", "bid": "b1",
                      "custom": {"x": 1}})
    assert pl.decode(raw)["custom"] == {"x": 1}


def test_epoch_reads_sidekiq_8_milliseconds_and_6x_seconds() -> None:
    assert pl.epoch(1732800000123) == pytest.approx(1732800000.123)
    assert pl.epoch(1732800000.5) == 1732800000.5
    with pytest.raises(PayloadError):
        pl.epoch("soon")


def test_max_attempts_follows_the_retry_field() -> None:
    assert pl.max_attempts(True, 25) == 25
    assert pl.max_attempts(False, 25) == 0
    assert pl.max_attempts(3, 25) == 3


def test_backtrace_round_trips_through_sidekiq_compression() -> None:
    lines = ["a.py:1 in f", "b.py:2 in g"]
    assert pl.decompress_backtrace(pl.compress_backtrace(lines)) == lines
